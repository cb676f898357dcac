# ruff: noqa: E501,SIM105
"""Whole-job performance: tracker vs a Scrapy spider vs the raw limit, on a loopback farm.

    .venv/bin/python bench/perf.py --listings 1000,10000 --hosts 20 --json bench/results/perf.json

See bench/README.md for the scenarios. Every contender runs in its own subprocess,
so its wall time, CPU seconds and peak RSS (``os.wait4`` rusage) are its own.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

from farm import PORT, Farm, host_ip  # noqa: E402

PY = sys.executable
TRACKER = [PY, "-m", "tracker"]


# ----------------------------------------------------------------------------- running


def _become_subreaper() -> None:
    """Orphaned grandchildren (a contender's worker processes) are re-parented to this
    process, so their CPU time reaches RUSAGE_CHILDREN when they are reaped."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        pass


def _pss_mb(pid: int) -> float:
    """Proportional set size: resident memory with each shared page split between the
    processes that share it (so a process tree's sum counts a page once)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as fh:
            for line in fh:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _tree_rss_mb(root: int) -> tuple[float, float]:
    """Resident memory of ``root`` and all its descendants now (from /proc), summed
    as RSS (shared pages counted in every process) and as PSS (counted once)."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                fields = fh.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry)] = int(fields[1])
        rss[int(entry)] = int(fields[21])
    tree, frontier = {root}, [root]
    while frontier:
        pid = frontier.pop()
        for child, parent in parents.items():
            if parent == pid and child not in tree:
                tree.add(child)
                frontier.append(child)
    rss_mb = sum(rss.get(pid, 0) for pid in tree) * os.sysconf("SC_PAGE_SIZE") / 2**20
    return rss_mb, sum(_pss_mb(pid) for pid in tree)


def _reap_orphans(known: set[int]) -> None:
    """Wait for re-parented grandchildren that exited (not for our own children)."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in known:
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                fields = fh.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == os.getpid() and fields[0] == b"Z":
            try:
                os.waitpid(int(entry), 0)
            except ChildProcessError:
                pass


def run_child(
    cmd: list[str],
    log: Path,
    *,
    farm: Farm | None = None,
    timeout: float = 1800,
    cwd: Path = ROOT,
) -> dict[str, Any]:
    """Run ``cmd``; wall time, CPU seconds and peak RSS of that process and every
    process it starts (worker processes included)."""
    _become_subreaper()
    server_before = farm.server_cpu() if farm else 0.0
    log_mark = farm.log_mark() if farm else 0
    out, err = log.with_suffix(".out"), log.with_suffix(".err")
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    peak_tree = peak_pss = 0.0
    with open(out, "wb") as fo, open(err, "wb") as fe:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=fo, stderr=fe, cwd=cwd)
        deadline = started + timeout
        next_sample = started
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            if time.perf_counter() >= next_sample:
                tree_rss, tree_pss = _tree_rss_mb(proc.pid)
                peak_tree, peak_pss = max(peak_tree, tree_rss), max(peak_pss, tree_pss)
                next_sample = time.perf_counter() + 0.1
            time.sleep(0.01)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
    time.sleep(0.2)  # worker processes that outlive their parent by a moment
    _reap_orphans(set())
    children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_total = (children_after.ru_utime - children_before.ru_utime) + (
        children_after.ru_stime - children_before.ru_stime
    )
    requests, span = farm.requests_since(log_mark) if farm else (0, None)
    text = out.read_text(errors="replace").strip().splitlines()
    summary: dict[str, Any] = {}
    for line in reversed(text):
        if line.startswith("{"):
            try:
                summary = json.loads(line)
            except ValueError:
                pass
            break
    return {
        "exit": proc.returncode,
        "wall_s": wall,
        # every process of the contender (wait4 of the main one counts only what it reaped)
        "cpu_s": max(cpu_total, usage.ru_utime + usage.ru_stime),
        "main_cpu_s": usage.ru_utime + usage.ru_stime,
        "user_s": usage.ru_utime,
        "sys_s": usage.ru_stime,
        # the sum over its processes, sampled every 0.1 s; and the main process's own peak
        "peak_rss_mb": max(peak_tree, usage.ru_maxrss / 1024),
        "main_peak_rss_mb": usage.ru_maxrss / 1024,
        "peak_pss_mb": peak_pss,
        "server_cpu_s": (farm.server_cpu() - server_before) if farm else 0.0,
        # from the start of its first request to the end of its last (robots.txt included)
        "requests": requests,
        "request_span_s": span,
        "summary": summary,
        "stderr_tail": err.read_text(errors="replace")[-600:]
        if proc.returncode not in (0, 1)
        else "",
    }


def db_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*") if p.is_file())


def db_rows(path: Path, table: str) -> int | None:
    try:
        with sqlite3.connect(path) as db:
            return int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    except sqlite3.Error:
        return None


def tracker_config(
    path: Path,
    db: Path,
    urls: list[tuple[int, str, int]],
    *,
    concurrency: int,
    per_host: int,
    delay: float,
) -> None:
    lines = [
        "[tracker]",
        f'database = "sqlite:///{db}"',
        f'feed = "{path.parent / "site" / "latest.json"}"',
        'user_agent = "tracker/bench (price checks)"',
        "",
        "[fetch]",
        "timeout = 20",
        f"concurrency = {concurrency}",
        f"per_host_concurrency = {per_host}",
        f"per_host_delay = {delay}",
        "retries = 2",
        "",
    ]
    # products of four listings each, on four different hosts (consecutive indexes)
    for start in range(0, len(urls), 4):
        group = urls[start : start + 4]
        lines += ["[[products]]", f'id = "g{start // 4:06d}"', f'name = "Product {start // 4}"']
        for _i, url, host in group:
            lines += ["  [[products.listings]]", f'  retailer = "Shop {host}"', f'  url = "{url}"']
        lines.append("")
    path.write_text("\n".join(lines))


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.work = Path(args.workdir)
        self.work.mkdir(parents=True, exist_ok=True)
        self.rows: list[dict[str, Any]] = []
        self.extra: dict[str, Any] = {}
        self.seed = 1

    def record(self, row: dict[str, Any]) -> None:
        self.rows.append(row)
        r = row
        print(
            f"  {r['scenario']:<14} {r['tool']:<8} N={r['n']:<6} {r['wall_s']:7.2f}s "
            f"{r['pages_per_s']:8.1f} p/s  cpu {r['cpu_per_1k']:6.2f}s/1k  "
            f"rss {r['peak_rss_mb']:6.0f} MB  pss {r.get('peak_pss_mb', 0):6.0f} MB"
            f"  exit {r['exit']}  {r.get('note', '')}"
            + (
                f"  requests {r['requests']} in {r['request_span_s']:.2f}s"
                if r.get("request_span_s") is not None
                else ""
            ),
            flush=True,
        )

    def _row(
        self, tool: str, scenario: str, n: int, res: dict[str, Any], **kw: Any
    ) -> dict[str, Any]:
        return {
            "tool": tool,
            "scenario": scenario,
            "n": n,
            "wall_s": res["wall_s"],
            "pages_per_s": n / res["wall_s"],
            "cpu_s": res["cpu_s"],
            "cpu_per_1k": res["cpu_s"] / n * 1000,
            "peak_rss_mb": res["peak_rss_mb"],
            "peak_pss_mb": res["peak_pss_mb"],
            "server_cpu_s": res["server_cpu_s"],
            "requests": res["requests"],
            "request_span_s": res["request_span_s"],
            "exit": res["exit"],
            "summary": res["summary"],
            "stderr_tail": res["stderr_tail"],
            **kw,
        }

    # -- contenders ---------------------------------------------------------------------

    def tracker(
        self,
        farm: Farm,
        n: int,
        scenario: str,
        rundir: Path,
        *,
        fresh: bool,
        per_host: int,
        delay: float,
        profile: str | None = None,
        urls: list[tuple[int, str, int]] | None = None,
        tool: str = "tracker",
    ) -> dict[str, Any]:
        """A ``tracker run``: this checkout's, or (``tool="baseline"``) the one in
        ``--baseline``, for a comparison of two versions in the same rounds."""
        db = rundir / "tracker.sqlite3"
        cfg = rundir / "config.toml"
        if fresh:
            shutil.rmtree(rundir, ignore_errors=True)
            rundir.mkdir(parents=True)
            if urls is None:
                urls = [(ls.index, ls.url, ls.host) for ls in farm.listings[:n]]
            tracker_config(
                cfg, db, urls, concurrency=self.args.concurrency, per_host=per_host, delay=delay
            )
        before = db_rows(db, "observations") or 0
        cmd = [*TRACKER, "--config", str(cfg), "-q", "run", "--json"]
        if profile == "py-spy":
            cmd = [
                str(Path(PY).parent / "py-spy"),
                "record",
                "--format",
                "raw",
                "--rate",
                "200",
                "--gil",  # only the thread holding the GIL: where this process's CPU goes
                "-o",
                str(rundir / "profile.txt"),
                "--",
                *cmd,
            ]
        elif profile == "pyinstrument":
            cmd = [
                PY,
                "-m",
                "pyinstrument",
                "-r",
                "text",
                "-o",
                str(rundir / "profile.txt"),
                "-m",
                "tracker",
                *cmd[3:],
            ]
        cwd = Path(self.args.baseline) if tool == "baseline" else ROOT
        res = run_child(cmd, rundir / f"{scenario}-{tool}", farm=farm, cwd=cwd)
        s = res["summary"]
        after = db_rows(db, "observations") or 0
        note = (
            f"checked {s.get('checked')} new {s.get('new')} changed {s.get('changed')} "
            f"unchanged {s.get('unchanged')} failed {s.get('failed')} {s.get('failures', '')}"
            if s
            else "no summary: " + res["stderr_tail"][-300:]
        )
        return self._row(
            tool,
            scenario,
            n,
            res,
            db_bytes=db_size(db),
            history_added=after - before,
            note=note,
        )

    def scrapy(
        self,
        farm: Farm,
        n: int,
        scenario: str,
        rundir: Path,
        *,
        fresh: bool,
        per_host: int,
        delay: float,
    ) -> dict[str, Any]:
        db = rundir / "scrapy.sqlite3"
        listings = rundir / "listings.jsonl"
        if fresh:
            shutil.rmtree(rundir, ignore_errors=True)
            rundir.mkdir(parents=True)
            listings.write_text(
                "".join(
                    json.dumps({"id": ls.index, "url": ls.url}) + "\n" for ls in farm.listings[:n]
                )
            )
        before = db_rows(db, "history") or 0
        cmd = [
            PY,
            str(HERE / "scrapy_job.py"),
            str(listings),
            str(db),
            str(self.args.concurrency),
            str(per_host),
            str(delay),
        ]
        res = run_child(cmd, rundir / f"{scenario}-scrapy", farm=farm)
        after = db_rows(db, "history") or 0
        s = res["summary"]
        note = (
            " ".join(f"{k} {v}" for k, v in s.items() if k != "elapsed")
            or res["stderr_tail"][-300:]
        )
        return self._row(
            "scrapy",
            scenario,
            n,
            res,
            db_bytes=db_size(db),
            history_added=after - before,
            note=note,
        )

    def naive(self, farm: Farm, n: int, scenario: str, rundir: Path) -> dict[str, Any]:
        rundir.mkdir(parents=True, exist_ok=True)
        listings = rundir / "urls.jsonl"
        listings.write_text("".join(json.dumps({"url": ls.url}) + "\n" for ls in farm.listings[:n]))
        cmd = [PY, str(HERE / "naive.py"), str(listings), str(self.args.concurrency)]
        res = run_child(cmd, rundir / f"{scenario}-naive", farm=farm)
        s = res["summary"]
        return self._row(
            "naive",
            scenario,
            n,
            res,
            db_bytes=0,
            history_added=0,
            note=f"ok {s.get('ok')} parsed {s.get('parsed')}",
        )

    # -- scenarios ----------------------------------------------------------------------

    def throughput(self, farm: Farm, n: int) -> None:
        """Politeness off: cold (all new), then warm (1% changed, validators in place)."""
        tools = self.args.tools
        ph = self.args.concurrency  # per-host concurrency up to the global limit
        base = self.work / "runs" / f"n{n}"

        def run_versions(scenario: str, *, fresh: bool, rep: int, **extra: int) -> None:
            """This checkout's tracker and the baseline's, taking turns at going first
            (a run's place in the round moved its time by about 7% on this machine)."""
            versions = ("tracker", "baseline") if rep % 2 == 0 else ("baseline", "tracker")
            for tool in versions:
                if tool in tools:
                    row = self.tracker(
                        farm, n, scenario, base / tool, fresh=fresh, per_host=ph, delay=0, tool=tool
                    )
                    self.record(row | {"rep": rep, **extra})

        for rep in range(self.args.repeat):
            run_versions("cold", fresh=True, rep=rep)
            if "scrapy" in tools:
                self.record(
                    self.scrapy(farm, n, "cold", base / "scrapy", fresh=True, per_host=ph, delay=0)
                    | {"rep": rep}
                )
            if "naive" in tools:
                self.record(self.naive(farm, n, "cold", base / "naive") | {"rep": rep})
            self.seed += 1
            changed = farm.mutate(self.args.change, n, self.seed)
            time.sleep(1.1)
            print(f"  changed the price of {len(changed)} listings", flush=True)
            run_versions("warm", fresh=False, rep=rep, mutated=len(changed))
            if "scrapy" in tools:
                self.record(
                    self.scrapy(farm, n, "warm", base / "scrapy", fresh=False, per_host=ph, delay=0)
                    | {"rep": rep, "mutated": len(changed)}
                )
            if "naive" in tools:  # the naive loop has no validators: warm is cold again
                self.record(self.naive(farm, n, "warm", base / "naive") | {"rep": rep})

    def memory(self, farm: Farm, n: int) -> None:
        """tracker alone, cold, at ``n`` listings, more than the farm has pages: each
        page is listed under several query strings (``?v=0``, ``?v=1``, ...), which
        nginx serves as the same file. Its peak memory against the smaller N shows
        whether memory grows with N."""
        pages = farm.listings
        urls = []
        for i in range(n):
            ls = pages[i % len(pages)]
            sep = "&" if "?" in ls.url else "?"
            urls.append((i, f"{ls.url}{sep}v={i // len(pages)}", ls.host))
        base = self.work / "runs" / f"memory{n}"
        for rep in range(self.args.repeat):
            row = self.tracker(
                farm,
                n,
                "cold",
                base,
                fresh=True,
                per_host=self.args.concurrency,
                delay=0,
                urls=urls,
            )
            self.record(row | {"rep": rep, "variants": -(-n // len(pages))})

    def polite(self, farm: Farm, n: int) -> None:
        """Politeness on: one request at a time per host, ``delay`` between starts."""
        hosts = self.args.hosts
        delay = self.args.polite_delay or round(self.args.polite_bound * hosts / n, 3)
        per_host_pages = math.ceil(n / hosts)
        bound = per_host_pages * delay
        base = self.work / "runs" / f"polite{n}"
        for rep in range(self.args.repeat):
            for name in ("tracker", "scrapy"):
                if name in self.args.tools:
                    run = getattr(self, name)
                    row = run(farm, n, "polite", base / name, fresh=True, per_host=1, delay=delay)
                    extra = {"rep": rep, "delay": delay, "bound_s": bound}
                    span = row["request_span_s"]
                    extra |= {"span_vs_bound": span / bound if span is not None else None}
                    self.record(row | extra | {"vs_bound": row["wall_s"] / bound})
        print(
            f"  politeness bound: {per_host_pages} pages/host x {delay}s = {bound:.1f}s", flush=True
        )

    def warm_series(self, farm: Farm, n: int, runs: int) -> None:
        """``runs`` warm runs with ``change`` of the prices moved before each: history growth."""
        rundir = self.work / "runs" / f"series{n}"
        row = self.tracker(
            farm, n, "series-cold", rundir, fresh=True, per_host=self.args.concurrency, delay=0
        )
        self.record(row)
        growth = []
        for k in range(runs):
            self.seed += 1
            changed = farm.mutate(self.args.change, n, self.seed)
            time.sleep(1.05)
            row = self.tracker(
                farm, n, "series-warm", rundir, fresh=False, per_host=self.args.concurrency, delay=0
            )
            growth.append(
                {
                    "run": k + 1,
                    "mutated": len(changed),
                    "history_added": row["history_added"],
                    "wall_s": row["wall_s"],
                    "peak_rss_mb": row["peak_rss_mb"],
                    "db_bytes": row["db_bytes"],
                }
            )
            print(
                f"  warm {k + 1}/{runs}: mutated {len(changed)} history +{row['history_added']} "
                f"{row['wall_s']:.2f}s db {row['db_bytes'] / 1e6:.1f} MB",
                flush=True,
            )
        self.extra["warm_series"] = {"n": n, "runs": growth}

    def profile(self, farm: Farm, n: int) -> None:
        rundir = self.work / "runs" / f"profile{n}"
        ph = self.args.concurrency
        row = self.tracker(
            farm, n, "profile", rundir, fresh=True, per_host=ph, delay=0, profile=self.args.profile
        )
        self.record(row)
        prof = rundir / "profile.txt"
        if not prof.exists():
            self.extra["profile"] = {"error": row["stderr_tail"]}
            return
        if self.args.profile == "py-spy":
            self.extra["profile"] = summarize_collapsed(prof)
        else:
            self.extra["profile"] = {"text": prof.read_text()[:20000]}
        shutil.copy(
            prof, Path(self.args.json).with_suffix(f".profile-{n}.txt") if self.args.json else prof
        )

    def check_1mb(self) -> None:
        """``tracker check`` extraction of the ~1 MB pages (in-process, median of 21)."""
        from decimal import Decimal

        from tracker.extract import extract
        from tracker.shops import Product, Style
        from tracker.shops._pages import PageContext, product_path, theme_for

        out = {}
        for style in Style:
            ctx = PageContext("Big shop", style, "en", "http://127.0.1.1:18080", "USD", True)
            p = Product("big-1", "Topping L50 Headphone Amplifier", Decimal("249.00"))
            path = product_path(style, p)
            html = theme_for(ctx).product(p, path).encode()
            times = []
            for _ in range(21):
                t = time.perf_counter()
                offer = extract(html, url=ctx.url(path), content_type="text/html; charset=utf-8")
                times.append(time.perf_counter() - t)
            out[style.value] = {
                "bytes": len(html),
                "median_ms": statistics.median(times) * 1000,
                "price": str(offer.price),
                "method": offer.method,
            }
        # and the command itself on a saved file (process start included)
        f = self.work / "big-amazon.html"
        ctx = PageContext("Big shop", Style.amazon, "en", "http://127.0.1.1:18080", "USD", True)
        p = Product("big-1", "Topping L50 Headphone Amplifier", Decimal("249.00"))
        f.write_bytes(theme_for(ctx).product(p, product_path(Style.amazon, p)).encode())
        walls = [
            run_child([*TRACKER, "check", "--json", str(f)], self.work / "check")["wall_s"]
            for _ in range(3)
        ]
        out["tracker_check_cli_wall_s"] = statistics.median(walls)
        self.extra["check_1mb"] = out
        for k, v in out.items():
            print(f"  extract 1MB {k}: {v}", flush=True)

    def wrk(self, farm: Farm) -> None:
        if not shutil.which("wrk"):
            self.extra["server"] = {"error": "wrk not installed"}
            return
        res = {}
        picks = {"amazon-250KB": farm.listings[6 % len(farm.listings)]}
        for ls in farm.listings:
            if ls.big and "amazon-1MB" not in picks:
                picks["amazon-1MB"] = ls
            if ls.style == "shopify" and "shopify-21KB" not in picks:
                picks["shopify-21KB"] = ls
        for name, ls in picks.items():
            for enc in ("gzip", "identity"):
                p = subprocess.run(
                    ["wrk", "-t2", "-c32", "-d3s", "-H", f"Accept-Encoding: {enc}", ls.url],
                    capture_output=True,
                    text=True,
                )
                rps = next(
                    (
                        line.split()[1]
                        for line in p.stdout.splitlines()
                        if line.startswith("Requests/sec")
                    ),
                    "?",
                )
                tput = next(
                    (
                        line.split()[1]
                        for line in p.stdout.splitlines()
                        if line.startswith("Transfer/sec")
                    ),
                    "?",
                )
                res[f"{name} {enc}"] = {
                    "requests_per_s": float(rps) if rps != "?" else None,
                    "transfer_per_s": tput,
                }
                print(f"  wrk {name} {enc}: {rps} req/s, {tput}/s", flush=True)
        self.extra["server"] = res


def summarize_collapsed(path: Path, top: int = 25) -> dict[str, Any]:
    """Self and inclusive sample shares from py-spy's collapsed stacks."""
    self_t: dict[str, int] = {}
    incl: dict[str, int] = {}
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        c = int(count)
        total += c
        frames = [
            f.split(" (")[0] + " " + f.split(" (")[1].split(":")[0].rsplit("/", 1)[-1]
            if " (" in f
            else f
            for f in stack.split(";")
        ]
        if frames:
            self_t[frames[-1]] = self_t.get(frames[-1], 0) + c
        for f in set(frames):
            incl[f] = incl.get(f, 0) + c

    def share(d: dict[str, int]) -> list[tuple[str, float]]:
        return [
            (k, round(100 * v / total, 1))
            for k, v in sorted(d.items(), key=lambda kv: -kv[1])[:top]
        ]

    return {"samples": total, "self_pct": share(self_t), "inclusive_pct": share(incl)}


def table(rows: list[dict[str, Any]]) -> str:
    """Medians per (scenario, N, tool), with ratios to Scrapy and to the naive loop."""
    groups: dict[tuple[str, int, str], list[dict[str, Any]]] = {}
    for r in rows:
        if r["scenario"] in ("cold", "warm", "polite"):
            groups.setdefault((r["scenario"], r["n"], r["tool"]), []).append(r)
    med: dict[tuple[str, int, str], dict[str, float]] = {}
    for key, rs in groups.items():
        med[key] = {
            k: statistics.median(r[k] for r in rs)
            for k in (
                "wall_s",
                "pages_per_s",
                "cpu_per_1k",
                "peak_rss_mb",
                "peak_pss_mb",
                "db_bytes",
                "server_cpu_s",
            )
        }
        med[key]["reps"] = len(rs)
        if "bound_s" in rs[0]:
            med[key]["bound_s"] = rs[0]["bound_s"]
            spans = [r["request_span_s"] for r in rs if r.get("request_span_s") is not None]
            if spans:
                med[key]["request_span_s"] = statistics.median(spans)
    head = (
        "| scenario | N | tool | runs | wall s | pages/s | CPU s/1k pages | peak RSS MB "
        "| peak PSS MB | DB MB | nginx CPU s | ×Scrapy | ×naive |"
    )
    lines = [head, "|" + "---|" * 13]
    for (scen, n, tool), m in sorted(
        med.items(), key=lambda kv: (kv[0][0] != "cold", kv[0][0], kv[0][1], kv[0][2])
    ):
        sc = med.get((scen, n, "scrapy"))
        nv = med.get(("cold", n, "naive")) if scen != "polite" else None
        xs = f"{m['pages_per_s'] / sc['pages_per_s']:.2f}" if sc and tool != "scrapy" else ""
        xn = f"{m['pages_per_s'] / nv['pages_per_s']:.2f}" if nv and tool != "naive" else ""
        extra = f" (bound {m['bound_s']:.1f}s)" if "bound_s" in m else ""
        if "request_span_s" in m:
            extra += f", requests {m['request_span_s']:.2f}s"
        lines.append(
            f"| {scen} | {n} | {tool} | {m['reps']:.0f} | {m['wall_s']:.2f}{extra} | {m['pages_per_s']:.1f} "
            f"| {m['cpu_per_1k']:.2f} | {m['peak_rss_mb']:.0f} | {m['peak_pss_mb']:.0f} "
            f"| {m['db_bytes'] / 1e6:.1f} "
            f"| {m['server_cpu_s']:.2f} | {xs} | {xn} |"
        )
    return "\n".join(lines)


def per_repetition(rows: list[dict[str, Any]]) -> list[str]:
    """tracker's pages/s over each other contender's, repetition by repetition (the
    machine's speed drifts between repetitions more than between neighbouring runs)."""
    by: dict[tuple[str, int, str], dict[int, float]] = {}
    for r in rows:
        if r["scenario"] in ("cold", "warm") and "rep" in r:
            by.setdefault((r["scenario"], r["n"], r["tool"]), {})[r["rep"]] = r["pages_per_s"]
    lines = []
    for (scen, n, tool), mine in sorted(by.items()):
        if tool != "tracker":
            continue
        for other in ("baseline", "naive", "scrapy"):
            theirs = by.get((scen if other != "naive" else "cold", n, other), {})
            ratios = [mine[k] / theirs[k] for k in sorted(mine) if k in theirs]
            if ratios:
                lines.append(
                    f"{scen} N={n} tracker/{other} per repetition: "
                    + ", ".join(f"{x:.2f}" for x in ratios)
                )
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--listings", default="1000,10000", help="comma-separated N (listings)")
    ap.add_argument("--hosts", type=int, default=20)
    ap.add_argument("--big-fraction", type=float, default=0.02, help="share of ~1 MB Amazon pages")
    ap.add_argument(
        "--concurrency", type=int, default=16, help="global concurrency of every contender"
    )
    ap.add_argument(
        "--change", type=float, default=0.01, help="share of prices changed before a warm run"
    )
    ap.add_argument("--repeat", type=int, default=3, help="repetitions (medians are reported)")
    ap.add_argument("--tools", default="tracker,scrapy,naive")
    ap.add_argument(
        "--polite-listings",
        type=int,
        default=1000,
        help="N for the politeness-on scenario (0: skip)",
    )
    ap.add_argument(
        "--polite-bound",
        type=float,
        default=15.0,
        help="aim the politeness bound at this many seconds",
    )
    ap.add_argument(
        "--polite-delay", type=float, default=None, help="per-host delay (overrides --polite-bound)"
    )
    ap.add_argument(
        "--warm-series",
        type=int,
        default=0,
        help="this many warm runs at the smallest N (history growth)",
    )
    ap.add_argument("--profile", choices=["py-spy", "pyinstrument", "none"], default="py-spy")
    ap.add_argument("--skip-check", action="store_true", help="skip the 1 MB extraction timing")
    ap.add_argument("--skip-wrk", action="store_true")
    ap.add_argument(
        "--memory-listings",
        type=int,
        default=0,
        help="also run tracker alone, cold, at this N (each farm page listed several times)",
    )
    ap.add_argument("--workdir", default="/tmp/tracker-bench")
    ap.add_argument(
        "--baseline",
        default=None,
        metavar="DIR",
        help="another checkout of tracker (git worktree add DIR REV): its cold and warm runs "
        "come right after this checkout's in every repetition, as the tool 'baseline'",
    )
    ap.add_argument("--json", default=str(HERE / "results" / "perf.json"))
    args = ap.parse_args()
    args.tools = args.tools.split(",")
    if args.baseline:
        args.tools.append("baseline")
    sizes = [int(x) for x in args.listings.split(",")]
    bench = Bench(args)
    t0 = time.perf_counter()
    farm = Farm(
        Path(args.workdir) / f"farm-{max(sizes)}-{args.hosts}",
        max(sizes),
        args.hosts,
        args.big_fraction,
    )
    print(
        f"building the farm: {max(sizes)} listings on {args.hosts} hosts ({host_ip(0)}…{host_ip(args.hosts - 1)}:{PORT})",
        flush=True,
    )
    farm.build()
    print(
        f"  {farm.bytes / 1e6:.0f} MB of pages, {farm.bytes / len(farm.listings) / 1e3:.0f} KB mean, "
        f"{sum(ls.big for ls in farm.listings)} pages of ~1 MB",
        flush=True,
    )
    farm.serve()
    try:
        if not args.skip_wrk:
            bench.wrk(farm)
        if not args.skip_check:
            bench.check_1mb()
        for n in sizes:
            print(f"N = {n}: politeness off (concurrency {args.concurrency})", flush=True)
            bench.throughput(farm, n)
        if args.memory_listings and "tracker" in args.tools:
            print(f"N = {args.memory_listings}: tracker alone, cold (memory)", flush=True)
            bench.memory(farm, args.memory_listings)
        if args.polite_listings:
            print(f"N = {args.polite_listings}: politeness on", flush=True)
            bench.polite(farm, args.polite_listings)
        if args.warm_series:
            print(f"N = {min(sizes)}: {args.warm_series} warm runs", flush=True)
            bench.warm_series(farm, min(sizes), args.warm_series)
        if args.profile != "none" and "tracker" in args.tools:
            print(f"profiling tracker at N = {max(sizes)}", flush=True)
            bench.profile(farm, max(sizes))
    finally:
        farm.stop()
    out = table(bench.rows)
    print()
    print(out)
    for line in per_repetition(bench.rows):
        print(line)
    rss = sorted(
        {
            (r["n"], r["peak_rss_mb"], r.get("peak_pss_mb", 0))
            for r in bench.rows
            if r["tool"] == "tracker" and r["scenario"] == "cold"
        }
    )
    print(
        "\ntracker peak memory vs N (cold):",
        ", ".join(f"N={n}: RSS {m:.0f} MB, PSS {p:.0f} MB" for n, m, p in rss),
    )
    if "profile" in bench.extra and "self_pct" in bench.extra["profile"]:
        print("\nprofile, self time (% of samples):")
        for name, pct in bench.extra["profile"]["self_pct"][:15]:
            print(f"  {pct:5.1f}%  {name}")
        print("profile, inclusive (% of samples):")
        for name, pct in bench.extra["profile"]["inclusive_pct"][:25]:
            print(f"  {pct:5.1f}%  {name}")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(
            json.dumps(
                {
                    "args": vars(args),
                    "machine": {
                        "cpus": os.cpu_count(),
                        "python": platform.python_version(),
                        "platform": platform.platform(),
                    },
                    "farm": {
                        "listings": len(farm.listings),
                        "hosts": args.hosts,
                        "bytes": farm.bytes,
                        "big_pages": sum(ls.big for ls in farm.listings),
                    },
                    "rows": bench.rows,
                    "table": out,
                    **bench.extra,
                    "elapsed_s": time.perf_counter() - t0,
                },
                indent=1,
                default=str,
            )
        )
        print(f"\nwrote {args.json} ({time.perf_counter() - t0:.0f}s)")


if __name__ == "__main__":
    main()
