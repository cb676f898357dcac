"""Read and validate ``config.toml`` into frozen, typed objects.

Every error names the key path (``products[1].listings[0].url: must be an
http(s) URL``) and unknown keys are rejected, so a typo never silently turns a
setting off. Relative paths in the file (the SQLite database, templates,
outputs) are relative to the file itself.

Which file: ``--config PATH``, else ``$TRACKER_CONFIG``, else ``./config.toml``.
``$TRACKER_DATABASE_URL``, when set, overrides ``[tracker] database`` (so a
password need not live in the file).
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tracker import __version__
from tracker.errors import ConfigError
from tracker.models import Availability, SiteRules

__all__ = [
    "DEFAULT_USER_AGENT",
    "Config",
    "FetchSettings",
    "Listing",
    "Product",
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
_ID_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
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

    def matches(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        return host == self.match or host.endswith("." + self.match)


@dataclass(frozen=True, slots=True)
class Listing:
    """One retailer page for a product."""

    retailer: str
    url: str
    affiliate_url: str | None = None
    currency: str | None = None


@dataclass(frozen=True, slots=True)
class Product:
    id: str
    name: str
    listings: tuple[Listing, ...] = ()


@dataclass(frozen=True, slots=True)
class Config:
    path: Path | None
    tracker: TrackerSettings = TrackerSettings()
    fetch: FetchSettings = FetchSettings()
    sites: tuple[Site, ...] = ()
    products: tuple[Product, ...] = ()

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
        site = self.site_for(url)
        if site is None or not site.fetch:
            return self.fetch
        return replace(self.fetch, **dict(site.fetch))

    def iter_listings(self) -> Iterator[tuple[Product, Listing]]:
        for product in self.products:
            for listing in product.listings:
                yield product, listing


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
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: invalid TOML: {exc}") from exc
    root = _Table(data, "")
    base = path.parent if path else Path.cwd()
    tracker = _tracker_settings(root.table("tracker"), base)
    fetch = _fetch_settings(root.table("fetch"))
    sites = tuple(_site(t) for t in root.array("sites"))
    products = tuple(_product(t) for t in root.array("products"))
    root.done()
    _check_unique(products)
    return Config(path=path, tracker=tracker, fetch=fetch, sites=sites, products=products)


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
        if isinstance(value, str) and not value.strip():
            raise self.error(name, "must not be empty")
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
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise t.error(name, f"must be an http(s) URL, got {value!r}")
    return str(value)


def _currency(t: _Table, name: str) -> str | None:
    value = t.text(name)
    if value is not None and not _CURRENCY_RE.match(value):
        raise t.error(name, f"must be an ISO 4217 code such as USD or EUR, got {value!r}")
    return value if value is None else str(value)


def _tracker_settings(t: _Table, base: Path) -> TrackerSettings:
    database = os.environ.get("TRACKER_DATABASE_URL") or t.text("database", DEFAULT_DATABASE)
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
    t.done()
    return Site(match=match, rules=rules, currency=currency, fetch=overrides)


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
    t.done()
    return Product(id=pid, name=name, listings=listings)


def _listing(t: _Table) -> Listing:
    listing = Listing(
        retailer=str(t.text("retailer", required=True)),
        url=str(_http_url(t, "url", required=True)),
        affiliate_url=_http_url(t, "affiliate_url"),
        currency=_currency(t, "currency"),
    )
    t.done()
    return listing


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
