"""What a guide shows for each product: its price band, its Buy link, its
availability, and the time of the checks behind them. Pure functions, no I/O.

The rules, as documented in the README:

* A listing's price is **current** when its listing is in the guide's currency,
  purchasable (schema.org InStock, LimitedAvailability, PreOrder, BackOrder, …),
  and the last check that confirmed it is younger than the guide's maximum age for
  that retailer (``max_age``, e.g. ``amazon = "24h"``).
* **Band** = the band of the lowest current price, with hysteresis: once a
  product is in a band, the price must pass a threshold by more than
  ``hysteresis`` (a fraction of the threshold) before the band changes, so a
  price hovering at a threshold does not flip the band back and forth.
* **Buy** = the listing with the lowest current price (for an Amazon-sourced
  listing the API's ``detailPageURL``, else its ``affiliate_url`` when set).
  With no current price: "Currently unavailable" when every fresh listing says
  out of stock, "—" when nothing fresh is known. The band then falls back to
  "—": a stale price is never shown as current.
* **As of** = the oldest check behind any value shown: for each product, the
  oldest of the fresh checks its band and Buy link were chosen from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from tracker.config import Bands, Guide, Product
from tracker.models import Availability

__all__ = [
    "AVAILABLE",
    "UNAVAILABLE",
    "UNKNOWN",
    "CurrentListing",
    "ListingView",
    "ProductView",
    "choose_band",
    "product_view",
]

AVAILABLE = "available"
UNAVAILABLE = "unavailable"
UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class CurrentListing:
    """A listing with its current state, as the store knows it."""

    listing_id: int
    product_id: str
    retailer: str
    url: str
    affiliate_url: str | None
    price: Decimal | None
    currency: str | None
    availability: Availability | None
    confirmed_at: datetime | None  # the last check that saw this state
    last_checked_at: datetime | None
    failing: bool = False
    buy_url: str | None = None  # the link the last successful check gave (Amazon's API)
    marketplace: str | None = None  # set when priced through the Amazon Creators API

    @property
    def amazon(self) -> bool:
        return self.marketplace is not None

    @property
    def affiliate_link(self) -> str | None:
        """The paid link, if any: Amazon's detailPageURL (it carries the partner tag),
        else the configured affiliate URL."""
        return self.buy_url or self.affiliate_url


@dataclass(frozen=True, slots=True)
class ListingView:
    listing: CurrentListing
    fresh: bool
    current: bool  # fresh, purchasable, priced in the guide's currency

    @property
    def buy_url(self) -> str:
        return self.listing.affiliate_link or self.listing.url


@dataclass(frozen=True, slots=True)
class ProductView:
    product: Product
    status: str  # available | unavailable | unknown
    band_index: int | None
    band: str | None
    best: ListingView | None
    listings: tuple[ListingView, ...]
    checked_at: datetime | None  # the oldest check behind what is shown
    low_price: Decimal | None
    high_price: Decimal | None
    offer_count: int

    @property
    def amazon_marketplaces(self) -> tuple[str, ...]:
        """The Amazon marketplaces behind what this product shows: a current Amazon
        price (the band, the Buy link, the offers' price range) or Amazon's
        out-of-stock behind "Currently unavailable"."""
        if self.status == AVAILABLE:
            shown = [v for v in self.listings if v.current]
        elif self.status == UNAVAILABLE:
            shown = [v for v in self.listings if v.fresh]
        else:
            shown = []
        found = (v.listing.marketplace for v in shown if v.listing.marketplace)
        return tuple(sorted(set(found)))

    @property
    def availability(self) -> Availability | None:
        if self.status == AVAILABLE:
            return Availability.InStock
        if self.status == UNAVAILABLE:
            return Availability.OutOfStock
        return None

    def display(self) -> tuple[object, ...]:
        """Exactly what a reader sees; a change here means the guide must be re-rendered."""
        best = self.best
        return (
            self.product.id,
            self.product.name,
            self.product.top_strength,
            self.product.key_weakness,
            self.status,
            self.band,
            best.listing.retailer if best else None,
            best.buy_url if best else None,
        )


def choose_band(bands: Bands, price: Decimal, *, previous: int | None, hysteresis: Decimal) -> int:
    """The band of ``price``; leaving ``previous`` needs a margin past the threshold."""
    raw = bands.band_of(price)
    if previous is None or raw == previous or not 0 <= previous <= len(bands.limits):
        return raw
    up = next(
        (i for i, limit in enumerate(bands.limits) if price < limit * (1 + hysteresis)),
        len(bands.limits),
    )
    down = next(
        (i for i, limit in enumerate(bands.limits) if price < limit * (1 - hysteresis)),
        len(bands.limits),
    )
    if up > previous:
        return up
    if down < previous:
        return down
    return previous


def product_view(
    guide: Guide,
    product: Product,
    listings: Sequence[CurrentListing],
    *,
    now: datetime,
    previous_band: int | None = None,
) -> ProductView:
    """What ``guide`` shows for ``product`` at ``now``."""
    views = []
    for listing in listings:
        confirmed = listing.confirmed_at
        is_fresh = confirmed is not None and now - confirmed <= guide.max_age_for(listing.retailer)
        is_current = (
            is_fresh
            and listing.price is not None
            and listing.currency == guide.currency
            and listing.availability is not None
            and listing.availability.purchasable
        )
        views.append(ListingView(listing=listing, fresh=is_fresh, current=bool(is_current)))
    current = [v for v in views if v.current]
    fresh = [v for v in views if v.fresh]
    if current:
        best = min(current, key=lambda v: (v.listing.price, v.listing.listing_id))
        price = best.listing.price
        assert price is not None
        index = choose_band(guide.bands, price, previous=previous_band, hysteresis=guide.hysteresis)
        prices = [v.listing.price for v in current if v.listing.price is not None]
        return ProductView(
            product=product,
            status=AVAILABLE,
            band_index=index,
            band=guide.bands.labels[index],
            best=best,
            listings=tuple(views),
            checked_at=_oldest(fresh),
            low_price=min(prices),
            high_price=max(prices),
            offer_count=len(current),
        )
    says_out = [
        v
        for v in fresh
        if v.listing.availability is not None and not v.listing.availability.purchasable
    ]
    return ProductView(
        product=product,
        status=UNAVAILABLE if says_out else UNKNOWN,
        band_index=None,
        band=None,
        best=None,
        listings=tuple(views),
        checked_at=_oldest(fresh) if says_out else None,
        low_price=None,
        high_price=None,
        offer_count=0,
    )


def _oldest(views: Sequence[ListingView]) -> datetime | None:
    times = [v.listing.confirmed_at for v in views if v.listing.confirmed_at is not None]
    return min(times) if times else None
