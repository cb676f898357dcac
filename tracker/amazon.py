"""Amazon prices and availability through the official Creators API.

Amazon's Associates policies allow a site to show Amazon prices and availability
only when they come from Amazon's API, and Amazon's product pages answer scrapers
with robot checks, so Amazon listings are priced here rather than by ``fetch``.
What is known of the interface (with sources) is in
``../shared/amazon-creators-api.md``.

One ``CreatorsClient`` serves one run::

    settings = parse_amazon_settings(toml["amazon"])
    async with CreatorsClient(settings=settings) as client:
        items = await client.get_items(["B00MNV8E0C", ...], marketplace="www.amazon.com")
    item = items["B00MNV8E0C"]   # AmazonItem: .offer, .detail_page_url, .failure, .error

- **Token**: OAuth2 client credentials, Cognito for credential versions 2.x (form
  body, scope ``creatorsapi/default``, catalog header ``Bearer <tok>, Version 2.x``)
  and Login with Amazon for 3.x (JSON body, scope ``creatorsapi::default``, header
  ``Bearer <tok>``). Cached, refreshed 30 s before it expires (3600 s when the
  answer has no ``expires_in``) and once more on a 401 from the catalog.
- **GetItems**: de-duplicated ASINs in batches of ``batch_size`` (at most 10), only
  the resources needed, the marketplace's ``x-marketplace`` header and partner tag.
- **Politeness**: at most ``rate`` requests per second across every call of the
  client, retries included; 429 ``ThrottleException`` and 5xx are retried
  (``retries`` times) after ``retryAfterSeconds`` / ``Retry-After`` (up to
  ``retry_after_cap``; a longer wait fails the rest of the run's batches as
  throttled) or exponential backoff with jitter.

``get_items`` never raises for a bad item or a failing API. Every requested ASIN gets
an ``AmazonItem``; a failed one has ``failure`` set to one of:

=====================  =================================================================
``amazon_auth``        credentials, credential version, partner tag or account eligibility
                       rejected: the whole batch fails and the message says what to fix
``amazon_throttled``   429 after every retry, or asked to wait longer than the cap
``amazon_item_error``  Amazon refused this ASIN (``ItemNotAccessible``,
                       ``InvalidParameterValue``, the all-invalid 404, ...): that item alone
``amazon_error``       network, timeout, 5xx after retries, an unreadable answer
=====================  =================================================================

Money never touches a float: the JSON is parsed with ``parse_float=Decimal``. The
credential secret and the access token never appear in a repr, a log line or a
message.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import os
import random
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

if TYPE_CHECKING:  # imported where a client is made: the configuration and guides need none
    import httpx

from tracker.errors import ConfigError, exception_text
from tracker.models import Availability, Offer, PageStatus

__all__ = [
    "AMAZON_DISCLAIMER",
    "AVAILABILITY_MAP",
    "DEFAULT_SECRET_ENV",
    "MARKETPLACES",
    "MAX_PRICE_AGE",
    "RESOURCES",
    "VERSIONS",
    "AmazonItem",
    "AmazonSettings",
    "CreatorsClient",
    "amazon_disclaimer",
    "asin_from_url",
    "is_amazon_url",
    "marketplace_of",
    "normalize_asin",
    "parse_amazon_settings",
    "region_of",
    "site_name",
]

log = logging.getLogger(__name__)

DEFAULT_SECRET_ENV = "TRACKER_AMAZON_SECRET"
DEFAULT_API_URL = "https://creatorsapi.amazon"
GET_ITEMS_PATH = "/catalog/v1/getItems"
MAX_BATCH = 10
MAX_BODY_BYTES = 4_000_000
TOKEN_REFRESH_MARGIN = 30.0  # seconds before expiry a token is replaced
DEFAULT_TOKEN_LIFETIME = 3600.0  # when the token answer has no expires_in
MAP_REASON = "Amazon does not allow showing this price (MAP)"
METHOD = "amazon-api"
# Associates policy: Amazon prices may be kept and shown for up to 24 hours
MAX_PRICE_AGE = timedelta(hours=24)
# The disclaimer Amazon asks for next to its prices and availability ({site}: the
# Amazon site(s) concerned, e.g. "Amazon.com")
AMAZON_DISCLAIMER = (
    "Product prices and availability are accurate as of the date/time indicated and are "
    "subject to change. Any price and availability information displayed on {site} at the "
    "time of purchase will apply to the purchase of this product."
)

# credential version -> (region, default token URL)
VERSIONS: Mapping[str, tuple[str, str]] = {
    "2.1": ("NA", "https://creatorsapi.auth.us-east-1.amazoncognito.com/oauth2/token"),
    "2.2": ("EU", "https://creatorsapi.auth.eu-south-2.amazoncognito.com/oauth2/token"),
    "2.3": ("FE", "https://creatorsapi.auth.us-west-2.amazoncognito.com/oauth2/token"),
    "3.1": ("NA", "https://api.amazon.com/auth/o2/token"),
    "3.2": ("EU", "https://api.amazon.co.uk/auth/o2/token"),
    "3.3": ("FE", "https://api.amazon.co.jp/auth/o2/token"),
}

# marketplace host (the x-marketplace value) -> region of the credentials that serve it
MARKETPLACES: Mapping[str, str] = {
    "www.amazon.com": "NA",
    "www.amazon.ca": "NA",
    "www.amazon.com.mx": "NA",
    "www.amazon.com.br": "NA",
    "www.amazon.co.uk": "EU",
    "www.amazon.de": "EU",
    "www.amazon.fr": "EU",
    "www.amazon.it": "EU",
    "www.amazon.es": "EU",
    "www.amazon.nl": "EU",
    "www.amazon.com.be": "EU",
    "www.amazon.eg": "EU",
    "www.amazon.in": "EU",
    "www.amazon.ie": "EU",
    "www.amazon.pl": "EU",
    "www.amazon.sa": "EU",
    "www.amazon.se": "EU",
    "www.amazon.com.tr": "EU",
    "www.amazon.ae": "EU",
    "www.amazon.co.jp": "FE",
    "www.amazon.sg": "FE",
    "www.amazon.com.au": "FE",
}
_SUFFIXES = {host.removeprefix("www."): host for host in MARKETPLACES}  # amazon.co.uk -> www.…

# The GetItems resources tracker needs, and no more.
RESOURCES: tuple[str, ...] = (
    "itemInfo.title",
    "offersV2.listings.availability",
    "offersV2.listings.condition",
    "offersV2.listings.isBuyBoxWinner",
    "offersV2.listings.merchantInfo",
    "offersV2.listings.price",
)

# offersV2 availability.type -> schema.org (None: Amazon does not know)
AVAILABILITY_MAP: Mapping[str, Availability | None] = {
    "IN_STOCK": Availability.InStock,
    "IN_STOCK_SCARCE": Availability.LimitedAvailability,
    "OUT_OF_STOCK": Availability.OutOfStock,
    "UNAVAILABLE": Availability.OutOfStock,
    "PREORDER": Availability.PreOrder,
    "LEADTIME": Availability.BackOrder,
    "AVAILABLE_DATE": Availability.BackOrder,
    "UNKNOWN": None,
}

_ASIN_RE = re.compile(r"^[A-Z0-9]{10}$")
_ASIN_IN_TEXT = re.compile(r"(?<![A-Za-z0-9])[A-Z0-9]{10}(?![A-Za-z0-9])")
_CURRENCY_RE = re.compile(r"^[A-Z]{3}$")
# /dp/ASIN, /gp/product/ASIN, /gp/aw/d/ASIN, /exec/obidos/ASIN/ASIN, /o/ASIN/ASIN, /product/ASIN
_URL_ASIN_RE = re.compile(
    r"/(?:dp|gp/product|gp/aw/d|exec/obidos/asin|exec/obidos/tg/detail/-|o/asin|product)"
    r"/([A-Za-z0-9]{10})(?:[/?#;]|$)",
    re.IGNORECASE,
)


# ------------------------------------------------------------------------------ marketplaces


def marketplace_of(host: str) -> str | None:
    """The marketplace (``x-marketplace`` value) of an Amazon host, else None.

    ``amazon.co.uk``, ``www.amazon.co.uk``, ``smile.amazon.co.uk`` and
    ``WWW.Amazon.co.uk.`` all give ``www.amazon.co.uk``; a URL is accepted too.
    """
    text = host.strip()
    if "/" in text:
        text = urlsplit(text if "//" in text else f"//{text}").hostname or ""
    name = text.lower().rstrip(".")
    if ":" in name:
        name = name.split(":", 1)[0]
    labels = name.split(".")
    # the registrable "amazon.<tld>" is the last 2 or 3 labels
    for size in (3, 2):
        if len(labels) >= size:
            candidate = ".".join(labels[-size:])
            if candidate in _SUFFIXES:
                return _SUFFIXES[candidate]
    return None


def site_name(marketplace: str) -> str:
    """How readers know a marketplace: ``www.amazon.co.uk`` → ``Amazon.co.uk``."""
    found = marketplace_of(marketplace) or marketplace
    return "Amazon." + found.removeprefix("www.amazon.")


def amazon_disclaimer(marketplaces: Iterable[str] = ("www.amazon.com",)) -> str:
    """Amazon's disclaimer naming the Amazon sites concerned (Associates policy)."""
    sites = list(dict.fromkeys(site_name(m) for m in marketplaces)) or ["Amazon"]
    named = sites[0] if len(sites) == 1 else ", ".join(sites[:-1]) + " or " + sites[-1]
    return AMAZON_DISCLAIMER.format(site=named)


