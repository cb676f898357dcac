"""The price history: open (and migrate) the database, sync the configuration,
record checks, read history back.

``Store`` is the only module that talks SQL. A check is recorded as a
``CheckResult``; ``Store.record`` writes a batch of them in one transaction, so
a crash leaves whole checks or none.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import re
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any, Protocol, cast

from sqlalchemy import (
    ColumnDefault,
    Connection,
    Engine,
    Integer,
    Table,
    and_,
    bindparam,
    create_engine,
    delete,
    event,
    func,
    insert,
    inspect,
    literal,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, aliased, sessionmaker

from tracker.bands import CurrentListing
from tracker.config import Config
from tracker.errors import StoreError, redact
from tracker.models import Availability, Offer, PageStatus, origin_of
from tracker.schema import (
    Base,
    FailurePage,
    FetchLog,
    GuideState,
    HostSlot,
    HostTurn,
    ListingRow,
    ListingState,
    Meta,
    Observation,
    ProductRow,
    Quarantine,
    RenderLog,
    ReportLog,
    Run,
)

__all__ = [
    "CheckResult",
    "HistoryRow",
    "ListingRef",
    "RenderedGuide",
    "Store",
    "copy_database",
    "open_store",
]

log = logging.getLogger(__name__)

# Outcomes of recording one check
NEW = "new"
CHANGED = "changed"
UNCHANGED = "unchanged"
HELD = "held"  # a suspicious change waits for an editor
HOST_CHANNEL = "tracker_hosts"  # PostgreSQL NOTIFY channel: a host's slot was freed
# quarantine states
PENDING, APPROVED, REJECTED, SUPERSEDED = "pending", "approved", "rejected", "superseded"
MAX_SAVED_PAGE = 2_000_000


class PriceSeen(Protocol):
    """What a quarantine policy reads of the published observation."""

    @property
    def price(self) -> Decimal | None: ...

    @property
    def currency(self) -> str | None: ...


QuarantinePolicy = Callable[[int, PriceSeen | None, Offer], "str | None"]
"""(listing id, the published observation or None, the new offer) -> why it is
suspicious, or None."""


@dataclass(frozen=True, slots=True)
class ObservedState:
    first_seen: datetime
    last_seen: datetime
    price: Decimal | None
    currency: str | None
    availability: str | None
    purchasable: bool
    held: bool  # quarantined and not approved: never published


@dataclass(frozen=True, slots=True)
class FailingListing:
    listing_id: int
    product_id: str
    retailer: str
    url: str
    kind: str
    since: datetime | None
    consecutive: int
    error: str | None
    last_good_price: Decimal | None
    currency: str | None
    last_good_at: datetime | None
    page_saved_at: datetime | None


@dataclass(frozen=True, slots=True)
class StaleListing:
    product_id: str
    retailer: str
    url: str
    last_success: datetime | None


@dataclass(frozen=True, slots=True)
class QuarantineItem:
    id: int
    listing_id: int
    product_id: str
    retailer: str
    url: str
    reason: str
    detected_at: datetime
    status: str
    decided_at: datetime | None
    old_price: Decimal | None
    old_currency: str | None
    new_price: Decimal | None
    new_currency: str | None
    new_availability: str | None


@dataclass(frozen=True, slots=True)
class ListingRef:
    """An active listing, as the pipeline needs it."""

    id: int
    product_id: str
    retailer: str
    url: str
    currency: str | None
    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One check of one listing, ready to record.

    ``offer`` is set when the page was read; ``not_modified`` when the server
    answered 304; otherwise ``failure`` names the kind (``timeout``,
    ``blocked``, ``gone``, ``http_error``, ``robots``, ``too_large``, …).
    """

    listing_id: int
    checked_at: datetime
    duration_ms: int
    offer: Offer | None = None
    not_modified: bool = False
    failure: str | None = None
    error: str | None = None
    http_status: int | None = None
    attempts: int = 1
    size: int | None = None  # body bytes
    etag: str | None = None
    last_modified: str | None = None
    final_url: str | None = None
    page: bytes | None = None  # the body of a failing page, kept for diagnosis
    content_type: str | None = None
    next_due_at: datetime | None = None  # when the listing should be checked again
    buy_url: str | None = None  # the link readers get (Amazon's detailPageURL), if any

    @property
    def is_observation(self) -> bool:
        """A state worth keeping: a price, or at least a known availability."""
        o = self.offer
        return (
            self.failure is None
            and o is not None
            and (
                o.status is PageStatus.ok
                or (o.status is PageStatus.no_price and o.availability is not None)
            )
        )


@dataclass(frozen=True, slots=True)
class RenderedGuide:
    """What a guide shows after a render, to save as its state (and log, if files changed)."""

    guide_id: str
    fingerprint: str
    bands: str  # JSON: what each product shows
    as_of: datetime | None
    changes: list[dict[str, Any]]  # the products whose visible values changed
    files: list[str]  # the files written


@dataclass(frozen=True, slots=True)
class HistoryRow:
    listing_id: int
    retailer: str
    url: str
    first_seen: datetime
    last_seen: datetime
    checks: int
    status: str
    price: Decimal | None
    currency: str | None
    availability: Availability | None


@functools.cache
def head_revision() -> str:
    """The newest migration: migration files are named after their revision ("0009_….py")."""
    versions = resources.files("tracker") / "migrations" / "versions"
    return max(
        m.group(1)
        for f in versions.iterdir()
        if (m := re.fullmatch(r"(\d{4})_\w+\.py", f.name)) is not None
    )


SQLITE_BUSY_TIMEOUT_MS = 30_000  # how long a write waits for another process's to end
SYNC_CHUNK = 5_000  # new listings inserted per statement by a sync
ID_CHUNK = 900  # ids named in one statement
SYNC_VERSION = 1  # counts in the digest: a sync that mirrors more must not be skipped


def catalogue_digest(config: Config) -> str:
    """A digest of everything ``Store.sync_config`` mirrors: products and listings, in
    configuration order (a listing's place among its host's listings comes from it)."""
    catalogue = [
        [p.id, p.name, [[x.url, x.retailer, x.affiliate_url, x.currency] for x in p.listings]]
        for p in config.products
    ]
    text = json.dumps([SYNC_VERSION, catalogue], ensure_ascii=False)  # one pass of the C encoder
    return hashlib.blake2b(text.encode(), digest_size=20).hexdigest()


def open_store(url: str, *, migrate: bool = True) -> Store:
    """Open the database at ``url`` (creating an SQLite file and its folder) and migrate it."""
    store = Store(url)
    if migrate:
        store.migrate()
    return store


