"""Polite fetching, measured at the simulated shops' side."""

from __future__ import annotations

import asyncio
import itertools
import ssl
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
import trustme

from tracker.config import Config, FetchSettings
from tracker.fetch import Fetcher, FetchResult
from tracker.shops import Fault, Product, Shop, Style

SKUS = [f"amp-{i}" for i in range(6)]


def catalogue() -> list[Product]:
    return [Product(sku, f"Amplifier {sku}", Decimal("100") + i) for i, sku in enumerate(SKUS)]


@pytest.fixture
def shop() -> Iterator[Shop]:
    with Shop("Test shop", style=Style.shopify, products=catalogue()) as s:
        yield s


def config(**fetch: object) -> Config:
    settings = {"per_host_delay": 0.0, "backoff": 0.05, "retries": 2, "timeout": 5.0} | fetch
    return Config(path=None, fetch=FetchSettings(**settings))  # type: ignore[arg-type]


def fetch_all(cfg: Config, urls: list[str], **kw: str | None) -> list[FetchResult]:
    async def go() -> list[FetchResult]:
        async with Fetcher(cfg) as f:
            return list(await asyncio.gather(*(f.fetch(u, **kw) for u in urls)))

    return asyncio.run(go())


def settled(shop: Shop, path: str, count: int) -> int:
    """The server logs a request once its answer is written: give it a moment."""
    deadline = time.monotonic() + 2
    while len(shop.requests(path)) < count and time.monotonic() < deadline:
        time.sleep(0.01)
    return len(shop.requests(path))


def page_requests(shop: Shop) -> list[float]:
    return sorted(r.started for r in shop.requests() if r.path != "/robots.txt")


def test_per_host_concurrency_and_delay_hold(shop: Shop) -> None:
    shop.set_fault(Fault.slow, delay=0.15)
    results = fetch_all(
        config(concurrency=8, per_host_concurrency=2, per_host_delay=0.1),
        [shop.url(s) for s in SKUS],
    )
    assert all(r.ok and r.status == 200 for r in results)
    assert shop.max_in_flight <= 2
    starts = page_requests(shop)
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert len(starts) == len(SKUS)
    assert min(gaps) >= 0.09, gaps


def test_without_limits_requests_overlap(shop: Shop) -> None:
    # the counterpart of the test above: it shows the server can see overlap
    shop.set_fault(Fault.slow, delay=0.2)
    fetch_all(config(concurrency=8, per_host_concurrency=6), [shop.url(s) for s in SKUS])
    assert shop.max_in_flight >= 4


def test_global_concurrency_spans_hosts() -> None:
    with Shop("A", products=catalogue()) as a, Shop("B", products=catalogue()) as b:
        for s in (a, b):
            s.set_fault(Fault.slow, delay=0.2)
        urls = [s.url(sku) for s in (a, b) for sku in SKUS[:3]]
        fetch_all(config(concurrency=2, per_host_concurrency=3), urls)
        # the server notes "finished" just after the client already has the answer and
        # may have sent its next request: allow it 10 ms (each request takes 200 ms)
        windows = [
            (r.started, r.finished - 0.01)
            for s in (a, b)
            for r in s.requests()
            if r.path != "/robots.txt"
        ]
    peak = max(sum(1 for s, f in windows if s <= t < f) for t, _ in windows)
    assert peak <= 2


def test_retry_after_is_honoured(shop: Shop) -> None:
    shop.set_fault(Fault.rate_limit, sku=SKUS[0], count=1, retry_after=1)
    (result,) = fetch_all(config(), [shop.url(SKUS[0])])
    assert result.ok and result.attempts == 2
    first, second = page_requests(shop)
    assert second - first >= 0.95


def test_retry_after_beyond_the_cap_gives_up(shop: Shop) -> None:
    shop.set_fault(Fault.rate_limit, sku=SKUS[0], count=5, retry_after=3600)
    started = time.monotonic()
    (result,) = fetch_all(config(retry_after_cap=30), [shop.url(SKUS[0])])
    assert result.failure == "rate_limited" and "3600" in (result.error or "")
    assert time.monotonic() - started < 2
    assert len(page_requests(shop)) == 1


def test_server_errors_are_retried_then_reported(shop: Shop) -> None:
    shop.set_fault(Fault.server_error, sku=SKUS[0], count=1, status=502)
    shop.set_fault(Fault.server_error, sku=SKUS[1], count=10, status=503)
    ok, failed = fetch_all(config(retries=2), [shop.url(SKUS[0]), shop.url(SKUS[1])])
    assert ok.ok and ok.attempts == 2
    assert failed.failure == "http_error" and failed.attempts == 3 and failed.status == 503
    assert settled(shop, shop.path(SKUS[1]), 3) == 3


