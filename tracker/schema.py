"""The history database's tables (SQLAlchemy 2.x typed ORM).

* ``products`` and ``listings`` mirror the configuration; a listing removed from
  the configuration stays, marked inactive, so its history is kept.
* ``observations``: one row per *distinct* observed state of a listing (status,
  price, currency, availability) with the first and last time it was seen and
  how many checks saw it. The history grows with changes, not with checks.
* ``listing_state``: the current state of each listing: the last good price,
  the last success, consecutive failures, HTTP validators for conditional GET.
* ``fetch_log``: every fetch attempt (HTTP status, duration, outcome).
* ``runs``: one row per ``tracker run``.

All times are stored as UTC and read back timezone-aware.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeEngine

__all__ = [
    "Base",
    "FailurePage",
    "FetchLog",
    "GuideState",
    "HostSlot",
    "HostTurn",
    "ListingRow",
    "ListingState",
    "Observation",
    "ProductRow",
    "Quarantine",
    "RenderLog",
    "ReportLog",
    "Run",
]


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite keeps no offset)."""

    impl = DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        return dialect.type_descriptor(DateTime(timezone=dialect.name != "sqlite"))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: tracker stores aware UTC times only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Money(TypeDecorator[Decimal]):
    """An exact decimal: NUMERIC where the backend has it, canonical text on SQLite."""

    impl = Numeric
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(40))
        # unconstrained NUMERIC keeps the scale the shop showed (249.00 stays 249.00)
        return dialect.type_descriptor(Numeric(asdecimal=True))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, Decimal):
            raise TypeError(f"money must be a Decimal, not {type(value).__name__}")
        return format(value, "f") if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return Decimal(str(value))


naming = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=naming)


