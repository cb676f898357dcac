"""The one pipeline: config → fetch → extract → store.

``run_once`` is what ``tracker run``, cron, systemd and the daemon all call.
Each listing's failure is captured on its own result; one bad listing never
aborts a run. ``check`` is the same fetch and extraction without the database.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from tracker.config import Config
from tracker.detect import quarantine_policy
from tracker.extract import extract
from tracker.fetch import Fetcher, FetchResult, SharedGate, origin_of
from tracker.models import Offer, PageStatus
from tracker.money import format_amount
from tracker.politeness import shared_gate_for
from tracker.schedule import ADAPTIVE_WINDOW, scheduler_for
from tracker.store import CHANGED, HELD, NEW, UNCHANGED, CheckResult, ListingRef, Store

__all__ = [
    "CheckReport",
    "Clock",
    "RunSummary",
    "check",
    "classify",
    "run_due",
    "run_once",
    "utc_now",
]

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
ResultHook = Callable[[ListingRef, CheckResult, str], None]
FLUSH_EVERY = 50


def utc_now() -> datetime:
    return datetime.now(UTC)


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
    changed_listings: list[int] = field(default_factory=list)
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
            self.changed_listings.append(listing_id)
        elif outcome == CHANGED:
            self.changed += 1
            self.changed_listings.append(listing_id)
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
    config: Config,
    currency: str | None = None,
) -> CheckResult:
    """Turn a fetch into a recordable check: extract the page, name any failure."""
    offer = read_page(fetched, config=config, currency=currency)
    failure, error = failure_of(fetched, offer)
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


def read_page(fetched: FetchResult, *, config: Config, currency: str | None = None) -> Offer | None:
    """Extract the offer from a fetched page (``None`` when there is no page to read)."""
    if fetched.not_modified or not fetched.body:
        return None
    if fetched.failure not in (None, "http_error", "gone"):
        return None
    site = config.site_for(fetched.final_url)
    return extract(
        fetched.body,
        url=fetched.final_url,
        content_type=fetched.content_type,
        rules=site.rules if site else None,
        currency_hint=currency or (site.currency if site else None),
        http_status=fetched.status,
    )


def failure_of(fetched: FetchResult, offer: Offer | None) -> tuple[str | None, str | None]:
    """The failure kind and message of a check, or ``(None, None)`` when it succeeded."""
    if offer is not None and offer.status is PageStatus.blocked:
        return "blocked", offer.reason or "the shop answered with a robot check"
    if fetched.failure:
        return fetched.failure, fetched.error
    if fetched.not_modified:
        return None, None
    if _redirected_home(fetched):
        return "redirected", f"redirected to the shop's home page ({fetched.final_url})"
    if offer is None:
        return "no_price", "empty page"
    if offer.status is PageStatus.gone:
        return "gone", offer.reason
    if offer.status is PageStatus.error:
        return "extract_error", offer.reason
    if offer.status is PageStatus.no_price and offer.availability is None:
        return "no_price", offer.reason or "no price or availability found on the page"
    return None, None


def _redirected_home(fetched: FetchResult) -> bool:
    if fetched.final_url == fetched.url:
        return False
    before, after = urlsplit(fetched.url), urlsplit(fetched.final_url)
    return after.path in ("", "/") and before.path not in ("", "/") and not after.query


def interleave_by_host(listings: Iterable[ListingRef]) -> list[ListingRef]:
    """Round-robin over hosts, so that politeness delays on one host do not stall the rest."""
    queues: dict[str, deque[ListingRef]] = defaultdict(deque)
    for listing in listings:
        queues[origin_of(listing.url)].append(listing)
    order: list[ListingRef] = []
    while queues:
        for key in list(queues):
            order.append(queues[key].popleft())
            if not queues[key]:
                del queues[key]
    return order


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
    started = now()
    if listings is None and claim is None:
        store.sync_config(config, now=started)
    todo = list(listings) if listings is not None else []
    if listings is None and claim is None:
        todo = store.active_listings()
    if on_start is not None:
        on_start(len(todo) if claim is None else store.due_count(now=started))
    summary = RunSummary(started_at=started)
    summary.run_id = store.start_run(now=started)

    def batches() -> list[ListingRef]:
        nonlocal todo
        if claim is not None:
            return claim()
        batch, todo = todo, []
        return batch

    source = _Source(batches, stop)
    gate = shared_gate_for(config, store, now=now)
    asyncio.run(_run(config, store, source, summary, now, transport, on_result, stop, gate))
    summary.stopped = bool(stop is not None and stop.is_set() and not source.exhausted)
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


class _Source:
    """Listings for the workers, fetched batch by batch (claims) when they run out."""

    def __init__(
        self, batches: Callable[[], list[ListingRef]], stop: threading.Event | None
    ) -> None:
        self.batches = batches
        self.stop = stop
        self.buffer: deque[ListingRef] = deque()
        self.lock = asyncio.Lock()
        self.exhausted = False
        self.seen: list[ListingRef] = []

    async def next(self) -> ListingRef | None:
        async with self.lock:
            while not self.buffer and not self.exhausted:
                if self.stop is not None and self.stop.is_set():
                    return None
                batch = await asyncio.to_thread(self.batches)
                if not batch:
                    self.exhausted = True
                self.seen.extend(batch)
                self.buffer.extend(interleave_by_host(batch))
            return self.buffer.popleft() if self.buffer else None


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
) -> None:
    started = now()
    recent: dict[int, int] = {}
    schedule = scheduler_for(config, recent)
    product_of: dict[int, str] = {}
    policy = quarantine_policy(config, product_of)
    pending: list[tuple[ListingRef, CheckResult]] = []
    lock = asyncio.Lock()

    async def flush() -> None:
        async with lock:
            batch = pending[:]
            pending.clear()
            if not batch:
                return
            outcomes = await asyncio.to_thread(
                store.record, [r for _, r in batch], run_id=summary.run_id, policy=policy
            )
            for (listing, result), outcome in zip(batch, outcomes, strict=True):
                summary.add(listing.id, outcome)
                if on_result is not None:
                    on_result(listing, result, outcome)

    async def worker(fetcher: Fetcher) -> None:
        while (listing := await source.next()) is not None:
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
                result = classify(
                    fetched,
                    listing_id=listing.id,
                    checked_at=checked_at,
                    config=config,
                    currency=listing.currency,
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
            failed = result.failure is not None or not (
                result.not_modified or result.is_observation
            )
            due = schedule(listing.id, listing.product_id, listing.url, checked_at, failed)
            pending.append((listing, replace(result, next_due_at=due)))
            if len(pending) >= FLUSH_EVERY:
                await flush()

    async with Fetcher(config, transport=transport, shared=gate) as fetcher:
        workers = max(1, config.fetch.concurrency * 2)
        await asyncio.gather(*(worker(fetcher) for _ in range(workers)))
    await flush()


# -- tracker check ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CheckReport:
    """What ``tracker check`` says about one input."""

    input: str
    status: str  # ok | no_price | blocked | gone | error
    offer: Offer | None = None
    error: str | None = None
    host_delay: float | None = None

    def as_json(self) -> dict[str, Any]:
        o = self.offer
        return {
            "input": self.input,
            "status": self.status,
            "price": format_amount(o.price, o.currency) if o and o.price is not None else None,
            "currency": o.currency if o else None,
            "availability": o.availability.value if o and o.availability else None,
            "title": o.title if o else None,
            "method": o.method if o else None,
            "error": self.error or (o.reason if o and self.status != "ok" else None),
        }


def check(
    inputs: Sequence[str],
    *,
    config: Config,
    transport: httpx.AsyncBaseTransport | None = None,
) -> Iterator[CheckReport]:
    """Extract each input (a URL or a local file), in input order, without the database."""
    for start in range(0, len(inputs), 64):
        chunk = inputs[start : start + 64]
        yield from asyncio.run(_check_chunk(chunk, config, transport))


async def _check_chunk(
    inputs: Sequence[str], config: Config, transport: httpx.AsyncBaseTransport | None
) -> list[CheckReport]:
    async with Fetcher(config, transport=transport) as fetcher:
        return list(await asyncio.gather(*(_check_one(i, config, fetcher) for i in inputs)))


async def _check_one(item: str, config: Config, fetcher: Fetcher) -> CheckReport:
    try:
        if urlsplit(item).scheme in ("http", "https"):
            fetched = await fetcher.fetch(item)
            offer = read_page(fetched, config=config)
            failure, error = failure_of(fetched, offer)
            delay = fetcher.host_delay(item)
            if failure is None:
                assert offer is not None
                return CheckReport(item, offer.status.value, offer, host_delay=delay)
            status = failure if failure in ("blocked", "gone", "no_price") else "error"
            return CheckReport(item, status, offer, error=error, host_delay=delay)
        return _check_file(item, config)
    except Exception as exc:  # never let one input stop the others
        log.exception("internal error checking %s", item)
        return CheckReport(item, "error", error=f"internal error: {type(exc).__name__}: {exc}")


def _check_file(item: str, config: Config) -> CheckReport:
    path = Path(item[7:] if item.startswith("file://") else item)
    try:
        body = path.read_bytes()
    except OSError as exc:
        return CheckReport(item, "error", error=f"cannot read {path}: {exc.strerror or exc}")
    offer = extract(body)
    return CheckReport(item, offer.status.value, offer)
