"""Values that cross stages: frozen, typed, free of I/O."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from urllib.parse import urlsplit

__all__ = [
    "IN_STOCK_LIKE",
    "Availability",
    "Clock",
    "Offer",
    "PageStatus",
    "SiteRules",
    "utc_now",
]

Clock = Callable[[], datetime]
"""What code takes instead of reading the time itself, so that history is testable."""


def utc_now() -> datetime:
    return datetime.now(UTC)


class Availability(StrEnum):
    """schema.org ItemAvailability names."""

    InStock = "InStock"
    OutOfStock = "OutOfStock"
    LimitedAvailability = "LimitedAvailability"
    PreOrder = "PreOrder"
    PreSale = "PreSale"
    BackOrder = "BackOrder"
    MadeToOrder = "MadeToOrder"
    OnlineOnly = "OnlineOnly"
    InStoreOnly = "InStoreOnly"
    SoldOut = "SoldOut"
    Discontinued = "Discontinued"
    Reserved = "Reserved"

    @property
    def purchasable(self) -> bool:
        """True when a reader can buy or order the product now."""
        return self in IN_STOCK_LIKE


IN_STOCK_LIKE = frozenset(
    {
        Availability.InStock,
        Availability.LimitedAvailability,
        Availability.PreOrder,
        Availability.PreSale,
        Availability.BackOrder,
        Availability.MadeToOrder,
        Availability.OnlineOnly,
        Availability.InStoreOnly,
    }
)


class PageStatus(StrEnum):
    """What a check of one page found."""

    ok = "ok"  # a price (and maybe availability) was found
    no_price = "no_price"  # the page was read but carries no price we trust
    blocked = "blocked"  # captcha, robot check, access denied, JS challenge
    gone = "gone"  # 404 / 410: the product page no longer exists
    error = "error"  # the page could not be fetched or read


@dataclass(frozen=True, slots=True)
class SiteRules:
    """CSS selectors for one shop; they win over every generic method."""

    name: str
    price: str | None = None
    availability: str | None = None
    title: str | None = None
    currency: str | None = None
    # lower-cased visible text (substring) -> availability
    availability_map: Mapping[str, Availability] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Offer:
    """What extraction found on one page."""

    status: PageStatus
    price: Decimal | None = None
    currency: str | None = None  # ISO 4217
    availability: Availability | None = None
    title: str | None = None
    method: str | None = None  # which method found the price, e.g. "json-ld", "site:shopify"
    reason: str | None = None  # why a value is missing, or why the page is blocked/gone


def origin_of(url: str) -> str:
    """``scheme://host:port``: the unit of politeness and of robots.txt."""
    # the URL up to its path, query or fragment has the same scheme and netloc, and a
    # catalogue has few of those: each is read once (a run asks for every listing's)
    start = url.find("//")
    if start >= 0:
        url = url[: min((i for c in "/?#" if (i := url.find(c, start + 2)) >= 0), default=None)]
    return _origin(url)


@functools.lru_cache(maxsize=1024)
def _origin(url: str) -> str:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.scheme}://{(parts.hostname or '').lower()}:{port}"
