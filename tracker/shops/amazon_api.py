"""A fake Amazon Creators API on loopback, for the tests and the offline demo.

It follows what is known of the real service (``../shared/amazon-creators-api.md``)
and is strict where the real one is documented to be:

- ``POST /oauth2/token`` (Cognito, credential versions 2.x): form-urlencoded,
  credentials in the body or as HTTP Basic, ``grant_type=client_credentials``,
  ``scope=creatorsapi/default``. ``POST /auth/o2/token`` (Login with Amazon, 3.x):
  the same fields as JSON, ``scope=creatorsapi::default``. Wrong credentials answer
  ``{"error": "invalid_client"}``, a wrong scope ``invalid_scope``.
- ``POST /catalog/v1/getItems``: a Cognito token needs
  ``Authorization: Bearer <tok>, Version 2.N``, an LWA token exactly
  ``Bearer <tok>``; ``x-marketplace`` is required; the body needs 1-10 ``itemIds``,
  a ``partnerTag`` (the marketplace's, when ``partner_tags`` is given) and only known
  ``resources``. Only the requested resources come back. Unknown ASINs give an
  ``InvalidParameterValue`` error, inaccessible ones ``ItemNotAccessible``; when no
  item can be returned the answer is the 404 ``ResourceNotFoundException``.
- On demand: ``throttle(k)`` (429 ``ThrottleException``), ``server_error(k)``,
  ``deny(...)`` (403/400), ``expire_tokens()`` (401 ``TokenExpired``).

Every request is logged (``ApiRequest``: path, headers, body, time)::

    with FakeCreatorsApi(items=[FakeItem("B00MNV8E0C", "Amp", Decimal("59.49"))]) as api:
        settings = AmazonSettings(..., api_url=api.base_url, token_url=api.token_url("2.1"))
        api.set_item("B00MNV8E0C", price=Decimal("54.99"))
        api.throttle(2, retry_after=1)
"""

from __future__ import annotations

import base64
import json
import logging
import re
import secrets
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from http.server import BaseHTTPRequestHandler
from types import TracebackType
from typing import Any, cast
from urllib.parse import parse_qsl, urlsplit

from tracker.shops._http import LoopbackServer

__all__ = [
    "DEFAULT_CREDENTIAL_ID",
    "DEFAULT_CREDENTIAL_SECRET",
    "KNOWN_RESOURCES",
    "ApiRequest",
    "FakeCreatorsApi",
    "FakeItem",
]

log = logging.getLogger(__name__)

