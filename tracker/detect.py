"""Detect changes that need a human before they are published (quarantine).

A new state of a listing is held back when, compared with its published state:

* its price moved by more than ``[quarantine] max_change`` (default 50%) in one step;
* its currency changed (``currency_change``, default on);
* its price is under the product's ``price_floor``.

Held states are recorded (the history keeps them) but guides and the feed keep
showing the published state until an editor runs ``tracker approve ID`` or
``tracker reject ID``.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from tracker.config import Config
from tracker.models import Offer
from tracker.money import format_amount
from tracker.store import PriceSeen, QuarantinePolicy

__all__ = ["quarantine_policy", "suspicious"]


def suspicious(
    previous: PriceSeen | None,
    offer: Offer,
    *,
    max_change: Decimal,
    currency_change: bool,
    floor: Decimal | None,
) -> str | None:
    """Why ``offer`` should wait for an editor, or None."""
    price, currency = offer.price, offer.currency
    if price is None:
        return None
    if floor is not None and price < floor:
        return (
            f"price {format_amount(price, currency)} {currency or ''} is under the product's "
            f"floor of {format_amount(floor, currency)}"
        ).replace("  ", " ")
    if previous is None or previous.price is None:
        return None
    if currency_change and previous.currency and currency and previous.currency != currency:
        return f"currency changed from {previous.currency} to {currency}"
    if previous.currency == currency and previous.price > 0:
        change = (price - previous.price) / previous.price
        if abs(change) > max_change:
            return (
                f"price moved {change:+.0%} in one step "
                f"({format_amount(previous.price, currency)} → {format_amount(price, currency)}; "
                f"limit ±{max_change:.0%})"
            )
    return None


def quarantine_policy(config: Config, product_of: Mapping[int, str]) -> QuarantinePolicy | None:
    """The policy ``Store.record`` applies; ``product_of`` maps listing ids to products
    (it may grow while the run goes on)."""
    settings = config.quarantine
    if not settings.enabled:
        return None
    floors = {p.id: p.price_floor for p in config.products}

    def floor_of(listing_id: int) -> Decimal | None:
        product = product_of.get(listing_id)
        return floors.get(product) if product else None

    def policy(listing_id: int, previous: PriceSeen | None, offer: Offer) -> str | None:
        return suspicious(
            previous,
            offer,
            max_change=settings.max_change,
            currency_change=settings.currency_change,
            floor=floor_of(listing_id),
        )

    return policy