class ProductRow(Base):
    __tablename__ = "products"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ListingRow(Base):
    __tablename__ = "listings"
    __table_args__ = (UniqueConstraint("product_id", "url"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    product_id: Mapped[str] = mapped_column(ForeignKey("products.id"), index=True)
    retailer: Mapped[str] = mapped_column(Text)
    url: Mapped[str] = mapped_column(String(2000))
    affiliate_url: Mapped[str | None] = mapped_column(Text)
    currency: Mapped[str | None] = mapped_column(String(3))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Observation(Base):
    """One distinct state of a listing, seen from ``first_seen`` to ``last_seen``."""

    __tablename__ = "observations"
    __table_args__ = (Index("ix_observations_listing_first_seen", "listing_id", "first_seen"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    listing_id: Mapped[int] = mapped_column(ForeignKey("listings.id"))
    status: Mapped[str] = mapped_column(String(20))
    price: Mapped[Decimal | None] = mapped_column(Money)
    currency: Mapped[str | None] = mapped_column(String(3))
    availability: Mapped[str | None] = mapped_column(String(40))
    method: Mapped[str | None] = mapped_column(String(100))
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime)
    checks: Mapped[int] = mapped_column(Integer, default=1)


class ListingState(Base):
    """The current state of one listing."""

    __tablename__ = "listing_state"

    listing_id: Mapped[int] = mapped_column(ForeignKey("listings.id"), primary_key=True)
    # the published state; a suspicious new state waits in pending_observation_id
    observation_id: Mapped[int | None] = mapped_column(ForeignKey("observations.id"))
    pending_observation_id: Mapped[int | None] = mapped_column(ForeignKey("observations.id"))
    last_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # the last good price survives failures and price-less pages
    last_price: Mapped[Decimal | None] = mapped_column(Money)
    last_currency: Mapped[str | None] = mapped_column(String(3))
    last_price_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    title: Mapped[str | None] = mapped_column(Text)
    final_url: Mapped[str | None] = mapped_column(String(2000))
    # the Buy link the last successful check gave (Amazon's detailPageURL with the tag)
    buy_url: Mapped[str | None] = mapped_column(Text)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_failure_kind: Mapped[str | None] = mapped_column(String(40))
    last_error: Mapped[str | None] = mapped_column(Text)
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    # scheduling: when the listing is next due, and who holds it now
    next_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    # the listing's place among its host's listings (0, 1, 2, ...): claims of listings
    # due together take one from each host before a second, so workers share the hosts
    spread: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class FetchLog(Base):
    """Every check of a listing: what came back and how long it took."""

    __tablename__ = "fetch_log"
    __table_args__ = (Index("ix_fetch_log_listing_started", "listing_id", "started_at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    listing_id: Mapped[int] = mapped_column(ForeignKey("listings.id"))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    duration_ms: Mapped[int] = mapped_column(Integer)
    http_status: Mapped[int | None] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(40))  # changed/unchanged/not_modified/<failure>
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    bytes: Mapped[int | None] = mapped_column(Integer)


class Run(Base):
    __tablename__ = "runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    checked: Mapped[int] = mapped_column(Integer, default=0)
    changed: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(20), default="running")


class GuideState(Base):
    """What a guide last showed: the basis for hysteresis and for "only re-render on change"."""

    __tablename__ = "guides"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    bands: Mapped[str] = mapped_column(Text)  # JSON: product id -> band index
    as_of: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rendered_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Quarantine(Base):
    """A suspicious change, recorded but not published until an editor decides."""

    __tablename__ = "quarantine"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    listing_id: Mapped[int] = mapped_column(ForeignKey("listings.id"), index=True)
    observation_id: Mapped[int] = mapped_column(ForeignKey("observations.id"))
    previous_observation_id: Mapped[int | None] = mapped_column(ForeignKey("observations.id"))
    reason: Mapped[str] = mapped_column(Text)
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(20), default="pending")  # approved/rejected/...
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class FailurePage(Base):
    """The last page a failing listing answered with, kept for diagnosis."""

    __tablename__ = "failure_pages"

    listing_id: Mapped[int] = mapped_column(ForeignKey("listings.id"), primary_key=True)
    saved_at: Mapped[datetime] = mapped_column(UTCDateTime)
    url: Mapped[str] = mapped_column(String(2000))
    failure: Mapped[str] = mapped_column(String(40))
    http_status: Mapped[int | None] = mapped_column(Integer)
    content_type: Mapped[str | None] = mapped_column(Text)
    body: Mapped[bytes] = mapped_column(LargeBinary)


class RenderLog(Base):
    """Each time a guide was re-rendered, and which displayed values changed."""

    __tablename__ = "render_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    guide_id: Mapped[str] = mapped_column(String(200), index=True)
    rendered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    changes: Mapped[str] = mapped_column(Text)  # JSON list of per-product changes
    files: Mapped[str] = mapped_column(Text)  # JSON list of written paths


class ReportLog(Base):
    """What each report covered, for ``tracker report --since-last``."""

    __tablename__ = "reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    since: Mapped[datetime] = mapped_column(UTCDateTime)
    until: Mapped[datetime] = mapped_column(UTCDateTime)


class Meta(Base):
    """Named values about the database itself (``catalogue``: see ``Store.sync_config``)."""

    __tablename__ = "meta"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class HostTurn(Base):
    """Per-host politeness shared by every worker: when the host may next be asked."""

    __tablename__ = "hosts"

    origin: Mapped[str] = mapped_column(String(300), primary_key=True)
    last_sent: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the last request out
    # the host's robots.txt as a worker last read it, for the others (an hour at most)
    robots_status: Mapped[int | None] = mapped_column(Integer)
    robots_body: Mapped[bytes | None] = mapped_column(LargeBinary)
    robots_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class HostSlot(Base):
    """A request in flight to a host, held by one worker until it ends (or expires)."""

    __tablename__ = "host_slots"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    origin: Mapped[str] = mapped_column(String(300), index=True)
    owner: Mapped[str] = mapped_column(String(200))
    until: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime)  # when it was marked sent
