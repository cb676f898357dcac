"""Read and validate ``config.toml`` into frozen, typed objects.

Every error names the key path (``products[1].listings[0].url: must be an
http(s) URL``) and unknown keys are rejected, so a typo never silently turns a
setting off. Relative paths in the file (the SQLite database, templates,
outputs) are relative to the file itself.

Which file: ``--config PATH``, else ``$TRACKER_CONFIG``, else ``./config.toml``.
``$TRACKER_DATABASE_URL``, when set, overrides ``[tracker] database`` (so a
password need not live in the file).

``[amazon]`` holds the Creators API credentials (``tracker.amazon``). Its secret is
read from the environment variable it names only when it is there; a missing secret
fails the Amazon listings when they are checked, never ``render`` or ``report``.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import tomli

from tracker import __version__
from tracker.amazon import (
    MAX_PRICE_AGE,
    AmazonSettings,
    asin_from_url,
    is_amazon_url,
    marketplace_of,
    normalize_asin,
    parse_amazon_settings,
)
from tracker.errors import ConfigError
from tracker.models import Availability, SiteRules

__all__ = [
    "AMAZON",
    "DEFAULT_USER_AGENT",
    "PAGE",
    "Bands",
    "Config",
    "EmailSettings",
    "FetchSettings",
    "Guide",
    "GuideOutput",
    "Listing",
    "Product",
    "QuarantineSettings",
    "ReportSettings",
    "ScheduleSettings",
    "Site",
    "TrackerSettings",
    "config_path",
    "load_config",
    "parse_config",
]

DEFAULT_USER_AGENT = (
    f"tracker/{__version__} (price and availability checks for buying guides; respects robots.txt)"
)
DEFAULT_DATABASE = "sqlite:///db/tracker.sqlite3"
DEFAULT_MAX_AGE = timedelta(hours=72)
DEFAULT_REFRESH_AFTER = timedelta(hours=24)
DEFAULT_AS_OF_FORMAT = "%B %-d, %Y, %-I:%M %p %Z"
_ID_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
PAGE, AMAZON = "page", "amazon"  # where a listing's price comes from

log = logging.getLogger(__name__)
_CURRENCY_RE = re.compile(r"^[A-Z]{3}$")


@dataclass(frozen=True, slots=True)
class TrackerSettings:
    database: str = DEFAULT_DATABASE
    user_agent: str = DEFAULT_USER_AGENT
    timezone: str = "UTC"


@dataclass(frozen=True, slots=True)
class FetchSettings:
    """How politely and patiently pages are fetched. Times are in seconds."""

    timeout: float = 20.0
    concurrency: int = 8
    per_host_concurrency: int = 2
    per_host_delay: float = 1.0
    max_body_bytes: int = 5_000_000
    respect_robots: bool = True
    retries: int = 2
    backoff: float = 1.0  # first retry waits about this long, doubling each time
    retry_after_cap: float = 60.0  # the longest Retry-After honoured
    max_redirects: int = 5
    # share per-host limits with every worker on the database (None: with PostgreSQL)
    shared_politeness: bool | None = None
    # processes that read pages beside the fetching one (None: one per other CPU core,
    # on runs of at least 200 pages; 0: read pages in a thread of the run's process)
    extract_processes: int | None = None
    # processes a big `tracker run` splits its hosts between, each fetching, reading and
    # recording its own (None: one per CPU core; 1: one process)
    processes: int | None = None


# The [fetch] keys a [[sites]] entry may override.
_SITE_FETCH_KEYS = (
    "timeout",
    "per_host_concurrency",
    "per_host_delay",
    "max_body_bytes",
    "respect_robots",
    "retries",
)


@dataclass(frozen=True, slots=True)
class Site:
    """Settings for one shop's domain (and its subdomains)."""

    match: str
    rules: SiteRules | None = None
    currency: str | None = None
    fetch: Mapping[str, Any] = field(default_factory=dict)
    interval: timedelta | None = None

    def matches(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        return host == self.match or host.endswith("." + self.match)


@dataclass(frozen=True, slots=True)
class Listing:
    """One retailer page for a product.

    ``source`` says where its price comes from: ``"page"`` (fetch and read ``url``)
    or ``"amazon"`` (the Creators API, for ``asin`` on ``marketplace``).
    """

    retailer: str
    url: str
    affiliate_url: str | None = None
    currency: str | None = None
    source: str = PAGE
    asin: str | None = None  # set when source is "amazon"
    marketplace: str | None = None  # e.g. "www.amazon.com", set when source is "amazon"

    @property
    def is_amazon(self) -> bool:
        return self.source == AMAZON


@dataclass(frozen=True, slots=True)
class Product:
    id: str
    name: str
    listings: tuple[Listing, ...] = ()
    # editorial fields shown in guides
    top_strength: str | None = None
    key_weakness: str | None = None
    price_floor: Decimal | None = None  # a price under this is suspicious
    interval: timedelta | None = None  # how often its listings are checked


@dataclass(frozen=True, slots=True)
class Bands:
    """Price bands in one currency: ``labels[i]`` below ``limits[i]``, the last above."""

    currency: str
    limits: tuple[Decimal, ...]
    labels: tuple[str, ...]

    def band_of(self, price: Decimal) -> int:
        return next((i for i, limit in enumerate(self.limits) if price < limit), len(self.limits))


@dataclass(frozen=True, slots=True)
class GuideOutput:
    path: Path
    template: str  # a template name under the templates folder


@dataclass(frozen=True, slots=True)
class Guide:
    """A published page whose price column, Buy column and as-of line tracker keeps."""

    id: str
    title: str
    products: tuple[str, ...]
    currency: str
    bands: Bands
    outputs: tuple[GuideOutput, ...] = ()
    inplace: tuple[Path, ...] = ()
    hysteresis: Decimal = Decimal("0.03")
    max_age: Mapping[str, timedelta] = field(default_factory=dict)  # retailer (lower) -> age
    default_max_age: timedelta = DEFAULT_MAX_AGE
    refresh_after: timedelta = DEFAULT_REFRESH_AFTER
    timezone: str = "UTC"
    as_of_format: str = DEFAULT_AS_OF_FORMAT
    disclaimer: str | None = None

    def max_age_for(self, retailer: str) -> timedelta:
        return self.max_age.get(retailer.lower(), self.default_max_age)


@dataclass(frozen=True, slots=True)
class QuarantineSettings:
    """Which changes wait for an editor before they reach a guide."""

    enabled: bool = True
    max_change: Decimal = Decimal("0.5")  # a price move larger than this fraction in one step
    currency_change: bool = True  # a listing's currency changing


@dataclass(frozen=True, slots=True)
class EmailSettings:
    host: str
    sender: str
    recipients: tuple[str, ...]
    port: int = 587
    starttls: bool = True
    username: str | None = None
    password_env: str | None = None  # the environment variable holding the password
    timeout: float = 30.0


@dataclass(frozen=True, slots=True)
class ReportSettings:
    stale_after: timedelta = timedelta(hours=48)  # a listing not checked successfully for this long
    timezone: str = "UTC"
    email: EmailSettings | None = None
    webhook: str | None = None


@dataclass(frozen=True, slots=True)
class ScheduleSettings:
    """When listings are due, and what ``tracker serve`` runs."""

    interval: timedelta = timedelta(hours=6)
    jitter: float = 0.1  # ± this fraction of the interval, so checks spread out
    retry_failed_after: timedelta = timedelta(hours=1)
    adaptive: bool = False
    min_interval: timedelta = timedelta(hours=1)
    max_interval: timedelta = timedelta(hours=24)
    lease: timedelta = timedelta(minutes=15)
    claim_batch: int = 200  # listings claimed at a time (several workers share the rest)
    tick: timedelta = timedelta(seconds=60)
    misfire_grace: timedelta = timedelta(minutes=5)
    report_cron: str | None = "0 8 * * *"
    report_format: str = "html"
    report_output: Path | None = None
    prune_after: timedelta = timedelta(days=30)
    alert_after: timedelta = timedelta(hours=12)
    stop_timeout: timedelta = timedelta(seconds=30)


@dataclass(frozen=True, slots=True)
class Config:
    path: Path | None
    tracker: TrackerSettings = TrackerSettings()
    fetch: FetchSettings = FetchSettings()
    sites: tuple[Site, ...] = ()
    products: tuple[Product, ...] = ()
    guides: tuple[Guide, ...] = ()
    quarantine: QuarantineSettings = QuarantineSettings()
    schedule: ScheduleSettings = ScheduleSettings()
    report: ReportSettings = ReportSettings()
    templates: Path | None = None  # the folder guide templates are looked up in first
    feed: Path | None = None  # where `latest.json` is written
    amazon: AmazonSettings | None = None  # [amazon]: Creators API credentials

    def product(self, product_id: str) -> Product:
        """The product with this id (KeyError if none); a dict lookup, built once."""
        return _index(self.products).by_id[product_id]

    @property
    def base_dir(self) -> Path:
        return self.path.parent if self.path else Path.cwd()

    def site_for(self, url: str) -> Site | None:
        """The most specific ``[[sites]]`` entry whose domain matches ``url``."""
        host = urlsplit(url).hostname or ""
        found = [s for s in self.sites if s.matches(host)]
        return max(found, key=lambda s: len(s.match)) if found else None

    def fetch_for(self, url: str) -> FetchSettings:
        """The fetch settings for ``url``: ``[fetch]`` with its site's overrides."""
        return self.fetch_of(self.site_for(url))

    def fetch_of(self, site: Site | None) -> FetchSettings:
        """The fetch settings of a ``[[sites]]`` entry: ``[fetch]`` with its overrides
        (``None``: ``[fetch]`` itself)."""
        if site is None or not site.fetch:
            return self.fetch
        return replace(self.fetch, **dict(site.fetch))

    def iter_listings(self) -> Iterator[tuple[Product, Listing]]:
        for product in self.products:
            for listing in product.listings:
                yield product, listing

    def amazon_listings(self) -> Mapping[tuple[str, str], Listing]:
        """The listings priced through the Creators API, by (product id, URL); built once."""
        return _index(self.products).amazon


@dataclass(frozen=True, slots=True)
class _Index:
    products: tuple[Product, ...]
    by_id: dict[str, Product]
    amazon: Mapping[tuple[str, str], Listing]


_INDEXES: dict[int, _Index] = {}


def _index(products: tuple[Product, ...]) -> _Index:
    """Lookups over the products, built once per configuration (keyed by identity, not
    by hash: hashing every product would cost as much as the scan it replaces)."""
    cached = _INDEXES.get(id(products))
    if cached is None or cached.products is not products:
        if len(_INDEXES) > 16:
            _INDEXES.clear()
        amazon = {(p.id, x.url): x for p in products for x in p.listings if x.is_amazon}
        cached = _INDEXES[id(products)] = _Index(
            products, {p.id: p for p in products}, MappingProxyType(amazon)
        )
    return cached


def config_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """``--config``, else ``$TRACKER_CONFIG``, else ``./config.toml``."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("TRACKER_CONFIG")
    return Path(env) if env else Path("config.toml")


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Read and validate a configuration file."""
    p = config_path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError as exc:
        raise ConfigError(
            f"{p}: configuration file not found; pass --config PATH or set TRACKER_CONFIG"
        ) from exc
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read the configuration file: {exc.strerror}") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{p}: not UTF-8 text (byte {exc.start})") from exc
    return parse_config(text, path=p.resolve())