class Store:
    """The history database."""

    def __init__(self, url: str) -> None:
        try:
            parsed = make_url(url)
            parsed.port  # noqa: B018  (a bad port raises here, not later)
        except (ArgumentError, ValueError):
            raise StoreError(
                f"invalid database URL {redact(url)!r}: use e.g. sqlite:///db/tracker.sqlite3 or "
                "postgresql+psycopg://user@host/tracker"
            ) from None
        self.url = parsed
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        kwargs: dict[str, Any] = {}
        if self.is_sqlite:
            database = parsed.database or ""
            if database and database != ":memory:" and not database.startswith("file:"):
                try:
                    Path(database).parent.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise StoreError(f"cannot create the folder for {database}: {exc}") from exc
            kwargs["connect_args"] = {"timeout": 30}
        try:
            self.engine: Engine = create_engine(parsed, **kwargs)
        except (SQLAlchemyError, ImportError) as exc:
            raise StoreError(
                f"cannot open database {parsed.render_as_string(hide_password=True)}: {exc}"
            ) from exc
        if self.is_sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
            event.listen(self.engine, "begin", _sqlite_begin)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def display_url(self) -> str:
        return self.url.render_as_string(hide_password=True)

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """Database errors as ``StoreError``, naming the database (without its password)."""
        try:
            yield
        except SQLAlchemyError as exc:
            raise StoreError(f"database error on {self.display_url}: {exc}") from exc

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction: committed on success, rolled back on any error."""
        with self._errors(), self._sessions.begin() as session:
            yield session

    # -- schema ---------------------------------------------------------------------------

    def migrate(self) -> None:
        """Bring the schema to the newest revision (Alembic).

        A new, empty database is built from the models in one go and marked as at the
        newest revision, the way Alembic's cookbook builds one ("building an up to date
        database from scratch"), without loading Alembic or running every migration
        since the first (0.3 s); a test checks that the migrations build exactly the
        models' schema."""
        if self._at_head():
            return  # the common case, answered without loading Alembic
        if self._create_if_empty():
            return
        from alembic import command
        from alembic.config import Config as AlembicConfig
        from alembic.runtime.migration import MigrationContext
        from alembic.script import ScriptDirectory

        location = str(resources.files("tracker") / "migrations")
        cfg = AlembicConfig()
        cfg.set_main_option("script_location", location)
        head = ScriptDirectory.from_config(cfg).get_current_head()
        try:
            with self.engine.begin() as conn:
                if MigrationContext.configure(conn).get_current_revision() == head:
                    return
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot migrate {self.display_url}: {exc}") from exc

    def _create_if_empty(self) -> bool:
        """Build a database that has no tables at all from the models, stamped at the
        newest revision in Alembic's own version table; False (nothing done) when it has
        tables. One transaction: a failure leaves the database empty (on PostgreSQL, two
        processes creating the same new database: the second finds it built)."""
        try:
            with self.engine.begin() as conn:
                if inspect(conn).get_table_names():
                    return False
                Base.metadata.create_all(conn)
                conn.execute(
                    text(
                        "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, "
                        "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))"
                    )
                )
                conn.execute(
                    text("INSERT INTO alembic_version (version_num) VALUES (:head)"),
                    {"head": head_revision()},
                )
        except SQLAlchemyError as exc:
            if self._at_head():  # another process built it at the same moment
                return True
            raise StoreError(f"cannot create the tables of {self.display_url}: {exc}") from exc
        return True

    def _at_head(self) -> bool:
        """Whether the database is at the newest migration, by one query (no Alembic)."""
        try:
            with self.engine.connect() as conn:
                current = conn.execute(text("SELECT version_num FROM alembic_version")).all()
        except SQLAlchemyError:
            return False  # a new database (no version table yet): Alembic creates it
        return [tuple(r) for r in current] == [(head_revision(),)]

    # -- configuration ----------------------------------------------------------------------

    def sync_config(self, config: Config, *, now: datetime) -> None:
        """Mirror products and listings from config; mark what disappeared inactive.

        Plain rows and bulk statements, not ORM objects: a catalogue of 100,000
        listings syncs in seconds and a few tens of MB. Every command syncs, and the
        catalogue rarely changes: when its digest is the one saved by the last sync,
        one row is read and nothing else is done.
        """
        digest = catalogue_digest(config)
        with self._connection() as conn:
            if not self.is_sqlite:  # one syncing worker at a time (SQLite: BEGIN IMMEDIATE)
                conn.execute(text("SELECT pg_advisory_xact_lock(7353921)"))
            saved = conn.execute(select(Meta.value).where(Meta.key == "catalogue")).scalar()
            if saved == digest:
                return
            conn.execute(delete(Meta).where(Meta.key == "catalogue"))
            conn.execute(insert(Meta).values(key="catalogue", value=digest))
            products = {
                pid: (name, active)
                for pid, name, active in conn.execute(
                    select(ProductRow.id, ProductRow.name, ProductRow.active)
                )
            }
            new_products, changed_products = [], []
            for product in config.products:
                old = products.get(product.id)
                if old is None:
                    new_products.append(
                        {"id": product.id, "name": product.name, "active": True, "created_at": now}
                    )
                elif old != (product.name, True):
                    changed_products.append({"b_id": product.id, "name": product.name})
            configured = {p.id for p in config.products}
            gone_products = [
                {"b_id": pid} for pid, (_, on) in products.items() if on and pid not in configured
            ]
            del products
            if new_products:
                conn.execute(insert(ProductRow), new_products)
            _bulk_update(conn, ProductRow.id, changed_products, name=bindparam("name"), active=True)
            _bulk_update(conn, ProductRow.id, gone_products, active=False)

            columns = (
                ListingRow.retailer,
                ListingRow.affiliate_url,
                ListingRow.currency,
                ListingRow.active,
            )
            # listings already stored: (product, url) -> (id, configurable columns, spread)
            stored = {
                (pid, url): (lid, tuple(rest[:-1]), rest[-1])
                for lid, pid, url, *rest in conn.execute(
                    select(
                        ListingRow.id,
                        ListingRow.product_id,
                        ListingRow.url,
                        *columns,
                        ListingState.spread,
                    ).outerjoin(ListingState, ListingState.listing_id == ListingRow.id)
                )
            }
            conn.execute(  # a stored listing without a state row gets one (spread 0)
                insert(ListingState).from_select(
                    ["listing_id", "consecutive_failures"],
                    select(ListingRow.id, literal(0)).where(
                        ~ListingRow.id.in_(select(ListingState.listing_id))
                    ),
                )
            )
            # the configuration is read once, in order, and what it asks for is written
            # a few thousand rows at a time: a first sync of 100,000 listings held every
            # row at once, 60 MB at its peak
            new_rows: list[dict[str, Any]] = []
            new_places: list[int] = []
            changed: list[dict[str, Any]] = []
            stale: list[dict[str, Any]] = []  # a listing's new place among its host's
            kept: set[tuple[str, str]] = set()  # stored listings still configured
            places: dict[str, int] = {}  # per origin: scheme, host and port

            def insert_new() -> None:
                if new_rows:
                    ids = _insert_ids(conn, _LISTINGS, new_rows, key=("product_id", "url"))
                    conn.execute(
                        insert(ListingState),
                        [
                            {"listing_id": lid, "consecutive_failures": 0, "spread": place}
                            for lid, place in zip(ids, new_places, strict=True)
                        ],
                    )
                    new_rows.clear()
                    new_places.clear()

            def move() -> None:
                _bulk_update(conn, ListingState.listing_id, stale, spread=bindparam("spread"))
                stale.clear()

            for product in config.products:
                for listing in product.listings:
                    host = origin_of(listing.url)
                    place = places.get(host, 0)
                    places[host] = place + 1
                    key = (product.id, listing.url)
                    found = stored.get(key)
                    if found is None:
                        new_rows.append(
                            {
                                "product_id": product.id,
                                "url": listing.url,
                                "retailer": listing.retailer,
                                "affiliate_url": listing.affiliate_url,
                                "currency": listing.currency,
                                "active": True,
                                "created_at": now,
                            }
                        )
                        new_places.append(place)
                        if len(new_rows) >= SYNC_CHUNK:
                            insert_new()
                        continue
                    kept.add(key)
                    values = (listing.retailer, listing.affiliate_url, listing.currency, True)
                    if found[1] != values:
                        changed.append(
                            {
                                "b_id": found[0],
                                "retailer": listing.retailer,
                                "affiliate_url": listing.affiliate_url,
                                "currency": listing.currency,
                            }
                        )
                    if found[2] != place:
                        stale.append({"b_id": found[0], "spread": place})
                        if len(stale) >= SYNC_CHUNK:
                            move()
            insert_new()
            move()
            _bulk_update(
                conn,
                ListingRow.id,
                changed,
                retailer=bindparam("retailer"),
                affiliate_url=bindparam("affiliate_url"),
                currency=bindparam("currency"),
                active=True,
            )
            gone = [
                {"b_id": lid}
                for key, (lid, columns_now, _) in stored.items()
                if key not in kept and columns_now[-1]
            ]
            _bulk_update(conn, ListingRow.id, gone, active=False)

    def active_ids_by_origin(
        self, *, apart: Callable[[str, str], bool] | None = None
    ) -> tuple[dict[str, array[int]], list[int]]:
        """Every active listing's id, by the origin (scheme, host and port) of its URL,
        in id order: a run's plan, 8 bytes a listing, whose listings are read when
        their turn comes (``active_listings(ids)``). The ids of the listings ``apart``
        picks by product id and URL (Amazon's) come on their own."""
        by_origin: dict[str, array[int]] = {}
        picked: list[int] = []
        stmt = (
            select(ListingRow.id, ListingRow.product_id, ListingRow.url)
            .where(ListingRow.active.is_(True))
            .order_by(ListingRow.id)
        )
        with self._connection() as conn:
            for lid, pid, url in conn.execute(stmt):
                if apart is not None and apart(pid, url):
                    picked.append(lid)
                    continue
                origin = origin_of(url)
                ids = by_origin.get(origin)
                if ids is None:
                    ids = by_origin[origin] = array("q")
                ids.append(lid)
        return by_origin, picked

    def active_listings(self, ids: Sequence[int] | None = None) -> list[ListingRef]:
        """Every active listing (or those of ``ids``) with its validators, in id order."""
        stmt = (
            select(
                ListingRow.id,
                ListingRow.product_id,
                ListingRow.retailer,
                ListingRow.url,
                ListingRow.currency,
                ListingState.etag,
                ListingState.last_modified,
            )
            .outerjoin(ListingState, ListingState.listing_id == ListingRow.id)
            .where(ListingRow.active.is_(True))
            .order_by(ListingRow.id)
        )
        wanted = sorted(set(ids)) if ids is not None else None
        # a statement names at most ID_CHUNK ids (SQLite limits bound variables)
        parts = (
            [stmt]
            if wanted is None
            else [
                stmt.where(ListingRow.id.in_(wanted[i : i + ID_CHUNK]))
                for i in range(0, len(wanted), ID_CHUNK)
            ]
        )
        # a product's listings share its id, and listings their few retailer names and
        # currencies: one string each instead of one per row (100,000 listings: 10 MB less)
        same: dict[str, str] = {}
        with self._connection() as conn:
            return [
                ListingRef(
                    id=lid,
                    product_id=same.setdefault(pid, pid),
                    retailer=same.setdefault(retailer, retailer),
                    url=url,
                    currency=currency and same.setdefault(currency, currency),
                    etag=etag,
                    last_modified=last_modified,
                )
                for part in parts
                for lid, pid, retailer, url, currency, etag, last_modified in conn.execute(part)
            ]

    # -- scheduling -----------------------------------------------------------------------------

    def claim_due(
        self, *, now: datetime, owner: str, lease: timedelta, limit: int | None = None
    ) -> list[ListingRef]:
        """Lease the active listings that are due and not leased by anyone else.

        One conditional UPDATE: two processes never claim the same listing; a lease
        that expires (its holder crashed) can be claimed again.
        """
        due = (
            select(ListingState.listing_id)
            .join(ListingRow, ListingRow.id == ListingState.listing_id)
            .where(
                ListingRow.active.is_(True),
                or_(ListingState.next_due_at.is_(None), ListingState.next_due_at <= now),
                or_(ListingState.lease_until.is_(None), ListingState.lease_until < now),
            )
            .order_by(
                ListingState.next_due_at.is_not(None),
                ListingState.next_due_at,
                ListingState.spread,
                ListingState.listing_id,
            )
        )
        if limit is not None:
            due = due.limit(limit)
        if not self.is_sqlite:  # PostgreSQL: rows another worker is claiming are skipped
            due = due.with_for_update(of=ListingState, skip_locked=True)
        with self.session() as s:
            claimed = s.scalars(
                update(ListingState)
                .where(
                    ListingState.listing_id.in_(due.scalar_subquery()),
                    or_(ListingState.lease_until.is_(None), ListingState.lease_until < now),
                )
                .values(lease_owner=owner, lease_until=now + lease)
                .returning(ListingState.listing_id),
            ).all()
        return self.active_listings(claimed)

    def release(self, listing_ids: Iterable[int], *, owner: str) -> None:
        """Give back leases that were not used (a stop before the check)."""
        ids = list(listing_ids)
        if not ids:
            return
        with self.session() as s:
            s.execute(
                update(ListingState)
                .where(ListingState.listing_id.in_(ids), ListingState.lease_owner == owner)
                .values(lease_owner=None, lease_until=None)
            )

    def due_count(self, *, now: datetime) -> int:
        with self.session() as s:
            stmt = (
                select(func.count())
                .select_from(ListingState)
                .join(ListingRow, ListingRow.id == ListingState.listing_id)
                .where(
                    ListingRow.active.is_(True),
                    or_(ListingState.next_due_at.is_(None), ListingState.next_due_at <= now),
                )
            )
            return s.scalar(stmt) or 0

    def recent_changes(self, listing_ids: Iterable[int], *, since: datetime) -> dict[int, int]:
        """How many new states each listing had since ``since``."""
        ids = list(listing_ids)
        if not ids:
            return {}
        with self.session() as s:
            stmt = (
                select(Observation.listing_id, func.count())
                .where(Observation.listing_id.in_(ids), Observation.first_seen >= since)
                .group_by(Observation.listing_id)
            )
            return {listing_id: n for listing_id, n in s.execute(stmt).all()}

    def prune_fetch_log(self, *, before: datetime) -> int:
        """Delete fetch-log rows older than ``before``; the history itself is kept."""
        with self.session() as s:
            result = s.execute(delete(FetchLog).where(FetchLog.started_at < before))
            return int(getattr(result, "rowcount", 0) or 0)

    def last_runs(self) -> tuple[Run | None, Run | None]:
        """The newest run, and the newest run that finished."""
        with self.session() as s:
            last = s.scalars(select(Run).order_by(Run.started_at.desc()).limit(1)).first()
            done = s.scalars(
                select(Run)
                .where(Run.finished_at.is_not(None))
                .order_by(Run.finished_at.desc())
                .limit(1)
            ).first()
            return last, done

    def failing_count(self) -> int:
        with self.session() as s:
            stmt = (
                select(func.count())
                .select_from(ListingState)
                .join(ListingRow, ListingRow.id == ListingState.listing_id)
                .where(ListingRow.active.is_(True), ListingState.consecutive_failures > 0)
            )
            return s.scalar(stmt) or 0

    # -- politeness shared by workers ----------------------------------------------------------

    @contextmanager
    def _connection(self) -> Iterator[Connection]:
        """A Core transaction (no ORM), for hot-path statements and plain-row reads."""
        with self._errors(), self.engine.begin() as conn:
            yield conn

    @contextmanager
    def _write(self, *, wait: bool) -> Iterator[Connection | None]:
        """``_connection``; or, with ``wait=False`` on SQLite, None at once when another
        process holds the database's write lock (no busy wait)."""
        if wait or not self.is_sqlite:
            with self._connection() as conn:
                yield conn
            return
        with self._errors(), self.engine.connect() as conn:
            raw = conn.connection.dbapi_connection  # (a statement here would begin)
            assert raw is not None
            raw.execute("PRAGMA busy_timeout=0")
            try:
                try:
                    transaction = conn.begin()  # BEGIN IMMEDIATE: the write lock (_sqlite_begin)
                except OperationalError as exc:
                    if getattr(exc.orig, "sqlite_errorname", "") != "SQLITE_BUSY":
                        raise
                    transaction = None
                if transaction is None:
                    yield None
                else:
                    with transaction:
                        yield conn
            finally:
                raw.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")

    def take_host(
        self,
        origin: str,
        *,
        now: datetime,
        delay: timedelta,
        limit: int,
        hold: timedelta,
        owner: str,
    ) -> int | timedelta | None:
        """Take a request slot on ``origin``, marked sent now, in one transaction that
        holds the host's row: the slot's id; or how long to wait when a slot is open
        but the last request went out less than ``delay`` ago; or None when ``limit``
        requests are in flight (``release_host`` announces the end of one). A slot
        not released within ``hold`` expires: its worker is presumed dead."""
        lock = select(HostTurn.last_sent).where(HostTurn.origin == origin).with_for_update()
        with self._connection() as conn:
            row = conn.execute(lock).first()
            if row is None:  # the host's first request ever
                conn.execute(
                    _insert(self.engine.dialect.name, HostTurn)
                    .values(origin=origin)
                    .on_conflict_do_nothing(index_elements=["origin"])
                )
                row = conn.execute(lock).one()
            last_sent = row[0]
            live = conn.execute(
                select(func.count())
                .select_from(HostSlot)
                .where(HostSlot.origin == origin, HostSlot.until >= now)
            ).scalar_one()
            if live >= limit:
                return None
            if last_sent is not None and now < last_sent + delay:
                return last_sent + delay - now
            conn.execute(delete(HostSlot).where(HostSlot.origin == origin, HostSlot.until < now))
            slot_id = conn.execute(
                insert(HostSlot)
                .values(origin=origin, owner=owner, until=now + hold, sent_at=now)
                .returning(HostSlot.id)
            ).scalar_one()
            conn.execute(update(HostTurn).where(HostTurn.origin == origin).values(last_sent=now))
            return int(slot_id)

    def release_host(self, slot_id: int, *, late: timedelta = timedelta(0)) -> None:
        """End a request: free its slot and tell the waiting workers (PostgreSQL:
        NOTIFY on ``HOST_CHANNEL`` with the origin). ``late``: how long after it was
        marked sent it really went out; the host's spacing counts from then."""
        with self._connection() as conn:
            row = conn.execute(
                delete(HostSlot)
                .where(HostSlot.id == slot_id)
                .returning(HostSlot.origin, HostSlot.sent_at)
            ).first()
            if row is None:
                return
            origin, sent_at = row
            if late > timedelta(0):
                conn.execute(
                    update(HostTurn)
                    .where(
                        HostTurn.origin == origin,
                        or_(HostTurn.last_sent.is_(None), HostTurn.last_sent < sent_at + late),
                    )
                    .values(last_sent=sent_at + late)
                )
            if not self.is_sqlite:  # delivered when the transaction commits
                conn.execute(select(func.pg_notify(HOST_CHANNEL, origin)))

    def host_robots(self, origin: str, *, since: datetime) -> tuple[int, bytes] | None:
        """The robots.txt answer (status, body) a worker saved for ``origin`` after ``since``."""
        with self._connection() as conn:
            row = conn.execute(
                select(HostTurn.robots_status, HostTurn.robots_body).where(
                    HostTurn.origin == origin,
                    HostTurn.robots_at >= since,
                    HostTurn.robots_status.is_not(None),
                )
            ).first()
        if row is None or row[0] is None:
            return None
        return int(row[0]), bytes(row[1] or b"")

    def save_host_robots(self, origin: str, status: int, body: bytes, *, now: datetime) -> None:
        """Keep the robots.txt answer of ``origin`` for the other workers."""
        values = {"robots_status": status, "robots_body": body, "robots_at": now}
        with self._connection() as conn:
            conn.execute(
                _insert(self.engine.dialect.name, HostTurn)
                .values(origin=origin, **values)
                .on_conflict_do_update(index_elements=["origin"], set_=values)
            )

    def listen_url(self) -> str | None:
        """A libpq URL to LISTEN for freed hosts on (None: SQLite, no notifications)."""
        if self.is_sqlite:
            return None
        url = self.engine.url.set(drivername="postgresql")
        return url.render_as_string(hide_password=False)

    # -- runs ----------------------------------------------------------------------------------

    def start_run(self, *, now: datetime) -> int:
        with self.session() as s:
            run = Run(started_at=now, status="running")
            s.add(run)
            s.flush()
            return run.id

    def finish_run(
        self, run_id: int, *, now: datetime, checked: int, changed: int, unchanged: int, failed: int
    ) -> None:
        with self.session() as s:
            run = s.get(Run, run_id)
            if run is None:
                raise StoreError(f"run {run_id} is not in the database")
            run.finished_at = now
            run.checked, run.changed, run.unchanged, run.failed = (
                checked,
                changed,
                unchanged,
                failed,
            )
            run.status = "ok" if failed == 0 else "failures"

    # -- recording -----------------------------------------------------------------------------

    def record(
        self,
        results: Sequence[CheckResult],
        *,
        run_id: int | None = None,
        policy: QuarantinePolicy | None = None,
        wait: bool = True,
    ) -> list[str] | None:
        """Record a batch of checks in one transaction; the outcome of each, in order.

        Outcomes: ``new`` (first state), ``changed``, ``unchanged``, ``held`` (a
        suspicious change that ``policy`` sent to quarantine, or a page still
        showing it), or the failure kind.

        ``wait=False``: an SQLite database that another process is writing is not
        waited for; None, and nothing is recorded (the caller tries again later).
        """
        if not results:
            return []
        with self._write(wait=wait) as conn:
            if conn is None:
                return None
            batch = _Batch(conn, {r.listing_id for r in results})
            outcomes = []
            touched: set[int] = set()
            for result in results:
                if result.listing_id in touched and (batch.later or batch.new):
                    batch.settle()  # the same listing twice in one batch: its first check first
                touched.add(result.listing_id)
                state = batch.state(result.listing_id)
                recorder = _Recorder(batch, state, batch.rejected.get(result.listing_id, set()))
                outcome = recorder.apply(result, policy)
                batch.logs.append(
                    {
                        "listing_id": result.listing_id,
                        "run_id": run_id,
                        "started_at": result.checked_at,
                        "duration_ms": result.duration_ms,
                        "http_status": result.http_status,
                        "outcome": outcome,
                        "error": result.error,
                        "attempts": result.attempts,
                        "bytes": result.size,
                    }
                )
                outcomes.append(outcome)
            batch.write()
            return outcomes

    # -- quarantine ----------------------------------------------------------------------------

    def quarantined(self, *, status: str | None = PENDING) -> list[QuarantineItem]:
        """Quarantined changes (pending ones by default), oldest first."""
        old = aliased(Observation)
        stmt = (
            select(Quarantine, Observation, old, ListingRow)
            .join(Observation, Observation.id == Quarantine.observation_id)
            .outerjoin(old, old.id == Quarantine.previous_observation_id)
            .join(ListingRow, ListingRow.id == Quarantine.listing_id)
            .order_by(Quarantine.id)
        )
        if status is not None:
            stmt = stmt.where(Quarantine.status == status)
        with self.session() as s:
            return [_quarantine_item(q, new, prev, lrow) for q, new, prev, lrow in s.execute(stmt)]

    def decide(self, quarantine_id: int, *, approve: bool, now: datetime) -> QuarantineItem:
        """Approve (publish) or reject a quarantined change."""
        with self.session() as s:
            q = s.get(Quarantine, quarantine_id)
            if q is None:
                raise StoreError(
                    f"no quarantined change {quarantine_id}: `tracker report` lists them"
                )
            if q.status != PENDING:
                raise StoreError(f"quarantined change {quarantine_id} is already {q.status}")
            state = s.get(ListingState, q.listing_id)
            new = s.get(Observation, q.observation_id)
            assert state is not None and new is not None
            if state.pending_observation_id == q.observation_id:
                state.pending_observation_id = None
                if approve:
                    state.observation_id = new.id
                    if new.price is not None:
                        state.last_price, state.last_currency = new.price, new.currency
                        state.last_price_at = new.last_seen
            q.status = APPROVED if approve else REJECTED
            q.decided_at = now
            s.flush()
            prev = (
                s.get(Observation, q.previous_observation_id) if q.previous_observation_id else None
            )
            lrow = s.get(ListingRow, q.listing_id)
            assert lrow is not None
            return _quarantine_item(q, new, prev, lrow)

        # -- reading -------------------------------------------------------------------------------

    def product_exists(self, product_id: str) -> bool:
        with self.session() as s:
            return s.get(ProductRow, product_id) is not None

    def history(self, product_id: str) -> list[HistoryRow]:
        """Every distinct state of each of the product's listings, oldest first."""
        stmt = (
            select(Observation, ListingRow)
            .join(ListingRow, ListingRow.id == Observation.listing_id)
            .where(ListingRow.product_id == product_id)
            .order_by(ListingRow.id, Observation.first_seen, Observation.id)
        )
        with self.session() as s:
            return [
                HistoryRow(
                    listing_id=lrow.id,
                    retailer=lrow.retailer,
                    url=lrow.url,
                    first_seen=o.first_seen,
                    last_seen=o.last_seen,
                    checks=o.checks,
                    status=o.status,
                    price=o.price,
                    currency=o.currency,
                    availability=Availability(o.availability) if o.availability else None,
                )
                for o, lrow in s.execute(stmt).all()
            ]

    def counts(self) -> dict[str, int]:
        """Row counts per table (for summaries and tests)."""
        with self.session() as s:
            return {
                model.__tablename__: s.scalar(select(func.count()).select_from(model)) or 0
                for model in (ProductRow, ListingRow, Observation, FetchLog, Run)
            }

    def current_listings(self, product_ids: Iterable[str]) -> dict[str, list[CurrentListing]]:
        """The active listings of these products with their current state, per product."""
        ids = list(product_ids)
        stmt = (
            select(
                ListingRow.id,
                ListingRow.product_id,
                ListingRow.retailer,
                ListingRow.url,
                ListingRow.affiliate_url,
                Observation.price,
                Observation.currency,
                Observation.availability,
                Observation.last_seen,
                ListingState.last_checked_at,
                ListingState.consecutive_failures,
                ListingState.buy_url,
            )
            .outerjoin(ListingState, ListingState.listing_id == ListingRow.id)
            .outerjoin(Observation, Observation.id == ListingState.observation_id)
            .where(ListingRow.product_id.in_(ids), ListingRow.active.is_(True))
            .order_by(ListingRow.id)
        )
        out: dict[str, list[CurrentListing]] = {pid: [] for pid in ids}
        with self._connection() as conn:
            for row in conn.execute(stmt):
                out[row.product_id].append(
                    CurrentListing(
                        listing_id=row.id,
                        product_id=row.product_id,
                        retailer=row.retailer,
                        url=row.url,
                        affiliate_url=row.affiliate_url,
                        price=row.price,
                        currency=row.currency,
                        availability=Availability(row.availability) if row.availability else None,
                        confirmed_at=row.last_seen,
                        last_checked_at=row.last_checked_at,
                        failing=bool(row.consecutive_failures),
                        buy_url=row.buy_url,
                    )
                )
        return out

    def products_of(self, listing_ids: Iterable[int]) -> set[str]:
        ids = list(listing_ids)
        if not ids:
            return set()
        with self.session() as s:
            return set(s.scalars(select(ListingRow.product_id).where(ListingRow.id.in_(ids))))

    def guide_state(self, guide_id: str) -> GuideState | None:
        with self.session() as s:
            return s.get(GuideState, guide_id)

    def guide_states(self, guide_ids: Iterable[str]) -> dict[str, GuideState]:
        """What these guides last showed, by guide id (a guide never rendered is absent)."""
        with self.session() as s:
            return _guide_states(s, guide_ids)

    def save_renders(self, rendered: Sequence[RenderedGuide], *, now: datetime) -> None:
        """Save what these guides now show, and log the ones that wrote files, at once."""
        if not rendered:
            return
        with self.session() as s:
            rows = _guide_states(s, (r.guide_id for r in rendered))
            for r in rendered:
                row = rows.get(r.guide_id)
                if row is None:
                    row = rows[r.guide_id] = GuideState(id=r.guide_id)
                    s.add(row)
                row.fingerprint, row.bands, row.as_of = r.fingerprint, r.bands, r.as_of
                row.rendered_at = now
                if r.files:
                    s.add(
                        RenderLog(
                            guide_id=r.guide_id,
                            rendered_at=now,
                            changes=json.dumps(r.changes),
                            files=json.dumps(r.files),
                        )
                    )

    # -- for reports --------------------------------------------------------------------------

    def observation_history(
        self,
        *,
        changed_since: datetime | None = None,
        product_ids: Iterable[str] | None = None,
    ) -> dict[tuple[str, str, str], list[ObservedState]]:
        """Full history per listing (product id, retailer, URL), oldest first: of the
        listings with a state that began at or after ``changed_since``, or of the products."""
        stmt = select(Observation, ListingRow).join(
            ListingRow, ListingRow.id == Observation.listing_id
        )
        if changed_since is not None:
            recent = select(Observation.listing_id).where(Observation.first_seen >= changed_since)
            stmt = stmt.where(Observation.listing_id.in_(recent))
        if product_ids is not None:
            stmt = stmt.where(ListingRow.product_id.in_(list(product_ids)))
        stmt = stmt.order_by(ListingRow.id, Observation.first_seen, Observation.id)
        with self.session() as s:
            held = set(
                s.scalars(select(Quarantine.observation_id).where(Quarantine.status != APPROVED))
            )
            out: dict[tuple[str, str, str], list[ObservedState]] = {}
            for o, lrow in s.execute(stmt).all():
                availability = Availability(o.availability) if o.availability else None
                out.setdefault((lrow.product_id, lrow.retailer, lrow.url), []).append(
                    ObservedState(
                        first_seen=o.first_seen,
                        last_seen=o.last_seen,
                        price=o.price,
                        currency=o.currency,
                        availability=o.availability,
                        purchasable=bool(availability and availability.purchasable),
                        held=o.id in held,
                    )
                )
            return out

    def renders(self, *, since: datetime, until: datetime) -> list[RenderLog]:
        with self.session() as s:
            stmt = (
                select(RenderLog)
                .where(RenderLog.rendered_at >= since, RenderLog.rendered_at < until)
                .order_by(RenderLog.rendered_at, RenderLog.id)
            )
            return list(s.scalars(stmt))

    def failing(self) -> list[FailingListing]:
        """Active listings whose last check failed, longest failing first."""
        stmt = (
            select(ListingState, ListingRow, FailurePage.saved_at)
            .join(ListingRow, ListingRow.id == ListingState.listing_id)
            .outerjoin(FailurePage, FailurePage.listing_id == ListingState.listing_id)
            .where(ListingState.consecutive_failures > 0, ListingRow.active.is_(True))
            .order_by(ListingState.failing_since, ListingRow.id)
        )
        with self.session() as s:
            return [
                FailingListing(
                    listing_id=lrow.id,
                    product_id=lrow.product_id,
                    retailer=lrow.retailer,
                    url=lrow.url,
                    kind=st.last_failure_kind or "error",
                    since=st.failing_since,
                    consecutive=st.consecutive_failures,
                    error=st.last_error,
                    last_good_price=st.last_price,
                    currency=st.last_currency,
                    last_good_at=st.last_price_at,
                    page_saved_at=saved,
                )
                for st, lrow, saved in s.execute(stmt).all()
            ]

    def failure_page(self, listing_id: int) -> bytes | None:
        with self.session() as s:
            page = s.get(FailurePage, listing_id)
            return page.body if page else None

    def stale(self, *, before: datetime) -> list[StaleListing]:
        """Active listings with no successful check since ``before``."""
        stmt = (
            select(ListingRow, ListingState.last_success_at)
            .outerjoin(ListingState, ListingState.listing_id == ListingRow.id)
            .where(
                ListingRow.active.is_(True),
                or_(
                    ListingState.last_success_at < before,
                    and_(ListingState.last_success_at.is_(None), ListingRow.created_at < before),
                ),
            )
            .order_by(ListingRow.id)
        )
        with self.session() as s:
            return [
                StaleListing(lrow.product_id, lrow.retailer, lrow.url, last)
                for lrow, last in s.execute(stmt).all()
            ]

    def record_report(self, *, since: datetime, until: datetime, now: datetime) -> None:
        with self.session() as s:
            s.add(ReportLog(created_at=now, since=since, until=until))

    def last_report_until(self) -> datetime | None:
        with self.session() as s:
            return s.scalar(select(func.max(ReportLog.until)))

    def listing_states(self) -> dict[int, ListingState]:
        with self.session() as s:
            return {st.listing_id: st for st in s.scalars(select(ListingState))}


