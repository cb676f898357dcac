"""Many workers on one database: each due listing checked once, politeness held across
all of them, killed workers' claims taken over. Counted at the simulated shops."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from tracker.config import load_config
from tracker.fetch import Fetcher, origin_of
from tracker.politeness import DatabaseGate
from tracker.shops import Fault, Product, Shop, ShopFarm, Style
from tracker.store import Store, open_store

PRODUCTS = 6


def four_shops(name: str, sku: str, products: int) -> ShopFarm:
    """Four shops of different styles, ``products`` products each."""
    return ShopFarm(
        Shop(
            f"{name} {i}",
            style=style,
            products=[
                Product(f"{sku}-{i}-{j}", f"Amplifier {i}-{j}", Decimal(100 + 10 * j))
                for j in range(products)
            ],
        )
        for i, style in enumerate((Style.shopify, Style.woocommerce, Style.plain, Style.magento))
    )


@pytest.fixture(scope="module")
def farm() -> Iterator[ShopFarm]:
    with four_shops("Shop", "amp", PRODUCTS) as f:
        yield f


def write_config(farm: ShopFarm, tmp_path: Path, *, fetch: str, schedule: str) -> Path:
    lines = [
        "[tracker]",
        'database = "sqlite:///unused.sqlite3"',
        "",
        "[fetch]",
        fetch,
        "",
        "[schedule]",
        schedule,
        "",
    ]
    path = tmp_path / "config.toml"
    path.write_text("\n".join(lines) + farm.products_toml())
    return path


def workers(path: Path, n: int) -> list[subprocess.Popen[str]]:
    return [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tracker",
                "-q",
                "--config",
                str(path),
                "run",
                "--due",
                "--json",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(n)
    ]


def pages(farm: ShopFarm) -> Counter[str]:
    return Counter(
        f"{s.name}{r.path}"
        for s in farm.shops
        for r in s.requests()
        if r.path not in ("/robots.txt", "/")
    )


def recorded(db_url: str) -> Counter[int]:
    engine = sa.create_engine(db_url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("select listing_id from fetch_log")).all()
    engine.dispose()
    return Counter(r[0] for r in rows)


def migrate(path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "tracker", "--config", str(path), "db", "upgrade"],
        check=True,
        capture_output=True,
    )


def test_politeness_holds_across_workers(farm: ShopFarm, tmp_path: Path, db_url: str) -> None:
    farm.clear_faults()
    farm.reset_log()
    delay = 0.25
    path = write_config(
        farm,
        tmp_path,
        fetch=f"per_host_delay = {delay}\nper_host_concurrency = 1\nconcurrency = 4\n"
        "shared_politeness = true\n",
        schedule='claim_batch = 3\ninterval = "6h"\n',
    )
    migrate(path)
    for shop in farm.shops:
        shop.set_fault(Fault.slow, delay=0.05)
    try:
        procs = workers(path, 3)
        outs = [p.communicate(timeout=120) for p in procs]
    finally:
        farm.clear_faults()
    assert [p.returncode for p in procs] == [0, 0, 0], outs
    total = len(farm.shops) * PRODUCTS
    assert sum(1 for out, _ in outs if '"checked": 0' not in out) >= 2  # the work was shared
    dupes = {k: v for k, v in pages(farm).items() if v > 1}
    detail = [
        (s.name, r.path, r.status, r.client_port, round(r.started, 3))
        for s in farm.shops
        for r in s.requests()
        if f"{s.name}{r.path}" in dupes
    ]
    assert not dupes and len(pages(farm)) == total, (detail, outs)
    for shop in farm.shops:
        # one worker reads each shop's robots.txt; the others take it from the database
        assert len(shop.requests("/robots.txt")) == 1, shop.name
        assert shop.max_in_flight <= 1, shop.name
        starts = sorted(r.started for r in shop.requests() if r.path != "/robots.txt")
        gaps = [b - a for a, b in itertools.pairwise(starts)]
        assert min(gaps) >= delay - 0.03, (shop.name, gaps)


def test_killed_workers_lose_nothing_and_duplicate_nothing(
    farm: ShopFarm, tmp_path: Path, db_url: str
) -> None:
    farm.clear_faults()
    farm.reset_log()
    path = write_config(
        farm,
        tmp_path,
        fetch="per_host_delay = 0\nper_host_concurrency = 2\nconcurrency = 1\n",
        schedule='claim_batch = 2\ninterval = "6h"\nlease = "3s"\n',
    )
    migrate(path)
    for shop in farm.shops:
        shop.set_fault(Fault.slow, delay=0.15)
    try:
        first = workers(path, 4)
        time.sleep(0.8)
        killed = first[:2]
        for p in killed:
            p.send_signal(signal.SIGKILL)
        for p in killed:
            p.communicate(timeout=10)  # reaps it and closes its pipes
        time.sleep(3.2)  # their leases expire
        second = workers(path, 2)
        outs = [p.communicate(timeout=120) for p in first[2:] + second]
    finally:
        farm.clear_faults()
    assert all(p.returncode == 0 for p in first[2:] + second), outs
    total = len(farm.shops) * PRODUCTS
    checks = recorded(db_url)
    assert len(checks) == total  # nothing lost: every listing was checked and recorded
    assert set(checks.values()) == {1}  # nothing recorded twice
    seen = pages(farm)
    # at the shops: only a request in flight when its worker was killed is repeated
    assert len(seen) == total
    assert sum(seen.values()) - total <= len(killed)


def test_a_claim_takes_listings_from_every_host_before_a_second_from_any(
    farm: ShopFarm, tmp_path: Path, db_url: str
) -> None:
    """Workers that claim a few listings each share the hosts instead of queueing
    behind one host's politeness delay."""
    path = write_config(farm, tmp_path, fetch="per_host_delay = 0", schedule="claim_batch = 4")
    config = load_config(path)
    now = datetime(2026, 11, 24, 12, tzinfo=UTC)
    with open_store(db_url) as store:
        store.sync_config(config, now=now)
        hosts_per_claim = []
        for worker in range(PRODUCTS):
            claim = store.claim_due(
                now=now, owner=f"w{worker}", lease=timedelta(minutes=5), limit=len(farm.shops)
            )
            hosts_per_claim.append(len({origin_of(ref.url) for ref in claim}))
    assert hosts_per_claim == [len(farm.shops)] * PRODUCTS