def parse_config(text: str, *, path: Path | None = None) -> Config:
    """Validate TOML text; relative paths are taken relative to ``path``'s folder."""
    where = str(path) if path else "<config>"
    try:
        data = tomli.loads(text)
    except tomli.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: invalid TOML: {exc}") from exc
    root = _Table(data, "")
    base = path.parent if path else Path.cwd()
    tracker_t = root.table("tracker")
    templates = _path(tracker_t, "templates", base, default="templates")
    feed = _path(tracker_t, "feed", base, default="site/latest.json")
    tracker = _tracker_settings(tracker_t, base)
    fetch = _fetch_settings(root.table("fetch"))
    sites = tuple(_site(t) for t in root.array("sites"))
    amazon = _amazon(root)
    products = tuple(_product(t) for t in root.array("products"))
    _check_unique(products)
    _check_amazon(products, amazon)
    guides = tuple(_guide(t, base, tracker.timezone, products) for t in root.array("guides"))
    quarantine = _quarantine(root.table("quarantine"))
    report = _report(root.table("report"), tracker.timezone)
    schedule = _schedule(root.table("schedule"), base)
    root.done()
    _check_unique_guides(guides)
    return Config(
        path=path,
        tracker=tracker,
        fetch=fetch,
        sites=sites,
        products=products,
        guides=guides,
        quarantine=quarantine,
        report=report,
        schedule=schedule,
        templates=templates,
        feed=feed,
        amazon=amazon,
    )


