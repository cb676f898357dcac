"""One simulated shop: a threaded HTTP/1.1 server on its own loopback port."""

from __future__ import annotations

import email.utils
import gzip
import hashlib
import logging
import socket
import struct
import threading
import time
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, replace
from decimal import Decimal
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from types import TracebackType
from typing import Any, cast
from urllib.parse import urlsplit

from tracker.shops._http import LoopbackServer
from tracker.shops._model import Fault, FaultSpec, Product, RequestRecord, Style
from tracker.shops._pages import (
    Item,
    PageContext,
    Theme,
    product_key,
    product_path,
    robot_check_page,
    route_key,
    status_page,
    theme_for,
)

__all__ = ["DEFAULT_ROBOTS_TXT", "Shop"]

log = logging.getLogger(__name__)

DEFAULT_ROBOTS_TXT = "User-agent: *\nDisallow:\n"
DEFAULT_OVERSIZED = 20_000_000
DEFAULT_BOMB = 1 << 30
_CHUNK = 64 * 1024
_SERVERS = {
    Style.amazon: "Server",
    Style.shopify: "nginx",
    Style.woocommerce: "nginx",
    Style.bigcommerce: "nginx",
    Style.magento: "nginx",
    Style.plain: "Apache",
}
_KEEP = object()  # "leave unchanged" for set_price(was_price=...)


def _default_currency(locale: str) -> str:
    lang = locale.replace("_", "-").split("-", 1)[0].lower()
    if lang in ("de", "fr", "nl", "it", "es"):
        return "EUR"
    if locale.lower() in ("en-gb", "en_gb"):
        return "GBP"
    return "USD"


# ------------------------------------------------------------------------ gzip bomb

_BOMB_LOCK = threading.Lock()
_BOMBS: dict[int, bytes] = {}