def region_of(marketplace: str) -> str | None:
    """``NA``, ``EU`` or ``FE``: which credentials serve ``marketplace``."""
    found = marketplace_of(marketplace)
    return MARKETPLACES[found] if found else None


def is_amazon_url(url: str) -> bool:
    """True for an http(s) URL on an Amazon marketplace's domain (any subdomain)."""
    if "amazon" not in url.lower():  # (every marketplace's domain has it: no URL to split)
        return False
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and marketplace_of(parts.hostname or "") is not None


def normalize_asin(value: str) -> str | None:
    """``value`` as an upper-case ASIN (10 letters or digits), else None."""
    asin = value.strip().upper()
    return asin if _ASIN_RE.match(asin) else None


def asin_from_url(url: str) -> tuple[str, str] | None:
    """``(ASIN, marketplace)`` of an Amazon product URL, else None.

    Understands ``/dp/ASIN``, ``/Title-Slug/dp/ASIN/ref=…``, ``/gp/product/ASIN``,
    ``/gp/aw/d/ASIN`` and ``/exec/obidos/ASIN/…`` on any marketplace's domain
    (``www.``, ``smile.``, ``m.`` or none). Short links (``amzn.to``) need a fetch to
    resolve and give None.
    """
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme not in ("http", "https"):
        return None
    marketplace = marketplace_of(parts.hostname or "")
    if marketplace is None:
        return None
    found = _URL_ASIN_RE.search(parts.path)
    if found is None:
        return None
    return found.group(1).upper(), marketplace


