"""httpcore connections on asyncio's own transports, for the Fetcher's pools.

Under asyncio httpcore reaches the network through anyio, and each socket operation
pays for it: a read or a write opens an ``anyio.fail_after`` cancel scope (a loop timer
and a context manager), goes through a ``map_exceptions`` context manager, and a read
turns the transport's reading on and off again around its wait (two ``epoll_ctl``
system calls); a write ends with a checkpoint (a trip through the event loop). On the
benchmark farm a page takes several reads, and these costs were about an eighth of a
fetch's CPU.

``AsyncioBackend`` is httpcore's ``AsyncNetworkBackend`` on a plain
``asyncio.Protocol``:

- the protocol keeps reading while the connection is open and buffers what arrives, up
  to ``_HIGH_WATER`` bytes (reading resumes below ``_LOW_WATER``), so a read returns
  buffered data at once and otherwise waits on one future, with a ``call_later`` timer
  when it has a timeout;
- a write hands the bytes to the transport and waits only while the transport asks the
  protocol to pause (its buffer above asyncio's high-water mark);
- "is this idle connection readable" (httpcore asks before reusing one) is answered from
  what the protocol has seen (data, end of stream, a lost connection) and, when it has
  seen nothing, one ``poll`` of the socket for what the loop has not read yet;
- TLS is ``loop.start_tls`` on the same protocol; connecting is
  ``loop.create_connection`` (happy eyeballs 250 ms apart, as anyio's);
- errors become httpcore's own ``ConnectError``, ``ConnectTimeout``, ``ReadError``,
  ``ReadTimeout``, ``WriteError``, ``WriteTimeout``, as with anyio, so httpx maps them to
  the same ``httpx`` exceptions.

httpx (0.28, 0.29) takes no network backend for its own transport, so ``install`` sets
it on the transport's pool; where that pool is not there as expected, it changes
nothing and the client works as before through anyio (a test checks it is in place
with the versions installed).
"""

from __future__ import annotations

import asyncio
import collections
import select
import ssl
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, cast

import httpcore
import httpx

__all__ = ["AsyncioBackend", "install"]

_HIGH_WATER = 256 * 1024  # bytes buffered before the protocol stops reading
_LOW_WATER = 64 * 1024  # ... and resumes below this
_HAPPY_EYEBALLS_DELAY = 0.25  # seconds between connection attempts to a host's addresses


class _Protocol(asyncio.Protocol):
    """What arrives on one connection, buffered, and the one reader waiting for it."""

    transport: asyncio.Transport  # from connection_made, then start_tls

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.chunks: collections.deque[bytes] = collections.deque()
        self.buffered = 0
        self.eof = False  # the peer ended the stream, or the connection is gone
        self.error: BaseException | None = None  # why the connection was lost, if not clean
        self.reading_paused = False
        self.waiter: asyncio.Future[None] | None = None  # a read waiting for data
        self.drain: asyncio.Future[None] | None = None  # a write waiting for the transport
        self.writing_paused = False

    # -- asyncio's calls -------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # (a stream's transport)

    def data_received(self, data: bytes) -> None:
        self.chunks.append(data)
        self.buffered += len(data)
        if self.buffered > _HIGH_WATER and not self.reading_paused:
            self.reading_paused = True
            self.transport.pause_reading()
        _wake(self.waiter)

    def eof_received(self) -> bool:
        self.eof = True
        _wake(self.waiter)
        return False  # the transport closes itself

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = True
        if exc is not None:
            self.error = exc
        _wake(self.waiter)
        self.writing_paused = False
        _wake(self.drain)

    def pause_writing(self) -> None:
        self.writing_paused = True

    def resume_writing(self) -> None:
        self.writing_paused = False
        _wake(self.drain)

    # -- ours ------------------------------------------------------------------------------

    def take(self, max_bytes: int) -> bytes:
        chunk = self.chunks.popleft()
        if len(chunk) > max_bytes:
            chunk, rest = chunk[:max_bytes], chunk[max_bytes:]
            self.chunks.appendleft(rest)
        self.buffered -= len(chunk)
        if self.reading_paused and self.buffered < _LOW_WATER:
            self.reading_paused = False
            self.transport.resume_reading()
        return chunk


def _wake(future: asyncio.Future[None] | None) -> None:
    if future is not None and not future.done():
        future.set_result(None)