def test_a_worker_waiting_for_a_busy_host_keeps_fetching_from_free_ones(
    farm: ShopFarm, tmp_path: Path, db_url: str
) -> None:
    """Another worker holds host A: this worker's single request slot is not spent
    waiting for A, so its request to host B goes out meanwhile."""
    farm.clear_faults()
    path = write_config(
        farm,
        tmp_path,
        fetch=(
            "per_host_delay = 0\nper_host_concurrency = 1\nconcurrency = 1\n"
            "shared_politeness = true\nrespect_robots = false"
        ),
        schedule="",
    )
    config = load_config(path)
    shop_a, shop_b = farm.shops[0], farm.shops[1]
    url_a = shop_a.url(next(iter(shop_a.products)))
    url_b = shop_b.url(next(iter(shop_b.products)))

    async def scenario(store: Store) -> tuple[str | None, bool, str | None]:
        other = store.take_host(  # the other worker's request to A, in flight
            origin_of(url_a),
            now=datetime.now(UTC),
            delay=timedelta(0),
            limit=1,
            hold=timedelta(minutes=1),
            owner="other worker",
        )
        assert isinstance(other, int)
        gate = DatabaseGate(store, now=lambda: datetime.now(UTC))
        try:
            async with Fetcher(config, shared=gate) as fetcher:
                waiting = asyncio.create_task(fetcher.fetch(url_a))
                await asyncio.sleep(0.2)  # A's fetch is waiting for the host now
                b = await asyncio.wait_for(fetcher.fetch(url_b), 20)
                a_still_waiting = not waiting.done()
                await gate.release(other)
                a = await asyncio.wait_for(waiting, 20)
        finally:
            await gate.aclose()
        return b.failure, a_still_waiting, a.failure

    with open_store(db_url) as store:
        b_failure, a_was_waiting, a_failure = asyncio.run(scenario(store))
    assert b_failure is None
    assert a_was_waiting
    assert a_failure is None


# -- one big `tracker run` over every core ---------------------------------------------------

BIG = 60  # products per shop: 4 shops, 240 listings, past the size a run shares


@pytest.fixture(scope="module")
def big_farm() -> Iterator[ShopFarm]:
    with four_shops("Big", "big", BIG) as f:
        yield f


