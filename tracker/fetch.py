"""Fetch listing pages politely.

One ``Fetcher`` serves one run: per host (scheme, host and port) a small pooled
``httpx.AsyncClient`` whose connections run on asyncio's own transports
(``tracker.netback``), a concurrency limit and a minimum delay between
request starts that hold across the whole run, retries included. robots.txt is
read once per host per run (protego) and its ``Crawl-delay`` is honoured when it
is longer than ours.

``Fetcher.fetch`` never raises for a bad page: it returns a ``FetchResult``
whose ``failure`` names the kind:

=============  ===========================================================
``timeout``    no complete answer within ``timeout`` seconds
``network``    connection refused or reset, truncated body, bad protocol
``rate_limited``  429 after every retry, or a ``Retry-After`` beyond the cap
``http_error`` another 4xx/5xx status (the body is kept for diagnosis)
``gone``       404 or 410
``robots``     robots.txt disallows the page (or could not be read: 5xx, or
               no connection, with the reason)
``too_large``  the body, decompressed, passed ``max_body_bytes``
``redirect``   too many redirects, or a redirect to a non-http(s) URL
=============  ===========================================================

Retries (``retries`` of them) cover connection errors, timeouts, truncated
bodies, 429 and 502-504, with exponential backoff and jitter; ``Retry-After``
is honoured up to ``retry_after_cap`` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import email.utils
import logging
import random
import time
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from http.cookiejar import CookieJar
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx
import sniffio
from protego import Protego

from tracker import netback
from tracker.config import Config, FetchSettings
from tracker.errors import BodyTooLarge, FetchError, exception_text
from tracker.models import origin_of

__all__ = ["FetchResult", "Fetcher", "SharedGate", "origin_of"]

log = logging.getLogger(__name__)


def _declare_asyncio() -> contextvars.Token[str | None] | None:
    """Say "asyncio" in sniffio's context variable, for the task that opens a ``Fetcher``
    and the tasks it starts. httpcore and anyio ask sniffio which library runs 14 times a
    request; without the variable each ask looks for the current task, with an import
    statement (14 of the 43 current-task lookups of a page). The answer is the same. A
    ``Token`` to reset, or None when the variable was already set."""
    var: contextvars.ContextVar[str | None] = sniffio.current_async_library_cvar
    if var.get() is not None:
        return None
    return var.set("asyncio")


RETRY_STATUSES = frozenset({429, 502, 503, 504})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
ROBOTS_MAX_BYTES = 500_000


@dataclass(frozen=True, slots=True)
class FetchResult:
    """What one fetch of one URL produced (after retries and redirects)."""

    url: str
    final_url: str
    status: int | None = None
    body: bytes = b""
    content_type: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    not_modified: bool = False
    failure: str | None = None
    error: str | None = None
    attempts: int = 0
    elapsed: float = 0.0  # seconds, waiting for politeness excluded
    waited: float = 0.0  # seconds spent waiting for the host's turn

    @property
    def ok(self) -> bool:
        return self.failure is None


class SharedGate(Protocol):
    """Per-host politeness shared by several processes (see ``tracker.politeness``)."""

    async def acquire(
        self, origin: str, *, delay: float, limit: int, hold: float, slots: asyncio.Semaphore
    ) -> object:
        """Wait for a turn on ``origin`` and one of ``slots`` (held on return), without
        holding any of ``slots`` while the host is busy; a token for ``release``."""
        ...

    async def release(self, token: object, *, late: float = 0.0) -> None:
        """The request ended; it went out ``late`` seconds after its turn was granted."""
        ...

    async def robots(self, origin: str) -> tuple[int, bytes] | None:
        """A robots.txt answer (status, body) another worker read recently, if any."""
        ...

    async def save_robots(self, origin: str, status: int, body: bytes) -> None:
        """Share a robots.txt answer with the other workers."""
        ...

    async def aclose(self) -> None:
        """The run is over."""
        ...


class _Host:
    """Politeness state of one host for one run."""

    def __init__(self, settings: FetchSettings, origin: str, client: httpx.AsyncClient) -> None:
        self.settings = settings
        self.origin = origin
        self.client = client
        self.slots = asyncio.Semaphore(settings.per_host_concurrency)
        self.turn = asyncio.Lock()
        self.next_start = 0.0
        self.delay = settings.per_host_delay
        self.robots_lock = asyncio.Lock()
        self.robots_loaded = False
        self.robots: Protego | None = None
        self.robots_error: str | None = None
        self.blocked_until = 0.0  # a Retry-After longer than the cap stops the host


class _Granted:
    """A request's turn on a host: how long it waited, and when its headers really went
    out (from httpcore's trace), so the shared gate spaces the next request from the
    real send, not from the moment the turn was granted."""

    def __init__(self, clock: Callable[[], float], waited: float) -> None:
        self._clock = clock
        self.waited = waited
        self.granted = clock()
        self.sent: float | None = None

    async def trace(self, event: str, info: dict[str, Any]) -> None:
        if self.sent is None and event.endswith("send_request_headers.complete"):
            self.sent = self._clock()

    @property
    def late(self) -> float:
        """Seconds from the grant to the real send (0 when unknown)."""
        return max(self.sent - self.granted, 0.0) if self.sent is not None else 0.0


class _Retry(Exception):
    def __init__(
        self, kind: str, message: str, *, wait: float | None = None, status: int | None = None
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.wait = wait
        self.status = status


class Fetcher:
    """Fetches pages for one run. Use as ``async with Fetcher(config) as f: ...``."""

    def __init__(
        self,
        config: Config,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        shared: SharedGate | None = None,
    ) -> None:
        self.config = config
        self.user_agent = config.tracker.user_agent
        self.robots_token = self.user_agent.split("/", 1)[0].split()[0] or "tracker"
        self._clock = clock
        self._sleep = sleep
        self._shared = shared
        self._hosts: dict[str, _Host] = {}
        self._global = asyncio.Semaphore(config.fetch.concurrency)
        self._transport = transport
        self._headers = {
            "User-Agent": self.user_agent,
            "Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8",
            "Accept-Encoding": "gzip, deflate",
        }
        self._ssl: Any = None  # one TLS context for every client (loading CAs is costly)
        self._clients: list[httpx.AsyncClient] = []
        self._cookies = CookieJar()  # one jar for every host's client, as with one client
        self._declared: contextvars.Token[str | None] | None = None  # see _declare_asyncio
        # An injected transport gets one shared client; otherwise each host gets its own
        # small pool (see _new_client): httpcore scans every pooled connection on each
        # request, so one big pool across hosts costs O(connections) per request and
        # evicts other hosts' keep-alive connections.
        self._one_client = self._new_client(config.fetch.concurrency) if transport else None

    def _new_client(self, connections: int) -> httpx.AsyncClient:
        if self._transport is None and self._ssl is None:
            self._ssl = httpx.create_ssl_context()
        limits = httpx.Limits(
            max_connections=max(connections, 1), max_keepalive_connections=max(connections, 1)
        )
        client = httpx.AsyncClient(
            transport=self._transport,
            verify=self._ssl if self._transport is None else True,
            limits=limits,
            headers=self._headers,
            cookies=self._cookies,
            follow_redirects=False,
            timeout=httpx.Timeout(self.config.fetch.timeout),
        )
        if self._transport is None:
            netback.install(client)
        self._clients.append(client)
        return client

    async def __aenter__(self) -> Fetcher:
        self._declared = _declare_asyncio()
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            await self.aclose()
        finally:
            declared, self._declared = self._declared, None
            if declared is not None:
                with contextlib.suppress(ValueError):  # (left in another context)
                    declared.var.reset(declared)

    async def aclose(self) -> None:
        clients, self._clients = self._clients, []
        for client in clients:
            await client.aclose()

    # -- politeness -----------------------------------------------------------------------------

    def _host(self, url: str) -> _Host:
        key = origin_of(url)
        host = self._hosts.get(key)
        if host is None:
            settings = self.config.fetch_for(url)
            client = self._one_client or self._new_client(
                min(settings.per_host_concurrency, self.config.fetch.concurrency) + 1
            )
            host = self._hosts[key] = _Host(settings, key, client)
        return host

    def host_delay(self, url: str) -> float:
        """Seconds between two requests to ``url``'s host (robots.txt Crawl-delay included)."""
        return self._host(url).delay

    def may_share(self, origin: str, *, together: int) -> bool:
        """Whether another process may fetch from the host ``origin`` (see ``origin_of``)
        beside this fetcher now, when the two (or more) have at most ``together`` requests
        in flight at once: this fetcher has begun the host (its robots.txt is read and
        allows it), nothing asks to space or hold requests to it (no per-host delay, no
        Crawl-delay, no Retry-After in force), and ``together`` is within its per-host
        concurrency."""
        host = self._hosts.get(origin)
        if host is None or host.robots_error is not None:
            return False
        if host.settings.respect_robots and not host.robots_loaded:
            return False
        now = self._clock()
        return (
            host.delay <= 0
            and host.next_start <= now
            and host.blocked_until <= now
            and together <= host.settings.per_host_concurrency
        )

    @asynccontextmanager
    async def _turn(self, host: _Host) -> AsyncIterator[_Granted]:
        """Wait for a slot on ``host`` and for its delay; yields the turn (see ``_Granted``).

        With a shared gate, the slot and the start time are also reserved across
        every process sharing the database.
        """
        started = self._clock()
        async with host.slots:
            async with host.turn:
                wait = host.next_start - self._clock()
                if wait > 0:
                    await self._sleep(wait)
                host.next_start = self._clock() + host.delay
            shared = self._shared
            if shared is None:
                async with self._global:
                    yield _Granted(self._clock, self._clock() - started)
                return
            token = await shared.acquire(
                host.origin,
                delay=host.delay,
                limit=host.settings.per_host_concurrency,
                hold=host.settings.timeout * 2 + 5,
                slots=self._global,
            )
            try:
                turn = _Granted(self._clock, self._clock() - started)
                try:
                    yield turn
                finally:
                    await shared.release(token, late=turn.late)
            finally:
                self._global.release()

    def _trace(self, turn: _Granted) -> Any:
        """httpcore's trace hook for ``turn``: only a shared gate reads when a request
        really went out (each traced request costs a dozen more awaits)."""
        return turn.trace if self._shared is not None else None

    async def _robots(self, host: _Host, url: str) -> tuple[bool, str | None]:
        """Whether robots.txt allows ``url`` (read once per host per run)."""
        if not host.settings.respect_robots:
            return True, None
        async with host.robots_lock:
            if not host.robots_loaded:
                await self._load_robots(host, url)
                host.robots_loaded = True
        if host.robots_error:
            return False, host.robots_error
        if host.robots is not None and not host.robots.can_fetch(url, self.robots_token):
            return False, f"robots.txt of {origin_of(url)} disallows {urlsplit(url).path}"
        return True, None

    async def _load_robots(self, host: _Host, url: str) -> None:
        parts = urlsplit(url)
        robots_url = f"{parts.scheme}://{parts.netloc}/robots.txt"
        shared = self._shared
        cached = await shared.robots(host.origin) if shared is not None else None
        if cached is not None:
            self._apply_robots(host, url, *cached)
            return
        try:
            async with self._turn(host) as turn, asyncio.timeout(host.settings.timeout):
                # another worker may have read it while this one waited for the host
                cached = await shared.robots(host.origin) if shared is not None else None
                if cached is None:
                    status, body = await self._get_small(
                        host.client, robots_url, ROBOTS_MAX_BYTES, trace=self._trace(turn)
                    )
                    if shared is not None and status < 500:  # an answer, not an outage
                        await shared.save_robots(host.origin, status, body)
                else:
                    status, body = cached
        except (httpx.HTTPError, TimeoutError) as exc:
            # RFC 9309: an unreachable robots.txt means "disallow everything" for now
            host.robots_error = f"robots.txt unreachable ({exception_text(exc)}); not fetching"
            return
        self._apply_robots(host, url, status, body)

    def _apply_robots(self, host: _Host, url: str, status: int, body: bytes) -> None:
        if status >= 500:
            host.robots_error = f"robots.txt answered {status}; not fetching"
        elif status == 200:
            text = body.decode("utf-8", "replace")
            host.robots = Protego.parse(text)
            crawl_delay = host.robots.crawl_delay(self.robots_token)
            if crawl_delay and float(crawl_delay) > host.delay:
                host.delay = float(crawl_delay)
                log.info("%s asks for %.1fs between requests", origin_of(url), host.delay)
        # 4xx: no robots.txt, everything allowed

    async def _get_small(
        self, client: httpx.AsyncClient, url: str, limit: int, *, trace: Any = None
    ) -> tuple[int, bytes]:
        """GET following redirects, keeping at most ``limit`` bytes of the body."""
        extensions = {"trace": trace} if trace is not None else None
        async with client.stream(
            "GET", url, follow_redirects=True, extensions=extensions
        ) as response:
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) >= limit:
                    break
            return response.status_code, bytes(body[:limit])

    # -- fetching -------------------------------------------------------------------------------

    async def fetch(
        self, url: str, *, etag: str | None = None, last_modified: str | None = None
    ) -> FetchResult:
        """Fetch ``url`` politely; never raises for a bad page (see the module docstring)."""
        host = self._host(url)
        settings = host.settings
        attempts = 0
        waited = 0.0
        started = self._clock()
        last: _Retry | None = None
        for attempt in range(settings.retries + 1):
            if host.blocked_until > self._clock():
                return self._failed(
                    url, "rate_limited", "the host asked us to stay away", attempts, started, waited
                )
            attempts += 1
            try:
                result, w = await self._attempt(url, host, etag, last_modified)
                waited += w
                elapsed = self._clock() - started - waited
                return _with(result, attempts=attempts, elapsed=elapsed, waited=waited)
            except _Retry as exc:
                last = exc
                if attempt >= settings.retries:
                    break
                if exc.wait is not None and exc.wait > settings.retry_after_cap:
                    host.blocked_until = self._clock() + exc.wait
                    break
                wait = exc.wait if exc.wait is not None else _backoff(settings.backoff, attempt)
                log.debug("retrying %s in %.2fs: %s", url, wait, exc)
                if exc.wait is not None:  # the host asked everyone to wait
                    host.next_start = max(host.next_start, self._clock() + wait)
                await self._sleep(wait)
                waited += wait
        assert last is not None
        message = str(last)
        if last.wait is not None and last.wait > settings.retry_after_cap:
            message += f" (asked to retry after {last.wait:.0f}s, more than retry_after_cap)"
        return self._failed(url, last.kind, message, attempts, started, waited, status=last.status)

    def _failed(
        self,
        url: str,
        kind: str,
        message: str,
        attempts: int,
        started: float,
        waited: float,
        *,
        status: int | None = None,
    ) -> FetchResult:
        return FetchResult(
            url=url,
            final_url=url,
            status=status,
            failure=kind,
            error=message,
            attempts=attempts,
            elapsed=max(0.0, self._clock() - started - waited),
            waited=waited,
        )

    async def _attempt(
        self, url: str, host: _Host, etag: str | None, last_modified: str | None
    ) -> tuple[FetchResult, float]:
        """One attempt, following redirects; raises ``_Retry`` for retryable failures."""
        current, current_host = url, host
        waited = 0.0
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        settings = host.settings
        for _hop in range(settings.max_redirects + 1):
            allowed, why = await self._robots(current_host, current)
            if not allowed:
                return FetchResult(url=url, final_url=current, failure="robots", error=why), waited
            async with self._turn(current_host) as turn:
                waited += turn.waited
                if current_host.blocked_until > self._clock():
                    # the host asked everyone to stay away while this one waited its turn
                    return (
                        FetchResult(
                            url=url,
                            final_url=current,
                            failure="rate_limited",
                            error="the host asked us to stay away (Retry-After beyond the cap)",
                        ),
                        waited,
                    )
                try:
                    async with asyncio.timeout(current_host.settings.timeout):
                        result = await self._request(
                            url, current, headers, current_host, trace=self._trace(turn)
                        )
                except TimeoutError as exc:
                    raise _Retry(
                        "timeout", f"no complete answer within {current_host.settings.timeout:g}s"
                    ) from exc
                except httpx.TimeoutException as exc:
                    raise _Retry("timeout", f"timed out ({type(exc).__name__})") from exc
                except httpx.TransportError as exc:
                    raise _Retry("network", exception_text(exc)) from exc
                except BodyTooLarge as exc:
                    return FetchResult(
                        url=url, final_url=current, failure="too_large", error=str(exc)
                    ), waited
                except FetchError as exc:
                    return FetchResult(
                        url=url, final_url=current, failure=exc.kind, error=str(exc)
                    ), waited
            if isinstance(result, str):  # a redirect
                target = result
                if urlsplit(target).scheme not in ("http", "https"):
                    return (
                        FetchResult(
                            url=url,
                            final_url=current,
                            failure="redirect",
                            error=f"refused a redirect to a non-http(s) URL: {target[:200]}",
                        ),
                        waited,
                    )
                current, current_host = target, self._host(target)
                continue
            return result, waited
        return (
            FetchResult(
                url=url,
                final_url=current,
                failure="redirect",
                error=f"more than {settings.max_redirects} redirects",
            ),
            waited,
        )

    async def _request(
        self, url: str, current: str, headers: dict[str, str], host: _Host, *, trace: Any
    ) -> FetchResult | str:
        """Send one request; a redirect target as ``str``, else the result."""
        settings = host.settings
        client = host.client
        extensions = {"trace": trace} if trace is not None else None
        request = client.build_request("GET", current, headers=headers, extensions=extensions)
        try:
            response = await client.send(request, stream=True)
        except httpx.InvalidURL as exc:  # httpx builds the next request from Location
            raise FetchError(
                f"refused a redirect to a non-http(s) URL ({exc})", kind="redirect"
            ) from exc
        try:
            status = response.status_code
            if status in REDIRECT_STATUSES and "location" in response.headers:
                if response.next_request is None:
                    raise FetchError("redirect without a usable Location", kind="redirect")
                return str(response.next_request.url)
            if status in RETRY_STATUSES:
                wait = _retry_after(response.headers.get("retry-after"))
                kind = "rate_limited" if status == 429 else "http_error"
                raise _Retry(
                    kind, f"HTTP {status} from {origin_of(current)}", wait=wait, status=status
                )
            if status == 304:
                return FetchResult(
                    url=url,
                    final_url=current,
                    status=304,
                    not_modified=True,
                    etag=response.headers.get("etag"),
                    last_modified=response.headers.get("last-modified"),
                )
            body = await _read_body(response, settings.max_body_bytes)
            failure = error = None
            if status in (404, 410):
                failure, error = "gone", f"HTTP {status}: the page no longer exists"
            elif status >= 400:
                failure, error = "http_error", f"HTTP {status}"
            return FetchResult(
                url=url,
                final_url=current,
                status=status,
                body=body,
                content_type=response.headers.get("content-type"),
                etag=response.headers.get("etag"),
                last_modified=response.headers.get("last-modified"),
                failure=failure,
                error=error,
            )
        finally:
            await response.aclose()


