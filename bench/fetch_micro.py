"""Fetcher alone (no extraction, no storage) vs a bare httpx loop, on the benchmark farm.

    .venv/bin/python bench/fetch_micro.py --listings 3000 [--validators] [--concurrency 16]

Uses the farm that bench/perf.py built (same --workdir); starts nginx itself.
Prints pages/s and CPU ms per page for each, median of --repeat runs.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import httpx  # noqa: E402
from farm import Farm  # noqa: E402

from tracker.config import Config, FetchSettings  # noqa: E402
from tracker.fetch import Fetcher  # noqa: E402


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


async def with_fetcher(urls: list[str], conc: int, validators: dict[str, str]) -> int:
    cfg = Config(
        path=None,
        fetch=FetchSettings(concurrency=conc, per_host_concurrency=conc, per_host_delay=0.0),
    )  # type: ignore[call-arg]
    ok = 0
    it = iter(urls)
    async with Fetcher(cfg) as f:

        async def worker() -> None:
            nonlocal ok
            for u in it:
                r = await f.fetch(u, etag=validators.get(u))
                ok += r.ok

        await asyncio.gather(*(worker() for _ in range(conc * 2)))
    return ok


async def bare(urls: list[str], conc: int, validators: dict[str, str]) -> int:
    limits = httpx.Limits(max_connections=conc, max_keepalive_connections=conc)
    ok = 0
    it = iter(urls)
    async with httpx.AsyncClient(limits=limits, headers={"Accept-Encoding": "gzip"}) as c:

        async def worker() -> None:
            nonlocal ok
            for u in it:
                h = {"If-None-Match": validators[u]} if u in validators else {}
                r = await c.get(u, headers=h)
                ok += r.status_code in (200, 304)

        await asyncio.gather(*(worker() for _ in range(conc)))
    return ok


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--listings", type=int, default=3000)
    ap.add_argument("--hosts", type=int, default=20)
    ap.add_argument("--farm", default=None, help="farm folder (default: the largest under workdir)")
    ap.add_argument("--workdir", default="/tmp/tracker-bench")
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--validators", action="store_true", help="send If-None-Match: mostly 304s")
    ap.add_argument("--only", default="fetcher,bare")
    args = ap.parse_args()
    folder = (
        Path(args.farm)
        if args.farm
        else max(
            Path(args.workdir).glob(f"farm-*-{args.hosts}"), key=lambda p: int(p.name.split("-")[1])
        )
    )
    n_farm = int(folder.name.split("-")[1])
    farm = Farm(folder, n_farm, args.hosts, 0.02)
    farm.build()
    farm.serve()
    try:
        urls = [ls.url for ls in farm.listings[: args.listings]]
        validators: dict[str, str] = {}
        if args.validators:

            async def tags() -> None:
                async with httpx.AsyncClient(headers={"Accept-Encoding": "gzip"}) as c:
                    for u in urls:
                        validators[u] = (await c.head(u)).headers["etag"]

            asyncio.run(tags())
        for name in args.only.split(","):
            fn = with_fetcher if name == "fetcher" else bare
            walls, cpus = [], []
            for _ in range(args.repeat):
                c0, t0 = cpu(), time.perf_counter()
                ok = asyncio.run(fn(urls, args.concurrency, validators))
                walls.append(time.perf_counter() - t0)
                cpus.append(cpu() - c0)
            w, c = statistics.median(walls), statistics.median(cpus)
            print(
                f"{name:8} N={len(urls)} ok={ok} {len(urls) / w:7.0f} pages/s  "
                f"{c / len(urls) * 1000:.3f} ms CPU/page  (walls {[round(x, 2) for x in walls]})",
                flush=True,
            )
    finally:
        farm.stop()


if __name__ == "__main__":
    main()
