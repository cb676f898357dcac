"""The simulated shops: markup per style, HTTP behaviour, faults and the request log."""

from __future__ import annotations

import gzip
import json
import re
import socket
import threading
import time
import zlib
from collections.abc import Iterator
from decimal import Decimal
from email.utils import parsedate_to_datetime

import httpx
import pytest

from tracker.shops import (
    DEMO_SHOPS,
    Fault,
    Product,
    Shop,
    ShopFarm,
    ShopSpec,
    Style,
    format_price,
)

NBSP = "\u00a0"


def catalogue() -> list[Product]:
    return [
        Product("amp", "Test Amp Pro", Decimal("1299.00")),
        Product("dac", "Test DAC", Decimal("149.00"), in_stock=False),
        Product("sale", "Test Sale Amp", Decimal("199.00"), was_price=Decimal("249.00")),
        Product("xss", 'Amp </script><script>alert(1)</script> & "Co"', Decimal("10.00")),
    ]


@pytest.fixture(scope="module")
def styles() -> Iterator[ShopFarm]:
    """One shop per style, all with the same catalogue."""
    with ShopFarm([ShopSpec(f"{s.value} shop", s, catalogue()) for s in Style]) as farm:
        yield farm


@pytest.fixture(autouse=True)
def _no_faults(styles: ShopFarm) -> Iterator[None]:
    yield
    styles.clear_faults()


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5) as c:
        yield c


@pytest.fixture
def shop() -> Iterator[Shop]:
    """A private shop that a test may change at will."""
    with Shop("Private", style=Style.shopify, products=catalogue()) as s:
        yield s


def page(client: httpx.Client, farm: ShopFarm, style: Style, sku: str) -> str:
    response = client.get(farm[f"{style.value} shop"].url(sku))
    assert response.status_code == 200
    return response.text


def json_ld(html: str) -> list[dict[str, object]]:
    blocks = re.findall(r'<script type="application/ld\+json"[^>]*>(.*?)</script>', html, re.S)
    return [json.loads(b) for b in blocks]


# ------------------------------------------------------------------------ markup

# style -> (in-stock markers, out-of-stock markers, sale markers); regexes, DOTALL
MARKUP: dict[Style, tuple[list[str], list[str], list[str]]] = {
    Style.amazon: (
        [
            r'id="corePrice_feature_div".*?<span class="a-offscreen">\$1,299\.00</span>',
            r'<span id="productTitle"[^>]*>\s*Test Amp Pro\s*</span>',
            r'<div id="availability"[^>]*><span[^>]*>\s*In Stock\s*</span>',
            r'id="add-to-cart-button"',
            r'class="a-carousel-card"',
        ],
        [r'<div id="availability"[^>]*><span[^>]*>Currently unavailable\.</span>'],
        [r'List Price: <span class="a-price a-text-price"[^>]*><span class="a-offscreen">\$249'],
    ),
    Style.shopify: (
        [
            r'<meta property="og:price:amount" content="1,299\.00">',
            r'<meta property="og:price:currency" content="USD">',
            r'<span class="price-item price-item--regular">\s*\$1,299\.00 USD',
            r"window\.ShopifyAnalytics\.meta",
            r'"price":129900',
        ],
        [r"<button[^>]*disabled><span>Sold out</span>"],
        [r'<s class="price-item price-item--regular">\s*\$249\.00 USD'],
    ),
    Style.woocommerce: (
        [
            r'<p class="price"><span class="woocommerce-Price-amount amount"><bdi><span '
            r'class="woocommerce-Price-currencySymbol">&#36;</span>1,299\.00</bdi></span></p>',
            r'<p class="stock in-stock">In stock</p>',
            r'<section class="related products">',
        ],
        [r'<p class="stock out-of-stock">Out of stock</p>'],
        [r"<del aria-hidden=\"true\"><span class=\"woocommerce-Price-amount amount\"><bdi>.*?249"],
    ),
    Style.bigcommerce: (
        [
            r'itemscope itemtype="http://schema.org/Product"',
            r'itemprop="offers" itemscope itemtype="http://schema.org/Offer"',
            r'<meta itemprop="price" content="1299\.00">',
            r'<link itemprop="availability" href="http://schema.org/InStock">',
            r"data-product-price-without-tax class=\"price price--withoutTax\">\$1,299\.00<",
        ],
        [r'<link itemprop="availability" href="http://schema.org/OutOfStock">'],
        [r"data-product-non-sale-price-without-tax[^>]*>\$249\.00<"],
    ),
    Style.magento: (
        [
            r'data-price-amount="1299" data-price-type="finalPrice" class="price-wrapper ">'
            r'<span class="price">\$1,299\.00</span>',
            r'<div class="stock available"[^>]*><span>In stock</span>',
            r'<meta property="product:price:amount" content="1299"/>',
        ],
        [r'<div class="stock unavailable"[^>]*><span>Out of stock</span>'],
        [r'data-price-amount="249" data-price-type="oldPrice"'],
    ),
    Style.plain: (
        [
            r'<div class="buy"><span class="cost">USD 1,299\.00</span> <button[^>]*>Add to cart',
            r'<meta property="og:title" content="Test Amp Pro">',
            r'<meta property="product:price:amount" content="1299\.00">',
            r'<meta property="product:price:currency" content="USD">',
        ],
        [r'<span class="soldout">Sold out</span>'],
        [r'<s class="was">USD 249\.00</s>'],
    ),
}


