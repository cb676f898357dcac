"""Value types of the simulated shops: styles, products, faults, request records."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any

__all__ = ["Fault", "FaultSpec", "Product", "RequestRecord", "Style"]


class Style(StrEnum):
    """The real-world platform whose product-page markup a shop imitates."""

    amazon = "amazon"
    shopify = "shopify"
    woocommerce = "woocommerce"
    bigcommerce = "bigcommerce"
    magento = "magento"
    plain = "plain"


_TRACKED = frozenset({"sku", "title", "price", "currency", "in_stock", "was_price"})


def _to_decimal(value: object) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int | float | str):
        return Decimal(str(value))
    raise TypeError(f"a price must be a Decimal, int, float or str, not {type(value).__name__}")


@dataclass
class Product:
    """One product a shop sells; mutate it between rounds to move prices and stock.

    ``changed_at`` (``time.time()``) follows every change of a tracked field; the shop
    derives the page's ``Last-Modified`` from it. Prices given as int/float/str are
    converted to ``Decimal``.
    """

    sku: str
    title: str
    price: Decimal
    currency: str = "USD"
    in_stock: bool = True
    was_price: Decimal | None = None
    changed_at: float = field(default=0.0, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "changed_at", time.time())

    def __setattr__(self, name: str, value: Any) -> None:
        if name in ("price", "was_price") and value is not None:
            value = _to_decimal(value)
        if name == "currency":
            value = str(value).upper()
        object.__setattr__(self, name, value)
        if name in _TRACKED:
            object.__setattr__(self, "changed_at", time.time())

    def state(self) -> tuple[str, str, Decimal, str, bool, Decimal | None]:
        """The values a product page shows; a page changes exactly when this does."""
        return (self.sku, self.title, self.price, self.currency, self.in_stock, self.was_price)


class Fault(StrEnum):
    """Misbehaviour a shop can be told to show for a page or for the whole shop."""

    slow = "slow"  # wait ``delay`` seconds, then answer normally
    rate_limit = "rate_limit"  # 429 with Retry-After
    server_error = "server_error"  # 503 (or ``status``, e.g. 502)
    robot_check = "robot_check"  # captcha page ("amazon") or JS challenge ("cloudflare")
    not_found = "not_found"  # 404
    gone = "gone"  # 410
    redirect_home = "redirect_home"  # 302 to "/"
    truncated = "truncated"  # Content-Length larger than what is sent, then close
    oversized = "oversized"  # a valid page padded to ``size`` bytes, streamed
    reset = "reset"  # close the connection without answering (TCP RST)
    gzip_bomb = "gzip_bomb"  # small gzip body inflating to ``size`` bytes


# Faults that are one-shot by default ("for the next k requests"); others persist.
_COUNTED_BY_DEFAULT = frozenset({Fault.rate_limit, Fault.server_error})


@dataclass(frozen=True, slots=True)
class FaultSpec:
    """One fault with its settings, as given to ``Shop.set_fault``.

    ``count``: how many requests it applies to before it clears itself (None: until
    cleared). ``delay``: seconds to wait before answering (every fault honours it;
    ``slow`` defaults to 1 s). ``status`` overrides the status code of
    ``server_error`` (503) and ``robot_check`` (200 amazon, 403 cloudflare).
    ``size``: bytes of an ``oversized`` body (default 20 MB) or of the inflated
    ``gzip_bomb`` (default 1 GiB). ``variant``: ``"amazon"`` or ``"cloudflare"`` for
    ``robot_check``.
    """

    fault: Fault
    count: int | None = None
    delay: float = 0.0
    retry_after: int = 1
    status: int | None = None
    size: int | None = None
    variant: str = "amazon"

    @staticmethod
    def make(
        fault: Fault | str,
        *,
        count: int | None = None,
        delay: float | None = None,
        retry_after: int = 1,
        status: int | None = None,
        size: int | None = None,
        variant: str = "amazon",
    ) -> FaultSpec:
        """Build a spec, filling in the per-fault defaults."""
        kind = Fault(fault)
        if count is None and kind in _COUNTED_BY_DEFAULT:
            count = 1
        if count is not None and count < 1:
            raise ValueError("count must be at least 1 (or None for 'until cleared')")
        if delay is None:
            delay = 1.0 if kind is Fault.slow else 0.0
        if variant not in ("amazon", "cloudflare"):
            raise ValueError(
                f"robot_check variant must be 'amazon' or 'cloudflare', not {variant!r}"
            )
        return FaultSpec(kind, count, delay, retry_after, status, size, variant)


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One request as the shop saw it. Times are ``time.monotonic()`` seconds."""

    shop: str
    path: str  # the request target as sent, query string included
    method: str
    started: float  # request line and headers read
    finished: float  # response written (or connection dropped)
    status: int | None  # None: the connection was reset without an answer
    user_agent: str | None = None
    if_none_match: str | None = None
    if_modified_since: str | None = None
    accept_encoding: str | None = None
    fault: Fault | None = None  # the fault that shaped the answer, if any
    client_port: int = 0  # the client's TCP port: equal ports mean a reused connection
    bytes_sent: int = 0  # body bytes written (compressed size when gzipped)

    @property
    def duration(self) -> float:
        return self.finished - self.started