# ------------------------------------------------------------------------------ settings


@dataclass(frozen=True, slots=True)
class AmazonSettings:
    """How to reach the Creators API. Times are in seconds."""

    credential_id: str
    credential_secret: str = field(repr=False)
    version: str
    partner_tags: Mapping[str, str]  # marketplace host ("www.amazon.com") -> partner tag
    rate: float = 1.0  # requests per second, across the whole client
    batch_size: int = MAX_BATCH
    retries: int = 3
    backoff: float = 1.0
    retry_after_cap: float = 30.0
    timeout: float = 20.0
    api_url: str = DEFAULT_API_URL
    token_url: str | None = None  # default: the credential version's endpoint
    credential_secret_env: str | None = None  # named in messages; never the secret itself

    def __post_init__(self) -> None:
        if self.version not in VERSIONS:
            raise ValueError(f"unknown credential version {self.version!r}")
        if not 1 <= self.batch_size <= MAX_BATCH:
            raise ValueError(f"batch_size must be 1 to {MAX_BATCH}")
        if self.rate <= 0:
            raise ValueError("rate must be positive")
        tags: dict[str, str] = {}
        for host, tag in self.partner_tags.items():
            tags[marketplace_of(host) or host] = tag
        object.__setattr__(self, "partner_tags", tags)

    @property
    def region(self) -> str:
        return VERSIONS[self.version][0]

    @property
    def lwa(self) -> bool:
        """True for 3.x credentials (Login with Amazon), False for 2.x (Cognito)."""
        return self.version.startswith("3.")

    @property
    def token_endpoint(self) -> str:
        return self.token_url or VERSIONS[self.version][1]

    @property
    def get_items_url(self) -> str:
        return self.api_url.rstrip("/") + GET_ITEMS_PATH

    def partner_tag(self, marketplace: str) -> str | None:
        found = marketplace_of(marketplace) or marketplace
        return self.partner_tags.get(found)

    @property
    def secret_hint(self) -> str:
        if self.credential_secret_env:
            return f"the secret in ${self.credential_secret_env}"
        return "the credential secret"

    def with_secret(self, environ: Mapping[str, str] = os.environ) -> AmazonSettings:
        """These settings with the secret, read from the environment now if it was not
        there when the configuration was read; ``ConfigError`` when it is still missing."""
        if self.credential_secret:
            return self
        name = self.credential_secret_env or DEFAULT_SECRET_ENV
        secret = environ.get(name, "").strip()
        if not secret:
            raise ConfigError(_missing_secret(name, self.credential_id))
        return replace(self, credential_secret=secret)


_SETTINGS_KEYS = (
    "api_url",
    "backoff",
    "batch_size",
    "credential_id",
    "credential_secret_env",
    "credential_version",
    "partner_tags",
    "rate",
    "retries",
    "retry_after_cap",
    "timeout",
    "token_url",
)


