"""The feed the publishing pipeline reads: ``latest.json``.

Versioned (``"version": 1``) and described by ``tracker/schemas/latest-v1.schema.json``.
Written atomically, and only when its content (everything but ``generated_at``)
changed, so the pipeline can watch its modification time.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from tracker.bands import CurrentListing, ProductView
from tracker.config import Config
from tracker.errors import RenderError
from tracker.money import format_amount
from tracker.render import GuideView, atomic_write, guide_views, safe_url
from tracker.store import Store

__all__ = ["FEED_VERSION", "build_feed", "schema_text", "write_feed"]

FEED_VERSION = 1


def _time(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value else None


def _affiliate(listing: CurrentListing) -> str | None:
    """The paid link readers get (``CurrentListing.affiliate_link``), made safe."""
    link = listing.affiliate_link
    return safe_url(link) if link else None


def _product(p: ProductView, currency: str) -> dict[str, Any]:
    best = p.best
    return {
        "id": p.product.id,
        "name": p.product.name,
        "band": p.band,
        "status": p.status,
        "availability": p.availability.value if p.availability else None,
        "lowest_price": format_amount(p.low_price, currency) if p.low_price is not None else None,
        "currency": currency,
        "best_listing": None
        if best is None
        else {
            "retailer": best.listing.retailer,
            "url": safe_url(best.listing.url),
            "affiliate_url": _affiliate(best.listing),
        },
        "checked_at": _time(p.checked_at),
        "listings": [
            {
                "retailer": v.listing.retailer,
                "url": safe_url(v.listing.url),
                "affiliate_url": _affiliate(v.listing),
                # an Amazon price older than the guide allows (24 h at most) is not passed on
                "price": format_amount(v.listing.price, v.listing.currency)
                if v.listing.price is not None and (v.fresh or not v.listing.amazon)
                else None,
                "currency": v.listing.currency,
                "availability": v.listing.availability.value if v.listing.availability else None,
                "last_check": _time(v.listing.last_checked_at),
                "confirmed_at": _time(v.listing.confirmed_at),
                "stale": not v.fresh,
                "current": v.current,
                "failing": v.listing.failing,
            }
            for v in p.listings
        ],
    }


def _guide(view: GuideView) -> dict[str, Any]:
    return {
        "id": view.guide.id,
        "title": view.guide.title,
        "currency": view.guide.currency,
        "as_of": _time(view.as_of),
        "products": [_product(p, view.guide.currency) for p in view.products],
    }


def build_feed(config: Config, store: Store, *, now: datetime) -> dict[str, Any]:
    """The feed's content at ``now``."""
    # hysteresis: bands move from the ones each guide last showed
    shown = [_guide(view) for view, _ in guide_views(config, store, config.guides, now=now)]
    return {"version": FEED_VERSION, "generated_at": _time(now), "guides": shown}


def write_feed(config: Config, store: Store, *, now: datetime, path: Path | None = None) -> bool:
    """Write ``latest.json`` when its content changed; True when written."""
    target = path or config.feed
    if target is None:
        raise RenderError("no feed path: set [tracker] feed in the configuration")
    feed = build_feed(config, store, now=now)
    try:
        old = json.loads(target.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        old = None
    if isinstance(old, dict) and {**old, "generated_at": None} == {**feed, "generated_at": None}:
        return False
    atomic_write(target, (json.dumps(feed, indent=2, ensure_ascii=False) + "\n").encode())
    return True


def schema_text() -> str:
    """The JSON Schema of the feed."""
    return (resources.files("tracker") / "schemas" / "latest-v1.schema.json").read_text(
        encoding="utf-8"
    )