# -- validation helpers -----------------------------------------------------------------------


class _Table:
    """A TOML table being read: tracks the key path and which keys were used."""

    def __init__(self, data: Mapping[str, Any], path: str) -> None:
        self.data = data
        self.path = path
        self.used: set[str] = set()

    def key(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def error(self, name: str, message: str) -> ConfigError:
        return ConfigError(f"{self.key(name)}: {message}")

    def get(self, name: str, kind: type | tuple[type, ...], default: Any = None) -> Any:
        self.used.add(name)
        if name not in self.data:
            return default
        value = self.data[name]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        # bool is an int in Python; never accept it where a number is wanted
        if isinstance(value, bool) and bool not in kinds:
            raise self.error(name, f"must be {_kind_name(kinds)}, not a boolean")
        if not isinstance(value, kinds):
            raise self.error(name, f"must be {_kind_name(kinds)}, not {_describe(value)}")
        return value

    def require(self, name: str, kind: type) -> Any:
        if name not in self.data:
            raise self.error(name, "is required")
        return self.get(name, kind)

    def text(self, name: str, default: str | None = None, *, required: bool = False) -> Any:
        value = self.require(name, str) if required else self.get(name, str, default)
        if isinstance(value, str):
            if not value.strip():
                raise self.error(name, "must not be empty")
            # a copy: the document's own strings lie among the parser's discarded
            # tables and would keep their memory from being given back (100,000
            # listings: 32 MB)
            return value.encode("utf-8", "surrogatepass").decode("utf-8", "surrogatepass")
        return value

    def number(self, name: str, default: float, *, minimum: float = 0.0) -> float:
        value = float(self.get(name, (int, float), default))
        if value < minimum:
            raise self.error(name, f"must be at least {minimum:g}")
        return value

    def integer(self, name: str, default: int, *, minimum: int = 0) -> int:
        value: int = self.get(name, int, default)
        if value < minimum:
            raise self.error(name, f"must be at least {minimum}")
        return value

    def table(self, name: str) -> _Table:
        return _Table(self.get(name, dict, {}), self.key(name))

    def array(self, name: str) -> Iterator[_Table]:
        items = self.get(name, list, [])
        for i, item in enumerate(items):
            key = f"{self.key(name)}[{i}]"
            if not isinstance(item, dict):
                raise ConfigError(f"{key}: must be a table, not {_describe(item)}")
            yield _Table(item, key)

    def done(self) -> None:
        unknown = sorted(set(self.data) - self.used)
        if unknown:
            known = ", ".join(sorted(self.used)) or "none"
            raise self.error(unknown[0], f"unknown key (known keys here: {known})")


def _kind_name(kinds: tuple[type, ...]) -> str:
    names = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}
    names |= {dict: "a table", list: "an array"}
    if set(kinds) == {int, float}:
        return "a number"
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    return {str: "a string", int: "an integer", float: "a number", dict: "a table"}.get(
        type(value), "an array" if isinstance(value, list) else type(value).__name__
    )