def parse_amazon_settings(
    data: Mapping[str, Any],
    *,
    key: str = "amazon",
    environ: Mapping[str, str] = os.environ,
    require_secret: bool = True,
) -> AmazonSettings:
    """Validate the contents of the ``[amazon]`` table (``key`` is its key path).

    Keys: ``credential_id``, ``credential_secret_env`` (the environment variable that
    holds the secret, default ``TRACKER_AMAZON_SECRET``), ``credential_version``
    (``"2.1"`` … ``"3.3"``), ``partner_tags`` (marketplace → tag, e.g.
    ``{ "www.amazon.com" = "mysite-20" }``), and optionally ``rate``, ``batch_size``,
    ``retries``, ``backoff``, ``retry_after_cap``, ``timeout``, ``api_url``,
    ``token_url``. Errors raise ``ConfigError`` naming the key path; unknown keys
    are errors. The secret never appears in a message. With ``require_secret=False``
    a missing secret is left empty (``credential_secret == ""``), to be read when the
    API is used (``AmazonSettings.with_secret``).
    """

    def where(name: str) -> str:
        return f"{key}.{name}" if key else name

    def fail(name: str, message: str) -> ConfigError:
        return ConfigError(f"{where(name)}: {message}")

    if not isinstance(data, Mapping):
        raise ConfigError(f"{key or 'amazon'}: must be a table")
    unknown = sorted(set(data) - set(_SETTINGS_KEYS))
    if unknown:
        raise fail(unknown[0], f"unknown key (known keys here: {', '.join(_SETTINGS_KEYS)})")

    def text(name: str, default: str | None = None, *, required: bool = False) -> str | None:
        if name not in data:
            if required:
                raise fail(name, "is required")
            return default
        value = data[name]
        if not isinstance(value, str):
            raise fail(name, f"must be a string, not {_describe(value)}")
        if not value.strip():
            raise fail(name, "must not be empty")
        return value.strip()

    def number(name: str, default: float, *, positive: bool = False) -> float:
        value = data.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise fail(name, f"must be a number, not {_describe(value)}")
        if positive and value <= 0:
            raise fail(name, "must be more than 0")
        if value < 0:
            raise fail(name, "must be at least 0")
        return float(value)

    def integer(name: str, default: int, *, low: int, high: int | None = None) -> int:
        value = data.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise fail(name, f"must be an integer, not {_describe(value)}")
        if value < low or (high is not None and value > high):
            span = f"from {low} to {high}" if high is not None else f"at least {low}"
            raise fail(name, f"must be {span}, got {value}")
        return value

    def url(name: str, default: str | None) -> str | None:
        value = text(name, default)
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise fail(name, f"must be an http(s) URL, got {value!r}")
        return value

    credential_id = text("credential_id", required=True)
    assert credential_id is not None

    version_value = data.get("credential_version")
    if version_value is None:
        raise fail("credential_version", f"is required: one of {', '.join(VERSIONS)}")
    if isinstance(version_value, float):  # credential_version = 2.1 (a TOML float)
        version_value = repr(version_value)
    if not isinstance(version_value, str) or version_value.strip() not in VERSIONS:
        raise fail(
            "credential_version",
            f"must be one of {', '.join(VERSIONS)} (as shown with the credentials "
            f"in Associates Central), got {version_value!r}",
        )
    version = version_value.strip()

    secret_env = text("credential_secret_env", DEFAULT_SECRET_ENV)
    assert secret_env is not None
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", secret_env):
        raise fail(
            "credential_secret_env", f"must be an environment variable name, not {secret_env!r}"
        )
    secret = environ.get(secret_env, "")
    if not secret.strip() and require_secret:
        raise ConfigError(
            _missing_secret(secret_env, credential_id, where=where("credential_secret_env"))
        )

    raw_tags = data.get("partner_tags")
    if raw_tags is None:
        raise fail(
            "partner_tags", 'is required: e.g. partner_tags = { "www.amazon.com" = "mysite-20" }'
        )
    if not isinstance(raw_tags, Mapping):
        raise fail("partner_tags", f"must be a table, not {_describe(raw_tags)}")
    if not raw_tags:
        raise fail("partner_tags", "give the partner tag of at least one marketplace")
    tags: dict[str, str] = {}
    region = VERSIONS[version][0]
    for host, tag in raw_tags.items():
        tag_key = f'partner_tags."{host}"'
        marketplace = marketplace_of(str(host))
        if marketplace is None:
            raise fail(
                tag_key,
                f"{host!r} is not an Amazon marketplace (e.g. www.amazon.com, www.amazon.co.uk)",
            )
        if not isinstance(tag, str) or not tag.strip():
            raise fail(tag_key, f"must be a partner tag (a non-empty string), not {_describe(tag)}")
        if len(tag.strip()) > 64:
            raise fail(tag_key, "must be at most 64 characters")
        if marketplace in tags:
            raise fail(tag_key, f"{marketplace} is given twice")
        if MARKETPLACES[marketplace] != region:
            log.warning(
                "%s: %s is in Amazon's %s region but credential_version %s is for %s; "
                "its requests are likely to be refused",
                where(tag_key),
                marketplace,
                MARKETPLACES[marketplace],
                version,
                region,
            )
        tags[marketplace] = tag.strip()

    return AmazonSettings(
        credential_id=credential_id,
        credential_secret=secret.strip(),
        version=version,
        partner_tags=tags,
        rate=number("rate", 1.0, positive=True),
        batch_size=integer("batch_size", MAX_BATCH, low=1, high=MAX_BATCH),
        retries=integer("retries", 3, low=0, high=10),
        backoff=number("backoff", 1.0),
        retry_after_cap=number("retry_after_cap", 30.0),
        timeout=number("timeout", 20.0, positive=True),
        api_url=url("api_url", DEFAULT_API_URL) or DEFAULT_API_URL,
        token_url=url("token_url", None),
        credential_secret_env=secret_env,
    )


def _missing_secret(
    name: str, credential_id: str, *, where: str = "amazon.credential_secret_env"
) -> str:
    return (
        f"{where}: the environment variable {name} is not set (or "
        f"empty): set it to the Creators API credential secret of {credential_id!r}"
    )