DEFAULT_CREDENTIAL_ID = "fake-credential-id"
DEFAULT_CREDENTIAL_SECRET = "fake-credential-secret"  # a test value
COGNITO_SCOPE = "creatorsapi/default"
LWA_SCOPE = "creatorsapi::default"
THROTTLE_MESSAGE = (
    "The request was denied due to request throttling. "
    "Please verify the number of requests made per second."
)
MARKETPLACES = frozenset(
    {
        "www.amazon.com",
        "www.amazon.ca",
        "www.amazon.com.mx",
        "www.amazon.com.br",
        "www.amazon.co.uk",
        "www.amazon.de",
        "www.amazon.fr",
        "www.amazon.it",
        "www.amazon.es",
        "www.amazon.nl",
        "www.amazon.com.be",
        "www.amazon.eg",
        "www.amazon.in",
        "www.amazon.ie",
        "www.amazon.pl",
        "www.amazon.sa",
        "www.amazon.se",
        "www.amazon.com.tr",
        "www.amazon.ae",
        "www.amazon.co.jp",
        "www.amazon.sg",
        "www.amazon.com.au",
    }
)
# The GetItems resources of the SDK's GetItemsResource enum that matter here (and a
# few more, so that asking for them is not an error).
KNOWN_RESOURCES = frozenset(
    {
        "browseNodeInfo.browseNodes",
        "browseNodeInfo.websiteSalesRank",
        "customerReviews.count",
        "customerReviews.starRating",
        "images.primary.small",
        "images.primary.medium",
        "images.primary.large",
        "itemInfo.byLineInfo",
        "itemInfo.classifications",
        "itemInfo.contentInfo",
        "itemInfo.externalIds",
        "itemInfo.features",
        "itemInfo.manufactureInfo",
        "itemInfo.productInfo",
        "itemInfo.technicalInfo",
        "itemInfo.title",
        "offersV2.listings.availability",
        "offersV2.listings.condition",
        "offersV2.listings.dealDetails",
        "offersV2.listings.isBuyBoxWinner",
        "offersV2.listings.loyaltyPoints",
        "offersV2.listings.merchantInfo",
        "offersV2.listings.price",
        "offersV2.listings.type",
        "parentASIN",
    }
)
_BODY_FIELDS = frozenset(
    {
        "itemIds",
        "itemIdType",
        "partnerTag",
        "partnerType",
        "marketplace",
        "resources",
        "condition",
        "currencyOfPreference",
        "languagesOfPreference",
    }
)
AVAILABILITY_TYPES = frozenset(
    {
        "AVAILABLE_DATE",
        "IN_STOCK",
        "IN_STOCK_SCARCE",
        "LEADTIME",
        "OUT_OF_STOCK",
        "PREORDER",
        "UNAVAILABLE",
        "UNKNOWN",
    }
)
_MESSAGES = {
    "IN_STOCK": "In Stock",
    "IN_STOCK_SCARCE": "Only a few left in stock - order soon.",
    "OUT_OF_STOCK": "Currently unavailable.",
    "UNAVAILABLE": "Currently unavailable.",
    "PREORDER": "This item will be released soon.",
    "LEADTIME": "Usually ships within 1 to 2 months.",
    "AVAILABLE_DATE": "Available for delivery on a later date.",
    "UNKNOWN": "",
}
_SYMBOLS = {"USD": "$", "GBP": "£", "EUR": "€", "JPY": "¥", "CAD": "CA$", "AUD": "A$"}
_DEC = "\x00DEC:"
_DEC_RE = re.compile(r'"\\u0000DEC:([-0-9.E+]+)"')


@dataclass
class FakeItem:
    """One ASIN of the fake catalogue; change it between rounds with ``set_item``.

    ``availability`` is an offersV2 ``availability.type``. ``featured=False`` means no
    featured offer (an empty ``listings``). ``accessible=False`` answers
    ``ItemNotAccessible``. ``other_price``, when set, adds a listing that is *not* the
    buy box, placed first. ``violates_map`` keeps the price in the answer (the worst
    case: the client must hide it). ``marketplaces``: where it is sold (None: all).
    """

    asin: str
    title: str | None = None
    price: Decimal | None = None
    currency: str = "USD"
    availability: str = "IN_STOCK"
    violates_map: bool = False
    accessible: bool = True
    featured: bool = True
    buy_box: bool = True
    merchant: str = "Amazon.com"
    condition: str = "New"
    other_price: Decimal | None = None
    marketplaces: frozenset[str] | None = None

    def __post_init__(self) -> None:
        if self.availability not in AVAILABILITY_TYPES:
            raise ValueError(f"unknown availability type {self.availability!r}")
        # prices given as int/str/float become Decimal (through str: no binary fractions)
        price: object = self.price
        if price is not None and not isinstance(price, Decimal):
            self.price = Decimal(str(price))
        other: object = self.other_price
        if other is not None and not isinstance(other, Decimal):
            self.other_price = Decimal(str(other))


@dataclass(frozen=True, slots=True)
class ApiRequest:
    """One request as the fake saw it. ``time``/``finished`` are ``time.monotonic()``."""

    method: str
    path: str
    headers: Mapping[str, str]  # lower-case names
    body: bytes
    json: Any  # the parsed JSON body (None when not JSON)
    form: Mapping[str, str]  # the parsed form body (empty when not a form)
    time: float
    status: int = 0
    finished: float = 0.0
    error: str | None = None  # the exception type or OAuth error answered, if any

    @property
    def is_token(self) -> bool:
        return self.path in ("/oauth2/token", "/auth/o2/token")

    @property
    def is_get_items(self) -> bool:
        return self.path == "/catalog/v1/getItems"