def gzip_bomb(size: int = DEFAULT_BOMB) -> bytes:
    """A gzip member that inflates to ``size`` bytes of HTML-ish whitespace (cached).

    Built from one deflate segment per MiB, each ended by a full flush so that every
    segment is byte-identical: 1 GiB costs about 0.3 s and ~1 MB.
    """
    with _BOMB_LOCK:
        cached = _BOMBS.get(size)
        if cached is not None:
            return cached
        prefix = b"<!doctype html><html><head><title>.</title></head><body>"
        mib = 1 << 20
        whole, rest = divmod(max(size - len(prefix), 0), mib)
        comp = zlib.compressobj(9, zlib.DEFLATED, -15)
        parts = [b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"]
        parts.append(comp.compress(prefix) + comp.flush(zlib.Z_FULL_FLUSH))
        crc = zlib.crc32(prefix)
        if whole:
            block = b" " * mib
            segment = comp.compress(block) + comp.flush(zlib.Z_FULL_FLUSH)
            parts.append(segment * whole)
            for _ in range(whole):  # zlib.crc32_combine is not exposed: ~0.1 s per GiB
                crc = zlib.crc32(block, crc)
        if rest:
            tail = b" " * rest
            parts.append(comp.compress(tail))
            crc = zlib.crc32(tail, crc)
        parts.append(comp.flush(zlib.Z_FINISH))
        total = len(prefix) + whole * mib + rest
        parts.append(struct.pack("<II", crc & 0xFFFFFFFF, total & 0xFFFFFFFF))
        body = b"".join(parts)
        _BOMBS[size] = body
        return body


# ------------------------------------------------------------------------ rendering


@dataclass(slots=True)
class _Rendered:
    body: bytes
    digest: str  # hex digest of the identity body; the ETag is built from it
    gz: bytes | None = None

    def gzipped(self) -> bytes:
        if self.gz is None:
            self.gz = gzip.compress(self.body, compresslevel=6, mtime=0)
        return self.gz


def _render(text: str) -> _Rendered:
    body = text.encode("utf-8")
    return _Rendered(body, hashlib.sha256(body).hexdigest()[:32])


def _accepts_gzip(header: str | None) -> bool:
    if not header:
        return False
    star: bool | None = None
    for part in header.split(","):
        name, _, params = part.strip().partition(";")
        name = name.strip().lower()
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if name in ("gzip", "x-gzip"):
            return q > 0
        if name == "*":
            star = q > 0
    return bool(star)


def _etag_matches(header: str, digest: str) -> bool:
    for raw in header.split(","):
        tag = raw.strip()
        if tag == "*":
            return True
        tag = tag.removeprefix("W/").strip('"')
        if tag.removesuffix("-gzip") == digest:
            return True
    return False


# ------------------------------------------------------------------------ HTTP layer


class _HTTPServer(LoopbackServer):
    def __init__(self, shop: Shop, address: tuple[str, int]) -> None:
        self.shop = shop
        super().__init__(address, _Handler, label=f"shop {shop.name}")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in separate writes
    timeout = 30  # idle keep-alive connections are dropped after this many seconds

    # per-request state, reset in _handle
    _status: int | None = None
    _fault: Fault | None = None
    _sent: int = 0

    @property
    def shop(self) -> Shop:
        return cast(_HTTPServer, self.server).shop

    def version_string(self) -> str:
        return _SERVERS[self.shop.style]

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("shop %s: " + format, self.shop.name, *args)

    def do_GET(self) -> None:
        self._handle(head=False)

    def do_HEAD(self) -> None:
        self._handle(head=True)

    # ------------------------------------------------------------------ plumbing

    def _handle(self, *, head: bool) -> None:
        shop = self.shop
        started = time.monotonic()
        self._status, self._fault, self._sent = None, None, 0
        shop._enter()
        try:
            self._dispatch(head=head)
        except OSError:
            self.close_connection = True
        finally:
            shop._leave(
                RequestRecord(
                    shop=shop.name,
                    path=self.path,
                    method=self.command,
                    started=started,
                    finished=time.monotonic(),
                    status=self._status,
                    user_agent=self.headers.get("User-Agent"),
                    if_none_match=self.headers.get("If-None-Match"),
                    if_modified_since=self.headers.get("If-Modified-Since"),
                    accept_encoding=self.headers.get("Accept-Encoding"),
                    fault=self._fault,
                    client_port=int(self.client_address[1]),
                    bytes_sent=self._sent,
                )
            )

    def _send(
        self,
        status: int,
        body: bytes | _Rendered,
        *,
        head: bool,
        headers: Iterable[tuple[str, str]] = (),
        content_type: str = "text/html; charset=utf-8",
        etag: str | None = None,
    ) -> None:
        """Answer with a complete body; gzip it when the client accepts gzip."""
        rendered = body if isinstance(body, _Rendered) else _Rendered(body, "")
        payload = rendered.body
        gzipped = len(payload) > 0 and _accepts_gzip(self.headers.get("Accept-Encoding"))
        if gzipped:
            payload = rendered.gzipped()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        if gzipped:
            self.send_header("Content-Encoding", "gzip")
        self.send_header("Vary", "Accept-Encoding")
        if etag is not None:
            self.send_header("ETag", f'"{etag}-gzip"' if gzipped else f'"{etag}"')
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self._status = status
        if not head:
            self.wfile.write(payload)
            self._sent = len(payload)

    def _send_page(self, status: int, text: str, *, head: bool, **kw: Any) -> None:
        self._send(status, text.encode("utf-8"), head=head, **kw)

    # ------------------------------------------------------------------ routing

    def _dispatch(self, *, head: bool) -> None:
        shop = self.shop
        path = urlsplit(self.path).path or "/"
        route, sku = shop._route(path)
        fault = shop._take_fault(path, sku if route == "product" else None)
        if fault is not None:
            self._fault = fault.fault
            if fault.delay > 0 and shop._closing.wait(fault.delay):
                self.close_connection = True  # shutting down: drop the request
                return
            if fault.fault is not Fault.slow:
                self._apply_fault(fault, route, sku, path, head=head)
                return
        if route == "product":
            assert sku is not None
            self._product(sku, head=head)
        elif route == "redirect":
            query = urlsplit(self.path).query
            location = shop.path(sku or "") + (f"?{query}" if query else "")
            self._send_page(
                301,
                status_page(301, "Moved Permanently"),
                head=head,
                headers=[("Location", location)],
            )
        else:
            status, text, content_type = self._normal(route)
            self._send_page(status, text, head=head, content_type=content_type)

    def _normal(self, route: str) -> tuple[int, str, str]:
        """Status, body and type of a non-product route without faults."""
        shop = self.shop
        if route == "robots":
            return 200, shop.robots_txt or "", "text/plain; charset=utf-8"
        if route == "home":
            return 200, shop._home(), "text/html; charset=utf-8"
        return 404, shop._theme().not_found(), "text/html; charset=utf-8"

    def _product(self, sku: str, *, head: bool) -> None:
        shop = self.shop
        try:
            rendered, modified = shop._page(sku)
        except KeyError:  # removed between routing and rendering
            self._send_page(404, shop._theme().not_found(), head=head)
            return
        last_modified = email.utils.formatdate(modified, usegmt=True)
        gz = _accepts_gzip(self.headers.get("Accept-Encoding"))
        validators = [
            ("Last-Modified", last_modified),
            ("Cache-Control", "no-cache"),
        ]
        inm = self.headers.get("If-None-Match")
        ims = self.headers.get("If-Modified-Since")
        not_modified = False
        if inm is not None:
            not_modified = _etag_matches(inm, rendered.digest)
        elif ims is not None:
            try:
                since = email.utils.parsedate_to_datetime(ims).timestamp()
            except (TypeError, ValueError, IndexError, OverflowError):
                since = None
            not_modified = since is not None and int(modified) <= since
        if not_modified:
            self.send_response(304)
            tag = f'"{rendered.digest}-gzip"' if gz else f'"{rendered.digest}"'
            self.send_header("ETag", tag)
            self.send_header("Vary", "Accept-Encoding")
            for name, value in validators:
                self.send_header(name, value)
            self.end_headers()
            self._status = 304
            return
        self._send(200, rendered, head=head, headers=validators, etag=rendered.digest)

    # ------------------------------------------------------------------ faults

    def _apply_fault(
        self, fault: FaultSpec, route: str, sku: str | None, path: str, *, head: bool
    ) -> None:
        shop = self.shop
        kind = fault.fault
        if kind is Fault.rate_limit:
            self._send_page(
                429,
                status_page(429, "Too Many Requests"),
                head=head,
                headers=[("Retry-After", str(fault.retry_after))],
            )
        elif kind is Fault.server_error:
            status = fault.status or 503
            try:
                reason = HTTPStatus(status).phrase
            except ValueError:
                reason = "Error"
            self._send_page(status, status_page(status, reason), head=head)
        elif kind is Fault.robot_check:
            cloudflare = fault.variant == "cloudflare"
            status = fault.status or (403 if cloudflare else 200)
            headers = [("Cache-Control", "no-cache, no-store")]
            if cloudflare:
                headers += [
                    ("cf-mitigated", "challenge"),
                    ("CF-RAY", "8c4f2e1b9d7a3f60-FRA"),
                    ("X-Frame-Options", "SAMEORIGIN"),
                ]
            page = robot_check_page(fault.variant, shop=shop.name)
            self._send_page(status, page, head=head, headers=headers)
        elif kind is Fault.not_found:
            self._send_page(404, shop._theme().not_found(), head=head)
        elif kind is Fault.gone:
            self._send_page(410, shop._theme().gone(), head=head)
        elif kind is Fault.redirect_home:
            self._send_page(302, status_page(302, "Found"), head=head, headers=[("Location", "/")])
        elif kind is Fault.gzip_bomb:
            body = gzip_bomb(fault.size or DEFAULT_BOMB)
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self._status = 200
            if not head:
                self.wfile.write(body)
                self._sent = len(body)
        elif kind is Fault.reset:
            self.close_connection = True
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()  # really closed (RST) once rfile/wfile are closed
        else:  # truncated, oversized: the page the route would serve, mangled
            if route == "product" and sku is not None and sku in shop.products:
                status, body = 200, shop._page(sku)[0].body
            else:
                code, text, _ = self._normal(route)
                status, body = code, text.encode("utf-8")
            if kind is Fault.truncated:
                self._truncated(status, body, head=head)
            else:
                self._oversized(status, body, fault.size or DEFAULT_OVERSIZED, head=head)

    def _truncated(self, status: int, body: bytes, *, head: bool) -> None:
        self.close_connection = True
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self._status = status
        if not head:
            sent = body[: len(body) // 2]
            self.wfile.write(sent)
            self._sent = len(sent)

    def _oversized(self, status: int, body: bytes, size: int, *, head: bool) -> None:
        cut = body.rfind(b"</body>")
        if cut < 0:
            cut = len(body)
        start, end = body[:cut], body[cut:]
        missing = max(size - len(body), 0)
        line = b'<div class="spacer" aria-hidden="true"></div>\n'
        block = line * (_CHUNK // len(line) + 1)
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body) + missing))
        self.end_headers()
        self._status = status
        if head:
            return
        self.wfile.write(start)
        sent = len(start)
        while missing > 0:
            if self.shop._closing.is_set():
                self.close_connection = True
                return
            piece = block[: min(missing, len(block))]
            self.wfile.write(piece)
            sent += len(piece)
            missing -= len(piece)
            self._sent = sent
        self.wfile.write(end)
        self._sent = sent + len(end)