def run_big(
    big_farm: ShopFarm,
    tmp_path: Path,
    *,
    delay: float = 0,
    slow: float = 0,
    processes: str = "processes = 2\n",
    per_host: int = 1,
) -> subprocess.Popen[str]:
    """`tracker run` over ``big_farm`` in two processes (``processes``: the setting, or
    "" for the default), two requests in flight, ``per_host`` to a shop; each page takes
    ``slow`` s."""
    big_farm.clear_faults()
    big_farm.reset_log()
    for shop in big_farm.shops if slow else ():
        shop.set_fault(Fault.slow, delay=slow)
    path = write_config(
        big_farm,
        tmp_path,
        fetch=(
            f"{processes}concurrency = 2\nper_host_concurrency = {per_host}\n"
            f"per_host_delay = {delay}\n"
        ),
        schedule="",
    )
    return subprocess.Popen(
        [sys.executable, "-m", "tracker", "--config", str(path), "run"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def in_flight_at_most(shops: Iterable[Shop], *, lag: float = 0.008) -> int:
    """The most requests any moment saw in flight, over all of ``shops`` together.

    A shop notes a request's end just after writing the answer, so on a loaded
    machine the client may already have sent its next request: each request counts
    as ended ``lag`` seconds before that note (the pages take longer than ``lag``).
    """
    events = sorted(
        (t, step)
        for shop in shops
        for r in shop.requests()
        for t, step in ((r.started, 1), (max(r.started, r.finished - lag), -1))
    )  # at equal times an end (-1) sorts before a start
    return max(itertools.accumulate(step for _, step in events), default=0)


def runs(db_url: str) -> list[tuple[int, int]]:
    engine = sa.create_engine(db_url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("select run_id, count(*) from fetch_log group by run_id"))
        out = [(r[0], r[1]) for r in rows]
    engine.dispose()
    return out


@pytest.mark.parametrize("delay", [0, 0.1], ids=["hosts-taken-as-needed", "hosts-dealt-up-front"])
def test_a_big_run_shares_its_hosts_with_a_helper_process(
    big_farm: ShopFarm, tmp_path: Path, db_url: str, delay: float
) -> None:
    total = len(big_farm.shops) * BIG
    proc = run_big(big_farm, tmp_path, delay=delay, slow=0.03)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert "shared with 1 helper process" in err
    assert f"checked {total} listings: 0 changed, {total} new, 0 unchanged, 0 failed" in out
    assert err.count(" new ") == total  # the helper's checks are logged here, one line each
    # every page fetched once, each shop by one process at a time
    assert sorted(pages(big_farm).values()) == [1] * total
    assert all(shop.max_in_flight <= 1 for shop in big_farm.shops)
    # the run's `concurrency` (2) holds over all shops and both processes together
    assert in_flight_at_most(big_farm.shops) <= 2
    for shop in big_farm.shops if delay else ():  # the delay between two requests holds
        starts = sorted(r.started for r in shop.requests() if r.path != "/robots.txt")
        # (measured where the shop receives them: a loaded machine adds some jitter)
        assert min(b - a for a, b in itertools.pairwise(starts)) >= delay - 0.03, shop.name
    # and recorded once, all under one run
    assert runs(db_url) == [(runs(db_url)[0][0], total)]


@pytest.mark.parametrize("per_host", [1, 2], ids=["shop-limit-below-the-run's", "shop-limit-2"])
def test_the_end_of_a_big_run_is_shared_only_where_politeness_allows(
    big_farm: ShopFarm, tmp_path: Path, db_url: str, per_host: int
) -> None:
    """The process that would finish last alone lends listings of its shops to the
    helper that has run out: only of shops whose robots.txt it has read, without a
    Crawl-delay, and when the two processes' requests together (2) are within a shop's
    limit. Each page is still fetched and recorded once, and every limit holds."""
    total = len(big_farm.shops) * BIG
    paced = big_farm.shops[0]
    served = paced.robots_txt
    paced.robots_txt = "User-agent: *\nCrawl-delay: 0.02\n"
    try:
        proc = run_big(big_farm, tmp_path, slow=0.02, per_host=per_host)
        out, err = proc.communicate(timeout=300)
    finally:
        paced.robots_txt = served
    assert proc.returncode == 0, err
    assert "shared with 1 helper process" in err
    assert f"checked {total} listings: 0 changed, {total} new, 0 unchanged, 0 failed" in out
    assert sorted(pages(big_farm).values()) == [1] * total
    assert runs(db_url) == [(runs(db_url)[0][0], total)]
    assert in_flight_at_most(big_farm.shops) <= 2
    # each process has one request in flight at a time: a shop that saw two at once was
    # shared by both
    most = {shop.name: in_flight_at_most([shop]) for shop in big_farm.shops}
    assert most[paced.name] == 1  # its Crawl-delay binds one process only
    assert max(most.values()) == per_host, most
    starts = sorted(r.started for r in paced.requests() if r.path != "/robots.txt")
    assert min(b - a for a, b in itertools.pairwise(starts)) >= 0.02 - 0.005


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="helpers need a second core")
@pytest.mark.parametrize(
    ("politeness", "helped"), [(0, True), (1.25, False)], ids=["cpu-bound", "paced-by-politeness"]
)
def test_by_default_only_a_run_that_needs_more_cpu_than_politeness_leaves_gets_a_helper(
    big_farm: ShopFarm, tmp_path: Path, politeness: float, helped: bool
) -> None:
    from tracker.pipeline import CPU_PER_PAGE

    # the per-host delays take `politeness` times the CPU the pages need at most (240 pages
    # at CPU_PER_PAGE): above 1, one process keeps up and a helper would only take memory
    total = len(big_farm.shops) * BIG
    delay = politeness * total * CPU_PER_PAGE / BIG  # each shop's pages, one delay apart
    proc = run_big(big_farm, tmp_path, delay=delay, processes="")
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert ("shared with 1 helper process" in err) is helped
    assert f"checked {total} listings: 0 changed, {total} new, 0 unchanged, 0 failed" in out
    assert sorted(pages(big_farm).values()) == [1] * total


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds processes in /proc")
@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="helpers need a second core")
def test_a_helper_started_before_the_sync_and_not_needed_is_stopped_by_the_run(
    tmp_path: Path,
) -> None:
    from tracker.pipeline import run_once

    # no per-host delay and enough listings: the run starts its helper before the sync;
    # its plan has one host, which one process must fetch alone, so the helper is not used
    solo = [Product(f"solo-{j}", f"Amplifier {j}", Decimal(100 + j)) for j in range(210)]
    with ShopFarm([Shop("Solo", style=Style.plain, products=solo)]) as one_shop:
        path = write_config(
            one_shop, tmp_path, fetch="concurrency = 8\nper_host_delay = 0\n", schedule=""
        )
        config = load_config(path)
        with open_store(config.tracker.database) as store:
            summary = run_once(config, store=store)  # in this process: its helpers are ours
        fetched = pages(one_shop)
    assert (summary.checked, summary.new, summary.failed) == (210, 210, 0)
    assert sorted(fetched.values()) == [1] * 210  # every page once, by the run itself
    # the helper was stopped and reaped before run_once returned: no child is left,
    # neither waiting for work nor a zombie (whose command line is empty)
    left = [
        pid
        for pid in _children(os.getpid())
        if b"tracker-helper-" in _cmdline(pid) or not _cmdline(pid)
    ]
    assert left == []


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds processes in /proc")
def test_what_a_killed_helper_left_is_checked_by_the_run(
    big_farm: ShopFarm, tmp_path: Path, db_url: str
) -> None:
    total = len(big_farm.shops) * BIG
    try:
        proc = run_big(big_farm, tmp_path, slow=0.03)
        deadline = time.monotonic() + 60
        helpers: list[int] = []
        while time.monotonic() < deadline and not helpers:
            # the helper is a child of the run, named on its command line
            helpers = [h for h in _children(proc.pid) if b"tracker-helper-" in _cmdline(h)]
            time.sleep(0.05)
        assert helpers, "no helper process started"
        while sum(pages(big_farm).values()) < 40 and time.monotonic() < deadline:
            time.sleep(0.02)
        for pid in helpers:
            os.kill(pid, signal.SIGKILL)
        out, err = proc.communicate(timeout=300)
    finally:
        big_farm.clear_faults()
    assert proc.returncode == 0, err
    assert "helper process 1 stopped" in err
    assert f"checked {total} listings" in out and "0 failed" in out, out
    # nothing lost: every page fetched and every listing recorded under the run
    assert len(pages(big_farm)) == total
    assert set(recorded(db_url)) == set(range(1, total + 1))
    assert len(runs(db_url)) == 1