def copy_database(source: Store, target: Store, *, batch: int = 2000) -> dict[str, int]:
    """Copy every row of ``source`` into the empty, migrated ``target``; rows per table.

    Works between any two backends (SQLite to PostgreSQL and back): values go
    through the same column types, so money stays exact and times stay UTC.
    """
    tables = Base.metadata.sorted_tables  # parents before children
    with target.engine.connect() as conn:
        filled = [
            t.name for t in tables if conn.execute(select(func.count()).select_from(t)).scalar()
        ]
    if filled:
        raise StoreError(
            f"{target.display_url} already holds data (in {', '.join(filled)}): "
            "copy into an empty database"
        )
    copied: dict[str, int] = {}
    try:
        with source.engine.connect() as src, target.engine.begin() as dst:
            for table in tables:
                # rows that point at rows of their own table (none today) would need two passes
                result = src.execution_options(stream_results=True).execute(
                    select(table).order_by(*table.primary_key.columns)
                )
                count = 0
                while rows := result.fetchmany(batch):
                    dst.execute(table.insert(), [dict(r._mapping) for r in rows])
                    count += len(rows)
                copied[table.name] = count
            if dst.dialect.name == "postgresql":
                for table in tables:
                    pk = list(table.primary_key.columns)
                    if len(pk) == 1 and pk[0].name == "id" and isinstance(pk[0].type, Integer):
                        dst.execute(
                            text(
                                f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                                f"coalesce((SELECT max(id) FROM {table.name}), 0) + 1, false)"
                            )
                        )
    except SQLAlchemyError as exc:
        raise StoreError(f"copy into {target.display_url} failed, nothing kept: {exc}") from exc
    return copied