def _http_url(t: _Table, name: str, *, required: bool = False) -> str | None:
    value = t.text(name, required=required)
    if value is None:
        return None
    try:
        parts = urlsplit(value)
        valid = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        valid = False
    if not valid:
        raise t.error(name, f"must be an http(s) URL, got {value!r}")
    return str(value)


def _currency(t: _Table, name: str) -> str | None:
    value = t.text(name)
    if value is not None and not _CURRENCY_RE.match(value):
        raise t.error(name, f"must be an ISO 4217 code such as USD or EUR, got {value!r}")
    return value if value is None else str(value)


def _tracker_settings(t: _Table, base: Path) -> TrackerSettings:
    database = t.text("database", DEFAULT_DATABASE)
    database = os.environ.get("TRACKER_DATABASE_URL") or database
    tz = t.text("timezone", "UTC")
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise t.error("timezone", f"unknown time zone {tz!r} (use an IANA name)") from exc
    ua = t.text("user_agent", DEFAULT_USER_AGENT)
    t.done()
    return TrackerSettings(database=_resolve_database(database, base), user_agent=ua, timezone=tz)


def _resolve_database(url: str, base: Path) -> str:
    """Make a relative SQLite path relative to the config file's folder."""
    prefix = next((p for p in ("sqlite:///", "sqlite+pysqlite:///") if url.startswith(p)), None)
    if prefix is None:
        return url
    rest = url[len(prefix) :]
    if not rest or rest.startswith((":memory:", "/")) or "mode=memory" in rest:
        return url
    return prefix + str((base / rest).resolve())