def _describe(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return type(value).__name__


# ------------------------------------------------------------------------------ results


@dataclass(frozen=True, slots=True)
class AmazonItem:
    """What the Creators API said about one ASIN (or why it could not be asked)."""

    asin: str
    offer: Offer | None = None  # None when the item failed
    detail_page_url: str | None = None  # the Buy link; it carries the partner tag
    failure: str | None = None  # amazon_auth, amazon_throttled, amazon_item_error, amazon_error
    error: str | None = None  # what went wrong, for people
    violates_map: bool = False  # Amazon forbids showing the price (minimum advertised price)
    code: str | None = None  # Amazon's error code/type, e.g. ItemNotAccessible
    merchant: str | None = None  # the chosen listing's seller
    condition: str | None = None  # the chosen listing's condition, e.g. "New"
    marketplace: str | None = None
    attempts: int = 0  # getItems requests made for the batch this item was in

    @property
    def ok(self) -> bool:
        return self.failure is None


class _BatchFailure(Exception):
    """The whole batch failed; every ASIN in it gets this failure."""

    def __init__(self, kind: str, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.code = code


class _Retryable(Exception):
    def __init__(self, kind: str, message: str, *, wait: float | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.wait = wait


@dataclass(frozen=True, slots=True)
class _AllInvalid:
    """The all-invalid 404 (``ResourceNotFoundException``): every ASIN of the batch fails."""

    message: str


@dataclass(slots=True)
class _Token:
    value: str = field(repr=False)
    expires_at: float


# ------------------------------------------------------------------------------ client


class CreatorsClient:
    """A Creators API client for one run. Use as ``async with CreatorsClient(...) as c``.

    ``transport`` replaces httpx's (tests); ``clock`` (monotonic seconds) and
    ``sleep`` drive token expiry, the rate limit and backoff.
    """

    def __init__(
        self,
        *,
        settings: AmazonSettings,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        user_agent: str | None = None,
    ) -> None:
        self.settings = settings
        self._clock = clock
        self._sleep = sleep
        self._interval = 1.0 / settings.rate
        self._next_start = 0.0
        self._pace = asyncio.Lock()
        self._token: _Token | None = None
        self._token_lock = asyncio.Lock()
        self._throttled_until = 0.0
        self._auth_failure: _BatchFailure | None = None  # sticky: every later batch fails
        self._tag_failures: dict[str, _BatchFailure] = {}  # marketplace -> sticky failure
        self.requests_made = 0  # getItems requests sent
        self.token_requests = 0
        headers = {"Accept": "application/json"}
        if user_agent:
            headers["User-Agent"] = user_agent
        import httpx

        self._client = httpx.AsyncClient(
            transport=transport,
            headers=headers,
            follow_redirects=False,
            timeout=httpx.Timeout(settings.timeout),
        )

    def __repr__(self) -> str:
        s = self.settings
        return f"CreatorsClient(credential_id={s.credential_id!r}, version={s.version!r})"

    async def __aenter__(self) -> CreatorsClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    # -- public ----------------------------------------------------------------------------

    async def get_items(self, asins: Sequence[str], *, marketplace: str) -> dict[str, AmazonItem]:
        """Price and availability of ``asins`` on ``marketplace`` (e.g. ``www.amazon.com``).

        The result has a key for every string in ``asins`` as given (its item's
        ``asin`` is the normalized, upper-case ASIN). Never raises for a bad item or a
        failing API; raises ``ValueError`` when ``marketplace`` is not an Amazon
        marketplace at all.
        """
        if isinstance(asins, str):
            raise TypeError("asins must be a sequence of ASINs, not one string")
        market = marketplace_of(marketplace)
        if market is None:
            raise ValueError(f"{marketplace!r} is not an Amazon marketplace")
        found: dict[str, AmazonItem] = {}
        wanted: list[str] = []
        for raw in asins:
            asin = normalize_asin(raw)
            if asin is None:
                found[raw.strip().upper()] = AmazonItem(
                    asin=raw,
                    failure="amazon_item_error",
                    error=f"{raw!r} is not an ASIN (10 letters or digits)",
                    marketplace=market,
                )
            elif asin not in wanted:
                wanted.append(asin)
        size = self.settings.batch_size
        for start in range(0, len(wanted), size):
            batch = wanted[start : start + size]
            for item in await self._batch(batch, market):
                found[item.asin] = item
        return {raw: found[raw.strip().upper()] for raw in asins}

    # -- one batch ---------------------------------------------------------------------------

    async def _batch(self, asins: list[str], market: str) -> list[AmazonItem]:
        attempts = 0
        try:
            tag = self.settings.partner_tag(market)
            if tag is None:
                raise _BatchFailure(
                    "amazon_auth",
                    f"no partner tag for {market}: add it to [amazon] partner_tags "
                    f'(e.g. "{market}" = "yoursite-20")',
                )
            data, attempts = await self._call(asins, market, tag)
            return _items_from(data, asins, market, attempts)
        except _BatchFailure as exc:
            return [
                AmazonItem(
                    asin=asin,
                    failure=exc.kind,
                    error=self._scrub(str(exc)),
                    code=exc.code,
                    marketplace=market,
                    attempts=attempts,
                )
                for asin in asins
            ]

    async def _call(self, asins: list[str], market: str, tag: str) -> tuple[Any, int]:
        """Send one getItems request with retries; the parsed body and the attempts."""
        s = self.settings
        body = {"itemIds": asins, "partnerTag": tag, "resources": list(RESOURCES)}
        attempts = 0
        refreshed = False
        retry = 0
        while True:
            self._check_sticky(market)
            token = await self._access_token()
            await self._wait_turn()
            self._check_sticky(market)  # another batch may have failed while we waited
            attempts += 1
            self.requests_made += 1
            try:
                return await self._send(body, market, token), attempts
            except _Retryable as exc:
                if exc.kind == "token" and not refreshed:
                    refreshed = True
                    self._drop_token(token)
                    log.debug("Creators API: access token refused (%s); refreshing", exc)
                    continue
                if exc.kind == "token":
                    failure = _BatchFailure(
                        "amazon_auth",
                        f"{exc} even with a fresh access token: check amazon.credential_version "
                        f"({s.version}) matches the credentials, amazon.credential_id and "
                        f"{s.secret_hint}",
                    )
                    self._auth_failure = failure
                    raise failure from None
                wait = exc.wait
                if wait is not None and wait > s.retry_after_cap:
                    self._throttled_until = self._clock() + wait
                    raise _BatchFailure(
                        "amazon_throttled",
                        f"{exc}; Amazon asked to wait {wait:.0f}s, more than "
                        f"amazon.retry_after_cap ({s.retry_after_cap:g}s)",
                    ) from None
                if retry >= s.retries:
                    kind = "amazon_throttled" if exc.kind == "throttled" else "amazon_error"
                    tries = f"{attempts} request{'s' if attempts != 1 else ''}"
                    raise _BatchFailure(kind, f"{exc} (after {tries})") from None
                if wait is None:
                    wait = _backoff(s.backoff, retry)
                retry += 1
                log.info("Creators API: %s; retrying in %.2fs", exc, wait)
                # every request of the client waits: Amazon limits the account, not the call
                self._next_start = max(self._next_start, self._clock() + wait)

    def _check_sticky(self, market: str) -> None:
        if self._auth_failure is not None:
            raise self._auth_failure
        failure = self._tag_failures.get(market)
        if failure is not None:
            raise failure
        if self._throttled_until > self._clock():
            raise _BatchFailure(
                "amazon_throttled",
                "Amazon asked us to stop for longer than amazon.retry_after_cap; "
                "not asking again in this run",
            )

    async def _wait_turn(self) -> None:
        async with self._pace:
            wait = self._next_start - self._clock()
            if wait > 0:
                await self._sleep(wait)
            self._next_start = self._clock() + self._interval

    async def _send(self, body: Mapping[str, Any], market: str, token: str) -> Any:
        s = self.settings
        auth = f"Bearer {token}" if s.lwa else f"Bearer {token}, Version {s.version}"
        headers = {
            "Authorization": auth,
            "Content-Type": "application/json",
            "x-marketplace": market,
        }
        content = json.dumps(body, separators=(",", ":")).encode()
        status, response_headers, raw = await self._post(s.get_items_url, content, headers)
        data, error_type, reason, message = _error_fields(raw, response_headers)
        if status == 200:
            if data is None:
                raise _BatchFailure("amazon_error", "the Creators API answered unreadable JSON")
            return data
        detail = _detail(error_type, reason, message)
        if status == 429:
            wait = _retry_wait(data, response_headers)
            raise _Retryable("throttled", f"throttled by the Creators API (429{detail})", wait=wait)
        if status >= 500:
            wait = _retry_after(response_headers.get("retry-after"))
            raise _Retryable("server", f"Creators API server error {status}{detail}", wait=wait)
        if status == 401:
            raise _Retryable("token", f"the Creators API refused the access token (401{detail})")
        if status == 404 and error_type == "ResourceNotFoundException":
            return _AllInvalid(message or "No items found for the requested item IDs.")
        if status == 403:
            if reason == "AssociateNotEligible":
                hint = (
                    "the Associates account is not eligible for the Creators API "
                    "(Amazon requires qualifying sales in the last 30 days); "
                    "see Associates Central"
                )
            else:
                hint = (
                    "check that the credentials (amazon.credential_id) belong to the "
                    f"Associates account of partner tag {body['partnerTag']!r} and may use "
                    f"{market}"
                )
            failure = _BatchFailure("amazon_auth", f"access denied (403{detail}): {hint}")
            self._auth_failure = failure
            raise failure
        if status == 400 and reason in ("InvalidPartnerTag", "InvalidAssociate"):
            failure = _BatchFailure(
                "amazon_auth",
                f"Amazon refused partner tag {body['partnerTag']!r} for {market} "
                f"(400{detail}): check amazon.partner_tags; the tag must be a tracking ID of "
                f"that marketplace's Associates account",
            )
            self._tag_failures[market] = failure
            raise failure
        if status == 404:
            raise _BatchFailure(
                "amazon_error",
                f"HTTP 404 from {s.get_items_url}{detail}: check amazon.api_url",
            )
        raise _BatchFailure("amazon_error", f"the Creators API answered {status}{detail}")

    async def _post(
        self, url: str, content: bytes, headers: Mapping[str, str]
    ) -> tuple[int, httpx.Headers, bytes]:
        """POST within the timeout; network trouble becomes ``_Retryable``, an answer
        that cannot be read ``_BatchFailure``."""
        import httpx

        timeout = self.settings.timeout
        try:
            async with asyncio.timeout(timeout):
                return await self._send_post(url, content, headers)
        except TimeoutError:
            raise _Retryable("network", f"no answer within {timeout:g}s") from None
        except httpx.TimeoutException as exc:
            raise _Retryable("network", f"timed out ({type(exc).__name__})") from None
        except httpx.TransportError as exc:
            raise _Retryable("network", _transport_message(exc)) from None
        except httpx.HTTPError as exc:  # e.g. a body that does not decode
            raise _BatchFailure("amazon_error", _transport_message(exc)) from None

    async def _send_post(
        self, url: str, content: bytes, headers: Mapping[str, str]
    ) -> tuple[int, httpx.Headers, bytes]:
        import httpx

        request = self._client.build_request("POST", url, content=content, headers=headers)
        response = await self._client.send(request, stream=True)
        try:
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_BODY_BYTES:
                    raise httpx.ReadError(f"answer larger than {MAX_BODY_BYTES:,} bytes")
            return response.status_code, response.headers, bytes(body)
        finally:
            await response.aclose()

    # -- token -------------------------------------------------------------------------------

    def _drop_token(self, value: str) -> None:
        if self._token is not None and self._token.value == value:
            self._token = None

    async def _access_token(self) -> str:
        async with self._token_lock:
            token = self._token
            if token is not None and self._clock() < token.expires_at:
                return token.value
            if self._auth_failure is not None:
                raise self._auth_failure
            self._token = await self._fetch_token()
            return self._token.value

    async def _fetch_token(self) -> _Token:
        s = self.settings
        retry = 0
        while True:
            try:
                return await self._token_attempt()
            except _Retryable as exc:
                if retry >= s.retries or (exc.wait is not None and exc.wait > s.retry_after_cap):
                    kind = "amazon_throttled" if exc.kind == "throttled" else "amazon_error"
                    raise _BatchFailure(kind, f"could not get an access token: {exc}") from None
                wait = exc.wait if exc.wait is not None else _backoff(s.backoff, retry)
                retry += 1
                log.info("Creators API token: %s; retrying in %.2fs", exc, wait)
                await self._sleep(wait)

    async def _token_attempt(self) -> _Token:
        s = self.settings
        fields = {
            "grant_type": "client_credentials",
            "client_id": s.credential_id,
            "client_secret": s.credential_secret,
            "scope": "creatorsapi::default" if s.lwa else "creatorsapi/default",
        }
        if s.lwa:
            content = json.dumps(fields).encode()
            content_type = "application/json"
        else:
            content = urlencode(fields).encode()
            content_type = "application/x-www-form-urlencoded"
        self.token_requests += 1
        status, headers, raw = await self._post(
            s.token_endpoint, content, {"Content-Type": content_type}
        )
        data = _loads(raw)
        if status == 200 and isinstance(data, dict) and isinstance(data.get("access_token"), str):
            lifetime = _seconds(data.get("expires_in"))
            margin = min(TOKEN_REFRESH_MARGIN, lifetime / 2)
            return _Token(data["access_token"], self._clock() + lifetime - margin)
        oauth_error = data.get("error") if isinstance(data, dict) else None
        detail = f": {oauth_error}" if isinstance(oauth_error, str) else ""
        where = urlsplit(s.token_endpoint).hostname or s.token_endpoint
        if status == 429:
            wait = _retry_after(headers.get("retry-after"))
            raise _Retryable("throttled", f"token endpoint {where} throttled us (429)", wait=wait)
        if status >= 500:
            raise _Retryable("server", f"token endpoint {where} answered {status}")
        if status in (400, 401, 403):
            if oauth_error == "invalid_scope":
                hint = (
                    f"check amazon.credential_version ({s.version}): 2.x credentials use "
                    "Cognito, 3.x Login with Amazon"
                )
            else:
                hint = (
                    f"check amazon.credential_id ({s.credential_id!r}), {s.secret_hint} and "
                    f"amazon.credential_version ({s.version})"
                )
            failure = _BatchFailure(
                "amazon_auth",
                f"Amazon refused the credentials at {where} ({status}{detail}): {hint}",
            )
            self._auth_failure = failure
            raise failure
        raise _BatchFailure(
            "amazon_error", f"token endpoint {where} answered {status}{detail} without a token"
        )

    def _scrub(self, message: str) -> str:
        secret = self.settings.credential_secret
        if secret and secret in message:
            message = message.replace(secret, "***")
        token = self._token.value if self._token else None
        if token and token in message:
            message = message.replace(token, "***")
        return message


# ------------------------------------------------------------------------------ parsing


def _loads(raw: bytes) -> Any:
    """JSON with every non-integer number as ``Decimal``; None when unreadable."""
    try:
        return json.loads(raw.decode("utf-8"), parse_float=Decimal, parse_constant=Decimal)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None


def _error_fields(
    raw: bytes, headers: httpx.Headers
) -> tuple[Any, str | None, str | None, str | None]:
    """The parsed body and its exception ``type`` (or ``__type``), ``reason``, ``message``."""
    data = _loads(raw)
    error_type = reason = message = None
    if isinstance(data, dict):
        kind = data.get("type") or data.get("__type") or data.get("Type")
        if isinstance(kind, str):
            error_type = kind.rsplit("#", 1)[-1]
        if isinstance(data.get("reason"), str):
            reason = data["reason"]
        text = data.get("message") or data.get("Message")
        if isinstance(text, str):
            message = text[:500]
    if error_type is None:
        header = headers.get("x-amzn-errortype")
        if header:
            error_type = header.split(":", 1)[0].rsplit("#", 1)[-1]
    return data, error_type, reason, message


def _detail(error_type: str | None, reason: str | None, message: str | None) -> str:
    parts = [p for p in (error_type, reason) if p]
    text = f" {'/'.join(parts)}" if parts else ""
    if message:
        text += f": {message}"
    return text


def _items_from(data: Any, asins: list[str], market: str, attempts: int) -> list[AmazonItem]:
    """One ``AmazonItem`` per requested ASIN from a getItems answer."""
    if isinstance(data, _AllInvalid):
        message = data.message
        return [
            AmazonItem(
                asin=asin,
                failure="amazon_item_error",
                error=f"ResourceNotFoundException: {message}",
                code="ResourceNotFoundException",
                marketplace=market,
                attempts=attempts,
            )
            for asin in asins
        ]
    result: Any = None
    errors: Any = None
    if isinstance(data, dict):
        result = data.get("itemsResult") or data.get("itemResults") or data.get("ItemsResult")
        errors = data.get("errors") or data.get("Errors")
    raw_items = result.get("items") if isinstance(result, dict) else None
    by_asin: dict[str, Mapping[str, Any]] = {}
    for raw in raw_items if isinstance(raw_items, list) else []:
        if isinstance(raw, dict) and isinstance(raw.get("asin"), str):
            by_asin.setdefault(raw["asin"].upper(), raw)
    wanted = set(asins)
    item_errors: dict[str, tuple[str | None, str]] = {}
    unattributed: list[tuple[str | None, str]] = []
    for raw in errors if isinstance(errors, list) else []:
        if not isinstance(raw, dict):
            continue
        code = raw.get("code") if isinstance(raw.get("code"), str) else None
        message = str(raw.get("message") or "")[:500]
        named = [a for a in _ASIN_IN_TEXT.findall(message) if a in wanted]
        for asin in named:
            item_errors.setdefault(asin, (code, message))
        if not named:
            unattributed.append((code, message))
    items: list[AmazonItem] = []
    for asin in asins:
        if asin in by_asin:
            items.append(_item(asin, by_asin[asin], market, attempts))
            continue
        code, message = item_errors.get(asin) or _join(unattributed)
        error = f"{code}: {message}" if code and message else (message or code or "")
        items.append(
            AmazonItem(
                asin=asin,
                failure="amazon_item_error",
                error=error or "Amazon returned nothing for this ASIN",
                code=code,
                marketplace=market,
                attempts=attempts,
            )
        )
    return items


def _join(errors: Iterable[tuple[str | None, str]]) -> tuple[str | None, str]:
    found = list(errors)
    if not found:
        return None, ""
    codes = sorted({c for c, _ in found if c})
    return (codes[0] if len(codes) == 1 else None), "; ".join(m for _, m in found if m)


def _item(asin: str, raw: Mapping[str, Any], market: str, attempts: int) -> AmazonItem:
    title = _get(raw, "itemInfo", "title", "displayValue")
    title = title.strip() if isinstance(title, str) and title.strip() else None
    link = raw.get("detailPageURL")
    link = link if isinstance(link, str) and link.startswith(("https://", "http://")) else None
    listings = _get(raw, "offersV2", "listings")
    chosen: Mapping[str, Any] | None = None
    if isinstance(listings, list):
        usable = [x for x in listings if isinstance(x, dict)]
        chosen = next((x for x in usable if x.get("isBuyBoxWinner") is True), None)
        if chosen is None and usable:
            chosen = usable[0]
    if chosen is None:
        offer = Offer(
            status=PageStatus.no_price,
            availability=Availability.OutOfStock,
            title=title,
            method=METHOD,
            reason="Amazon has no featured offer (it shows the item as out of stock)",
        )
        return AmazonItem(
            asin=asin, offer=offer, detail_page_url=link, marketplace=market, attempts=attempts
        )
    kind = _get(chosen, "availability", "type")
    availability = AVAILABILITY_MAP.get(kind) if isinstance(kind, str) else None
    violates_map = chosen.get("violatesMAP") is True
    merchant = _get(chosen, "merchantInfo", "name")
    condition = _get(chosen, "condition", "value")
    price, currency, why = _money(_get(chosen, "price", "money"))
    if violates_map:
        offer = Offer(
            status=PageStatus.no_price,
            availability=availability,
            title=title,
            method=METHOD,
            reason=MAP_REASON,
        )
    elif price is None:
        offer = Offer(
            status=PageStatus.no_price,
            availability=availability,
            title=title,
            method=METHOD,
            reason=why,
        )
    else:
        offer = Offer(
            status=PageStatus.ok,
            price=price,
            currency=currency,
            availability=availability,
            title=title,
            method=METHOD,
        )
    return AmazonItem(
        asin=asin,
        offer=offer,
        detail_page_url=link,
        violates_map=violates_map,
        merchant=merchant if isinstance(merchant, str) else None,
        condition=condition if isinstance(condition, str) else None,
        marketplace=market,
        attempts=attempts,
    )


def _money(money: Any) -> tuple[Decimal | None, str | None, str]:
    """(price, currency, why not) from a ``price.money`` object."""
    if not isinstance(money, dict):
        return None, None, "Amazon returned no price"
    amount = money.get("amount")
    currency = money.get("currency")
    if not isinstance(currency, str) or not _CURRENCY_RE.match(currency.upper()):
        return None, None, f"Amazon returned a price without a valid currency ({currency!r})"
    price: Decimal | None
    if isinstance(amount, bool):
        price = None
    elif isinstance(amount, Decimal):
        price = amount
    elif isinstance(amount, int):
        price = Decimal(amount)
    elif isinstance(amount, str):
        try:
            price = Decimal(amount.strip())
        except InvalidOperation:
            price = None
    else:
        price = None
    if price is None or not price.is_finite() or price <= 0:
        return None, None, f"Amazon returned an unusable price ({amount!r})"
    return price, currency.upper(), ""


def _get(data: Any, *path: str) -> Any:
    for name in path:
        if not isinstance(data, Mapping):
            return None
        data = data.get(name)
    return data


def _seconds(value: Any) -> float:
    if isinstance(value, bool):
        return DEFAULT_TOKEN_LIFETIME
    if isinstance(value, int | Decimal):
        seconds = float(value)
    elif isinstance(value, str) and value.strip().isdigit():
        seconds = float(value.strip())
    else:
        return DEFAULT_TOKEN_LIFETIME
    return seconds if seconds > 0 else DEFAULT_TOKEN_LIFETIME


def _retry_wait(data: Any, headers: httpx.Headers) -> float | None:
    """``retryAfterSeconds`` from a ThrottleException body, else ``Retry-After``."""
    if isinstance(data, dict):
        value = data.get("retryAfterSeconds")
        if isinstance(value, int | Decimal) and not isinstance(value, bool) and value >= 0:
            return float(value)
        if isinstance(value, str) and value.strip().isdigit():
            return float(value.strip())
    return _retry_after(headers.get("retry-after"))


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _backoff(base: float, attempt: int) -> float:
    """Exponential backoff with jitter between half and all of the step."""
    step: float = base * (2**attempt)
    return step * (0.5 + random.random() / 2)


def _transport_message(exc: httpx.HTTPError) -> str:
    return exception_text(exc)[:300]