def test_conditional_get_gives_not_modified(shop: Shop) -> None:
    (first,) = fetch_all(config(), [shop.url(SKUS[0])])
    assert first.etag
    (second,) = fetch_all(
        config(), [shop.url(SKUS[0])], etag=first.etag, last_modified=first.last_modified
    )
    assert second.not_modified and second.ok and second.body == b""
    assert shop.requests(shop.path(SKUS[0]))[-1].if_none_match == first.etag
    shop.set_price(SKUS[0], Decimal("79.00"))
    (third,) = fetch_all(config(), [shop.url(SKUS[0])], etag=first.etag)
    assert not third.not_modified and b"79" in third.body


def test_robots_disallow_is_honoured(shop: Shop) -> None:
    shop.robots_txt = "User-agent: *\nDisallow: /\n"
    (result,) = fetch_all(config(), [shop.url(SKUS[0])])
    assert result.failure == "robots" and "disallows" in (result.error or "")
    assert [r.path for r in shop.requests()] == ["/robots.txt"]
    (ignored,) = fetch_all(config(respect_robots=False), [shop.url(SKUS[0])])
    assert ignored.ok


def test_robots_read_once_per_run_and_crawl_delay_wins(shop: Shop) -> None:
    shop.robots_txt = "User-agent: *\nCrawl-delay: 0.3\n"
    fetch_all(config(per_host_delay=0.0, per_host_concurrency=4), [shop.url(s) for s in SKUS[:3]])
    assert len(shop.requests("/robots.txt")) == 1
    starts = page_requests(shop)
    assert min(b - a for a, b in itertools.pairwise(starts)) >= 0.28


def test_robots_server_error_means_no_fetching(shop: Shop) -> None:
    shop.set_fault(Fault.server_error, path="/robots.txt", count=100, status=500)
    (result,) = fetch_all(config(retries=0), [shop.url(SKUS[0])])
    assert result.failure == "robots"
    assert page_requests(shop) == []


def test_oversized_body_is_cut_off(shop: Shop) -> None:
    shop.set_fault(Fault.oversized, sku=SKUS[0], size=20_000_000)
    (result,) = fetch_all(config(max_body_bytes=1_000_000), [shop.url(SKUS[0])])
    assert result.failure == "too_large"
    assert result.body == b""


def test_gzip_bomb_is_cut_off_by_inflated_size(shop: Shop) -> None:
    shop.set_fault(Fault.gzip_bomb, sku=SKUS[0], size=200_000_000)
    started = time.monotonic()
    (result,) = fetch_all(config(max_body_bytes=2_000_000), [shop.url(SKUS[0])])
    assert result.failure == "too_large"
    assert time.monotonic() - started < 5


def test_gzip_pages_are_decompressed(shop: Shop) -> None:
    (result,) = fetch_all(config(), [shop.url(SKUS[0])])
    assert shop.requests(shop.path(SKUS[0]))[-1].accept_encoding == "gzip, deflate"
    assert b"Amplifier amp-0" in result.body


def test_gone_truncated_and_timeout_are_classified(shop: Shop) -> None:
    shop.set_fault(Fault.not_found, sku=SKUS[0])
    shop.set_fault(Fault.truncated, sku=SKUS[1])
    shop.set_fault(Fault.slow, sku=SKUS[2], delay=2.0)
    shop.set_fault(Fault.reset, sku=SKUS[3])
    gone, truncated, slow, reset = fetch_all(
        config(retries=1, timeout=0.5), [shop.url(s) for s in SKUS[:4]]
    )
    assert gone.failure == "gone" and gone.status == 404
    assert truncated.failure == "network" and truncated.attempts == 2
    assert slow.failure == "timeout"
    assert reset.failure == "network"


def test_redirects_are_followed_and_final_url_kept(shop: Shop) -> None:
    shop.set_fault(Fault.redirect_home, sku=SKUS[0])
    (result,) = fetch_all(config(), [shop.url(SKUS[0])])
    assert result.ok and result.final_url == shop.base_url + "/"


def test_user_agent_names_the_project(shop: Shop) -> None:
    fetch_all(config(), [shop.url(SKUS[0])])
    agents = {r.user_agent for r in shop.requests()}
    assert len(agents) == 1 and (agents.pop() or "").startswith("tracker/")


