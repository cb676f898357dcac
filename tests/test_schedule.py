"""Scheduling: what is due, leases, `tracker run --due` overlapping, `tracker serve`,
`tracker status`, the systemd units."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import FrozenClock
from tracker.config import Config, parse_config
from tracker.demo import demo_config
from tracker.pipeline import run_due
from tracker.schedule import interval_for, next_due_at
from tracker.serve import status_of
from tracker.shops import Fault, ShopFarm, demo_specs
from tracker.store import Store, open_store

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def farm() -> Iterator[ShopFarm]:
    with ShopFarm(demo_specs()) as f:
        yield f


def make_config(farm: ShopFarm, tmp_path: Path, schedule: str) -> tuple[Config, Path]:
    farm.clear_faults()
    farm.reset_log()
    text = demo_config(farm, tmp_path / "history.sqlite3").replace(
        "per_host_delay = 0.05", "per_host_delay = 0"
    )
    text += "\n[schedule]\n" + schedule
    path = tmp_path / "config.toml"
    path.write_text(text)
    return parse_config(text, path=path), path


def product_pages(farm: ShopFarm) -> Counter[str]:
    """How many times each product page was fetched, counted at the shops."""
    return Counter(
        f"{shop.name}{r.path}"
        for shop in farm.shops
        for r in shop.requests()
        if r.path not in ("/robots.txt", "/")
    )


def test_due_follows_the_interval(
    farm: ShopFarm, tmp_path: Path, clock: FrozenClock, db_url: str
) -> None:
    config, _ = make_config(farm, tmp_path, 'interval = "6h"\njitter = 0\n')
    with open_store(config.tracker.database) as store:
        first = run_due(config, store=store, now=clock)
        assert first.checked == 8
        assert run_due(config, store=store, now=clock).checked == 0
        clock.advance(hours=5, minutes=59)
        assert run_due(config, store=store, now=clock).checked == 0
        clock.advance(minutes=2)
        assert run_due(config, store=store, now=clock).checked == 8
    assert set(product_pages(farm).values()) == {2}


def test_failed_listings_are_retried_sooner(
    farm: ShopFarm, tmp_path: Path, clock: FrozenClock, db_url: str
) -> None:
    config, _ = make_config(
        farm, tmp_path, 'interval = "6h"\njitter = 0\nretry_failed_after = "1h"\n'
    )
    farm["Amazon-like"].set_fault(Fault.robot_check)
    with open_store(config.tracker.database) as store:
        run_due(config, store=store, now=clock)
        clock.advance(hours=1, minutes=1)
        again = run_due(config, store=store, now=clock)
    assert again.checked == 2 and again.failures == {"blocked": 2}


def test_interval_resolution_and_adaptive_bounds() -> None:
    config = parse_config(
        '[schedule]\ninterval = "6h"\njitter = 0\nadaptive = true\nmin_interval = "2h"\n'
        'max_interval = "10h"\n'
        '[[sites]]\nmatch = "shop.example"\ninterval = "3h"\n'
        '[[products]]\nid = "a"\nname = "A"\ninterval = "1h"\n'
        '[[products]]\nid = "b"\nname = "B"\n'
    )
    assert interval_for(config, product_id="a", url="https://shop.example/a") == timedelta(hours=1)
    assert interval_for(config, product_id="b", url="https://www.shop.example/b") == timedelta(
        hours=3
    )
    assert interval_for(config, product_id="b", url="https://other.example/b") == timedelta(hours=6)
    from datetime import UTC, datetime

    t = datetime(2026, 1, 1, tzinfo=UTC)

    def due(changes: int) -> timedelta:
        return (
            next_due_at(
                config,
                product_id="b",
                url="https://other.example/b",
                checked_at=t,
                failed=False,
                recent_changes=changes,
            )
            - t
        )

    assert due(0) == timedelta(hours=10)  # stable: doubled, capped at max_interval
    assert due(1) == timedelta(hours=6)
    assert due(5) == timedelta(hours=3)  # moves often: halved
    jittery = parse_config('[schedule]\ninterval = "10h"\njitter = 0.2\n')
    spread = {
        next_due_at(jittery, product_id="x", url="https://x.example/", checked_at=t, failed=False)
        - t
        for _ in range(50)
    }
    assert len(spread) > 1 and all(timedelta(hours=8) <= d <= timedelta(hours=12) for d in spread)


def test_an_expired_lease_is_taken_over(tmp_path: Path, clock: FrozenClock, store: Store) -> None:
    config = parse_config(
        '[[products]]\nid = "a"\nname = "A"\n[[products.listings]]\n'
        'retailer = "R"\nurl = "https://r.example/a"\n'
    )
    store.sync_config(config, now=clock())
    lease = timedelta(minutes=10)
    assert len(store.claim_due(now=clock(), owner="crashed", lease=lease)) == 1
    clock.advance(minutes=5)
    assert store.claim_due(now=clock(), owner="other", lease=lease) == []
    clock.advance(minutes=6)
    assert len(store.claim_due(now=clock(), owner="other", lease=lease)) == 1


def tracker(*args: str, **kw: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tracker", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )  # type: ignore[call-overload]


def test_two_overlapping_run_due_check_each_listing_once(
    farm: ShopFarm, tmp_path: Path, db_url: str
) -> None:
    _, path = make_config(farm, tmp_path, 'interval = "6h"\n')
    for shop in farm.shops:
        shop.set_fault(Fault.slow, delay=0.3)  # long enough for the runs to overlap
    try:
        subprocess.run(
            [sys.executable, "-m", "tracker", "--config", str(path), "db", "upgrade"],
            check=True,
            capture_output=True,
        )
        runs = [tracker("--config", str(path), "run", "--due", "--json") for _ in range(2)]
        outputs = [p.communicate(timeout=120) for p in runs]
    finally:
        farm.clear_faults()
    assert [p.returncode for p in runs] == [0, 0], outputs
    pages = product_pages(farm)
    assert len(pages) == 8 and set(pages.values()) == {1}, pages  # counted at the server


def test_serve_checks_at_the_cadence_and_stops_cleanly_on_sigterm(
    farm: ShopFarm, tmp_path: Path, db_url: str
) -> None:
    _, path = make_config(
        farm, tmp_path, 'interval = "2s"\njitter = 0\ntick = "0.5s"\nreport_cron = false\n'
    )
    daemon = tracker("--config", str(path), "serve")
    try:
        time.sleep(5.5)
        daemon.send_signal(signal.SIGTERM)
        started = time.monotonic()
        _out, err = daemon.communicate(timeout=30)
        stop_seconds = time.monotonic() - started
    finally:
        if daemon.poll() is None:
            daemon.kill()
    assert daemon.returncode == 0, err
    assert "stopped cleanly" in err
    assert stop_seconds < 10
    pages = product_pages(farm)
    assert len(pages) == 8
    # every 2 s over ~5.5 s: 2 or 3 checks each, never a burst
    assert set(pages.values()) <= {2, 3, 4}, pages
    engine = sa.create_engine(db_url)
    with engine.connect() as conn:
        if db_url.startswith("sqlite"):
            assert conn.execute(sa.text("PRAGMA integrity_check")).scalar_one() == "ok"
        logged = conn.execute(sa.text("select count(*) from fetch_log")).scalar_one()
        leased = conn.execute(
            sa.text("select count(*) from listing_state where lease_owner is not null")
        ).scalar_one()
    engine.dispose()
    assert logged == sum(pages.values())  # every check the shops saw was recorded
    assert leased == 0  # nothing left claimed


def test_status_exit_codes(farm: ShopFarm, tmp_path: Path, clock: FrozenClock, db_url: str) -> None:
    config, path = make_config(farm, tmp_path, 'alert_after = "2h"\n')
    fresh = subprocess.run(
        [sys.executable, "-m", "tracker", "--config", str(path), "status"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert fresh.returncode == 1 and "no run has finished yet" in fresh.stdout
    assert (
        subprocess.run(
            [sys.executable, "-m", "tracker", "--config", str(path), "run"],
            capture_output=True,
            check=False,
        ).returncode
        == 0
    )
    ok = subprocess.run(
        [sys.executable, "-m", "tracker", "--config", str(path), "status"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert ok.returncode == 0 and "healthy" in ok.stdout and "8 listings" not in ok.stdout
    with open_store(config.tracker.database) as store:
        later = status_of(config, store, now=clock.advance(days=3650 * 2))
    assert not later.healthy and "alert_after is 2.0 h" in (later.problem or "")


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not found")
def test_systemd_units_verify(tmp_path: Path) -> None:
    tracker_bin = str(Path(sys.executable).parent / "tracker")
    units = []
    for unit in sorted((ROOT / "jobs").glob("tracker-*.*")):
        target = tmp_path / unit.name
        target.write_text(unit.read_text().replace("/opt/tracker/.venv/bin/tracker", tracker_bin))
        units.append(str(target))
    assert len(units) == 5
    done = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *units],
        capture_output=True,
        text=True,
        check=False,
        env=dict(os.environ, SYSTEMD_LOG_LEVEL="warning"),
    )
    assert done.returncode == 0, done.stderr
    assert "tracker-" not in done.stderr, done.stderr