def _fetch_settings(t: _Table) -> FetchSettings:
    d = FetchSettings()
    settings = FetchSettings(
        timeout=t.number("timeout", d.timeout, minimum=0.1),
        concurrency=t.integer("concurrency", d.concurrency, minimum=1),
        per_host_concurrency=t.integer("per_host_concurrency", d.per_host_concurrency, minimum=1),
        per_host_delay=t.number("per_host_delay", d.per_host_delay),
        max_body_bytes=t.integer("max_body_bytes", d.max_body_bytes, minimum=1024),
        respect_robots=t.get("respect_robots", bool, d.respect_robots),
        retries=t.integer("retries", d.retries),
        backoff=t.number("backoff", d.backoff),
        retry_after_cap=t.number("retry_after_cap", d.retry_after_cap),
        max_redirects=t.integer("max_redirects", d.max_redirects),
        shared_politeness=t.get("shared_politeness", bool, None),
        extract_processes=(
            t.integer("extract_processes", 0, minimum=0) if "extract_processes" in t.data else None
        ),
        processes=t.integer("processes", 1, minimum=1) if "processes" in t.data else None,
    )
    t.done()
    return settings


def _site(t: _Table) -> Site:
    match = str(t.text("match", required=True)).lower().strip().rstrip(".")
    if "/" in match or ":" in match or " " in match:
        raise t.error("match", f"must be a domain such as shop.example.com, got {match!r}")
    currency = _currency(t, "currency")
    rules = None
    if "rules" in t.data:
        rules = _rules(t.table("rules"), name=match, currency=currency)
    overrides: dict[str, Any] = {}
    d = FetchSettings()
    for key in _SITE_FETCH_KEYS:
        if key in t.data:
            if key == "respect_robots":
                overrides[key] = t.get(key, bool)
            elif isinstance(getattr(d, key), int):
                overrides[key] = t.integer(key, getattr(d, key), minimum=1 if "max" in key else 0)
            else:
                overrides[key] = t.number(key, getattr(d, key))
    interval = _duration(t, "interval", timedelta(0)) if "interval" in t.data else None
    t.done()
    return Site(match=match, rules=rules, currency=currency, fetch=overrides, interval=interval)


def _rules(t: _Table, *, name: str, currency: str | None) -> SiteRules:
    selectors = {k: t.text(k) for k in ("price", "availability", "title")}
    amap_t = t.table("availability_map")
    amap: dict[str, Availability] = {}
    for text, value in amap_t.data.items():
        amap_t.used.add(text)
        try:
            amap[text.lower()] = Availability(value)
        except ValueError as exc:
            names = ", ".join(a.value for a in Availability)
            raise amap_t.error(text, f"must be a schema.org availability ({names})") from exc
    amap_t.done()
    t.done()
    return SiteRules(name=name, currency=currency, availability_map=amap, **selectors)


def _product(t: _Table) -> Product:
    pid = str(t.text("id", required=True))
    if not _ID_RE.match(pid):
        raise t.error("id", f"must be lower-case letters, digits, '.', '_' or '-' (got {pid!r})")
    name = str(t.text("name", required=True))
    listings = tuple(_listing(lt) for lt in t.array("listings"))
    floor = t.get("price_floor", (int, float, str))
    product = Product(
        id=pid,
        name=name,
        listings=listings,
        top_strength=t.text("top_strength"),
        key_weakness=t.text("key_weakness"),
        price_floor=None if floor is None else _decimal(t, "price_floor", floor),
        interval=_duration(t, "interval", timedelta(0)) if "interval" in t.data else None,
    )
    t.done()
    return product


def _listing(t: _Table) -> Listing:
    retailer = str(t.text("retailer", required=True))
    source = t.text("source", PAGE)
    if source not in (PAGE, AMAZON):
        raise t.error("source", f'must be "page" or "amazon", got {source!r}')
    if source == PAGE:
        for name in ("asin", "marketplace"):
            if name in t.data:
                raise t.error(name, 'only applies with source = "amazon"')
        url = str(_http_url(t, "url", required=True))
        if is_amazon_url(url):
            log.warning(
                "%s: an Amazon page tracked with the page source: Amazon allows showing its "
                "prices only when they come from its API (and answers scrapers with robot "
                'checks); set source = "amazon" and configure [amazon] '
                '(see README, "Amazon listings")',
                t.key("url"),
            )
        listing = Listing(
            retailer=retailer,
            url=url,
            affiliate_url=_http_url(t, "affiliate_url"),
            currency=_currency(t, "currency"),
        )
    else:
        listing = _amazon_listing(t, retailer)
    t.done()
    return listing


