"""Reading one fetched page, and ``tracker check``: price and availability of pages
without the database.

The run (``tracker.pipeline``) reads each fetched page with ``extract_args`` and
``failure_of``; ``check`` reads URLs, saved pages and Amazon ASINs the same way and
records nothing. This module needs no database, so ``tracker check`` starts without
loading SQLAlchemy.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

from tracker.amazon import (
    AmazonItem,
    AmazonSettings,
    CreatorsClient,
    asin_from_url,
    is_amazon_url,
    normalize_asin,
)
from tracker.config import Config
from tracker.errors import ConfigError
from tracker.extract import extract
from tracker.fetch import Fetcher, FetchResult
from tracker.models import Offer, PageStatus
from tracker.money import format_amount

__all__ = [
    "AMAZON_NOT_CONFIGURED",
    "CheckReport",
    "amazon_settings",
    "check",
    "extract_args",
    "failure_of",
    "read_page",
]

log = logging.getLogger(__name__)

AMAZON_NOT_CONFIGURED = (
    "Amazon prices and availability may only come from Amazon's Creators API: add an "
    "[amazon] table to the configuration (credential_id, credential_version, partner_tags) "
    "and put the credential secret in the environment variable $TRACKER_AMAZON_SECRET "
    '(or the one credential_secret_env names); see README, "Amazon listings"'
)


def read_page(fetched: FetchResult, *, config: Config, currency: str | None = None) -> Offer | None:
    """Extract the offer from a fetched page (``None`` when there is no page to read)."""
    args = extract_args(fetched, config=config, currency=currency)
    return extract(fetched.body, **args) if args is not None else None


def extract_args(
    fetched: FetchResult, *, config: Config, currency: str | None
) -> dict[str, Any] | None:
    """``extract``'s keyword arguments for a fetched page; None when there is nothing to read."""
    if fetched.not_modified or not fetched.body:
        return None
    if fetched.failure not in (None, "http_error", "gone"):
        return None
    site = config.site_for(fetched.final_url)
    return {
        "url": fetched.final_url,
        "content_type": fetched.content_type,
        "rules": site.rules if site else None,
        "currency_hint": currency or (site.currency if site else None),
        "http_status": fetched.status,
    }


def failure_of(
    fetched: FetchResult, offer: Offer | None, *, product_name: str | None = None
) -> tuple[str | None, str | None]:
    """The failure kind and message of a check, or ``(None, None)`` when it succeeded."""
    if offer is not None and offer.status is PageStatus.blocked:
        return "blocked", offer.reason or "the shop answered with a robot check"
    if fetched.failure:
        return fetched.failure, fetched.error
    if fetched.not_modified:
        return None, None
    moved = _redirected_elsewhere(fetched, offer, product_name)
    if moved:
        return "redirected", f"redirected to {moved} ({fetched.final_url})"
    if offer is None:
        return "no_price", "empty page"
    if offer.status is PageStatus.gone:
        return "gone", offer.reason
    if offer.status is PageStatus.error:
        return "extract_error", offer.reason
    if offer.status is PageStatus.no_price and (
        offer.availability is None or offer.availability.purchasable
    ):
        # an "in stock" page without a price we trust (0.00, an absurd number) is no
        # new state: it would take the last good price off the guides
        return "no_price", offer.reason or "no price we trust on the page"
    return None, None


_SEARCH_PATHS = ("/search", "/s", "/catalogsearch", "/suche", "/recherche", "/buscar")
_SEARCH_KEYS = {"q", "query", "s", "k", "search", "keyword", "keywords", "term"}
_WORD = re.compile(r"[a-z0-9]{3,}|[^\W\d_]{2,}")
_FILLER = {"the", "and", "for", "with", "new", "buy", "shop", "online", "sale", "price"}


def _redirected_elsewhere(
    fetched: FetchResult, offer: Offer | None, product_name: str | None
) -> str | None:
    """Where a redirect took a product page if not to the product: the shop's home
    page, a search or listing page, or (by its title) another product."""
    if fetched.final_url == fetched.url:
        return None
    before, after = urlsplit(fetched.url), urlsplit(fetched.final_url)
    if before.path.rstrip("/") == after.path.rstrip("/"):
        return None  # http→https, www, a trailing slash, a query: the same page
    if after.path in ("", "/") and before.path not in ("", "/"):
        return "the shop's home page"
    keys = {k.lower() for k, _ in parse_qsl(after.query, keep_blank_values=True)}
    path = after.path.lower().rstrip("/")
    if path in _SEARCH_PATHS or any(path.startswith(p + "/") for p in _SEARCH_PATHS):
        return "a search page"
    if keys & _SEARCH_KEYS:
        return "a search page"
    if ("/collections/" in path and "/products/" not in path) or path.endswith("/category"):
        return "a listing page"
    if product_name and offer is not None and offer.title:
        wanted = _words(product_name)
        if wanted and not wanted & _words(offer.title):
            return f"another product ({offer.title[:60]!r})"
    return None


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _FILLER}