@pytest.mark.parametrize("style", list(Style))
def test_each_style_carries_price_and_availability_in_its_markup(
    styles: ShopFarm, client: httpx.Client, style: Style
) -> None:
    in_stock, out_of_stock, sale = MARKUP[style]
    html = page(client, styles, style, "amp")
    for pattern in in_stock:
        assert re.search(pattern, html, re.S), pattern
    for pattern in out_of_stock:
        assert not re.search(pattern, html, re.S), pattern
    sold_out = page(client, styles, style, "dac")
    for pattern in out_of_stock:
        assert re.search(pattern, sold_out, re.S), pattern
    on_sale = page(client, styles, style, "sale")
    for pattern in sale:
        assert re.search(pattern, on_sale, re.S), pattern


def test_json_ld_where_the_platform_has_it(styles: ShopFarm, client: httpx.Client) -> None:
    shopify = json_ld(page(client, styles, Style.shopify, "dac"))
    offers = shopify[0]["offers"]
    assert isinstance(offers, list) and len(offers) == 2
    assert {(o["price"], o["availability"]) for o in offers} == {
        ("149.00", "http://schema.org/OutOfStock")
    }
    woo = json_ld(page(client, styles, Style.woocommerce, "amp"))
    graph = [node for block in woo for node in block.get("@graph", [])]  # type: ignore[attr-defined]
    product = next(node for node in graph if node["@type"] == "Product")
    assert product["offers"][0]["price"] == "1299.00"
    assert product["offers"][0]["availability"] == "http://schema.org/InStock"
    assert json_ld(page(client, styles, Style.amazon, "amp")) == []


@pytest.mark.parametrize("style", list(Style))
def test_product_text_is_escaped(styles: ShopFarm, client: httpx.Client, style: Style) -> None:
    html = page(client, styles, style, "xss")
    assert "<script>alert(1)" not in html
    assert "Amp &lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;Co&quot;" in html


def test_prices_render_in_the_currency_and_locale_format(client: httpx.Client) -> None:
    assert format_price(Decimal("1299"), "USD") == "$1,299.00"
    assert format_price(Decimal("1299"), "EUR", locale="de") == f"1.299,00{NBSP}€"
    assert format_price(Decimal("1299.5"), "GBP", locale="en-GB") == "£1,299.50"
    assert format_price(Decimal("249"), "USD", code=True) == "USD 249.00"
    products = [Product("adi-2", "RME ADI-2 DAC FS", Decimal("1299"), "EUR")]
    with Shop("Laden", style=Style.magento, locale="de", products=products) as shop:
        html = client.get(shop.url("adi-2")).text
    assert f'<span class="price">1.299,00{NBSP}€</span>' in html
    assert "Auf Lager" in html


def test_paths_are_style_specific_and_url_is_authoritative(styles: ShopFarm) -> None:
    amazon = styles["amazon shop"]
    assert re.fullmatch(r"/Test-Amp-Pro/dp/B0[A-Z0-9]{8}", amazon.path("amp"))
    assert styles["shopify shop"].path("amp") == "/products/amp"
    assert styles["woocommerce shop"].path("amp") == "/product/amp/"
    assert styles["magento shop"].path("amp") == "/amp.html"
    assert amazon.url("amp") == amazon.base_url + amazon.path("amp")


def test_amazon_big_page_is_about_a_megabyte() -> None:
    with Shop("Big", style=Style.amazon, products=catalogue(), big=True) as shop:
        size = len(shop.page("amp"))
    assert 1_000_000 <= size < 1_100_000


# ------------------------------------------------------------------ HTTP behaviour