def _amazon_listing(t: _Table, retailer: str) -> Listing:
    """A listing priced through the Creators API: ``asin`` and ``marketplace``, given or
    read from an Amazon ``/dp/ASIN`` URL (``url`` defaults to that product page)."""
    url = _http_url(t, "url")
    from_url = asin_from_url(url) if url else None
    asin = from_url[0] if from_url else None
    marketplace = from_url[1] if from_url else None
    raw_asin = t.text("asin")
    if raw_asin is not None:
        asin = normalize_asin(raw_asin)
        if asin is None:
            raise t.error("asin", f"must be an ASIN (10 letters or digits), got {raw_asin!r}")
    raw_market = t.text("marketplace")
    if raw_market is not None:
        marketplace = marketplace_of(raw_market)
        if marketplace is None:
            raise t.error(
                "marketplace",
                f"{raw_market!r} is not an Amazon marketplace "
                "(e.g. www.amazon.com, www.amazon.co.uk)",
            )
    if asin is None:
        where = "a URL with /dp/ASIN" if url is None else f"{url!r} has no /dp/ASIN in it"
        raise t.error("asin", f'is required with source = "amazon" ({where} would do too)')
    if marketplace is None:
        raise t.error(
            "marketplace",
            'is required with source = "amazon" when url is not an Amazon product page '
            '(e.g. marketplace = "www.amazon.com")',
        )
    currency = _currency(t, "currency")
    return Listing(
        retailer=retailer,
        url=url or f"https://{marketplace}/dp/{asin}",
        affiliate_url=_http_url(t, "affiliate_url"),
        currency=currency,
        source=AMAZON,
        asin=asin,
        marketplace=marketplace,
    )


def _amazon(root: _Table) -> AmazonSettings | None:
    """``[amazon]``; the secret is read now only when it is set (see the module doc)."""
    data = root.get("amazon", dict, None)
    if data is None:
        return None
    return parse_amazon_settings(data, key=root.key("amazon"), require_secret=False)


def _check_amazon(products: tuple[Product, ...], amazon: AmazonSettings | None) -> None:
    """Every Amazon-sourced listing needs credentials and its marketplace's partner tag."""
    for i, product in enumerate(products):
        for j, listing in enumerate(product.listings):
            if not listing.is_amazon:
                continue
            key = f"products[{i}].listings[{j}]"
            if amazon is None:
                log.warning(
                    '%s.source: "amazon" needs the Creators API credentials in [amazon] '
                    '(see README, "Amazon listings"); until then its checks fail (amazon_auth)',
                    key,
                )
            elif listing.marketplace and amazon.partner_tag(listing.marketplace) is None:
                raise ConfigError(
                    f"{key}.marketplace: no partner tag for {listing.marketplace} in "
                    f'amazon.partner_tags (add "{listing.marketplace}" = "yoursite-20")'
                )


def _path(t: _Table, name: str, base: Path, *, default: str) -> Path:
    return (base / str(t.text(name, default))).resolve()


def _decimal(t: _Table, name: str, value: object) -> Decimal:
    try:
        number = Decimal(str(value))
    except InvalidOperation as exc:
        raise t.error(name, f"must be a number, got {value!r}") from exc
    if not number.is_finite() or number < 0:
        raise t.error(name, f"must be a positive number, got {value!r}")
    return number


_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def _duration(t: _Table, name: str, default: timedelta) -> timedelta:
    value = t.get(name, (str, int, float))
    if value is None:
        return default
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        match = _DURATION_RE.match(value)
        if not match:
            raise t.error(name, f'must be a duration such as "90m", "24h" or "7d", got {value!r}')
        seconds = float(match[1]) * _UNITS[match[2]]
    if seconds <= 0:
        raise t.error(name, "must be longer than zero")
    return timedelta(seconds=seconds)