class _KeepAliveServer:
    """A server on loopback that answers every request on a connection with a small
    page naming its path, and closes a connection once it has been idle ``idle`` s."""

    def __init__(self, *, idle: float, tls: ssl.SSLContext | None = None) -> None:
        self.idle = idle
        self.tls = tls
        self.connections = 0

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while head := await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), self.idle):
                path = head.split(b" ", 2)[1]
                body = b"<html><h1>Amp %s</h1></html>" % path
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
                    b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
                )
                await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()

    async def fetch(
        self, cfg: Config, paths: list[str], *, pause: float = 0.0
    ) -> list[FetchResult]:
        """Fetch ``paths`` one after another, ``pause`` s apart, with one Fetcher."""
        server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.tls)
        port = server.sockets[0].getsockname()[1]
        scheme = "https" if self.tls else "http"
        results = []
        async with server, Fetcher(cfg) as fetcher:
            for path in paths:
                results.append(await fetcher.fetch(f"{scheme}://127.0.0.1:{port}{path}"))
                await asyncio.sleep(pause)
        return results


def test_a_connection_the_server_closed_while_idle_is_not_reused() -> None:
    """A shop that closes keep-alive connections soon after answering: the next page is
    fetched on a new connection at the first attempt, not tried on the closed one."""
    from tracker import netback

    async def installed() -> bool:
        async with httpx.AsyncClient() as client:
            return netback.install(client)

    assert asyncio.run(installed())  # the asyncio backend is in place
    server = _KeepAliveServer(idle=0.05)
    results = asyncio.run(server.fetch(config(retries=2), ["/a", "/b", "/c"], pause=0.2))
    assert [(r.status, r.attempts) for r in results] == [(200, 1)] * 3
    assert server.connections == 3  # robots.txt and the first page share one


def test_pages_over_https_are_verified_and_share_one_kept_connection(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A shop on https with a certificate from a CA the machine trusts: every page
    arrives whole over one kept TLS connection; the same shop is refused, and the
    error names the certificate, when its CA is not trusted."""
    ca = trustme.CA()
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_tls)
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))

    server = _KeepAliveServer(idle=5.0, tls=server_tls)
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "ca.pem"))
    results = asyncio.run(server.fetch(config(), ["/a", "/b", "/c"], pause=0.05))
    assert [(r.status, r.body) for r in results] == [
        (200, b"<html><h1>Amp /%s</h1></html>" % p) for p in (b"a", b"b", b"c")
    ]
    assert server.connections == 1  # robots.txt and the three pages

    monkeypatch.delenv("SSL_CERT_FILE")
    (refused,) = asyncio.run(server.fetch(config(retries=0), ["/a"]))
    # robots.txt is the first request: an unverified shop is never fetched from
    assert refused.failure == "robots" and "CERTIFICATE_VERIFY_FAILED" in (refused.error or "")


def test_a_reader_slower_than_the_server_gets_every_byte_in_order() -> None:
    """The connection buffers what arrives while nobody reads, stops reading from the
    socket past its high-water mark and resumes as the buffer is read: a 3 MB answer
    left unread for a while arrives whole and in order, and then the end of the stream."""
    from tracker.netback import AsyncioBackend

    payload = bytes(range(256)) * (3 * 4096)  # 3 MiB

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(payload)
        await writer.drain()
        writer.close()

    async def go() -> tuple[bytes, bool, bytes]:
        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server:
            stream = await AsyncioBackend().connect_tcp("127.0.0.1", port, timeout=5)
            await asyncio.sleep(0.3)  # the server writes; nobody reads
            readable = stream.get_extra_info("is_readable")
            got = bytearray()
            while len(got) < len(payload):
                chunk = await stream.read(65536, timeout=5)
                assert chunk and len(chunk) <= 65536
                got += chunk
            end = await stream.read(65536, timeout=5)
            await stream.aclose()
        return bytes(got), readable, end

    got, readable, end = asyncio.run(go())
    assert readable  # data waiting: an idle connection in this state is not reused
    assert got == payload and end == b""


def test_a_fetcher_says_asyncio_to_sniffio_while_open_and_leaves_it_as_found(
    shop: Shop,
) -> None:
    """httpcore asks sniffio which library runs on every request; an open Fetcher answers
    "asyncio" through sniffio's context variable (in the tasks it starts too), and
    leaves the variable unset once closed."""
    import sniffio

    seen: list[str | None] = []

    async def go() -> FetchResult:
        async with Fetcher(config()) as f:

            async def inner() -> FetchResult:
                seen.append(sniffio.current_async_library_cvar.get())
                return await f.fetch(shop.url(SKUS[0]))

            result = await asyncio.create_task(inner())
        seen.append(sniffio.current_async_library_cvar.get())
        return result

    assert asyncio.run(go()).ok
    assert seen == ["asyncio", None]