def _expire(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_exception(TimeoutError())


async def _wait(
    loop: asyncio.AbstractEventLoop,
    future: asyncio.Future[None],
    timeout: float | None,
    timed_out: type[httpcore.TimeoutException],
) -> None:
    """Wait for ``future``; ``timed_out`` after ``timeout`` seconds (None: no limit)."""
    timer = None if timeout is None else loop.call_later(max(timeout, 0.0), _expire, future)
    try:
        await future
    except TimeoutError as exc:
        raise timed_out(exc) from exc
    finally:
        if timer is not None:
            timer.cancel()


class _Stream(httpcore.AsyncNetworkStream):
    def __init__(self, protocol: _Protocol) -> None:
        self._protocol = protocol
        self._transport = protocol.transport  # (the protocol's next one after start_tls)
        self._closed = False
        self._poller: Any = None  # (made on the first idle check)

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        protocol = self._protocol
        if not protocol.chunks:
            if self._closed:
                raise httpcore.ReadError("the connection was closed")
            if not protocol.eof:
                protocol.waiter = protocol.loop.create_future()
                await _wait(protocol.loop, protocol.waiter, timeout, httpcore.ReadTimeout)
            if not protocol.chunks:
                if protocol.error is not None:
                    raise httpcore.ReadError(protocol.error) from protocol.error
                return b""  # the end of the stream
        return protocol.take(max_bytes)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        protocol = self._protocol
        if self._closed or self._transport.is_closing():
            error = protocol.error
            raise httpcore.WriteError(error or "the connection was closed") from error
        try:
            self._transport.write(buffer)
        except (OSError, RuntimeError) as exc:
            raise httpcore.WriteError(exc) from exc
        while protocol.writing_paused:
            protocol.drain = protocol.loop.create_future()
            await _wait(protocol.loop, protocol.drain, timeout, httpcore.WriteTimeout)
        if protocol.error is not None:
            raise httpcore.WriteError(protocol.error) from protocol.error

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        transport = self._transport
        try:
            if not transport.is_closing():
                transport.close()
                await asyncio.sleep(0)  # the loop closes the socket
        finally:  # (also when the closing task is cancelled meanwhile)
            transport.abort()  # what was not sent by now is dropped, as with anyio

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = self._protocol.loop
        try:
            transport = await loop.start_tls(
                self._transport,
                self._protocol,
                ssl_context,
                server_hostname=server_hostname,
                ssl_handshake_timeout=timeout if timeout is not None and timeout > 0 else None,
            )
        except ConnectionAbortedError as exc:  # asyncio's handshake timeout
            await self.aclose()
            raise httpcore.ConnectTimeout(exc) from exc
        except (OSError, EOFError) as exc:  # ssl.SSLError is an OSError
            await self.aclose()
            raise httpcore.ConnectError(exc) from exc
        if transport is None:  # (asyncio returns None only for a closed transport)
            await self.aclose()
            raise httpcore.ConnectError("the connection closed during the TLS handshake")
        self._protocol.transport = transport
        return _Stream(self._protocol)

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            return self._is_readable()
        if info == "ssl_object":
            return self._transport.get_extra_info("ssl_object")
        if info == "client_addr":
            return self._transport.get_extra_info("sockname")
        if info == "server_addr":
            return self._transport.get_extra_info("peername")
        if info == "socket":
            return self._transport.get_extra_info("socket")
        return None

    def _is_readable(self) -> bool:
        """Whether something came (data, the end, an error) while the connection was
        idle: an idle connection of a pool that is readable is not reused."""
        protocol = self._protocol
        if protocol.chunks or protocol.eof or self._closed:
            return True
        if self._poller is None:
            sock = self._transport.get_extra_info("socket")
            if sock is None or not hasattr(select, "poll"):
                return False
            self._poller = select.poll()
            self._poller.register(sock.fileno(), select.POLLIN)
        return bool(self._poller.poll(0))


async def _connected(
    connect: Callable[[], Awaitable[tuple[asyncio.Transport, _Protocol]]],
    timeout: float | None,
    socket_options: Iterable[Any] | None,
) -> _Stream:
    """A stream on what ``connect`` opens within ``timeout`` s, with ``socket_options``."""
    try:
        async with asyncio.timeout(timeout):
            _, protocol = await connect()
    except TimeoutError as exc:
        raise httpcore.ConnectTimeout(exc) from exc
    except OSError as exc:  # refused, unreachable, a name that does not resolve
        raise httpcore.ConnectError(exc) from exc
    try:
        sock = protocol.transport.get_extra_info("socket")
        for option in socket_options or ():
            sock.setsockopt(*option)
    except OSError as exc:
        protocol.transport.abort()
        raise httpcore.ConnectError(exc) from exc
    return _Stream(protocol)


class AsyncioBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend on asyncio's transports (see the module docstring)."""

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        return await _connected(
            lambda: loop.create_connection(
                lambda: _Protocol(loop),
                host,
                port,
                local_addr=(local_address, 0) if local_address else None,
                happy_eyeballs_delay=_HAPPY_EYEBALLS_DELAY,
            ),
            timeout,
            socket_options,
        )

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        return await _connected(
            lambda: loop.create_unix_connection(lambda: _Protocol(loop), path),
            timeout,
            socket_options,
        )

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


def install(client: httpx.AsyncClient) -> bool:
    """Put ``AsyncioBackend`` under ``client``'s default transport; False (and the
    client unchanged) where the transport is not httpx's own pool over httpcore's
    (an injected transport, a proxy, another httpx or httpcore version)."""
    transport = getattr(client, "_transport", None)
    pool = getattr(transport, "_pool", None)
    if type(transport) is not httpx.AsyncHTTPTransport or type(pool) is not (
        httpcore.AsyncConnectionPool
    ):
        return False
    inner = getattr(pool, "_network_backend", None)
    if not isinstance(inner, httpcore.AsyncNetworkBackend) or isinstance(inner, AsyncioBackend):
        return False
    pool._network_backend = AsyncioBackend()
    return True