def test_a_run_reads_its_listings_in_batches_that_keep_the_hosts_interleaved(
    big_farm: ShopFarm, tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tracker.pipeline as pipeline

    # a run holds only its listings' ids and reads the listings a batch at a time
    monkeypatch.setattr(pipeline, "FEED_BATCH", 7)  # many batches, none a multiple of 4 hosts
    big_farm.clear_faults()
    big_farm.reset_log()
    path = write_config(
        big_farm,
        tmp_path,
        fetch="processes = 1\nconcurrency = 2\nper_host_concurrency = 1\nper_host_delay = 0\n",
        schedule="",
    )
    with open_store(db_url) as store:
        summary = pipeline.run_once(load_config(path), store=store)
    total = len(big_farm.shops) * BIG
    assert summary.checked == total and summary.failed == 0
    assert set(pages(big_farm).values()) == {1} and len(pages(big_farm)) == total
    assert set(recorded(db_url).values()) == {1} and len(recorded(db_url)) == total
    # every host in turn: the first eight pages asked for come from all four shops
    first = sorted(
        (r.started, s.name)
        for s in big_farm.shops
        for r in s.requests()
        if r.path not in ("/robots.txt", "/")
    )
    assert {name for _, name in first[:8]} == {s.name for s in big_farm.shops}