class _Valued(PriceSeen, Protocol):
    """What the recorder compares of an observation (a ``_Seen`` or a row)."""

    @property
    def status(self) -> str: ...

    @property
    def availability(self) -> str | None: ...


def _key_of(o: _Valued) -> tuple[Any, ...]:
    return (o.status, o.price, o.currency, o.availability)


def _offer_key(offer: Offer) -> tuple[Any, ...]:
    availability = offer.availability.value if offer.availability else None
    return (offer.status.value, offer.price, offer.currency, availability)


_STATES = cast(Table, ListingState.__table__)
_OBSERVATIONS = cast(Table, Observation.__table__)
_LISTINGS = cast(Table, ListingRow.__table__)
_FETCH_LOG = cast(Table, FetchLog.__table__)
_QUARANTINE = cast(Table, Quarantine.__table__)
_FAILURE_PAGES = cast(Table, FailurePage.__table__)
# a new state row: every column's default (what the ORM filled in), else None
_STATE_DEFAULTS: dict[str, Any] = {
    c.name: c.default.arg if isinstance(c.default, ColumnDefault) and c.default.is_scalar else None
    for c in _STATES.columns
}


@dataclass(slots=True)
class _Seen:
    """An observation as the recorder reads and writes it (no ORM: this is the hot path)."""

    id: int | None
    listing_id: int
    status: str
    price: Decimal | None
    currency: str | None
    availability: str | None
    method: str | None
    first_seen: datetime
    last_seen: datetime
    checks: int

    def row(self) -> dict[str, Any]:
        """Its columns for an INSERT (the database gives the id)."""
        return {name: getattr(self, name) for name in self.__slots__ if name != "id"}