def test_price_change_changes_page_etag_and_last_modified(shop: Shop, client: httpx.Client) -> None:
    first = client.get(shop.url("amp"))
    assert "$1,299.00" in first.text
    shop.set_price("amp", "1199.00")
    second = client.get(shop.url("amp"))
    assert "$1,199.00" in second.text and "$1,299.00" not in second.text
    assert second.headers["etag"] != first.headers["etag"]
    assert parsedate_to_datetime(second.headers["last-modified"]) > parsedate_to_datetime(
        first.headers["last-modified"]
    )
    shop.products["amp"].in_stock = False  # direct mutation works too
    third = client.get(shop.url("amp"))
    assert third.headers["etag"] != second.headers["etag"]
    assert "Sold out" in third.text


def test_conditional_get_answers_304(shop: Shop, client: httpx.Client) -> None:
    url = shop.url("amp")
    first = client.get(url)
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    again = client.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag
    # the identity tag matches the gzip representation's and vice versa
    plain = client.get(
        url, headers={"If-None-Match": shop.etag("amp"), "Accept-Encoding": "identity"}
    )
    assert plain.status_code == 304
    assert client.get(url, headers={"If-Modified-Since": modified}).status_code == 304
    shop.set_price("amp", "999.00")
    changed = client.get(url, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and "$999.00" in changed.text
    assert client.get(url, headers={"If-Modified-Since": modified}).status_code == 200
    records = shop.requests(url)
    assert [r.status for r in records] == [200, 304, 304, 304, 200, 200]
    assert records[1].if_none_match == etag
    assert records[3].if_modified_since == modified


def test_gzip_when_asked(shop: Shop, client: httpx.Client) -> None:
    url = shop.url("amp")
    with client.stream("GET", url, headers={"Accept-Encoding": "gzip"}) as response:
        raw = b"".join(response.iter_raw())
    assert response.headers["content-encoding"] == "gzip"
    assert int(response.headers["content-length"]) == len(raw)
    assert gzip.decompress(raw) == shop.page("amp")
    assert response.headers["vary"] == "Accept-Encoding"
    identity = client.get(url, headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in identity.headers
    assert identity.content == shop.page("amp")


def test_head_and_keep_alive(shop: Shop, client: httpx.Client) -> None:
    url = shop.url("amp")
    head = client.head(url, headers={"Accept-Encoding": "identity"})
    assert head.status_code == 200 and head.content == b""
    assert int(head.headers["content-length"]) == len(shop.page("amp"))
    client.get(url)
    client.get(url)
    ports = {r.client_port for r in shop.requests(url)}
    assert len(ports) == 1  # one connection, reused
    assert [r.method for r in shop.requests(url)] == ["HEAD", "GET", "GET"]


def test_home_robots_unknown_paths_and_redirects(styles: ShopFarm, client: httpx.Client) -> None:
    shop = styles["woocommerce shop"]
    home = client.get(shop.base_url + "/")
    assert home.status_code == 200 and shop.path("amp") in home.text
    robots = client.get(shop.base_url + "/robots.txt")
    assert robots.status_code == 200
    assert robots.headers["content-type"].startswith("text/plain")
    assert robots.text == "User-agent: *\nDisallow:\n"
    assert client.get(shop.base_url + "/no/such/page").status_code == 404
    assert client.get(shop.base_url + "/product/nope/").status_code == 404
    slashless = client.get(shop.base_url + "/product/amp?ref=guide")
    assert slashless.status_code == 301
    assert slashless.headers["location"] == "/product/amp/?ref=guide"


def test_robots_txt_is_settable(shop: Shop, client: httpx.Client) -> None:
    shop.robots_txt = "User-agent: *\nDisallow: /products/\nCrawl-delay: 2\n"
    assert "Crawl-delay: 2" in client.get(shop.base_url + "/robots.txt").text
    shop.robots_txt = None
    assert client.get(shop.base_url + "/robots.txt").status_code == 404


def test_removed_product_is_404(shop: Shop, client: httpx.Client) -> None:
    url = shop.url("amp")
    del shop.products["amp"]
    assert client.get(url).status_code == 404


# ------------------------------------------------------------------------ faults


def test_rate_limit_then_normal(styles: ShopFarm, client: httpx.Client) -> None:
    shop = styles["amazon shop"]
    shop.set_fault(Fault.rate_limit, sku="amp", count=2, retry_after=7)
    url = shop.url("amp")
    statuses = []
    for _ in range(3):
        response = client.get(url)
        statuses.append(response.status_code)
        if response.status_code == 429:
            assert response.headers["retry-after"] == "7"
    assert statuses == [429, 429, 200]
    assert shop.faults == {}  # used up


def test_server_error_for_k_requests(styles: ShopFarm, client: httpx.Client) -> None:
    shop = styles["plain shop"]
    shop.set_fault(Fault.server_error, sku="amp")
    shop.set_fault(Fault.server_error, sku="dac", status=502, count=2)
    assert [client.get(shop.url("amp")).status_code for _ in range(2)] == [503, 200]
    assert [client.get(shop.url("dac")).status_code for _ in range(3)] == [502, 502, 200]


def test_robot_check_pages(styles: ShopFarm, client: httpx.Client) -> None:
    shop = styles["amazon shop"]
    shop.set_fault(Fault.robot_check, sku="amp")
    captcha = client.get(shop.url("amp"))
    assert captcha.status_code == 200
    assert '<title dir="ltr">Robot Check</title>' in captcha.text
    assert "Enter the characters you see below" in captcha.text
    assert "a-offscreen" not in captcha.text
    shop.set_fault(Fault.robot_check, sku="amp", status=503)
    assert client.get(shop.url("amp")).status_code == 503
    shop.set_fault(Fault.robot_check, sku="amp", variant="cloudflare")
    challenge = client.get(shop.url("amp"))
    assert challenge.status_code == 403
    assert challenge.headers["cf-mitigated"] == "challenge"
    assert "<title>Just a moment...</title>" in challenge.text


def test_not_found_gone_and_redirect_home(styles: ShopFarm, client: httpx.Client) -> None:
    shop = styles["magento shop"]
    shop.set_fault(Fault.not_found, sku="amp")
    shop.set_fault(Fault.gone, sku="dac")
    shop.set_fault(Fault.redirect_home, sku="sale")
    assert client.get(shop.url("amp")).status_code == 404
    assert client.get(shop.url("dac")).status_code == 410
    moved = client.get(shop.url("sale"))
    assert moved.status_code == 302 and moved.headers["location"] == "/"
    followed = client.get(shop.url("sale"), follow_redirects=True)
    assert followed.status_code == 200 and str(followed.url) == shop.base_url + "/"
    shop.clear_fault("amp")
    assert client.get(shop.url("amp")).status_code == 200


def test_shop_wide_fault_and_path_fault(styles: ShopFarm, client: httpx.Client) -> None:
    shop = styles["bigcommerce shop"]
    shop.set_fault(Fault.gone)  # every product page
    shop.set_fault(Fault.server_error, path="/robots.txt", count=1)
    assert client.get(shop.url("amp")).status_code == 410
    assert client.get(shop.url("dac")).status_code == 410
    assert client.get(shop.base_url + "/").status_code == 200  # not a product page
    assert client.get(shop.base_url + "/robots.txt").status_code == 503
    assert client.get(shop.base_url + "/robots.txt").status_code == 200
    shop.set_fault(Fault.slow, sku="amp", delay=0.01)  # the sku's own fault wins
    assert client.get(shop.url("amp")).status_code == 200
    shop.clear_fault()
    assert client.get(shop.url("dac")).status_code == 200


def test_truncated_body_is_a_protocol_error(styles: ShopFarm, client: httpx.Client) -> None:
    shop = styles["shopify shop"]
    shop.set_fault(Fault.truncated, sku="amp")
    with pytest.raises(httpx.RemoteProtocolError):
        client.get(shop.url("amp"))
    record = shop.requests(shop.url("amp"))[-1]
    assert record.fault is Fault.truncated and 0 < record.bytes_sent < len(shop.page("amp"))


def test_reset_is_a_transport_error(styles: ShopFarm, client: httpx.Client) -> None:
    shop = styles["plain shop"]
    shop.set_fault(Fault.reset, sku="amp")
    with pytest.raises(httpx.TransportError):
        client.get(shop.url("amp"))
    assert shop.requests(shop.url("amp"))[-1].status is None
    shop.clear_fault("amp")
    assert client.get(shop.url("amp")).status_code == 200


def test_oversized_page_is_streamed_with_its_length(styles: ShopFarm, client: httpx.Client) -> None:
    shop = styles["woocommerce shop"]
    shop.set_fault(Fault.oversized, sku="amp", size=3_000_000)
    response = client.get(shop.url("amp"))
    assert int(response.headers["content-length"]) == 3_000_000
    assert len(response.content) == 3_000_000
    assert "1,299.00" in response.text[:100_000] and response.text.rstrip().endswith("</html>")


def test_gzip_bomb_is_small_on_the_wire(styles: ShopFarm, client: httpx.Client) -> None:
    shop = styles["plain shop"]
    shop.set_fault(Fault.gzip_bomb, sku="amp", size=16 << 20)
    with client.stream("GET", shop.url("amp")) as response:
        assert response.headers["content-encoding"] == "gzip"
        raw = b"".join(response.iter_raw())
    assert len(raw) < 100_000
    inflater = zlib.decompressobj(31)
    total = sum(len(inflater.decompress(raw[i : i + 65536])) for i in range(0, len(raw), 65536))
    assert total == 16 << 20 and inflater.eof


def test_fault_count_and_listing(shop: Shop, client: httpx.Client) -> None:
    spec = shop.set_fault("not_found", sku="amp", count=1)
    assert spec.fault is Fault.not_found and shop.faults == {"sku:amp": spec}
    assert client.get(shop.url("amp")).status_code == 404
    assert client.get(shop.url("amp")).status_code == 200
    with pytest.raises(ValueError):
        shop.set_fault(Fault.robot_check, variant="recaptcha")


# ------------------------------------------------------------------- request log


def test_request_log_records_concurrency(shop: Shop) -> None:
    shop.set_fault(Fault.slow, sku="amp", delay=0.3)
    url = shop.url("amp")
    statuses: list[int] = []

    def fetch() -> None:
        with httpx.Client(timeout=5, headers={"User-Agent": "tracker-test/1"}) as c:
            statuses.append(c.get(url).status_code)

    threads = [threading.Thread(target=fetch) for _ in range(5)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert time.monotonic() - started < 1.0  # served in parallel
    assert statuses == [200] * 5
    records = shop.requests(url)  # waits for the server to finish logging
    assert shop.max_in_flight == 5 and shop.in_flight == 0
    assert len(records) == 5
    for r in records:
        assert r.shop == "Private" and r.method == "GET" and r.status == 200
        assert r.user_agent == "tracker-test/1" and r.fault is Fault.slow
        assert r.finished - r.started >= 0.29
    shop.reset_log()
    assert shop.requests() == [] and shop.max_in_flight == 0


# ------------------------------------------------------------------------- farm


def test_demo_farm_starts_fast_and_frees_its_ports(client: httpx.Client) -> None:
    started = time.perf_counter()
    farm = ShopFarm.demo()
    try:
        assert time.perf_counter() - started < 0.5
        assert farm.names == list(DEMO_SHOPS)
        assert {s.style for s in farm.shops} == set(Style)
        assert len({s.port for s in farm.shops}) == 6
        magento = farm["Magento store"]
        assert magento.locale == "de" and magento.currency == "EUR"
        assert farm["TOPPING Direct"].products["topping-l50"].price == Decimal("249.00")
        assert "topping-l50" in farm["Amazon-like"].products
        response = client.get(farm["Amazon-like"].url("topping-l50"))
        assert "$249.00" in response.text
    finally:
        started = time.perf_counter()
        farm.close()
        assert time.perf_counter() - started < 0.5
    for shop in farm.shops:
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", shop.port))  # the port is free again
    with pytest.raises(httpx.ConnectError):
        client.get(farm["Amazon-like"].url("topping-l50"))


def test_close_drops_kept_alive_and_slow_requests() -> None:
    shop = Shop("Closing", products=catalogue())
    shop.set_fault(Fault.slow, sku="dac", delay=5)
    errors: list[BaseException] = []

    def slow() -> None:
        with httpx.Client(timeout=5) as c:
            try:
                c.get(shop.url("dac"))
            except httpx.TransportError as exc:
                errors.append(exc)

    with httpx.Client(timeout=5) as c:
        assert c.get(shop.url("amp")).status_code == 200  # a kept-alive connection
        thread = threading.Thread(target=slow)
        thread.start()
        while shop.in_flight == 0:
            time.sleep(0.01)
        started = time.monotonic()
        shop.close()
        thread.join()
        assert time.monotonic() - started < 1.0
        assert len(errors) == 1
        with pytest.raises(httpx.TransportError):
            c.get(shop.url("amp"))


def test_product_prices_are_decimals() -> None:
    product = Product("x", "X", "12.50")  # type: ignore[arg-type]
    assert product.price == Decimal("12.50")
    before = product.changed_at
    product.price = 13  # type: ignore[assignment]
    assert product.price == Decimal("13") and product.changed_at >= before


def test_main_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    from tracker.shops.__main__ import main

    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    assert "Ctrl-C" in capsys.readouterr().out
