"""The one pipeline: config → fetch → extract → store.

``run_once`` is what ``tracker run``, cron, systemd and the daemon all call.
Each listing's failure is captured on its own result; one bad listing never
aborts a run. ``tracker.check`` reads each fetched page for it, and is the same
fetch and extraction without the database (``tracker check``).

Listings with ``source = "amazon"`` never reach the page fetcher: ``_Source`` sets
them aside as it hands out listings, and one ``CreatorsClient`` per run prices them
through Amazon's Creators API (10 ASINs a request, one marketplace at a time, at
the configured rate) while the page workers fetch the rest.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import json
import logging
import multiprocessing
import multiprocessing.connection
import os
import socket
import subprocess
import sys
import threading
import time
from array import array
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Coroutine, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from datetime import datetime
from multiprocessing.connection import Connection
from typing import Any, TypeVar, cast

import httpx

from tracker.amazon import (
    AmazonItem,
    CreatorsClient,
)
from tracker.check import amazon_settings, extract_args, failure_of
from tracker.config import Config, FetchSettings
from tracker.detect import quarantine_policy
from tracker.errors import ConfigError
from tracker.extract import extract
from tracker.fetch import Fetcher, FetchResult, SharedGate, origin_of
from tracker.memory import exit_without_teardown, one_malloc_arena, release_free_memory
from tracker.models import Clock, Offer, PageStatus, utc_now
from tracker.politeness import shared_gate_for
from tracker.schedule import ADAPTIVE_WINDOW, scheduler_for
from tracker.store import CHANGED, HELD, NEW, UNCHANGED, CheckResult, ListingRef, Store, open_store

__all__ = [
    "Clock",
    "RunSummary",
    "amazon_result",
    "classify",
    "run_due",
    "run_once",
    "utc_now",
]

log = logging.getLogger(__name__)

T = TypeVar("T")
ResultHook = Callable[[ListingRef, CheckResult, str], None]
FLUSH_EVERY = 50
FLUSH_PATIENCE = 4  # batches kept while another process writes, before waiting for it
FEED_BATCH = 2_000  # listings a run reads from its plan at a time (when not shared)


def run_due(
    config: Config,
    *,
    store: Store,
    now: Clock = utc_now,
    owner: str | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    on_result: ResultHook | None = None,
    on_start: Callable[[int], None] | None = None,
    stop: threading.Event | None = None,
) -> RunSummary:
    """Check the listings that are due, under leases no other process can take.

    What ``tracker run --due`` (cron) and each tick of ``tracker serve`` call.
    """
    owner = owner or f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"
    store.sync_config(config, now=now())
    claimed: list[ListingRef] = []

    def claim() -> list[ListingRef]:
        batch = store.claim_due(
            now=now(), owner=owner, lease=config.schedule.lease, limit=config.schedule.claim_batch
        )
        claimed.extend(batch)
        return batch

    summary = RunSummary()
    try:
        summary = run_once(
            config,
            store=store,
            now=now,
            transport=transport,
            on_result=on_result,
            on_start=on_start,
            stop=stop,
            claim=claim,
        )
    finally:  # leases of listings not checked go back at once
        store.release([x.id for x in claimed if x.id not in summary.checked_ids], owner=owner)
    return summary


@dataclass(slots=True)
class RunSummary:
    """What one run did."""

    run_id: int | None = None
    checked: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    held: int = 0  # suspicious changes waiting for an editor
    failures: Counter[str] = field(default_factory=Counter)
    checked_ids: set[int] = field(default_factory=set)
    stopped: bool = False  # a stop was requested before every listing was checked
    started_at: datetime | None = None
    finished_at: datetime | None = None

    @property
    def failed(self) -> int:
        return sum(self.failures.values())

    @property
    def exit_code(self) -> int:
        """0: every listing checked; 1: some failed."""
        return 1 if self.failed else 0

    def add(self, listing_id: int, outcome: str) -> None:
        self.checked += 1
        self.checked_ids.add(listing_id)
        if outcome == NEW:
            self.new += 1
        elif outcome == CHANGED:
            self.changed += 1
        elif outcome == UNCHANGED:
            self.unchanged += 1
        elif outcome == HELD:
            self.held += 1
        else:
            self.failures[outcome] += 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "checked": self.checked,
            "new": self.new,
            "changed": self.changed,
            "unchanged": self.unchanged,
            "held": self.held,
            "failed": self.failed,
            "failures": dict(sorted(self.failures.items())),
        }


def classify(
    fetched: FetchResult,
    *,
    listing_id: int,
    checked_at: datetime,
    offer: Offer | None,
    product_name: str | None = None,
) -> CheckResult:
    """Turn a fetch and what ``tracker.check.read_page`` (or ``_Readers.read``) made of
    it into a recordable check, naming any failure."""
    failure, error = failure_of(fetched, offer, product_name=product_name)
    return CheckResult(
        listing_id=listing_id,
        checked_at=checked_at,
        duration_ms=round(fetched.elapsed * 1000),
        offer=offer,
        not_modified=fetched.not_modified,
        failure=failure,
        error=error,
        http_status=fetched.status,
        attempts=fetched.attempts,
        size=len(fetched.body) if fetched.body else None,
        etag=fetched.etag,
        last_modified=fetched.last_modified,
        final_url=fetched.final_url if fetched.final_url != fetched.url else None,
        page=fetched.body if failure and fetched.body else None,
        content_type=fetched.content_type,
    )


class _Readers:
    """Where fetched pages are read. Parsing is CPU work that holds the GIL, so a page
    is read right here, in the event loop: handing it to a thread costs more in GIL
    hand-overs than the wait it saves the fetches in flight (a 10,000-page run took
    24 s read here against 34 s read in a thread). A page over ``INLINE_MAX`` bytes
    may take long (deeply nested markup reads in seconds) and is read in a thread, so
    that it cannot stall the fetches in flight into timeouts; one at a time, as the
    GIL lets only one read anyway and each holds a tree of about 10 MB per MB of page
    (six at once had added 60 MB to a run's peak memory). On runs of many pages that go on
    reading (not a warm run of 304s), pages go to processes on the other cores
    (``[fetch] extract_processes``) once ``LOCAL_FIRST`` have been read here. If the
    pool breaks, pages are read here again."""

    MIN_PAGES = 200  # fewer pages in the run: starting processes costs more than it saves
    LOCAL_FIRST = 50  # pages read here before the pool starts (a warm run reads few)
    INLINE_MAX = 256_000  # bytes: a larger page is read in a thread, not in the event loop

    def __init__(self, config: Config, *, pages: int) -> None:
        self.config = config
        wanted = config.fetch.extract_processes
        self.eager = wanted is not None  # set in the config: every page goes to the pool
        if wanted is None:
            wanted = _cores() - 1 if pages >= self.MIN_PAGES else 0
        self.processes = wanted
        self.pool: ProcessPoolExecutor | None = None  # started when first needed
        self.read_here = 0  # pages read in this process so far
        self.big: asyncio.Semaphore | None = None  # one big page read at a time (made in the loop)

    def __enter__(self) -> _Readers:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)

    async def read(self, fetched: FetchResult, *, currency: str | None) -> Offer | None:
        args = extract_args(fetched, config=self.config, currency=currency)
        if args is None:
            return None
        if self.processes > 0 and (
            self.eager or self.pool is not None or self.read_here >= self.LOCAL_FIRST
        ):
            if self.pool is None:
                self.pool = ProcessPoolExecutor(
                    max_workers=self.processes,
                    mp_context=multiprocessing.get_context("forkserver"),
                    initializer=one_malloc_arena,
                )
            pool = self.pool
            try:
                return await asyncio.wrap_future(pool.submit(extract, fetched.body, **args))
            except BrokenProcessPool as exc:
                if self.pool is pool:  # the first reader to notice retires the pool
                    log.warning("page readers stopped (%s); reading in this process", exc)
                    self.processes, self.pool = 0, None
                    pool.shutdown(wait=False, cancel_futures=True)
        self.read_here += 1
        if len(fetched.body) > self.INLINE_MAX:  # long to read, maybe pathological: a thread
            if self.big is None:
                self.big = asyncio.Semaphore(1)
            async with self.big:
                return await asyncio.to_thread(functools.partial(extract, fetched.body, **args))
        return extract(fetched.body, **args)


def _product_name(config: Config, product_id: str) -> str | None:
    try:
        return config.product(product_id).name
    except KeyError:
        return None


def amazon_result(
    item: AmazonItem, *, listing_id: int, checked_at: datetime, duration_ms: int = 0
) -> CheckResult:
    """Turn what the Creators API said about one ASIN into a recordable check.

    An offer is an observation (a MAP-restricted one has no price but keeps its
    availability); a failed item carries its failure kind (``amazon_auth``,
    ``amazon_throttled``, ``amazon_item_error``, ``amazon_error``) and message.
    """
    if item.failure is not None or item.offer is None:
        return CheckResult(
            listing_id=listing_id,
            checked_at=checked_at,
            duration_ms=duration_ms,
            failure=item.failure or "amazon_error",
            error=item.error or "the Creators API returned nothing for this ASIN",
            attempts=item.attempts,
        )
    offer = item.offer
    failure = error = None
    if offer.status is PageStatus.no_price and offer.availability is None:
        failure, error = "no_price", offer.reason or "Amazon returned no price or availability"
    return CheckResult(
        listing_id=listing_id,
        checked_at=checked_at,
        duration_ms=duration_ms,
        offer=offer,
        failure=failure,
        error=error,
        attempts=item.attempts,
        buy_url=item.detail_page_url,
    )


def interleave_by_host(listings: Iterable[ListingRef]) -> list[ListingRef]:
    """Round-robin over hosts, so that politeness delays on one host do not stall the rest."""
    groups: dict[str, list[ListingRef]] = defaultdict(list)
    for listing in listings:
        groups[origin_of(listing.url)].append(listing)
    return list(_in_turn(groups.values()))


def _in_turn(groups: Iterable[Iterable[T]]) -> Iterator[T]:
    """The items of every group in turn: the first of each, then the second of each..."""
    turns = [iter(group) for group in groups]
    while turns:
        going = []
        for items in turns:
            for item in items:  # (its next one, if any)
                yield item
                going.append(items)
                break
        turns = going


def run_once(
    config: Config,
    *,
    store: Store,
    now: Clock = utc_now,
    transport: httpx.AsyncBaseTransport | None = None,
    on_result: ResultHook | None = None,
    on_start: Callable[[int], None] | None = None,
    listings: Sequence[ListingRef] | None = None,
    stop: threading.Event | None = None,
    claim: Callable[[], list[ListingRef]] | None = None,
) -> RunSummary:
    """Check every active listing (or ``listings``, or what ``claim`` hands out batch by
    batch) once and record what was found.

    When ``stop`` is set, no new check starts; the checks in flight finish and are
    recorded.
    """
    # helpers start booting now, beside the sync, when the run will most likely want them
    early = (
        _early_helpers(config)
        if listings is None and _may_split(config, claim, now, transport, stop)
        else []
    )
    try:
        return _run_once(
            config,
            store=store,
            now=now,
            transport=transport,
            on_result=on_result,
            on_start=on_start,
            listings=listings,
            stop=stop,
            claim=claim,
            early=early,
        )
    finally:
        _stop_helpers(early)  # the ones the run did not take


def _run_once(
    config: Config,
    *,
    store: Store,
    now: Clock,
    transport: httpx.AsyncBaseTransport | None,
    on_result: ResultHook | None,
    on_start: Callable[[int], None] | None,
    listings: Sequence[ListingRef] | None,
    stop: threading.Event | None,
    claim: Callable[[], list[ListingRef]] | None,
    early: list[_Helper],
) -> RunSummary:
    """``run_once``, with helpers already started (``early``; the ones it takes for
    ``_with_helpers`` are removed from the list)."""
    started = now()
    amazon = config.amazon_listings()

    def is_amazon(ref: ListingRef) -> bool:
        return (ref.product_id, ref.url) in amazon

    todo = list(listings) if listings is not None else []
    # every active listing: its id by host, read a batch at a time when its turn comes
    by_host: dict[str, array[int]] | None = None
    todo_ids: list[int] = []
    if listings is None and claim is None:
        store.sync_config(config, now=started)
        by_host, todo_ids = store.active_ids_by_origin(apart=lambda *key: key in amazon)
        release_free_memory()  # what the sync used, before helpers start beside this process
    if by_host is not None:
        expected = sum(map(len, by_host.values())) + len(todo_ids)
    else:
        expected = len(todo) if claim is None else store.due_count(now=started)
    if on_start is not None:
        on_start(expected)
    summary = RunSummary(started_at=started)
    summary.run_id = store.start_run(now=started)

    hosts: _Hosts | None = None  # hosts shared with helper processes (a big run)
    turns: Iterator[int] = iter(())  # the plan's ids in host turns, when it is not shared

    def batches() -> list[ListingRef]:
        nonlocal todo, todo_ids
        if claim is not None:
            return claim()
        if by_host is None:
            batch, todo = todo, []
            return batch
        ids, todo_ids = todo_ids, []  # (the Amazon listings, first)
        ids += hosts.take(0) if hosts is not None else itertools.islice(turns, FEED_BATCH)
        return store.active_listings(ids) if ids else []

    helpers = 0
    reading = expected  # pages that may be read in other processes (see _Readers)
    lend_together = 0  # (see _Source)
    if by_host is not None and _may_split(config, claim, now, transport, stop):
        pages = {host: len(ids) for host, ids in by_host.items()}
        cpu_bound = _cpu_bound(config, pages)
        helpers = _helpers_for(config, pages, cpu_bound)
        if helpers or not cpu_bound:
            reading = 0  # read by the helpers, or paced by politeness: reading here keeps up
        if helpers:
            hosts = _Hosts(by_host, processes=helpers + 1, fetch=config.fetch)
            if config.fetch.per_host_delay <= 0:  # the end of a CPU-bound run is shared
                lend_together = config.fetch.concurrency
            # the run's `concurrency` is shared: this process takes its part, like each helper
            mine = _per_process(config.fetch, helpers + 1)
            config = replace(config, fetch=replace(config.fetch, concurrency=mine))
            log.info(
                "%d listings on %d hosts shared with %d helper process%s",
                sum(pages.values()),
                len(pages),
                helpers,
                "" if helpers == 1 else "es",
            )
    if by_host is not None and hosts is None:
        turns = _in_turn(by_host.values())
    source = _Source(
        batches,
        stop,
        is_amazon=is_amazon,
        backlog=config.schedule.claim_batch,
        lend_together=lend_together,
    )
    if hosts is not None and lend_together:
        hosts.lend = source.lend
    gate = shared_gate_for(config, store, now=now)
    with _Readers(config, pages=reading) as readers:
        work = _run(config, store, source, summary, now, transport, on_result, stop, gate, readers)
        if hosts is not None:
            taken, early[:] = early[:helpers], early[helpers:]
            taken += [_launch_helper(i) for i in range(len(taken) + 1, helpers + 1)]
            asyncio.run(_with_helpers(work, config, hosts, taken, summary, on_result))
        else:
            asyncio.run(work)
    if hosts is not None:
        _check_left_over(config, store, hosts, summary, now, on_result)
    summary.stopped = bool(
        stop is not None and stop.is_set() and (not source.exhausted or source.dropped)
    )
    summary.finished_at = now()
    store.finish_run(
        summary.run_id,
        now=summary.finished_at,
        checked=summary.checked,
        changed=summary.changed + summary.new,
        unchanged=summary.unchanged,
        failed=summary.failed,
    )
    return summary


# -- big runs over every core ---------------------------------------------------------------


def _may_split(
    config: Config,
    claim: Callable[[], list[ListingRef]] | None,
    now: Clock,
    transport: httpx.AsyncBaseTransport | None,
    stop: threading.Event | None,
) -> bool:
    """Whether a run may share its hosts with helper processes: `tracker run` itself
    (not claims, a test's transport or clock, or the daemon's stoppable ticks), unless
    the configuration asks for one process or sets page-reading processes by hand."""
    return (
        claim is None
        and transport is None
        and stop is None
        and now is utc_now
        and config.fetch.processes != 1
        and config.fetch.extract_processes is None
    )


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _per_process(fetch: FetchSettings, processes: int) -> int:
    """Each process's share of the run's ``concurrency`` (requests in flight)."""
    return max(1, fetch.concurrency // processes)


def _wanted_helpers(config: Config) -> int:
    """Helper processes a big CPU-bound run asks for: ``[fetch] processes`` - 1, or
    one per other core."""
    return (config.fetch.processes or _cores()) - 1


def _helpers_for(config: Config, pages: Mapping[str, int], cpu_bound: bool) -> int:
    """How many helper processes a run of these page listings (their number by host)
    starts: ``[fetch] processes`` - 1, or by default one per other core; none for a run
    too small to gain from them or paced by politeness (see ``_cpu_bound``), and never
    so many that a process would have no host."""
    wanted = _wanted_helpers(config)
    if wanted < 1 or sum(pages.values()) < _Readers.MIN_PAGES:
        return 0
    if config.fetch.processes is None and not cpu_bound:
        return 0
    return min(wanted, len(pages) - 1)


# CPU seconds a page costs at most, every step together, on average: about 4 ms on the
# benchmark farm (bench/perf.py), doubled for pages heavier than the farm's
CPU_PER_PAGE = 0.01


def _cpu_bound(config: Config, pages: Mapping[str, int]) -> bool:
    """Whether reading these pages (their number by host) takes one core longer than
    the per-host delays make the run last anyway (the busiest host's listings × its
    delay). If not, politeness sets the pace: one process keeps up, and more would only
    take memory (a helper costs about 100 MB)."""
    bound = max(
        (count * config.fetch_for(host).per_host_delay for host, count in pages.items()),
        default=0.0,
    )
    return sum(pages.values()) * CPU_PER_PAGE > bound


class _Hosts:
    """The hosts of a run shared between processes; a host belongs to one process, so
    per-host limits hold as in one process. The largest hosts go first.

    Without a per-host delay the work is CPU-bound: each process takes a few whole
    hosts whenever it has handed out all it holds (enough to fill its share of the
    run's concurrency, and one more), so a process slowed by heavy pages simply takes
    fewer; the last hosts are shared out evenly, so no process ends with several while
    another has none. With a delay the run is bound by politeness and every host must start at
    once: the hosts are dealt out round-robin among the ``processes`` up front, and
    each takes its whole deal at its first ask.

    A host's listings are many pages of work, so the process that takes the last host
    would go on alone long after the others. When the run's process can ``lend``
    listings of its hosts (``_Source.lend``: where politeness allows), the last hosts
    are left to it, and a helper that has run out is lent a few of its listings at a
    time; the hosts themselves only when the run's process has nothing to lend."""

    def __init__(
        self,
        by_host: Mapping[str, Sequence[int]],
        *,
        processes: int,
        fetch: FetchSettings,
    ) -> None:
        ordered = sorted(by_host.values(), key=len, reverse=True)
        self.processes = processes
        self.lock = threading.Lock()
        # the listings each helper process took: what one leaves is checked here
        self.given: dict[int, array[int]] = defaultdict(lambda: array("q"))
        self.groups: deque[Sequence[int]] = deque()
        self.dealt: dict[int, list[Sequence[int]]] = {}
        self.per_take = -(-_per_process(fetch, processes) // fetch.per_host_concurrency) + 1
        # the run's listings lent to a helper at a time: a few of its requests' worth
        self.lend_size = 4 * _per_process(fetch, processes)
        self.lend: Callable[[int], list[int]] | None = None  # (set by the run)
        if fetch.per_host_delay > 0:
            self.dealt = {i: ordered[i::processes] for i in range(processes)}
        else:
            self.groups.extend(ordered)

    def take(self, who: int) -> list[int]:
        """The ids of the listings of the hosts process ``who`` (0: the run's) takes now,
        or lent to it (see the class docstring)."""
        if (
            who != 0
            and self.lend is not None
            and len(self.groups) <= self.per_take * self.processes
        ):
            lent = self.lend(self.lend_size)
            if lent:
                with self.lock:
                    self.given[who].extend(lent)
                return lent
        with self.lock:
            out: list[int] = []
            for group in self.dealt.pop(who, []):
                out.extend(group)
            # (nothing left to take once dealt out); the last hosts, one process's share
            for _ in range(min(self.per_take, -(-len(self.groups) // self.processes))):
                out.extend(self.groups.popleft())
            if who != 0:  # (this process checks what it takes itself)
                self.given[who].extend(out)
            return out

    def untaken(self) -> list[int]:
        """What no process took (a helper stopped before it asked): taken here now."""
        with self.lock:
            out = [lid for deal in self.dealt.values() for group in deal for lid in group]
            out += [lid for group in self.groups for lid in group]
            self.dealt.clear()
            self.groups.clear()
            return out


@dataclass(frozen=True, slots=True)
class _Logging:
    """How this process logs, for a helper process to log the same way."""

    fmt: str | None
    levels: dict[str, int]

    @classmethod
    def current(cls) -> _Logging:
        root = logging.getLogger()
        handler = next(iter(root.handlers), None)
        fmt = handler.formatter._fmt if handler and handler.formatter else None
        names = ("", "httpx", "httpcore", "tracker")
        return cls(fmt, {name: logging.getLogger(name).level for name in names})

    def apply(self) -> None:
        logging.basicConfig(level=self.levels[""], format=self.fmt or logging.BASIC_FORMAT)
        for name, level in self.levels.items():
            logging.getLogger(name).setLevel(level)


# A helper is a fresh interpreter started by the run, with one socket to it: no
# multiprocessing start method, as "forkserver" and "spawn" each start a process of
# their own beside the helpers (the fork server, the resource tracker: 27 MB together),
# and "fork" would copy the run's catalogue into every helper.
_HELPER_BOOT = (
    "import json, sys\n"
    "from multiprocessing.connection import Connection\n"
    "conn = Connection(int(sys.argv[2]))\n"
    "sys.path[:] = json.loads(conn.recv_bytes())\n"
    "from tracker.pipeline import _helper_main\n"
    "_helper_main(conn)\n"
)


_Helper = tuple[subprocess.Popen[bytes], Connection]


def _launch_helper(index: int) -> _Helper:
    """Start helper ``index`` (``tracker-helper`` and its number on its command line);
    it waits for its work (``_helper``'s arguments, sent by ``_with_helpers``) on the
    socket whose other end is returned."""
    mine, theirs = socket.socketpair()
    with theirs:
        proc = subprocess.Popen(
            [sys.executable, "-c", _HELPER_BOOT, f"tracker-helper-{index}", str(theirs.fileno())],
            pass_fds=[theirs.fileno()],
            stdin=subprocess.DEVNULL,
        )
    conn = Connection(mine.detach())
    conn.send_bytes(json.dumps(sys.path).encode())
    return proc, conn


def _early_helpers(config: Config) -> list[_Helper]:
    """The helpers a run of ``config`` starts before its sync, so that they have booted
    (about half a second of imports) by the time the plan is read: as many as
    ``_helpers_for`` would ask for, when that cannot be none. A run with a per-host delay
    may be paced by politeness (``_cpu_bound``): its helpers, if any, start after the
    sync. ``run_once`` stops the ones it does not use."""
    if any(config.fetch_of(site).per_host_delay > 0 for site in (None, *config.sites)):
        return []
    listings = sum(len(p.listings) for p in config.products)
    if listings < _Readers.MIN_PAGES:
        return []
    return [_launch_helper(i) for i in range(1, _wanted_helpers(config) + 1)]


def _stop_helpers(helpers: Iterable[_Helper]) -> None:
    """Close the helpers' sockets (one still waiting for work then ends) and wait for
    them to end: 5 s, then killed."""
    for proc, conn in helpers:
        conn.close()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _helper_main(conn: Connection) -> None:
    """A helper process: what ``_with_helpers`` sends, then ``_helper``."""
    one_malloc_arena()
    try:
        index, config, run_id, logs = conn.recv()
    except EOFError:  # the run ended before it sent the work
        return
    try:
        _helper(config, run_id, index, conn, logs)
    except BaseException:
        sys.exit(1)
    conn.close()
    exit_without_teardown(0)  # the run waits for this process to end


def _helper(
    config: Config, run_id: int | None, index: int, conn: Connection, logs: _Logging
) -> None:
    """A helper process of a shared run: asks the run for hosts on ``conn`` until none are
    left, checks their listings and records them under the run ``run_id``, and sends
    the outcomes of each recorded batch; at the end ``("done", None)``, or ``("error",
    why)``."""
    logs.apply()
    sent: list[tuple[ListingRef, CheckResult, str]] = []
    sending = threading.Lock()  # outcomes go from the event loop, asks from a thread

    def send(message: tuple[str, Any]) -> None:
        with sending:
            conn.send(message)

    def on_result(ref: ListingRef, result: CheckResult, outcome: str) -> None:
        sent.append((ref, replace(result, page=None), outcome))  # a failing page stays here
        if len(sent) >= FLUSH_EVERY:
            send(("results", sent[:]))
            sent.clear()

    try:
        with open_store(config.tracker.database, migrate=False) as store:

            def more() -> list[ListingRef]:
                send(("more", None))
                ids: list[int] = conn.recv()
                return store.active_listings(ids) if ids else []

            summary = RunSummary(run_id=run_id)
            _check_here(config, store, more, summary, now=utc_now, on_result=on_result, pages=0)
        if sent:
            send(("results", sent))
        send(("done", None))
    except BaseException as exc:
        try:
            if sent:
                send(("results", sent))
            send(("error", f"{type(exc).__name__}: {exc}"))
        except OSError:
            pass  # the run is gone
        raise


async def _with_helpers(
    work: Coroutine[Any, Any, None],
    config: Config,
    hosts: _Hosts,
    started: Sequence[_Helper],
    summary: RunSummary,
    on_result: ResultHook | None,
) -> None:
    """Run ``work`` (this process's share) beside the helper processes ``started``
    (waiting for their work) that take hosts from ``hosts`` too; their outcomes come
    into ``summary`` and ``on_result`` here, as if checked here. ``config`` has one
    process's share of the concurrency."""
    # a helper needs no product's listings (it is handed its own) and no guide
    share = replace(
        config,
        products=tuple(replace(p, listings=()) for p in config.products),
        guides=(),
    )
    logs = _Logging.current()
    helpers = dict(enumerate(started, start=1))
    for i, (_, conn) in helpers.items():
        conn.send((i, share, summary.run_id, logs))
    loop = asyncio.get_running_loop()
    news: asyncio.Queue[tuple[int, str, Any]] = asyncio.Queue()
    conns = {conn: i for i, (_, conn) in helpers.items()}

    def serve() -> None:
        """Answers the helpers' asks for hosts and passes on what they send, until each
        has said it is done or is gone."""
        while conns:
            for ready in multiprocessing.connection.wait(list(conns), timeout=0.2):
                conn = cast(Connection, ready)
                i = conns.get(conn)
                if i is None:  # the run is over
                    continue
                try:
                    kind, payload = conn.recv()
                    if kind == "more":
                        conn.send(hosts.take(i))
                        continue
                except (EOFError, OSError):  # the helper is gone
                    kind, payload = "gone", None
                if kind != "results":
                    conns.pop(conn, None)
                loop.call_soon_threadsafe(news.put_nowait, (i, kind, payload))

    async def collect() -> None:
        running = set(helpers)
        while running:
            i, kind, payload = await news.get()
            if kind == "results":
                for ref, result, outcome in payload:
                    summary.add(ref.id, outcome)
                    if on_result is not None:
                        on_result(ref, result, outcome)
                continue
            running.discard(i)
            if kind == "error":
                log.error("helper process %d failed (%s); what it left is checked here", i, payload)
            elif kind == "gone":
                log.error(
                    "helper process %d stopped (exit code %s); what it left is checked here",
                    i,
                    helpers[i][0].wait(),
                )

    server = threading.Thread(target=serve, name="tracker-hosts", daemon=True)
    server.start()
    try:
        await asyncio.gather(work, collect())
    finally:
        conns.clear()
        server.join()
        _stop_helpers(helpers.values())


def _check_left_over(
    config: Config,
    store: Store,
    hosts: _Hosts,
    summary: RunSummary,
    now: Clock,
    on_result: ResultHook | None,
) -> None:
    """Check here what helper processes took and left unchecked (one failed or was
    killed), and the hosts no process took."""
    left_ids = [i for ids in hosts.given.values() for i in ids if i not in summary.checked_ids]
    left_ids += hosts.untaken()
    left = store.active_listings(left_ids) if left_ids else []
    if left:
        once = iter([left])
        batches = functools.partial(next, once, [])
        _check_here(config, store, batches, summary, now=now, on_result=on_result, pages=len(left))


def _check_here(
    config: Config,
    store: Store,
    batches: Callable[[], list[ListingRef]],
    summary: RunSummary,
    *,
    now: Clock,
    on_result: ResultHook | None,
    pages: int,
) -> None:
    """Check in this process the listings ``batches`` hands out until it hands out none
    (a helper's hosts, or what helpers left), into ``summary``."""
    source = _Source(batches, None, backlog=config.schedule.claim_batch)
    gate = shared_gate_for(config, store, now=now)
    with _Readers(config, pages=pages) as readers:
        asyncio.run(_run(config, store, source, summary, now, None, on_result, None, gate, readers))


class _Source:
    """Listings for the workers, fetched batch by batch (claims) when they run out.

    Amazon-sourced listings (``is_amazon``) are set aside in ``amazon`` for the
    Creators API worker. The API prices fewer listings a second than the page
    workers claim, so no new batch is claimed while ``backlog`` of them wait: a
    claimed listing's lease must not run out before it is checked.

    ``lend_together``: when this process lends listings to helper processes
    (``lend``), the requests all of them have in flight at most (0: it lends none).
    """

    def __init__(
        self,
        batches: Callable[[], list[ListingRef]],
        stop: threading.Event | None,
        *,
        is_amazon: Callable[[ListingRef], bool] | None = None,
        backlog: int = 200,
        lend_together: int = 0,
    ) -> None:
        self.batches = batches
        self.stop = stop
        self.is_amazon = is_amazon
        self.backlog = max(backlog, 1)
        self.buffer: deque[ListingRef] = deque()
        self.amazon: deque[ListingRef] = deque()
        self.amazon_ready = asyncio.Event()  # set when amazon listings arrive, or at close
        self.amazon_drained = asyncio.Event()  # set when the amazon backlog shrinks
        self.lock = asyncio.Lock()
        self.exhausted = False
        self.closed = False  # the page workers are done: no more amazon listings come
        self.dropped = 0  # amazon listings left unchecked by a stop
        # page listings handed out and not yet checked: no new claim while ``backlog``
        # of them wait, so workers sharing a database share the work and no lease
        # runs out behind a politeness delay
        self.outstanding = 0
        self.finished = asyncio.Event()
        # lending (see ``lend``): another thread takes listings from ``buffer`` under
        # this lock; ``lendable`` says which hosts' may go, and is set while the fetcher runs
        self.lend_together = lend_together
        self.guard = threading.Lock()
        self.lendable: Callable[[str], bool] | None = None

    async def next(self) -> ListingRef | None:
        async with self.lock:
            while not self.buffer and not self.exhausted:
                if self.stop is not None and self.stop.is_set():
                    return None
                if len(self.amazon) >= self.backlog:
                    self.amazon_drained.clear()
                    await self.amazon_drained.wait()
                    continue
                if self.outstanding >= self.backlog:
                    self.finished.clear()
                    await self.finished.wait()
                    continue
                batch = await asyncio.to_thread(self.batches)
                if not batch:
                    self.exhausted = True
                pages = []
                for ref in batch:
                    if self.is_amazon is not None and self.is_amazon(ref):
                        self.amazon.append(ref)
                    else:
                        pages.append(ref)
                if len(pages) < len(batch):
                    self.amazon_ready.set()
                pages = interleave_by_host(pages)
                with self.guard:
                    self.buffer.extend(pages)
            with self.guard:
                if not self.buffer:
                    return None
                ref = self.buffer.popleft()
            self.outstanding += 1
            return ref

    def lend(self, count: int) -> list[int]:
        """The ids of up to ``count`` listings not yet handed out that another process
        may check instead (``lendable``: their host may be shared now), the last ones in
        line; from any thread."""
        lendable = self.lendable
        if lendable is None:
            return []
        answers: dict[str, bool] = {}  # by host
        with self.guard:
            lent: list[ListingRef] = []
            kept: list[ListingRef] = []
            while self.buffer and len(lent) < count:
                ref = self.buffer.pop()
                origin = origin_of(ref.url)
                ok = answers.get(origin)
                if ok is None:
                    ok = answers[origin] = lendable(origin)
                (lent if ok else kept).append(ref)
            self.buffer.extend(reversed(kept))
        return [ref.id for ref in reversed(lent)]

    def finish(self) -> None:
        """A page listing handed out by ``next`` has been checked."""
        self.outstanding -= 1
        self.finished.set()

    def take_amazon(
        self, key: Callable[[ListingRef], tuple[str, str]], size: int
    ) -> list[ListingRef]:
        """The oldest waiting amazon listings of one marketplace, ``size`` ASINs at most
        (listings that share an ASIN count once); ``key`` gives (ASIN, marketplace)."""
        if not self.amazon:
            return []
        market = key(self.amazon[0])[1]
        chosen: list[ListingRef] = []
        asins: set[str] = set()
        rest: deque[ListingRef] = deque()
        for ref in self.amazon:
            asin, where = key(ref)
            if where == market and (asin in asins or len(asins) < size):
                chosen.append(ref)
                asins.add(asin)
            else:
                rest.append(ref)
        self.amazon = rest
        self._drained()
        return chosen

    def drop_amazon(self) -> None:
        """A stop: the waiting amazon listings are not checked (their leases go back)."""
        self.dropped += len(self.amazon)
        self.amazon.clear()
        self._drained()

    def close(self) -> None:
        self.closed = True
        self.amazon_ready.set()

    def _drained(self) -> None:
        if len(self.amazon) < self.backlog:
            self.amazon_drained.set()


async def _run(
    config: Config,
    store: Store,
    source: _Source,
    summary: RunSummary,
    now: Clock,
    transport: httpx.AsyncBaseTransport | None,
    on_result: ResultHook | None,
    stop: threading.Event | None,
    gate: SharedGate | None,
    readers: _Readers,
) -> None:
    started = now()
    recent: dict[int, int] = {}
    schedule = scheduler_for(config, recent)
    product_of: dict[int, str] = {}
    policy = quarantine_policy(config, product_of)
    pending: list[tuple[ListingRef, CheckResult]] = []

    def flush(*, wait: bool = False) -> None:
        # Recorded here, in the event loop, like the pages read (see _Readers): a batch
        # takes a few milliseconds, and handing it to a thread cost more in GIL hand-overs
        # (a 10,000-page run without reading: 14.5 s of CPU with a thread, 12 s here).
        # While another process writes the database (a helper, a render), the batch
        # waits for the next page's flush instead of holding the loop; past a few
        # batches, and at the end, it waits for the database.
        if not pending:
            return
        batch = pending[:]
        outcomes = store.record(
            [r for _, r in batch],
            run_id=summary.run_id,
            policy=policy,
            wait=wait or len(batch) >= FLUSH_EVERY * FLUSH_PATIENCE,
        )
        if outcomes is None:
            return
        del pending[: len(batch)]
        for (listing, result), outcome in zip(batch, outcomes, strict=True):
            summary.add(listing.id, outcome)
            if on_result is not None:
                on_result(listing, result, outcome)

    async def worker(fetcher: Fetcher) -> None:
        while (listing := await source.next()) is not None:
            try:
                await check_page(fetcher, listing)
            finally:
                source.finish()

    async def check_page(fetcher: Fetcher, listing: ListingRef) -> None:
        if stop is not None and stop.is_set():
            return
        if config.schedule.adaptive and listing.id not in recent:
            recent.update(
                await asyncio.to_thread(
                    store.recent_changes, [listing.id], since=started - ADAPTIVE_WINDOW
                )
            )
            recent.setdefault(listing.id, 0)
        checked_at = now()
        product_of[listing.id] = listing.product_id
        try:
            fetched = await fetcher.fetch(
                listing.url, etag=listing.etag, last_modified=listing.last_modified
            )
            # read here, or in a reading process on a big run (see _Readers)
            offer = await readers.read(fetched, currency=listing.currency)
            result = classify(
                fetched,
                listing_id=listing.id,
                checked_at=checked_at,
                offer=offer,
                product_name=_product_name(config, listing.product_id),
            )
        except Exception as exc:  # one bad listing never aborts the run
            log.exception("internal error checking %s", listing.url)
            result = CheckResult(
                listing_id=listing.id,
                checked_at=checked_at,
                duration_ms=0,
                failure="internal",
                error=f"{type(exc).__name__}: {exc}",
            )
        failed = result.failure is not None or not (result.not_modified or result.is_observation)
        due = schedule(listing.id, listing.product_id, listing.url, checked_at, failed)
        pending.append((listing, replace(result, next_due_at=due)))
        if len(pending) >= FLUSH_EVERY:
            flush()

    amazon = config.amazon_listings()

    def target(ref: ListingRef) -> tuple[str, str]:
        listing = amazon[ref.product_id, ref.url]
        assert listing.asin is not None and listing.marketplace is not None
        return listing.asin, listing.marketplace

    async def amazon_worker() -> None:
        """Prices the amazon listings the source sets aside, a batch at a time."""
        client: CreatorsClient | None = None
        problem: str | None = None  # why there is no client (missing configuration)
        size = config.amazon.batch_size if config.amazon else 10
        try:
            while True:
                if stop is not None and stop.is_set():
                    source.drop_amazon()
                    return
                chunk = source.take_amazon(target, size)
                if not chunk:
                    if source.closed:
                        return
                    source.amazon_ready.clear()
                    await source.amazon_ready.wait()
                    continue
                if client is None and problem is None:
                    try:
                        settings = amazon_settings(config)
                    except ConfigError as exc:
                        problem = str(exc)
                        log.error("Amazon listings cannot be checked: %s", problem)
                    else:
                        client = CreatorsClient(
                            settings=settings, user_agent=config.tracker.user_agent
                        )
                await price_amazon(chunk, client, problem)
        finally:
            if client is not None:
                await client.aclose()

    async def price_amazon(
        chunk: list[ListingRef], client: CreatorsClient | None, problem: str | None
    ) -> None:
        if config.schedule.adaptive:
            fresh = [x.id for x in chunk if x.id not in recent]
            if fresh:
                recent.update(
                    await asyncio.to_thread(
                        store.recent_changes, fresh, since=started - ADAPTIVE_WINDOW
                    )
                )
                for listing_id in fresh:
                    recent.setdefault(listing_id, 0)
        checked_at = now()
        asins = list(dict.fromkeys(target(ref)[0] for ref in chunk))
        market = target(chunk[0])[1]
        items: dict[str, AmazonItem] = {}
        internal: str | None = None
        begun = time.monotonic()
        if client is None:
            items = {
                asin: AmazonItem(asin=asin, failure="amazon_auth", error=problem) for asin in asins
            }
        else:
            try:
                items = await client.get_items(asins, marketplace=market)
            except Exception as exc:  # a bug; the run goes on
                log.exception("internal error pricing %s on %s", ", ".join(asins), market)
                internal = f"{type(exc).__name__}: {exc}"
        elapsed = round((time.monotonic() - begun) * 1000)
        for ref in chunk:
            product_of[ref.id] = ref.product_id
            item = items.get(target(ref)[0])
            if item is None:
                result = CheckResult(
                    listing_id=ref.id,
                    checked_at=checked_at,
                    duration_ms=elapsed,
                    failure="internal",
                    error=internal or "no answer for this ASIN",
                )
            else:
                result = amazon_result(
                    item, listing_id=ref.id, checked_at=checked_at, duration_ms=elapsed
                )
            failed = not result.is_observation
            due = schedule(ref.id, ref.product_id, ref.url, checked_at, failed)
            pending.append((ref, replace(result, next_due_at=due)))
        if len(pending) >= FLUSH_EVERY:
            flush()

    async def pages(fetcher: Fetcher) -> None:
        try:
            # coroutines waiting for a host's turn hold no request slot: enough of them
            # keep every host busy while politeness delays run
            workers = max(config.fetch.concurrency * 4, 64)
            await asyncio.gather(*(worker(fetcher) for _ in range(workers)))
        finally:
            source.close()  # the amazon worker finishes what is left, then stops

    try:
        async with Fetcher(config, transport=transport, shared=gate) as fetcher:
            if source.lend_together:
                source.lendable = functools.partial(
                    fetcher.may_share, together=source.lend_together
                )
            try:
                await asyncio.gather(pages(fetcher), amazon_worker())
            finally:
                source.lendable = None
    finally:
        if gate is not None:
            await gate.aclose()
    flush(wait=True)