class _Batch:
    """One transaction's worth of checks, applied to plain rows and written with a few
    statements: the states and observations it needs are read once, new observations are
    inserted together, and updates go out as one executemany per set of changed columns
    (so a concurrent writer's columns are left alone, as a per-column update would)."""

    def __init__(self, conn: Connection, ids: set[int]) -> None:
        self.conn = conn
        self.states = {
            row.listing_id: dict(row._mapping)
            for row in conn.execute(select(_STATES).where(_STATES.c.listing_id.in_(ids)))
        }
        self.fresh: set[int] = set()  # states to insert
        self.dirty: dict[int, set[str]] = {}  # stored states: the columns that changed
        obs_ids = [
            i
            for st in self.states.values()
            for i in (st["observation_id"], st["pending_observation_id"])
            if i
        ]
        self.seen: dict[int, _Seen] = {
            row.id: _Seen(**row._mapping)
            for row in conn.execute(select(_OBSERVATIONS).where(_OBSERVATIONS.c.id.in_(obs_ids)))
        }
        self.extended: set[int] = set()  # observations whose last_seen / checks moved
        self.new: list[_Seen] = []  # observations waiting for their ids
        self.later: list[Callable[[], None]] = []  # what needs the ids of new observations
        self.rejected: dict[int, set[tuple[Any, ...]]] = {}
        rejected = (
            select(
                Quarantine.listing_id,
                Observation.status,
                Observation.price,
                Observation.currency,
                Observation.availability,
            )
            .join(Observation, Observation.id == Quarantine.observation_id)
            .where(Quarantine.listing_id.in_(ids), Quarantine.status == REJECTED)
        )
        for row in conn.execute(rejected):
            self.rejected.setdefault(row.listing_id, set()).add(_key_of(row))
        self.logs: list[dict[str, Any]] = []

    def state(self, listing_id: int) -> dict[str, Any]:
        state = self.states.get(listing_id)
        if state is None:
            state = self.states[listing_id] = _STATE_DEFAULTS | {"listing_id": listing_id}
            self.fresh.add(listing_id)
        return state

    def set(self, state: dict[str, Any], **values: Any) -> None:
        listing_id = state["listing_id"]
        for column, value in values.items():
            old = state[column]
            if old is value or (
                type(old) is type(value)
                and old == value
                and (type(value) is not Decimal or str(old) == str(value))  # 10.0 vs 10.00
            ):
                continue
            state[column] = value
            if listing_id not in self.fresh:
                self.dirty.setdefault(listing_id, set()).add(column)

    def extend(self, o: _Seen, t: datetime) -> None:
        o.last_seen = max(o.last_seen, t)
        o.checks += 1
        if o.id is not None:
            self.extended.add(o.id)

    def observe(self, listing_id: int, offer: Offer, t: datetime) -> _Seen:
        new = _Seen(
            id=None,
            listing_id=listing_id,
            status=offer.status.value,
            price=offer.price,
            currency=offer.currency,
            availability=offer.availability.value if offer.availability else None,
            method=offer.method,
            first_seen=t,
            last_seen=t,
            checks=1,
        )
        self.new.append(new)
        return new

    def settle(self) -> None:
        """Insert the new observations in one statement, then do what needed their ids."""
        if self.new:
            # at most one new observation per listing: ``Store.record`` settles before a
            # listing's second check
            rows = [o.row() for o in self.new]
            ids = _insert_ids(self.conn, _OBSERVATIONS, rows, key=("listing_id",))
            for o, i in zip(self.new, ids, strict=True):
                o.id = i
                self.seen[i] = o
            self.new.clear()
        for step in self.later:
            step()
        self.later.clear()

    def write(self) -> None:
        self.settle()
        conn = self.conn
        if self.fresh:
            conn.execute(insert(_STATES), [self.states[i] for i in self.fresh])
        groups: dict[frozenset[str], list[dict[str, Any]]] = {}
        for listing_id, columns in self.dirty.items():
            state = self.states[listing_id]
            row = {f"v_{c}": state[c] for c in columns}
            row["b_id"] = listing_id
            groups.setdefault(frozenset(columns), []).append(row)
        for names, rows in groups.items():
            values: dict[str, Any] = {c: bindparam(f"v_{c}") for c in sorted(names)}
            _bulk_update(conn, ListingState.listing_id, rows, **values)
        extended = [
            {"b_id": i, "v_last_seen": self.seen[i].last_seen, "v_checks": self.seen[i].checks}
            for i in self.extended
        ]
        _bulk_update(
            conn,
            Observation.id,
            extended,
            last_seen=bindparam("v_last_seen"),
            checks=bindparam("v_checks"),
        )
        if self.logs:
            conn.execute(insert(_FETCH_LOG), self.logs)