def _guide(t: _Table, base: Path, timezone: str, all_products: tuple[Product, ...]) -> Guide:
    known = _index(all_products).by_id
    gid = str(t.text("id", required=True))
    if not _ID_RE.match(gid):
        raise t.error("id", f"must be lower-case letters, digits, '.', '_' or '-' (got {gid!r})")
    products = t.get("products", list, None)
    if not products:
        raise t.error("products", "must list at least one product id")
    for i, pid in enumerate(products):
        if pid not in known:
            raise ConfigError(f"{t.key('products')}[{i}]: no product has the id {pid!r}")
    currency = _currency(t, "currency") or "USD"
    bands = _bands(t.table("bands"), currency)
    outputs = _outputs(t, base)
    inplace = tuple((base / p).resolve() for p in _strings(t, "inplace"))
    if not outputs and not inplace:
        raise t.error("output", "give at least one output path (or an inplace file)")
    tz = t.text("timezone", timezone)
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise t.error("timezone", f"unknown time zone {tz!r} (use an IANA name)") from exc
    fmt = t.text("as_of_format", DEFAULT_AS_OF_FORMAT)
    try:
        datetime(2026, 1, 2, 3, 4, tzinfo=ZoneInfo(tz)).strftime(fmt)
    except ValueError as exc:
        raise t.error("as_of_format", f"is not a valid strftime format: {exc}") from exc
    hysteresis = _decimal(t, "hysteresis", t.get("hysteresis", (int, float), 0.03))
    if hysteresis >= 1:
        raise t.error("hysteresis", "is a fraction of the threshold and must be under 1")
    age_t = t.table("max_age")
    ages: dict[str, timedelta] = {}
    default_age = DEFAULT_MAX_AGE
    for key in list(age_t.data):
        age = _duration(age_t, key, default_age)
        if key == "default":
            default_age = age
        else:
            ages[key.lower()] = age
    age_t.done()
    # Amazon prices may be shown for 24 hours at most: that is their retailer's default
    amazon_retailers = {
        x.retailer.lower(): x.retailer
        for pid in dict.fromkeys(products)
        for x in known[pid].listings
        if x.is_amazon
    }
    for retailer, name in amazon_retailers.items():
        if retailer not in ages:
            ages[retailer] = min(default_age, MAX_PRICE_AGE)
        elif ages[retailer] > MAX_PRICE_AGE:
            key = next(k for k in age_t.data if k.lower() == retailer)
            log.warning(
                "%s: %s's listings are priced through the Amazon API, whose prices may be "
                "shown for 24 hours at most; this allows older ones",
                age_t.key(key),
                name,
            )
    guide = Guide(
        id=gid,
        title=str(t.text("title", gid)),
        products=tuple(products),
        currency=currency,
        bands=bands,
        outputs=outputs,
        inplace=inplace,
        hysteresis=hysteresis,
        max_age=ages,
        default_max_age=default_age,
        refresh_after=_duration(t, "refresh_after", DEFAULT_REFRESH_AFTER),
        timezone=tz,
        as_of_format=fmt,
        disclaimer=t.text("disclaimer"),
    )
    t.done()
    return guide


def _strings(t: _Table, name: str) -> list[str]:
    value = t.get(name, (str, list), [])
    items = [value] if isinstance(value, str) else value
    for i, item in enumerate(items):
        if not isinstance(item, str) or not item.strip():
            raise ConfigError(f"{t.key(name)}[{i}]: must be a non-empty string")
    return list(items)


def _outputs(t: _Table, base: Path) -> tuple[GuideOutput, ...]:
    paths = _strings(t, "output")
    template = t.text("template")
    if paths and template is None:
        raise t.error("template", "is required with output (a template under templates/)")
    outputs = []
    for raw in paths:
        path = (base / raw).resolve()
        name = str(template)
        if not name.endswith(".j2"):  # "quick-picks" + ".html" → quick-picks.html.j2
            if not path.suffix:
                raise t.error("output", f"{raw!r} needs a file extension to pick its template")
            name = f"{name}{path.suffix}.j2"
        outputs.append(GuideOutput(path=path, template=name))
    return tuple(outputs)


def _bands(t: _Table, currency: str) -> Bands:
    if not t.data:
        raise t.error(
            currency,
            'give the price bands, e.g. USD = { limits = [150, 400], labels = ["$", "$$", "$$$"] }',
        )
    found = None
    for code in list(t.data):
        bt = t.table(code)
        if not _CURRENCY_RE.match(code):
            raise t.error(code, "must be an ISO 4217 currency code such as USD")
        limits = [_decimal(bt, "limits", v) for v in bt.get("limits", list, [])]
        labels = _strings(bt, "labels")
        if len(labels) != len(limits) + 1:
            raise bt.error("labels", f"needs one label more than limits ({len(limits) + 1})")
        if limits != sorted(set(limits)):
            raise bt.error("limits", "must be increasing")
        bt.done()
        if code == currency:
            found = Bands(currency=code, limits=tuple(limits), labels=tuple(labels))
    t.done()
    if found is None:
        raise t.error(currency, f"no bands for the guide's currency {currency}")
    return found


