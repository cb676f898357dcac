"""Shops that misbehave, each fault run through the real pipeline into a real store.

One table, one row per fault. A module-scoped world (per database backend) records a
good state of every listing first, then breaks each listing its own way and runs the
pipeline again. Each row then checks what a user would notice: the run did not
crash, the check got the right classification, no bogus state was recorded, the last
good price is still the published one, and the failure is in the editors' report.

The shops are the simulated ones (``tracker.shops``) plus a tiny standard-library
server (``CannedServer``) for pages no simulated shop serves: soft 404s, search
pages, slow-drip bodies, odd charsets, hostile JSON-LD.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.conftest import fresh_database
from tracker.config import Config, parse_config
from tracker.pipeline import RunSummary, run_once
from tracker.report import Report, build_report, render_report
from tracker.shops import Fault, Product, Shop, Style, gzip_bomb
from tracker.store import CheckResult, ListingRef, Store, open_store

# -- a tiny server for canned answers -----------------------------------------------------------


@dataclass
class Answer:
    """One canned HTTP answer."""

    body: bytes = b""
    status: int = 200
    content_type: str | None = "text/html; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = ()
    drip: float = 0.0  # seconds between two 64-byte pieces of the body (a slow drip)
    chunked: bool = False  # Transfer-Encoding: chunked, no Content-Length
    repeat: int = 1  # the body is sent this many times: big bodies, little memory


ROBOTS_OK = Answer(b"User-agent: *\nDisallow:\n", content_type="text/plain")


class _Quiet(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def server_bind(self) -> None:  # no reverse DNS lookup of 127.0.0.1
        import socketserver

        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = "127.0.0.1", int(self.server_address[1])

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # the client went away: expected in these tests


class CannedServer:
    """A standard-library HTTP/1.1 server on loopback: each path (query included, else
    the path alone) answers with ``routes[path]``; anything else is a 404. Use ``with``."""

    def __init__(self) -> None:
        self.routes: dict[str, Answer] = {"/robots.txt": ROBOTS_OK}
        self.requests: list[str] = []
        self.posted: list[bytes] = []  # bodies of POST requests
        self.closing = threading.Event()
        canned = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = 10

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                canned._answer(self)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                canned.posted.append(self.rfile.read(length))
                canned._answer(self)

        self.httpd = _Quiet(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.httpd.server_port}"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def url(self, path: str) -> str:
        return self.base_url + path

    def _answer(self, h: BaseHTTPRequestHandler) -> None:
        self.requests.append(h.path)
        a = self.routes.get(h.path) or self.routes.get(urlsplit(h.path).path)
        if a is None:
            a = Answer(b"<!doctype html><title>404 Not Found</title><h1>Not Found</h1>", 404)
        h.send_response(a.status)
        if a.content_type:
            h.send_header("Content-Type", a.content_type)
        for name, value in a.headers:
            h.send_header(name, value)
        if a.chunked:
            h.send_header("Transfer-Encoding", "chunked")
        else:
            h.send_header("Content-Length", str(len(a.body) * a.repeat))
        h.end_headers()
        try:
            for _ in range(a.repeat):
                if self.closing.is_set():
                    h.close_connection = True
                    return
                if a.drip:
                    for i in range(0, len(a.body), 64):
                        if self.closing.wait(a.drip):
                            h.close_connection = True
                            return
                        h.wfile.write(a.body[i : i + 64])
                        h.wfile.flush()
                elif a.chunked:
                    h.wfile.write(b"%x\r\n%s\r\n" % (len(a.body), a.body))
                else:
                    h.wfile.write(a.body)
            if a.chunked:
                h.wfile.write(b"0\r\n\r\n")
        except OSError:
            h.close_connection = True

    def close(self) -> None:
        self.closing.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)

    def __enter__(self) -> CannedServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def product_page(
    name: str,
    price: str,
    currency: str = "USD",
    *,
    visible: str | None = None,
    jsonld: str | None = "default",
    extra: str = "",
    head: str = '<meta charset="utf-8">',
    lang: str = "en",
) -> str:
    """A plain product page: JSON-LD (unless ``jsonld`` is None or replaced) and a
    visible price (``visible``, default ``$price``)."""
    if jsonld == "default":
        data = {
            "@context": "https://schema.org",
            "@type": "Product",
            "name": name,
            "offers": {
                "@type": "Offer",
                "price": price,
                "priceCurrency": currency,
                "availability": "https://schema.org/InStock",
            },
        }
        jsonld = json.dumps(data).replace("<", "\\u003c")
    script = f'<script type="application/ld+json">{jsonld}</script>' if jsonld else ""
    shown = visible if visible is not None else f"${price}"
    return (
        f'<!DOCTYPE html><html lang="{lang}"><head>{head}<title>{name} | Canned Shop</title>'
        f"{script}</head><body><header><a href='/'>Canned Shop</a></header><main>"
        f'<div class="product"><h1>{name}</h1><p class="price">{shown}</p>'
        '<p class="stock">In stock</p><button type="submit" name="add">Add to cart</button>'
        f"</div>{extra}</main><footer>© Canned Shop</footer></body></html>"
    )


def grid(items: list[tuple[str, str]]) -> str:
    """A grid of product cards with prices, as on home, search and 404 pages."""
    cards = "".join(
        f'<li class="card"><a href="/p/{n.lower().replace(" ", "-")}">{n}</a>'
        f'<span class="price">${p}</span></li>'
        for n, p in items
    )
    return f'<ul class="product-grid">{cards}</ul>'


OTHERS = [("Schiit Magni Unity", "149.00"), ("FiiO K7", "199.99"), ("iFi Zen DAC V2", "169.00")]


# -- the fault table ------------------------------------------------------------------------------

GOOD = Decimal("249.00")


@dataclass(frozen=True)
class Row:
    """One fault: how round 2 breaks the listing and what must come of it.

    ``expect`` is a failure kind, or ``unchanged`` (the page is still read
    correctly) or ``held`` (recorded for review, not published).
    """

    name: str
    expect: str
    where: str  # "shop": a page of the simulated shop; "canned": the canned server; or a shop name
    shop_fault: dict[str, Any] = field(default_factory=dict)
    canned: Callable[[CannedServer, str], None] | None = None
    currency: str = "USD"
    good: Decimal = GOOD
    bug: str | None = None  # an xfail reason: the behaviour is wrong today

    @property
    def pid(self) -> str:
        return self.name.replace("_", "-")

    @property
    def path(self) -> str:
        return f"/p/{self.pid}"


def _set(path: str, answer: Answer) -> Callable[[CannedServer, str], None]:
    def apply(c: CannedServer, own: str) -> None:
        c.routes[own if path == "" else path] = answer

    return apply


def _redirect(location: str, *targets: tuple[str, Answer]) -> Callable[[CannedServer, str], None]:
    def apply(c: CannedServer, own: str) -> None:
        c.routes[own] = Answer(b"", 302, headers=(("Location", location),))
        for path, answer in targets:
            c.routes[path] = answer

    return apply


def _page(text: str, **kw: Any) -> Answer:
    return Answer(text.encode("utf-8"), **kw)


SOFT_404 = (
    "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
    "<title>Page not found – Canned Shop</title></head><body><main>"
    "<h1>Page not found</h1><p>Sorry, the page you were looking for does not exist.</p>"
    f"<h2>You may also like</h2>{grid(OTHERS)}</main></body></html>"
)
SEARCH = (
    "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
    "<title>Search results for “topping l50” – Canned Shop</title></head><body><main>"
    f"<h1>3 results for “topping l50”</h1>{grid(OTHERS)}</main></body></html>"
)
HOME = (
    "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
    "<title>Canned Shop – amplifiers and DACs</title></head><body><main>"
    f"<h1>Welcome to Canned Shop</h1>{grid(OTHERS)}</main></body></html>"
)
EURO_PAGE = product_page("Euro Amp", "1299.00", "EUR", visible="1.299,00 €", jsonld=None, lang="de")
MULTI_CURRENCY = product_page(
    "Multi Amp",
    "249.00",
    jsonld=json.dumps(
        {
            "@context": "https://schema.org",
            "@type": "Product",
            "name": "Multi Amp",
            "offers": [
                {"@type": "Offer", "price": "229.00", "priceCurrency": "EUR"},
                {"@type": "Offer", "price": "249.00", "priceCurrency": "USD"},
                {"@type": "Offer", "price": "199.00", "priceCurrency": "GBP"},
            ],
        }
    ),
    visible="€229.00 · $249.00 · £199.00",
)
MALFORMED_JSONLD = product_page(
    "Malformed Amp",
    "249.00",
    jsonld='{"@context": "https://schema.org", "@type": "Product", "name": "Malformed Amp", '
    '"offers": {"@type": "Offer", "price": "9.99", "priceCurrency": "USD", ',
)
WRONG_TYPES_JSONLD = product_page(
    "Odd Amp",
    "249.00",
    jsonld=json.dumps(
        [
            {"@type": 5, "offers": "free"},
            {"@type": ["Product"], "name": {"x": 1}, "offers": {"price": {"a": 1}}},
            {"@type": "Product", "offers": {"price": [None], "priceCurrency": 7}},
            {"@graph": "nope"},
            None,
            "text",
        ]
    ),
)
DEEP_JSONLD = product_page(
    "Deep Amp", "249.00", jsonld='{"@graph": ' + "[" * 60_000 + "]" * 60_000 + "}"
)
DEEP_HTML = product_page("Nested Amp", "249.00", extra="<div>" * 3_000 + "x" + "</div>" * 3_000)


def _good(row: Row) -> str:
    """The round-1 page of a canned row."""
    if row.currency == "EUR":
        return EURO_PAGE
    return product_page(row.pid.replace("-", " ").title(), str(row.good))


NO_PRICE_IN_STOCK = (
    "a page whose only price is unusable (0.00, >= 10^12) is recorded as a new state "
    "'in stock, no price' that replaces the published price"
)

ROWS = [
    # -- the simulated shop's faults -------------------------------------------------------------
    Row("timeout", "timeout", "shop", {"fault": Fault.slow, "delay": 4.0}),
    Row("reset", "network", "shop", {"fault": Fault.reset}),
    Row("truncated_body", "network", "shop", {"fault": Fault.truncated}),
    Row("server_error_503", "http_error", "shop", {"fault": Fault.server_error, "count": 99}),
    Row(
        "server_error_500",
        "http_error",
        "shop",
        {"fault": Fault.server_error, "status": 500, "count": 99},
    ),
    Row("robot_check_amazon", "blocked", "shop", {"fault": Fault.robot_check}),
    Row(
        "robot_check_cloudflare",
        "blocked",
        "shop",
        {"fault": Fault.robot_check, "variant": "cloudflare"},
    ),
    Row("not_found", "gone", "shop", {"fault": Fault.not_found}),
    Row("gone", "gone", "shop", {"fault": Fault.gone}),
    Row("redirect_home", "redirected", "shop", {"fault": Fault.redirect_home}),
    Row("gzip_bomb_2gb", "too_large", "shop", {"fault": Fault.gzip_bomb, "size": 2 << 30}),
    Row("body_60mb", "too_large", "shop", {"fault": Fault.oversized, "size": 60_000_000}),
    # a storm of 429s within the cap: retried, then rate_limited
    Row("rate_limit_storm", "rate_limited", "Storm shop"),
    # Retry-After beyond retry_after_cap: the host is left alone for the run
    Row("retry_after_beyond_cap", "rate_limited", "Stay-away shop"),
    Row("retry_after_beyond_cap_2", "rate_limited", "Stay-away shop"),
    # robots.txt answering 503: no fetching from that host (RFC 9309)
    Row("robots_unreachable", "robots", "Robots shop"),
    # -- pages from the canned server ------------------------------------------------------------
    Row(
        "slow_drip",
        "timeout",
        "canned",
        canned=_set("", _page(product_page("Slow Drip", "249.00"), drip=0.25)),
    ),
    Row(
        "chunked_60mb",
        "too_large",
        "canned",
        canned=_set("", Answer(b"<div>" + b" " * 65_531, chunked=True, repeat=920)),
    ),
    Row(
        "soft_404",
        "gone",
        "canned",
        canned=_set("", _page(SOFT_404)),
    ),
    Row(
        "redirect_to_search",
        "redirected",
        "canned",
        canned=_redirect("/search?q=topping+l50", ("/search", _page(SEARCH))),
    ),
    Row(
        "redirect_home_with_query",
        "redirected",
        "canned",
        canned=_redirect("/?ref=discontinued", ("/", _page(HOME))),
    ),
    Row(
        "redirect_to_other_product",
        "redirected",
        "canned",
        canned=_redirect(
            "/p/schiit-magni-unity",
            ("/p/schiit-magni-unity", _page(product_page("Schiit Magni Unity", "149.00"))),
        ),
    ),
    Row(
        "truncated_html",
        "no_price",
        "canned",
        canned=_set(
            "", _page(product_page("Cut Amp", "249.00", jsonld=None)[:150].rsplit("<", 1)[0])
        ),
    ),
    Row(
        "charset_missing",
        "unchanged",
        "canned",
        currency="EUR",
        good=Decimal("1299.00"),
        canned=_set(
            "", _page(EURO_PAGE.replace('<meta charset="utf-8">', ""), content_type="text/html")
        ),
    ),
    Row(
        "charset_wrong",
        "unchanged",
        "canned",
        currency="EUR",
        good=Decimal("1299.00"),
        canned=_set("", _page(EURO_PAGE, content_type="text/html; charset=iso-8859-1")),
    ),
    Row(
        "charset_latin1_meta",
        "unchanged",
        "canned",
        currency="EUR",
        good=Decimal("1299.00"),
        canned=_set(
            "",
            Answer(
                EURO_PAGE.replace('<meta charset="utf-8">', '<meta charset="iso-8859-15">').encode(
                    "iso-8859-15"
                ),
                content_type="text/html",
            ),
        ),
    ),
    Row("jsonld_malformed", "unchanged", "canned", canned=_set("", _page(MALFORMED_JSONLD))),
    Row("jsonld_wrong_types", "unchanged", "canned", canned=_set("", _page(WRONG_TYPES_JSONLD))),
    Row("jsonld_deeply_nested", "unchanged", "canned", canned=_set("", _page(DEEP_JSONLD))),
    Row("html_deeply_nested", "unchanged", "canned", canned=_set("", _page(DEEP_HTML))),
    Row(
        "price_zero",
        "no_price",
        "canned",
        canned=_set("", _page(product_page("Zero Amp", "0.00"))),
    ),
    Row(
        "price_absurd",
        "held",
        "canned",
        canned=_set("", _page(product_page("Absurd Amp", "249000000.00"))),
    ),
    Row(
        "price_beyond_range",
        "no_price",
        "canned",
        canned=_set("", _page(product_page("Huge Amp", "2490000000000000.00"))),
    ),
    Row(
        "several_currencies",
        "unchanged",
        "canned",
        canned=_set("", _page(MULTI_CURRENCY)),
    ),
]


def _param(row: Row) -> Any:
    marks = [pytest.mark.xfail(strict=True, reason=row.bug)] if row.bug else []
    return pytest.param(row, id=row.name, marks=marks)


# -- the world ------------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@dataclass
class World:
    config: Config
    store: Store
    shops: dict[str, Shop]
    canned: CannedServer
    first: RunSummary
    second: RunSummary
    outcomes: dict[str, tuple[str, CheckResult]]
    report: Report
    report_html: str


def fetch_section(**overrides: object) -> str:
    settings: dict[str, object] = {
        "timeout": 1.5,
        "concurrency": 32,
        "per_host_concurrency": 16,
        "per_host_delay": 0,
        "retries": 1,
        "backoff": 0.05,
        "retry_after_cap": 2,
    } | overrides
    return "[fetch]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in settings.items())


def listing_config(database: str, listings: list[tuple[str, str, str, str]]) -> str:
    """A configuration with one product per (product id, retailer, url, currency)."""
    lines = [
        "[tracker]",
        f"database = {json.dumps(database)}",
        "",
        fetch_section(),
    ]
    for pid, retailer, url, currency in listings:
        lines += [
            "[[products]]",
            f'id = "{pid}"',
            f'name = "{pid}"',
            "  [[products.listings]]",
            f"  retailer = {json.dumps(retailer)}",
            f"  url = {json.dumps(url)}",
            f'  currency = "{currency}"',
            "",
        ]
    return "\n".join(lines)


def _shop(name: str, skus: list[str]) -> Shop:
    return Shop(
        name,
        style=Style.shopify,
        products=[Product(sku, f"Amp {sku}", GOOD) for sku in skus],
    )


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, postgres_admin: Any
) -> Iterator[World]:
    with (
        fresh_database(
            request.param, tmp_path_factory.mktemp("faults"), postgres_admin, request.node.nodeid
        ) as url,
        _world(url) as w,
    ):
        yield w


@contextlib.contextmanager
def _world(database: str) -> Iterator[World]:
    by_shop: dict[str, list[str]] = {}
    for row in ROWS:
        if row.where != "canned":
            by_shop.setdefault("Faulty shop" if row.where == "shop" else row.where, []).append(
                row.pid
            )
    shops = {name: _shop(name, skus) for name, skus in by_shop.items()}
    gzip_bomb(2 << 30)  # built (and cached) now, not while the run's clocks tick
    canned = CannedServer()
    try:
        listings = []
        for row in ROWS:
            if row.where == "canned":
                url = canned.url(row.path)
                canned.routes[row.path] = _page(_good(row))
            else:
                shop = shops["Faulty shop" if row.where == "shop" else row.where]
                url = shop.url(row.pid)
            listings.append((row.pid, row.where, url, row.currency))
        text = listing_config(database, listings)
        with pytest.MonkeyPatch.context() as mp:
            mp.delenv("TRACKER_DATABASE_URL", raising=False)
            config = parse_config(text)
        clock = Clock()
        start = clock.now - timedelta(minutes=1)
        with open_store(config.tracker.database) as store:
            first = run_once(config, store=store, now=clock)
            # round 2: every listing breaks its own way
            for row in ROWS:
                if row.where == "shop":
                    shops["Faulty shop"].set_fault(sku=row.pid, **row.shop_fault)
                elif row.canned is not None:
                    row.canned(canned, row.path)
            shops["Storm shop"].set_fault(Fault.rate_limit, count=99, retry_after=1)
            shops["Stay-away shop"].set_fault(Fault.rate_limit, count=99, retry_after=3600)
            shops["Robots shop"].set_fault(Fault.server_error, path="/robots.txt", count=99)
            for shop in shops.values():
                shop.reset_log()
            clock.now += timedelta(hours=6)
            outcomes: dict[str, tuple[str, CheckResult]] = {}

            def seen(listing: ListingRef, result: CheckResult, outcome: str) -> None:
                outcomes[listing.product_id] = (outcome, result)

            second = run_once(config, store=store, now=clock, on_result=seen)
            clock.now += timedelta(minutes=1)
            report = build_report(config, store, since=start, until=clock.now)
            html = render_report(report, config, fmt="html")
            yield World(config, store, shops, canned, first, second, outcomes, report, html)
    finally:
        canned.close()
        for shop in shops.values():
            shop.close()


# -- the tests ------------------------------------------------------------------------------------


def test_the_first_round_records_every_good_price(world: World) -> None:
    assert world.first.failed == 0, world.first.failures
    assert world.first.new == len(ROWS)
    for row in ROWS:
        state = world.store.history(row.pid)[0]
        assert (state.price, state.currency) == (row.good, row.currency), row.name


def test_no_fault_crashes_the_run(world: World) -> None:
    assert world.second.checked == len(ROWS)
    assert set(world.outcomes) == {row.pid for row in ROWS}
    assert "internal" not in world.second.failures
    assert world.second.exit_code == 1


@pytest.mark.parametrize("row", [_param(r) for r in ROWS])
def test_fault(world: World, row: Row) -> None:
    outcome, result = world.outcomes[row.pid]
    assert outcome == row.expect, (outcome, result.error, result.offer)
    # no bogus state: the history holds the good state only (held: recorded, not published)
    history = [(h.price, h.currency) for h in world.store.history(row.pid)]
    if row.expect == "held":
        assert history[0] == (row.good, row.currency) and len(history) == 2
        (held,) = [q for q in world.report.quarantined if q.product_id == row.pid]
        assert held.old_price == row.good
    else:
        assert history == [(row.good, row.currency)], history
    # the last good price is still the published one
    (published,) = world.store.current_listings([row.pid])[row.pid]
    assert (published.price, published.currency) == (row.good, row.currency)
    # the failure is in the report, with the last good price
    failing = {f.product_id: f for f in world.report.failing}
    if row.expect in ("unchanged", "held"):
        assert row.pid not in failing
        return
    f = failing[row.pid]
    assert (f.kind, f.consecutive, f.last_good_price) == (row.expect, 1, row.good)
    assert f.error
    assert f.url in world.report_html and row.expect in world.report_html


def test_a_host_that_asks_to_stay_away_is_left_alone(world: World) -> None:
    # Retry-After: 3600, beyond the cap: no retry (see also the test below)
    paths = [r.path for r in world.shops["Stay-away shop"].requests() if r.path != "/robots.txt"]
    assert 1 <= len(paths) <= 2 and len(set(paths)) == len(paths), paths
    # a storm within the cap is retried, once (retries = 1), no more
    pages = [r for r in world.shops["Storm shop"].requests() if r.path != "/robots.txt"]
    assert [r.status for r in pages] == [429, 429]


def test_an_unreachable_robots_txt_means_no_page_is_fetched(world: World) -> None:
    paths = [r.path for r in world.shops["Robots shop"].requests()]
    assert paths and set(paths) == {"/robots.txt"}


# -- faults that need a run of their own ----------------------------------------------------------


def run_alone(
    tmp_path: Path, listings: list[tuple[str, str, str, str]], **fetch: object
) -> tuple[RunSummary, dict[str, tuple[str, CheckResult]]]:
    """One run of ``listings`` into a fresh SQLite store; the outcome per product."""
    text = listing_config(f"sqlite:///{tmp_path / 'history.sqlite3'}", listings)
    text = text.replace(fetch_section(), fetch_section(**fetch))
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("TRACKER_DATABASE_URL", raising=False)
        config = parse_config(text)
    outcomes: dict[str, tuple[str, CheckResult]] = {}

    def seen(listing: ListingRef, result: CheckResult, outcome: str) -> None:
        outcomes[listing.product_id] = (outcome, result)

    with open_store(config.tracker.database) as store:
        summary = run_once(config, store=store, on_result=seen)
    return summary, outcomes


def test_no_request_follows_a_retry_after_beyond_the_cap(tmp_path: Path) -> None:
    """Listings already waiting for the host's turn are not sent once it said 'an hour'."""
    skus = [f"amp-{i}" for i in range(8)]
    with _shop("Stay-away shop", skus) as shop:
        shop.set_fault(Fault.rate_limit, count=99, retry_after=3600)
        summary, _ = run_alone(
            tmp_path,
            [(sku, "Stay-away shop", shop.url(sku), "USD") for sku in skus],
            per_host_concurrency=1,
            per_host_delay=0.05,
        )
        pages = [r for r in shop.requests() if r.path != "/robots.txt"]
    assert summary.failures == {"rate_limited": len(skus)}
    assert len(pages) == 1, f"{len(pages)} requests after being asked to stay away for an hour"