class _Recorder:
    """Applies one check to a listing's state (a plain row of ``_Batch``)."""

    def __init__(
        self, batch: _Batch, state: dict[str, Any], rejected: set[tuple[Any, ...]]
    ) -> None:
        self.batch, self.state, self.rejected = batch, state, rejected
        seen = batch.seen
        self.published = seen.get(state["observation_id"]) if state["observation_id"] else None
        pending_id = state["pending_observation_id"]
        self.pending = seen.get(pending_id) if pending_id else None

    def apply(self, r: CheckResult, policy: QuarantinePolicy | None) -> str:
        batch, state, t = self.batch, self.state, r.checked_at
        batch.set(state, last_checked_at=t, lease_owner=None, lease_until=None)
        if r.next_due_at is not None:
            batch.set(state, next_due_at=r.next_due_at)
        if r.final_url:
            batch.set(state, final_url=r.final_url)
        if r.not_modified and self.published is not None:
            # validators belong to the published page only: a 304 confirms it
            if self.pending is not None:
                self.supersede(t)
            batch.extend(self.published, t)
            self.succeeded(t)
            return UNCHANGED
        if not r.is_observation:
            return self.failed(r)
        offer = r.offer
        assert offer is not None
        key = _offer_key(offer)
        if key in self.rejected:  # an editor said this value is wrong; the page still shows it
            return self.failed(
                replace(r, failure="rejected", error="the page still shows a rejected value")
            )
        self.succeeded(t)
        batch.set(state, buy_url=r.buy_url)
        if offer.title:
            batch.set(state, title=offer.title)
        if self.pending is not None:
            if _key_of(self.pending) == key:
                batch.extend(self.pending, t)
                return HELD
            self.supersede(t)
        if self.published is not None and _key_of(self.published) == key:
            batch.extend(self.published, t)
            batch.set(state, etag=r.etag, last_modified=r.last_modified)
            return UNCHANGED
        new = batch.observe(r.listing_id, offer, t)
        previous = self.published
        reason = policy(r.listing_id, previous, offer) if policy is not None else None
        if reason:

            def hold() -> None:
                batch.set(state, pending_observation_id=new.id)
                batch.conn.execute(
                    insert(_QUARANTINE).values(
                        listing_id=r.listing_id,
                        observation_id=new.id,
                        previous_observation_id=previous.id if previous else None,
                        reason=reason,
                        detected_at=t,
                        status=PENDING,
                    )
                )

            batch.later.append(hold)
            return HELD

        def publish() -> None:
            batch.set(state, observation_id=new.id)

        batch.later.append(publish)
        batch.set(state, etag=r.etag, last_modified=r.last_modified)
        if offer.price is not None:
            batch.set(state, last_price=offer.price, last_currency=offer.currency, last_price_at=t)
        return NEW if previous is None else CHANGED

    def succeeded(self, t: datetime) -> None:
        self.batch.set(
            self.state,
            last_success_at=t,
            consecutive_failures=0,
            failing_since=None,
            last_failure_kind=None,
            last_error=None,
        )

    def failed(self, r: CheckResult) -> str:
        batch, state, t = self.batch, self.state, r.checked_at
        kind = r.failure or (r.offer.status.value if r.offer else "error")
        batch.set(
            state,
            consecutive_failures=(state["consecutive_failures"] or 0) + 1,
            failing_since=state["failing_since"] or t,
            last_failure_kind=kind,
            last_error=r.error or (r.offer.reason if r.offer else None),
        )
        if r.page:
            page = {
                "saved_at": t,
                "url": r.final_url or "",
                "failure": kind,
                "http_status": r.http_status,
                "content_type": r.content_type,
                "body": r.page[:MAX_SAVED_PAGE],
            }
            table = _FAILURE_PAGES
            saved = batch.conn.execute(
                update(table).where(table.c.listing_id == r.listing_id).values(page)
            )
            if not saved.rowcount:
                batch.conn.execute(insert(table).values(listing_id=r.listing_id, **page))
        return kind

    def supersede(self, t: datetime) -> None:
        """The page moved on from a held value before anyone decided on it."""
        assert self.pending is not None
        table = _QUARANTINE
        self.batch.conn.execute(
            update(table)
            .where(table.c.observation_id == self.pending.id, table.c.status == PENDING)
            .values(status=SUPERSEDED, decided_at=t)
        )
        self.batch.set(self.state, pending_observation_id=None)
        self.pending = None


