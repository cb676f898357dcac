"""Crashes and overlapping work: ``kill -9`` mid-run, readers of the published files,
runs overlapping renders and reports. Real ``tracker`` processes, a real SQLite file."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pytest

from tests.conftest import run_tracker
from tests.test_faults import fetch_section
from tracker.config import Config, load_config
from tracker.feed import write_feed
from tracker.pipeline import utc_now
from tracker.render import render_guides
from tracker.report import build_report, render_report
from tracker.shops import Fault, Product, Shop, Style
from tracker.store import open_store

SKUS = [f"amp-{i:03d}" for i in range(120)]
GUIDE_PRODUCTS = SKUS[:3]


def tracker(config: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return run_tracker("--config", str(config), *args, env=_env(), timeout=timeout)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("TRACKER_DATABASE_URL", None)
    return env


def write_config(folder: Path, shop: Shop, **fetch: object) -> Path:
    lines = [
        "[tracker]",
        'database = "sqlite:///history.sqlite3"',
        'feed = "site/latest.json"',
        "",
        fetch_section(**({"timeout": 10.0, "concurrency": 8, "per_host_concurrency": 8} | fetch)),
        "[quarantine]",
        "enabled = false",  # prices jump between bands on purpose here
        "",
        "[[guides]]",
        'id = "amps"',
        'title = "Amps"',
        f"products = {json.dumps(GUIDE_PRODUCTS)}",
        'template = "quick-picks"',
        'output = ["site/amps.html", "site/amps.md"]',
        'bands.USD = { limits = [150, 250], labels = ["$", "$$", "$$$"] }',
        "",
    ]
    for sku in SKUS:
        lines += [
            "[[products]]",
            f'id = "{sku}"',
            f'name = "Amp {sku}"',
            "  [[products.listings]]",
            '  retailer = "Slow shop"',
            f'  url = "{shop.url(sku)}"',
            '  currency = "USD"',
            "",
        ]
    path = folder / "config.toml"
    path.write_text("\n".join(lines))
    return path


@pytest.fixture
def shop() -> Iterator[Shop]:
    products = [Product(sku, f"Amp {sku}", Decimal("120.00")) for sku in SKUS]
    with Shop("Slow shop", style=Style.shopify, products=products) as s:
        yield s


def db_rows(database: Path, sql: str) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def logged_checks(database: Path) -> int:
    """Checks committed so far (0 while the database is being created)."""
    try:
        return _count(database, "fetch_log") if database.exists() else 0
    except sqlite3.OperationalError:
        return 0


def wait_for(what: Callable[[], bool], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not what():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.02)


# how a whole guide ends: a reader seeing anything else saw half a file
ENDINGS = {"html": b"</section>\n", "md": b"qualifying purchases.\n"}


@dataclass
class Reader:
    """Reads the published files in a loop, as a publishing pipeline polling them would."""

    site: Path
    reads: int = 0
    versions: set[bytes] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def check(self, name: str, data: bytes) -> None:
        if name == "latest.json":
            try:
                json.loads(data)
            except ValueError as exc:
                self.problems.append(f"{name}: {exc} ({len(data)} bytes)")
        elif not data.endswith(ENDINGS[name.rsplit(".", 1)[1]]):
            self.problems.append(f"{name}: ends with {data[-40:]!r}")

    def loop(self) -> None:
        while not self.stop.is_set():
            for name in ("latest.json", "amps.html", "amps.md"):
                try:
                    data = (self.site / name).read_bytes()
                except FileNotFoundError:
                    continue
                self.reads += 1
                self.versions.add(data)
                self.check(name, data)
            time.sleep(0.001)  # leave the GIL to the shop serving the run

    def __enter__(self) -> Reader:
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(5)


def test_kill_9_mid_run_loses_and_duplicates_nothing(shop: Shop, tmp_path: Path) -> None:
    config = write_config(tmp_path, shop)
    database = tmp_path / "history.sqlite3"
    shop.set_fault(Fault.slow, delay=0.1)  # ~12 s for the whole run: we kill it mid-way
    with Reader(tmp_path / "site") as reader:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tracker", "--config", str(config), "run"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=_env(),
        )
        try:
            # the first batch of checks is committed: now the run is mid-way
            wait_for(lambda: logged_checks(database) >= 50, timeout=30)
            time.sleep(0.3)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
        assert proc.returncode == -signal.SIGKILL
        recorded = _count(database, "fetch_log")
        assert 50 <= recorded < len(SKUS), recorded
        states_before = db_rows(database, "SELECT listing_id, price, first_seen FROM observations")

        shop.clear_faults()
        done = tracker(config, "run")
        assert done.returncode == 0, done.stderr
        # prices move between bands: the guides and the feed are rewritten under the reader
        for round_, price in enumerate(("300.00", "99.00", "199.00")):
            for sku in GUIDE_PRODUCTS:
                shop.set_price(sku, price)
            done = tracker(config, "run")
            assert done.returncode == 0, (round_, done.stderr)

    assert db_rows(database, "PRAGMA integrity_check") == [("ok",)]
    assert db_rows(database, "PRAGMA foreign_key_check") == []
    # nothing lost: what the killed run committed is still there, and every listing is
    # recorded; nothing duplicated: one state per listing (the guide's three: four)
    observations = db_rows(database, "SELECT listing_id, price, first_seen FROM observations")
    assert set(states_before) <= set(observations)
    per_listing = dict(
        db_rows(database, "SELECT listing_id, count(*) FROM observations GROUP BY listing_id")
    )
    assert len(per_listing) == len(SKUS)
    assert sorted(per_listing.values()) == [1] * (len(SKUS) - 3) + [4] * 3
    assert _count(database, "listing_state") == len(SKUS)
    # every successful check is counted once, by exactly one state
    checks = db_rows(database, "SELECT sum(checks) FROM observations")[0][0]
    logged = db_rows(
        database, "SELECT count(*) FROM fetch_log WHERE outcome IN ('new', 'changed', 'unchanged')"
    )[0][0]
    assert checks == logged
    # the reader never saw a half-written guide or feed, and saw them change
    assert reader.problems == []
    assert reader.reads > 0 and len(reader.versions) >= 6


def _count(database: Path, table: str) -> int:
    value = db_rows(database, f"SELECT count(*) FROM {table}")[0][0]
    assert isinstance(value, int)
    return value


def test_runs_overlapping_renders_and_reports_never_see_a_locked_database(
    shop: Shop, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TRACKER_DATABASE_URL", raising=False)
    config_file = write_config(tmp_path, shop)
    config: Config = load_config(config_file)
    shop.set_fault(Fault.slow, delay=0.02)
    errors: list[str] = []
    stop = threading.Event()
    passes = {"render": 0, "report": 0, "feed": 0}

    def loop(name: str, work: Callable[[], object]) -> None:
        while not stop.is_set():
            try:
                work()
                passes[name] += 1
            except Exception as exc:
                errors.append(f"{name}: {type(exc).__name__}: {exc}")
                return

    with open_store(config.tracker.database) as store:

        def render() -> None:
            render_guides(config, store, now=utc_now(), force=True)

        def report() -> None:
            now = utc_now()
            r = build_report(config, store, since=now.replace(year=2000), until=now)
            render_report(r, config, fmt="html")

        def feed() -> None:
            write_feed(config, store, now=utc_now())

        threads = [
            threading.Thread(target=loop, args=(name, work), daemon=True)
            for name, work in (("render", render), ("report", report), ("feed", feed))
        ]
        runs = [
            subprocess.Popen(
                [sys.executable, "-m", "tracker", "--config", str(config_file), "run"],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=_env(),
            )
            for _ in range(2)
        ]
        try:
            for t in threads:
                t.start()
            side = [tracker(config_file, cmd) for cmd in ("status", "report", "render")]
            outputs = [p.communicate(timeout=60) for p in runs]
        finally:
            stop.set()
            for t in threads:
                t.join(10)
            for p in runs:
                if p.poll() is None:
                    p.kill()
                    p.communicate()
    assert errors == []
    assert all(n > 0 for n in passes.values()), passes
    for p, (out, err) in zip(runs, outputs, strict=True):
        assert p.returncode == 0, err
        assert "locked" not in err.lower()
        assert "checked 120 listings" in out
    for done in side:
        assert done.returncode in (0, 1), done.stderr  # status: 1 = a run is overdue
        assert "locked" not in done.stderr.lower()