def test_a_page_slow_to_extract_does_not_time_out_other_fetches(tmp_path: Path) -> None:
    """A large page slow to extract does not stall the fetches in flight into timeouts."""
    slow = product_page("Nested Amp", "249.00", extra="<div>" * 40_000 + "x" + "</div>" * 40_000)
    with _shop("Other shop", ["fine"]) as shop, CannedServer() as canned:
        canned.routes["/p/nested"] = _page(slow)
        shop.set_fault(Fault.slow, sku="fine", delay=0.3)  # answers well within the timeout
        summary, outcomes = run_alone(
            tmp_path,
            [
                ("nested", "Canned", canned.url("/p/nested"), "USD"),
                ("fine", "Other shop", shop.url("fine"), "USD"),
            ],
            timeout=1.0,
            retries=0,
        )
    assert outcomes["nested"][0] == "new"
    assert outcomes["fine"][0] == "new", outcomes["fine"][1].error
    assert summary.failed == 0


# -- memory -------------------------------------------------------------------------------------

MEMORY_LIMIT_KB = 300 * 1024

# runs a command and prints the peak RSS (kB) of it and its children: ours only
_MEASURE = (
    "import resource, subprocess, sys; "
    "done = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
    "sys.stderr.write(done.stdout + done.stderr); "
    "print(done.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


def peak_rss_of_run(config_file: Path) -> tuple[int, int, str]:
    """(exit code, peak RSS in kB, output) of ``python -m tracker run`` in a subprocess."""
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            _MEASURE,
            sys.executable,
            "-m",
            "tracker",
            "--config",
            str(config_file),
            "run",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    code, peak = (int(x) for x in done.stdout.split())
    return code, peak, done.stderr


@pytest.fixture(scope="module")
def big_pages() -> Iterator[tuple[Shop, CannedServer]]:
    with (
        _shop("Huge shop", ["bomb", "big", "fine"]) as shop,
        CannedServer() as canned,
    ):
        shop.set_fault(Fault.gzip_bomb, sku="bomb", size=2 << 30)
        shop.set_fault(Fault.oversized, sku="big", size=60_000_000)
        canned.routes["/p/chunked"] = Answer(b"<p>" + b" " * 65_533, chunked=True, repeat=920)
        yield shop, canned


def test_memory_stays_bounded_on_huge_bodies(
    big_pages: tuple[Shop, CannedServer], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop, canned = big_pages
    monkeypatch.delenv("TRACKER_DATABASE_URL", raising=False)
    config_file = tmp_path / "config.toml"
    config_file.write_text(
        listing_config(
            f"sqlite:///{tmp_path / 'history.sqlite3'}",
            [
                ("bomb", "Huge shop", shop.url("bomb"), "USD"),
                ("big", "Huge shop", shop.url("big"), "USD"),
                ("chunked", "Canned", canned.url("/p/chunked"), "USD"),
                ("fine", "Huge shop", shop.url("fine"), "USD"),
            ],
        )
    )
    code, peak, output = peak_rss_of_run(config_file)
    assert code == 1, output
    assert "3 failed" in output and "too_large" in output, output
    print(f"peak RSS of `tracker run` on a 2 GiB gzip bomb and two 60 MB bodies: {peak} kB")
    assert peak < MEMORY_LIMIT_KB, f"peak RSS {peak} kB"
    # the bomb was really served: about 2 MB of gzip for 2 GiB of page
    bomb = [r for r in shop.requests() if r.fault is Fault.gzip_bomb]
    assert bomb and bomb[0].status == 200