async def _read_body(response: httpx.Response, limit: int) -> bytes:
    """Read the body, decompressing it ourselves so that the limit counts inflated bytes."""
    length = response.headers.get("content-length")
    encoding = response.headers.get("content-encoding", "identity").lower().strip()
    if encoding in ("", "identity") and length and length.isdigit() and int(length) > limit:
        raise BodyTooLarge(f"body of {int(length):,} bytes is over max_body_bytes ({limit:,})")
    if encoding in ("", "identity"):
        inflate = None
    elif encoding in ("gzip", "x-gzip"):
        inflate = zlib.decompressobj(wbits=31)
    elif encoding == "deflate":
        inflate = None  # zlib-wrapped or raw: decided on the first bytes below
    else:
        raise FetchError(f"unsupported Content-Encoding {encoding!r}", kind="network")
    out = bytearray()
    try:
        async for chunk in response.aiter_raw():
            if encoding == "deflate" and inflate is None and chunk:
                # RFC 9110 deflate is zlib-wrapped; some servers (IIS) send it raw
                zlib_header = (
                    len(chunk) >= 2
                    and chunk[0] & 0x0F == 8
                    and ((chunk[0] << 8 | chunk[1]) % 31 == 0)
                )
                inflate = zlib.decompressobj(wbits=15 if zlib_header else -15)
            if inflate is not None:
                chunk = inflate.decompress(chunk, limit - len(out) + 1)
                if inflate.unconsumed_tail:
                    raise BodyTooLarge(f"body inflates past max_body_bytes ({limit:,})")
            out += chunk
            if len(out) > limit:
                raise BodyTooLarge(f"body is over max_body_bytes ({limit:,})")
        if inflate is not None:
            out += inflate.flush()
    except zlib.error as exc:
        raise FetchError(f"corrupt {encoding} body: {exc}", kind="network") from exc
    if len(out) > limit:
        raise BodyTooLarge(f"body is over max_body_bytes ({limit:,})")
    return bytes(out)


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _backoff(base: float, attempt: int) -> float:
    """Exponential backoff with full jitter between half and all of the step."""
    step: float = base * (2**attempt)
    return step * (0.5 + random.random() / 2)


def _with(result: FetchResult, **changes: Any) -> FetchResult:
    return replace(result, **changes)