def _guide_states(s: Session, guide_ids: Iterable[str]) -> dict[str, GuideState]:
    ids = list(guide_ids)
    return {g.id: g for g in s.scalars(select(GuideState).where(GuideState.id.in_(ids)))}


def _insert_ids(
    conn: Connection, table: Table, rows: list[dict[str, Any]], *, key: tuple[str, ...]
) -> list[int]:
    """Insert ``rows`` in one statement; their new ids, in the rows' order.

    The ids come back in any order and are matched by ``key``, columns whose values are
    unique among ``rows``. (Asked in order, ``sort_by_parameter_order``, SQLite inserts one
    row per statement: a first sync of 10,000 listings took 0.8 s, now 0.45 s.)
    """
    stmt = insert(table).returning(table.c.id, *(table.c[k] for k in key))
    by_key = {tuple(found): new_id for new_id, *found in conn.execute(stmt, rows)}
    if len(by_key) != len(rows):
        raise StoreError(
            f"rows inserted together into {table.name} share their {', '.join(key)}: nothing "
            "of this batch was recorded; this is a bug in tracker, please report it"
        )
    return [by_key[tuple(row[k] for k in key)] for row in rows]


def _bulk_update(conn: Connection, key: Any, rows: list[dict[str, Any]], **values: Any) -> None:
    """One UPDATE run for every row: the row whose ``key`` is the row's ``b_id`` gets
    ``values`` (``bindparam(name)`` for a value of the row's own)."""
    if rows:
        conn.execute(update(key.class_).where(key == bindparam("b_id")).values(**values), rows)