def _quarantine(t: _Table) -> QuarantineSettings:
    d = QuarantineSettings()
    max_change = _decimal(t, "max_change", t.get("max_change", (int, float), d.max_change))
    settings = QuarantineSettings(
        enabled=t.get("enabled", bool, d.enabled),
        max_change=max_change,
        currency_change=t.get("currency_change", bool, d.currency_change),
    )
    t.done()
    return settings


def _report(t: _Table, timezone: str) -> ReportSettings:
    tz = t.text("timezone", timezone)
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise t.error("timezone", f"unknown time zone {tz!r} (use an IANA name)") from exc
    email = None
    if "email" in t.data:
        e = t.table("email")
        recipients = _strings(e, "recipients")
        if not recipients:
            raise e.error("recipients", "give at least one address")
        email = EmailSettings(
            host=str(e.text("host", required=True)),
            port=e.integer("port", 587, minimum=1),
            starttls=e.get("starttls", bool, True),
            username=e.text("username"),
            password_env=e.text("password_env"),
            sender=str(e.text("sender", required=True)),
            recipients=tuple(recipients),
            timeout=e.number("timeout", 30.0, minimum=1),
        )
        e.done()
    settings = ReportSettings(
        stale_after=_duration(t, "stale_after", timedelta(hours=48)),
        timezone=tz,
        email=email,
        webhook=_http_url(t, "webhook"),
    )
    t.done()
    return settings


def _schedule(t: _Table, base: Path) -> ScheduleSettings:
    d = ScheduleSettings()
    cron = t.get("report_cron", (str, bool), d.report_cron)
    if cron is False:
        cron = None
    elif cron is True:
        raise t.error("report_cron", 'must be a crontab expression such as "0 8 * * *" or false')
    if cron is not None:
        from apscheduler.triggers.cron import CronTrigger

        try:
            CronTrigger.from_crontab(cron)
        except ValueError as exc:
            raise t.error("report_cron", f"is not a crontab expression: {exc}") from exc
    fmt = t.text("report_format", d.report_format)
    if fmt not in ("html", "md", "csv", "json"):
        raise t.error("report_format", "must be html, md, csv or json")
    output = t.text("report_output")
    settings = ScheduleSettings(
        interval=_duration(t, "interval", d.interval),
        jitter=t.number("jitter", d.jitter),
        retry_failed_after=_duration(t, "retry_failed_after", d.retry_failed_after),
        adaptive=t.get("adaptive", bool, d.adaptive),
        min_interval=_duration(t, "min_interval", d.min_interval),
        max_interval=_duration(t, "max_interval", d.max_interval),
        lease=_duration(t, "lease", d.lease),
        claim_batch=t.integer("claim_batch", d.claim_batch, minimum=1),
        tick=_duration(t, "tick", d.tick),
        misfire_grace=_duration(t, "misfire_grace", d.misfire_grace),
        report_cron=cron,
        report_format=str(fmt),
        report_output=(base / output).resolve() if output else None,
        prune_after=_duration(t, "prune_after", d.prune_after),
        alert_after=_duration(t, "alert_after", d.alert_after),
        stop_timeout=_duration(t, "stop_timeout", d.stop_timeout),
    )
    if settings.jitter >= 1:
        raise t.error("jitter", "is a fraction of the interval and must be under 1")
    if settings.min_interval > settings.max_interval:
        raise t.error("min_interval", "must not be longer than max_interval")
    t.done()
    return settings


def _check_unique_guides(guides: tuple[Guide, ...]) -> None:
    seen: dict[str, int] = {}
    paths: dict[Path, str] = {}
    for i, guide in enumerate(guides):
        if guide.id in seen:
            raise ConfigError(
                f"guides[{i}].id: {guide.id!r} is already used by guides[{seen[guide.id]}]"
            )
        seen[guide.id] = i
        for path in [o.path for o in guide.outputs] + list(guide.inplace):
            if path in paths:
                raise ConfigError(f"guides[{i}]: {path} is also written by guide {paths[path]!r}")
            paths[path] = guide.id


def _check_unique(products: tuple[Product, ...]) -> None:
    seen: dict[str, int] = {}
    for i, product in enumerate(products):
        if product.id in seen:
            raise ConfigError(
                f"products[{i}].id: {product.id!r} is already used by products[{seen[product.id]}]"
            )
        seen[product.id] = i
        urls: dict[str, int] = {}
        for j, listing in enumerate(product.listings):
            if listing.url in urls:
                raise ConfigError(
                    f"products[{i}].listings[{j}].url: the same URL is already "
                    f"products[{i}].listings[{urls[listing.url]}]"
                )
            urls[listing.url] = j