@dataclass(slots=True)
class _Token:
    kind: str  # "cognito" or "lwa"
    expires_at: float
    expired: bool = False


@dataclass(slots=True)
class _Fault:
    status: int
    body: dict[str, Any]
    count: int | None  # None: until cleared
    headers: tuple[tuple[str, str], ...] = ()


class _Answer(Exception):
    def __init__(
        self, status: int, body: Mapping[str, Any], headers: Iterable[tuple[str, str]] = ()
    ) -> None:
        super().__init__(status)
        self.status = status
        self.body = dict(body)
        self.headers = tuple(headers)


class FakeCreatorsApi:
    """The fake Creators API on its own ``127.0.0.1`` port, serving from construction."""

    def __init__(
        self,
        items: Iterable[FakeItem] = (),
        *,
        credential_id: str = DEFAULT_CREDENTIAL_ID,
        credential_secret: str = DEFAULT_CREDENTIAL_SECRET,
        partner_tags: Mapping[str, str] | None = None,
        token_ttl: int = 3600,
        send_expires_in: bool = True,
        result_key: str = "itemsResult",
        error_type_key: str = "type",
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.items: dict[str, FakeItem] = {item.asin: replace(item) for item in items}
        self.credential_id = credential_id
        self._secret = credential_secret
        self.partner_tags = dict(partner_tags) if partner_tags is not None else None
        self.token_ttl = token_ttl
        self.send_expires_in = send_expires_in
        self.result_key = result_key  # "itemsResult" (SDK, curl docs) or "itemResults"
        self.error_type_key = error_type_key  # "type" or "__type"
        self._lock = threading.Lock()
        self._tokens: dict[str, _Token] = {}
        self._faults: list[_Fault] = []
        self._log: list[ApiRequest] = []
        self._httpd = _Server(self, (host, port))
        self.host, self.port = self._httpd.server_name, self._httpd.server_port
        self.base_url = self._httpd.base_url

    def __repr__(self) -> str:
        return f"FakeCreatorsApi(base_url={self.base_url!r}, items={len(self.items)})"

    # ------------------------------------------------------------------ addresses

    def token_url(self, version: str) -> str:
        """The token endpoint for a credential version (``"2.1"`` … ``"3.3"``)."""
        if version.startswith("2."):
            return f"{self.base_url}/oauth2/token"
        if version.startswith("3."):
            return f"{self.base_url}/auth/o2/token"
        raise ValueError(f"unknown credential version {version!r}")

    # ------------------------------------------------------------------ catalogue

    def add(self, item: FakeItem) -> FakeItem:
        with self._lock:
            copy = replace(item)
            self.items[item.asin] = copy
            return copy

    def set_item(self, asin: str, **changes: Any) -> FakeItem:
        """Change (or, with ``title``/``price`` given, add) an item between rounds."""
        with self._lock:
            current = self.items.get(asin) or FakeItem(asin)
            item = replace(current, **changes)  # __post_init__ makes prices Decimal
            self.items[asin] = item
            return item

    def remove(self, asin: str) -> None:
        with self._lock:
            self.items.pop(asin, None)

    # ------------------------------------------------------------------ faults

    def throttle(
        self, count: int = 1, retry_after: int | None = None, *, header: bool = False
    ) -> None:
        """The next ``count`` getItems requests answer 429 ``ThrottleException``, with
        ``retryAfterSeconds`` in the body (or a ``Retry-After`` header) when given."""
        body: dict[str, Any] = {"message": THROTTLE_MESSAGE}
        headers: tuple[tuple[str, str], ...] = ()
        if retry_after is not None:
            if header:
                headers = (("Retry-After", str(retry_after)),)
            else:
                body["retryAfterSeconds"] = retry_after
        self._add_fault(_Fault(429, self._exception("ThrottleException", **body), count, headers))

    def server_error(self, count: int = 1, status: int = 500) -> None:
        """The next ``count`` getItems requests answer ``status`` (InternalServerException)."""
        body = self._exception("InternalServerException", message="Internal server error")
        self._add_fault(_Fault(status, body, count))

    def deny(
        self,
        reason: str = "AssociateNotEligible",
        *,
        status: int = 403,
        message: str | None = None,
        count: int | None = None,
    ) -> None:
        """getItems answers an exception until ``clear_faults`` (or for ``count`` requests):
        403 ``AccessDeniedException`` by default, 400 ``ValidationException`` or 401
        ``UnauthorizedException`` by ``status``."""
        kind = {
            400: "ValidationException",
            401: "UnauthorizedException",
            403: "AccessDeniedException",
        }.get(status, "InternalServerException")
        text = message or {
            "AssociateNotEligible": "The Associate is not eligible to access the API.",
            "AuthorizationFailed": "The request is not authorized.",
        }.get(reason, f"The request failed: {reason}.")
        self._add_fault(_Fault(status, self._exception(kind, message=text, reason=reason), count))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def expire_tokens(self) -> None:
        """Every token issued so far is expired: getItems answers 401 ``TokenExpired``."""
        with self._lock:
            for token in self._tokens.values():
                token.expired = True

    def _add_fault(self, fault: _Fault) -> None:
        if fault.count is not None and fault.count < 1:
            raise ValueError("count must be at least 1 (or None for 'until cleared')")
        with self._lock:
            self._faults.append(fault)

    def _take_fault(self) -> _Fault | None:
        with self._lock:
            if not self._faults:
                return None
            fault = self._faults[0]
            if fault.count is not None:
                fault.count -= 1
                if fault.count <= 0:
                    self._faults.pop(0)
            return fault

    def _exception(self, kind: str, **fields: Any) -> dict[str, Any]:
        if self.error_type_key == "__type":
            return {"__type": f"com.amazon.creators#{kind}", **fields}
        return {self.error_type_key: kind, **fields}

    # ------------------------------------------------------------------ request log

    @property
    def requests(self) -> list[ApiRequest]:
        """Every request so far, oldest first."""
        with self._lock:
            return list(self._log)

    @property
    def token_requests(self) -> list[ApiRequest]:
        return [r for r in self.requests if r.is_token]

    @property
    def get_items_requests(self) -> list[ApiRequest]:
        return [r for r in self.requests if r.is_get_items]

    def reset_log(self) -> None:
        with self._lock:
            self._log.clear()

    # ------------------------------------------------------------------ handlers

    def _handle(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> _Answer:
        if method != "POST":
            return _Answer(405, {"message": "Method Not Allowed"}, [("Allow", "POST")])
        try:
            if path == "/oauth2/token":
                return self._cognito_token(headers, body)
            if path == "/auth/o2/token":
                return self._lwa_token(headers, body)
            if path == "/catalog/v1/getItems":
                return self._get_items(headers, body)
        except _Answer as answer:
            return answer
        return _Answer(404, {"message": "Not Found"})

    def _issue(self, kind: str) -> dict[str, Any]:
        if kind == "cognito":
            value = "eyJraWQiOiJ" + secrets.token_urlsafe(24)
        else:
            value = "Atc|MQIC" + secrets.token_urlsafe(24)
        with self._lock:
            self._tokens[value] = _Token(kind, time.monotonic() + self.token_ttl)
        answer: dict[str, Any] = {"access_token": value}
        if kind == "lwa":
            answer["scope"] = LWA_SCOPE
            answer["token_type"] = "bearer"
        else:
            answer["token_type"] = "Bearer"
        if self.send_expires_in:
            answer["expires_in"] = self.token_ttl
        return answer

    def _check_client(self, client_id: str | None, secret: str | None, *, status: int) -> None:
        if client_id != self.credential_id or secret is None:
            raise _Answer(status, {"error": "invalid_client"})
        if not secrets.compare_digest(secret.encode(), self._secret.encode()):
            raise _Answer(status, {"error": "invalid_client"})

    def _cognito_token(self, headers: Mapping[str, str], body: bytes) -> _Answer:
        if not headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            raise _Answer(400, {"error": "invalid_request"})
        form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        client_id, secret = form.get("client_id"), form.get("client_secret")
        basic = headers.get("authorization", "")
        if basic.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(basic[6:].strip()).decode()
            except (ValueError, UnicodeDecodeError):
                raise _Answer(400, {"error": "invalid_client"}) from None
            client_id, _, secret = decoded.partition(":")
        if form.get("grant_type") != "client_credentials":
            raise _Answer(400, {"error": "unsupported_grant_type"})
        self._check_client(client_id, secret, status=400)
        if form.get("scope") != COGNITO_SCOPE:
            raise _Answer(400, {"error": "invalid_scope"})
        return _Answer(200, self._issue("cognito"))

    def _lwa_token(self, headers: Mapping[str, str], body: bytes) -> _Answer:
        if not headers.get("content-type", "").startswith("application/json"):
            raise _Answer(400, {"error": "invalid_request"})
        data = _parse_json(body)
        if not isinstance(data, dict):
            raise _Answer(400, {"error": "invalid_request"})
        if data.get("grant_type") != "client_credentials":
            raise _Answer(400, {"error": "unsupported_grant_type"})
        self._check_client(data.get("client_id"), data.get("client_secret"), status=401)
        if data.get("scope") != LWA_SCOPE:
            raise _Answer(400, {"error": "invalid_scope"})
        return _Answer(200, self._issue("lwa"))

    def _unauthorized(self, reason: str, message: str) -> _Answer:
        return _Answer(
            401, self._exception("UnauthorizedException", message=message, reason=reason)
        )

    def _invalid(self, reason: str, message: str, fields: Iterable[str] = ()) -> _Answer:
        body = self._exception("ValidationException", message=message, reason=reason)
        listed = [{"path": f, "message": message} for f in fields]
        if listed:
            body["fieldList"] = listed
        return _Answer(400, body)

    def _authorize(self, header: str | None) -> None:
        if not header:
            raise self._unauthorized("MissingCredential", "Authorization header is missing.")
        match = re.fullmatch(r"Bearer (\S+?)(?:, Version (\d\.\d))?", header.strip())
        if match is None:
            raise self._unauthorized("InvalidToken", "The Authorization header is malformed.")
        value, version = match.group(1), match.group(2)
        with self._lock:
            token = self._tokens.get(value)
        if token is None:
            raise self._unauthorized("InvalidToken", "The access token is invalid.")
        if token.kind == "cognito" and version not in ("2.1", "2.2", "2.3"):
            raise self._unauthorized(
                "InvalidIssuer", "A Cognito token needs 'Version 2.x' in the Authorization header."
            )
        if token.kind == "lwa" and version is not None:
            raise self._unauthorized(
                "InvalidIssuer", "A Login with Amazon token takes no Version in Authorization."
            )
        if token.expired or time.monotonic() >= token.expires_at:
            raise self._unauthorized("TokenExpired", "The access token has expired.")

    def _get_items(self, headers: Mapping[str, str], body: bytes) -> _Answer:
        fault = self._take_fault()
        if fault is not None:
            raise _Answer(fault.status, fault.body, fault.headers)
        self._authorize(headers.get("authorization"))
        marketplace = headers.get("x-marketplace")
        if not marketplace:
            raise self._invalid("FieldValidationFailed", "x-marketplace header is required.")
        if marketplace not in MARKETPLACES:
            raise self._invalid(
                "FieldValidationFailed", f"{marketplace} is not a valid marketplace."
            )
        if not headers.get("content-type", "").startswith("application/json"):
            raise self._invalid("CannotParse", "The request body must be JSON.")
        data = _parse_json(body)
        if not isinstance(data, dict):
            raise self._invalid("CannotParse", "The request body could not be parsed.")
        unknown = sorted(set(data) - _BODY_FIELDS)
        if unknown:
            raise self._invalid(
                "FieldValidationFailed", f"Unknown field {unknown[0]}.", [unknown[0]]
            )
        ids = data.get("itemIds")
        if (
            not isinstance(ids, list)
            or not 1 <= len(ids) <= 10
            or not all(isinstance(i, str) and i for i in ids)
        ):
            raise self._invalid(
                "FieldValidationFailed", "itemIds must have 1 to 10 item IDs.", ["itemIds"]
            )
        tag = data.get("partnerTag")
        if not isinstance(tag, str) or not tag or len(tag) > 64:
            raise self._invalid(
                "FieldValidationFailed",
                "partnerTag is required (at most 64 characters).",
                ["partnerTag"],
            )
        if self.partner_tags is not None and self.partner_tags.get(marketplace) != tag:
            raise self._invalid(
                "InvalidPartnerTag",
                f"The partner tag {tag} is invalid or not registered for {marketplace}.",
                ["partnerTag"],
            )
        resources = data.get("resources", ["itemInfo.title"])
        if not isinstance(resources, list) or len(resources) > 100:
            raise self._invalid(
                "FieldValidationFailed", "resources must be a list of at most 100.", ["resources"]
            )
        for resource in resources:
            if resource not in KNOWN_RESOURCES:
                raise self._invalid(
                    "FieldValidationFailed",
                    f"The value {resource} provided in the request for Resources is invalid.",
                    ["resources"],
                )
        return self._items(ids, marketplace, tag, set(resources))

    def _items(self, ids: list[str], marketplace: str, tag: str, wanted: set[str]) -> _Answer:
        with self._lock:
            catalogue = {asin: replace(self.items[asin]) for asin in ids if asin in self.items}
        found: list[dict[str, Any]] = []
        invalid: list[str] = []
        errors: list[dict[str, str]] = []
        for asin in dict.fromkeys(ids):
            item = catalogue.get(asin)
            sold_here = item is not None and (
                item.marketplaces is None or marketplace in item.marketplaces
            )
            if item is None or not sold_here:
                invalid.append(asin)
            elif not item.accessible:
                errors.append(
                    {
                        "code": "ItemNotAccessible",
                        "message": f"The ItemId {asin} is not accessible through the Creators API.",
                    }
                )
            else:
                found.append(_render_item(item, marketplace, tag, wanted))
        if not found:
            body = self._exception(
                "ResourceNotFoundException",
                message="No items found for the requested item IDs.",
                resourceType="Item",
                resourceId=ids[0],
            )
            raise _Answer(404, body)
        if invalid:
            errors.insert(
                0,
                {
                    "code": "InvalidParameterValue",
                    "message": f"The ItemIds {', '.join(invalid)} provided in the request "
                    "is invalid.",
                },
            )
        answer: dict[str, Any] = {self.result_key: {"items": found}}
        if errors:
            answer["errors"] = errors
        return _Answer(200, answer)

    # ------------------------------------------------------------------ lifecycle

    def _record(self, record: ApiRequest) -> None:
        with self._lock:
            self._log.append(record)

    def close(self, timeout: float = 2.0) -> None:
        """Stop serving, drop open connections and free the port (idempotent)."""
        self._httpd.stop(timeout)

    def __enter__(self) -> FakeCreatorsApi:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _render_item(item: FakeItem, marketplace: str, tag: str, wanted: set[str]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "asin": item.asin,
        "detailPageURL": f"https://{marketplace}/dp/{item.asin}?tag={tag}&linkCode=ogi&th=1&psc=1",
    }
    if "itemInfo.title" in wanted and item.title is not None:
        out["itemInfo"] = {
            "title": {"displayValue": item.title, "label": "Title", "locale": "en_US"}
        }
    if not any(r.startswith("offersV2.") for r in wanted):
        return out
    listings: list[dict[str, Any]] = []
    if item.featured:
        if item.other_price is not None:
            listings.append(_listing(item, item.other_price, wanted, buy_box=False))
        listings.append(_listing(item, item.price, wanted, buy_box=item.buy_box))
    out["offersV2"] = {"listings": listings}
    return out


def _listing(
    item: FakeItem, price: Decimal | None, wanted: set[str], *, buy_box: bool
) -> dict[str, Any]:
    listing: dict[str, Any] = {}
    if "offersV2.listings.availability" in wanted:
        listing["availability"] = {
            "maxOrderQuantity": 30,
            "message": _MESSAGES[item.availability],
            "minOrderQuantity": 1,
            "type": item.availability,
        }
    if "offersV2.listings.condition" in wanted:
        listing["condition"] = {
            "conditionNote": "",
            "subCondition": "Unknown",
            "value": item.condition,
        }
    if "offersV2.listings.isBuyBoxWinner" in wanted:
        listing["isBuyBoxWinner"] = buy_box
    if "offersV2.listings.merchantInfo" in wanted:
        listing["merchantInfo"] = {"id": "ATVPDKIKX0DER", "name": item.merchant}
    if "offersV2.listings.price" in wanted:
        if price is not None:
            symbol = _SYMBOLS.get(item.currency, item.currency + " ")
            listing["price"] = {
                "money": {
                    "amount": _DEC + str(price),
                    "currency": item.currency,
                    "displayAmount": f"{symbol}{price:,}",
                }
            }
        listing["violatesMAP"] = item.violates_map
    return listing


def _parse_json(body: bytes) -> Any:
    try:
        return json.loads(body.decode("utf-8"), parse_float=Decimal)
    except (UnicodeDecodeError, ValueError):
        return None


def _dumps(body: Mapping[str, Any]) -> bytes:
    """JSON with Decimal amounts written as JSON numbers, exactly as given."""
    text = json.dumps(body, ensure_ascii=True, separators=(",", ":"))
    return _DEC_RE.sub(lambda m: m.group(1), text).encode("ascii")


# ------------------------------------------------------------------------------ HTTP layer


class _Server(LoopbackServer):
    def __init__(self, api: FakeCreatorsApi, address: tuple[str, int]) -> None:
        self.api = api
        super().__init__(address, _Handler, label="fake creators api")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    timeout = 30

    @property
    def api(self) -> FakeCreatorsApi:
        return cast(_Server, self.server).api

    def version_string(self) -> str:
        return "Server"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("fake creators api: " + format, *args)

    def do_POST(self) -> None:
        self._serve()

    def do_GET(self) -> None:
        self._serve()

    def _serve(self) -> None:
        started = time.monotonic()
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        headers = {name.lower(): value for name, value in self.headers.items()}
        path = urlsplit(self.path).path
        answer = self.api._handle(self.command, path, headers, body)
        content_type = headers.get("content-type", "")
        parsed = _parse_json(body) if content_type.startswith("application/json") else None
        form: dict[str, str] = {}
        if content_type.startswith("application/x-www-form-urlencoded"):
            form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        error = answer.body.get("error") or answer.body.get(self.api.error_type_key)
        # logged before the answer is written, so a client that has its answer sees it
        self.api._record(
            ApiRequest(
                method=self.command,
                path=path,
                headers=headers,
                body=body,
                json=parsed,
                form=form,
                time=started,
                status=answer.status,
                finished=time.monotonic(),
                error=str(error) if error is not None else None,
            )
        )
        payload = _dumps(answer.body)
        self.send_response(answer.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("x-amzn-RequestId", secrets.token_hex(16))
        for name, value in answer.headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)
