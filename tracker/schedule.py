"""When each listing is due: intervals per listing, jitter, the adaptive option.

The interval of a listing is its product's ``interval``, else its site's, else
``[schedule] interval``. After a check the listing is next due at::

    checked_at + interval × (1 ± jitter)

(jitter spreads the checks of many listings over time). A failed check is
retried after ``retry_failed_after`` when that is sooner. With ``adaptive =
true`` the interval follows how often the listing's state changed in the last
14 days: no change doubles it, three or more halve it, always within
``min_interval`` and ``max_interval``.

What is due lives in the database (``listing_state.next_due_at``), so ``tracker
run --due`` from cron and the ``tracker serve`` daemon agree.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from tracker.config import Config

__all__ = ["ADAPTIVE_WINDOW", "interval_for", "next_due_at", "scheduler_for"]

ADAPTIVE_WINDOW = timedelta(days=14)


def interval_for(config: Config, *, product_id: str, url: str) -> timedelta:
    """The configured interval of one listing: product, else site, else default."""
    try:
        product_interval = config.product(product_id).interval
    except KeyError:
        product_interval = None
    if product_interval is not None:
        return product_interval
    site = config.site_for(url)
    if site is not None and site.interval is not None:
        return site.interval
    return config.schedule.interval


def next_due_at(
    config: Config,
    *,
    product_id: str,
    url: str,
    checked_at: datetime,
    failed: bool,
    recent_changes: int = 0,
    rng: random.Random | None = None,
) -> datetime:
    """When the listing is due again after a check at ``checked_at``."""
    s = config.schedule
    interval = interval_for(config, product_id=product_id, url=url)
    if s.adaptive:
        if recent_changes == 0:
            interval *= 2
        elif recent_changes >= 3:
            interval /= 2
        interval = min(max(interval, s.min_interval), s.max_interval)
    if failed:
        interval = min(interval, s.retry_failed_after)
    if s.jitter:
        interval *= 1 + (rng or random).uniform(-s.jitter, s.jitter)
    return checked_at + interval


def scheduler_for(
    config: Config, recent_changes: Mapping[int, int]
) -> Callable[[int, str, str, datetime, bool], datetime]:
    """A function (listing id, product id, url, checked at, failed) -> next due time."""

    def schedule(
        listing_id: int, product_id: str, url: str, checked_at: datetime, failed: bool
    ) -> datetime:
        return next_due_at(
            config,
            product_id=product_id,
            url=url,
            checked_at=checked_at,
            failed=failed,
            recent_changes=recent_changes.get(listing_id, 0),
        )

    return schedule