def _quarantine_item(
    q: Quarantine, new: Observation, prev: Observation | None, lrow: ListingRow
) -> QuarantineItem:
    return QuarantineItem(
        id=q.id,
        listing_id=q.listing_id,
        product_id=lrow.product_id,
        retailer=lrow.retailer,
        url=lrow.url,
        reason=q.reason,
        detected_at=q.detected_at,
        status=q.status,
        decided_at=q.decided_at,
        old_price=prev.price if prev else None,
        old_currency=prev.currency if prev else None,
        new_price=new.price,
        new_currency=new.currency,
        new_availability=new.availability,
    )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # SQLAlchemy, not the sqlite3 module, starts transactions (see _sqlite_begin)
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    finally:
        cursor.close()


def _insert(dialect: str, model: type[Base]) -> Any:
    """INSERT with ON CONFLICT for the backend in use."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(model)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(model)


def _sqlite_begin(connection: Any) -> None:
    """Take the write lock when a transaction starts.

    With WAL, a transaction that reads and then writes fails at once
    (SQLITE_BUSY_SNAPSHOT) when another process wrote in between; BEGIN IMMEDIATE
    makes concurrent runs, renders and reports wait their turn (busy_timeout)
    instead.
    """
    connection.exec_driver_sql("BEGIN IMMEDIATE")