# ----------------------------------------------------------------------------- shop


class Shop:
    """A simulated shop on its own ``127.0.0.1`` port, serving from construction.

    Change ``products`` (or use ``set_price`` / ``set_stock``) between rounds; pages,
    ETags and Last-Modified follow. Close with ``close()`` or use it as a context
    manager.
    """

    def __init__(
        self,
        name: str,
        *,
        style: Style | str = Style.plain,
        products: Iterable[Product] = (),
        locale: str = "en",
        currency: str | None = None,
        big: bool = False,
        robots_txt: str | None = DEFAULT_ROBOTS_TXT,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.name = name
        self.style = Style(style)
        self.locale = locale
        self.currency = (currency or _default_currency(locale)).upper()
        self.big = big
        self.robots_txt: str | None = robots_txt
        self.products: dict[str, Product] = {p.sku: replace(p) for p in products}
        self._lock = threading.Lock()
        self._faults: dict[tuple[str, str | None], FaultSpec] = {}
        self._log: list[RequestRecord] = []
        self._in_flight = 0
        self._max_in_flight = 0
        self._cache: dict[tuple[Any, ...], _Rendered] = {}
        self._versions: dict[str, tuple[tuple[Any, ...], int]] = {}
        self._index_keys: tuple[str, ...] = ()
        self._index: dict[str, str] = {}
        self._httpd = _HTTPServer(self, (host, port))
        self._closing = self._httpd.closing  # set when the shop closes: faults stop waiting
        self.host, self.port = self._httpd.server_name, self._httpd.server_port
        self.base_url = self._httpd.base_url

    def __repr__(self) -> str:
        return f"Shop({self.name!r}, style={self.style.value!r}, base_url={self.base_url!r})"

    # ------------------------------------------------------------------ catalogue

    def path(self, sku: str) -> str:
        """The product page's path, e.g. ``/products/topping-l50``. KeyError if unknown."""
        return product_path(self.style, self.products[sku])

    def url(self, sku: str) -> str:
        """The product page's absolute URL (authoritative; the server routes it)."""
        return self.base_url + self.path(sku)

    def add(self, product: Product) -> Product:
        """Add (or replace) a product; returns the shop's copy."""
        copy = replace(product)
        self.products[product.sku] = copy
        return copy

    def set_price(
        self,
        sku: str,
        price: Decimal | str | int | float,
        *,
        was_price: Decimal | str | int | float | object | None = _KEEP,
        in_stock: bool | None = None,
    ) -> Product:
        """Change a product's price (and optionally its was-price and stock)."""
        product = self.products[sku]
        product.price = Decimal(str(price))
        if was_price is not _KEEP:
            product.was_price = None if was_price is None else Decimal(str(was_price))
        if in_stock is not None:
            product.in_stock = in_stock
        return product

    def set_stock(self, sku: str, in_stock: bool) -> Product:
        product = self.products[sku]
        product.in_stock = in_stock
        return product

    def page(self, sku: str) -> bytes:
        """The product page's current body, exactly as GET serves it uncompressed."""
        return self._page(sku)[0].body

    def etag(self, sku: str) -> str:
        """The product page's current (identity) ETag, quotes included."""
        return f'"{self._page(sku)[0].digest}"'

    # ------------------------------------------------------------------ faults

    def set_fault(
        self,
        fault: Fault | str | FaultSpec,
        *,
        sku: str | None = None,
        path: str | None = None,
        count: int | None = None,
        delay: float | None = None,
        retry_after: int = 1,
        status: int | None = None,
        size: int | None = None,
        variant: str = "amazon",
    ) -> FaultSpec:
        """Make a product page (``sku``), any path (``path``) or, with neither, every
        product page of the shop misbehave. A sku fault wins over a shop-wide one.

        ``rate_limit`` and ``server_error`` apply to the next ``count`` requests
        (default 1); the others until cleared unless ``count`` is given.
        """
        if sku is not None and path is not None:
            raise ValueError("give sku or path, not both")
        if isinstance(fault, FaultSpec):
            spec = fault
        else:
            spec = FaultSpec.make(
                fault,
                count=count,
                delay=delay,
                retry_after=retry_after,
                status=status,
                size=size,
                variant=variant,
            )
        with self._lock:
            self._faults[self._fault_key(sku, path)] = spec
        return spec

    def clear_fault(self, sku: str | None = None, *, path: str | None = None) -> None:
        """Clear the fault of ``sku``, of ``path``, or (neither) the shop-wide one."""
        with self._lock:
            self._faults.pop(self._fault_key(sku, path), None)

    def clear_faults(self) -> None:
        """Clear every fault of the shop."""
        with self._lock:
            self._faults.clear()

    @property
    def faults(self) -> dict[str, FaultSpec]:
        """Active faults by target: ``"*"``, ``"sku:<sku>"`` or ``"path:<path>"``."""
        with self._lock:
            return {
                ("*" if target is None else f"{kind}:{target}"): spec
                for (kind, target), spec in self._faults.items()
            }

    @staticmethod
    def _fault_key(sku: str | None, path: str | None) -> tuple[str, str | None]:
        if path is not None:
            return ("path", urlsplit(path).path or "/")
        if sku is not None:
            return ("sku", sku)
        return ("shop", None)

    def _take_fault(self, path: str, sku: str | None) -> FaultSpec | None:
        keys: list[tuple[str, str | None]] = [("path", path)]
        if sku is not None:
            keys += [("sku", sku), ("shop", None)]
        with self._lock:
            for key in keys:
                spec = self._faults.get(key)
                if spec is None:
                    continue
                if spec.count is not None:
                    if spec.count <= 1:
                        del self._faults[key]
                    else:
                        self._faults[key] = replace(spec, count=spec.count - 1)
                return spec
        return None

    # ------------------------------------------------------------------ request log

    def requests(self, path: str | None = None, *, settle: float = 1.0) -> list[RequestRecord]:
        """Requests served so far, oldest first; ``path`` (a path or a URL of this
        shop, query ignored unless given) keeps only those for it.

        A request is logged once its answer is written, which can be a moment after
        the client has read it: this waits up to ``settle`` seconds for requests in
        flight to finish first.
        """
        deadline = time.monotonic() + settle
        while self.in_flight and time.monotonic() < deadline:
            time.sleep(0.005)
        with self._lock:
            records = list(self._log)
        if path is None:
            return records
        if path.startswith(self.base_url):
            path = path[len(self.base_url) :] or "/"
        if "?" in path:
            return [r for r in records if r.path == path]
        return [r for r in records if r.path.split("?", 1)[0] == path]

    @property
    def max_in_flight(self) -> int:
        """Most requests in progress at once since start (or ``reset_log``)."""
        with self._lock:
            return self._max_in_flight

    @property
    def in_flight(self) -> int:
        with self._lock:
            return self._in_flight

    def reset_log(self) -> None:
        with self._lock:
            self._log.clear()
            self._max_in_flight = self._in_flight

    def _enter(self) -> None:
        with self._lock:
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)

    def _leave(self, record: RequestRecord) -> None:
        with self._lock:
            self._in_flight -= 1
            self._log.append(record)

    # ------------------------------------------------------------------ pages

    def _context(self) -> PageContext:
        return PageContext(
            self.name, self.style, self.locale, self.base_url, self.currency, self.big
        )

    def _theme(self) -> Theme:
        return theme_for(self._context())

    def _route(self, path: str) -> tuple[str, str | None]:
        """``(kind, sku)``; kind is product, redirect, robots, home or missing."""
        if path == "/":
            return "home", None
        if path == "/robots.txt":
            return ("robots", None) if self.robots_txt is not None else ("missing", None)
        found = route_key(self.style, path)
        if found is None:
            return "missing", None
        key, canonical = found
        sku = self._sku_index().get(key)
        if sku is None:
            return "missing", None
        return ("product" if canonical else "redirect"), sku

    def _sku_index(self) -> dict[str, str]:
        keys = tuple(self.products)
        with self._lock:
            if keys != self._index_keys:
                self._index = {product_key(self.style, sku): sku for sku in keys}
                self._index_keys = keys
            return self._index

    def _page(self, sku: str) -> tuple[_Rendered, int]:
        """The rendered page of ``sku`` and its Last-Modified (whole seconds)."""
        product = self.products[sku]
        state = product.state()
        key = (sku, state, self.style, self.locale, self.currency, self.big, self.name)
        with self._lock:
            version = self._versions.get(sku)
            if version is None:
                modified = int(product.changed_at)
                self._versions[sku] = (state, modified)
            elif version[0] != state:
                # strictly later than before, so If-Modified-Since never hides a change
                modified = max(int(product.changed_at), version[1] + 1)
                self._versions[sku] = (state, modified)
            else:
                modified = version[1]
            rendered = self._cache.get(key)
        if rendered is None:
            rendered = _render(theme_for(self._context()).product(product, self.path(sku)))
            with self._lock:
                if len(self._cache) > 4 * len(self.products) + 64:
                    self._cache.clear()
                self._cache[key] = rendered
        return rendered, modified

    def _home(self) -> str:
        items = [
            Item(p.title, self.path(sku), p.price, p.currency, p.was_price, p.in_stock, sku)
            for sku, p in list(self.products.items())
        ]
        return self._theme().home(items)

    # ------------------------------------------------------------------ lifecycle

    def close(self, timeout: float = 2.0) -> None:
        """Stop serving, drop open connections and free the port (idempotent)."""
        self._httpd.stop(timeout)

    def __enter__(self) -> Shop:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