def amazon_settings(config: Config) -> AmazonSettings:
    """The Creators API settings with their secret; ``ConfigError`` saying what to set."""
    if config.amazon is None:
        raise ConfigError(AMAZON_NOT_CONFIGURED)
    return config.amazon.with_secret()


@dataclass(frozen=True, slots=True)
class CheckReport:
    """What ``tracker check`` says about one input."""

    input: str
    status: str  # ok | no_price | blocked | gone | error
    offer: Offer | None = None
    error: str | None = None
    host_delay: float | None = None

    @property
    def problem(self) -> str | None:
        """What went wrong: the error, else the page's reason when it is not ``ok``."""
        o = self.offer
        return self.error or (o.reason if o and self.status != "ok" else None)

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
            "error": self.problem,
        }

    def describe(self) -> str:
        """One human line for ``tracker check``."""
        o = self.offer
        parts = [f"{self.input}: {self.status}"]
        if o is not None:
            if o.price is not None:
                amount = format_amount(o.price, o.currency)
                parts.append(f"price {amount} {o.currency or '(currency unknown)'}")
            if o.availability is not None:
                parts.append(o.availability.value)
            if o.method:
                parts.append(f"via {o.method}")
            if o.title:
                parts.append(repr(o.title[:80]))
        if self.host_delay:
            parts.append(f"host delay {self.host_delay:g}s")
        if self.problem:
            parts.append(f"({self.problem})")
        return "; ".join(parts)


def check(
    inputs: Sequence[str],
    *,
    config: Config,
    transport: httpx.AsyncBaseTransport | None = None,
) -> Iterator[CheckReport]:
    """Extract each input (a URL or a local file), in input order, without the database.

    An Amazon product URL or a bare ASIN is priced through the Creators API (never by
    fetching Amazon's page) when ``[amazon]`` is configured, and otherwise reported as
    an error that says how to configure it.
    """
    for start in range(0, len(inputs), 64):
        chunk = inputs[start : start + 64]
        yield from asyncio.run(_check_chunk(chunk, config, transport))


async def _check_chunk(
    inputs: Sequence[str], config: Config, transport: httpx.AsyncBaseTransport | None
) -> list[CheckReport]:
    reports: dict[int, CheckReport] = {}
    amazon: dict[int, tuple[str, str]] = {}  # input index -> (ASIN, marketplace)
    for i, item in enumerate(inputs):
        found = _amazon_input(item, config)
        if isinstance(found, CheckReport):
            reports[i] = found
        elif found is not None:
            amazon[i] = found
    pages = [i for i in range(len(inputs)) if i not in reports and i not in amazon]
    async with Fetcher(config, transport=transport) as fetcher:
        checked, priced = await asyncio.gather(
            asyncio.gather(*(_check_one(inputs[i], config, fetcher) for i in pages)),
            _check_amazon(inputs, amazon, config),
        )
    reports.update(zip(pages, checked, strict=True))
    reports.update(priced)
    return [reports[i] for i in range(len(inputs))]


def _amazon_input(item: str, config: Config) -> tuple[str, str] | CheckReport | None:
    """(ASIN, marketplace) for an Amazon product URL or a bare ASIN; a report for an
    Amazon page that is not a product page; None for anything else."""
    text = item.strip()
    if urlsplit(text).scheme in ("http", "https"):
        if not is_amazon_url(text):
            return None
        found = asin_from_url(text)
        if found is None:
            return CheckReport(
                item,
                "error",
                error="not an Amazon product page (no /dp/ASIN in it): Amazon prices come "
                "only from its Creators API, for an ASIN",
            )
        return found
    asin = normalize_asin(text)
    if asin is None or Path(text).exists():  # a saved page named like an ASIN stays a file
        return None
    tags = config.amazon.partner_tags if config.amazon else {}
    return asin, next(iter(tags), "www.amazon.com")


async def _check_amazon(
    inputs: Sequence[str], targets: dict[int, tuple[str, str]], config: Config
) -> dict[int, CheckReport]:
    if not targets:
        return {}
    try:
        settings = amazon_settings(config)
    except ConfigError as exc:
        return {i: CheckReport(inputs[i], "error", error=str(exc)) for i in targets}
    by_market: dict[str, list[int]] = defaultdict(list)
    for i, (_, market) in targets.items():
        by_market[market].append(i)
    out: dict[int, CheckReport] = {}
    try:
        async with CreatorsClient(settings=settings, user_agent=config.tracker.user_agent) as c:
            for market, indexes in by_market.items():
                items = await c.get_items([targets[i][0] for i in indexes], marketplace=market)
                for i in indexes:
                    out[i] = _amazon_report(inputs[i], items[targets[i][0]])
    except Exception as exc:  # never let one input stop the others
        log.exception("internal error pricing %d ASINs", len(targets))
        error = f"internal error: {type(exc).__name__}: {exc}"
        for i in targets:
            out.setdefault(i, CheckReport(inputs[i], "error", error=error))
    return out


def _amazon_report(item: str, found: AmazonItem) -> CheckReport:
    if found.failure is not None or found.offer is None:
        return CheckReport(item, "error", error=f"{found.failure or 'amazon_error'}: {found.error}")
    return CheckReport(item, found.offer.status.value, found.offer)


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
