"""Built-in rule sets (``tracker/rules/*.toml``), one fixture page or more each.

Every fixture in ``tests/fixtures/extract/rules/`` is hand-written markup modelled on how that
retailer or shop platform marks up a product page today: the main price block, a was / list
price, related or sponsored products with prices of their own, shipping, instalments, and the
stock text or purchase button. None carries JSON-LD, microdata or a price ``<meta>``, so the
rule set itself has to answer (``method == "site:<name>"``). Shops are matched by the URL's
domain, platforms by markers in the page source (any URL).
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from selectolax.lexbor import LexborHTMLParser

from tracker.extract import extract, load_builtin_rules, rules_for
from tracker.models import Availability, PageStatus, SiteRules

RULE_FIXTURES = Path(__file__).parent / "fixtures" / "extract" / "rules"

IN = Availability.InStock
OUT = Availability.OutOfStock
SOLD = Availability.SoldOut
GONE = Availability.Discontinued


@dataclass(frozen=True)
class RulePage:
    file: str
    url: str
    rule: str  # the rule set that must answer
    price: str | None
    currency: str | None
    availability: Availability

    @property
    def id(self) -> str:
        return self.file.removesuffix(".html")


PAGES = [
    # --- shops (matched by domain) ---------------------------------------------------------
    RulePage(
        "amazon.html",
        "https://www.amazon.com/Breville-BKE820XL-Variable-Temperature-1-8-Liter-Kettle/dp/B005NIGNJO",
        "amazon",
        "99.95",
        "USD",
        IN,
    ),
    # no buy box when unavailable: no price of its own, the carousels' prices are not taken
    RulePage(
        "amazon_oos.html",
        "https://www.amazon.de/Sony-WH-1000XM4-Bluetooth-Cancelling-Kopfh%C3%B6rer/dp/B08C7KG5LP",
        "amazon",
        None,
        None,
        OUT,
    ),
    RulePage(
        "walmart.html",
        "https://www.walmart.com/ip/Instant-Pot-Duo-7-in-1-Electric-Pressure-Cooker-6-Quart/42102455",
        "walmart",
        "79.00",
        "USD",
        IN,
    ),
    RulePage(
        "walmart_oos.html",
        "https://www.walmart.com/ip/LEGO-Star-Wars-Millennium-Falcon-75257/437102958",
        "walmart",
        "159.99",
        "USD",
        OUT,
    ),
    RulePage(
        "bestbuy.html",
        "https://www.bestbuy.com/site/sony-65-class-bravia-7-led-4k-hdr-google-tv/6578539.p?skuId=6578539",
        "bestbuy",
        "1099.99",
        "USD",
        IN,
    ),
    RulePage(
        "bestbuy_oos.html",
        "https://www.bestbuy.com/site/sony-playstation-5-pro-console/6598542.p?skuId=6598542",
        "bestbuy",
        "699.99",
        "USD",
        SOLD,
    ),
    RulePage(
        "target.html",
        "https://www.target.com/p/stanley-40oz-quencher-h2-0-flowstate-tumbler/-/A-87425643",
        "target",
        "35.00",
        "USD",
        IN,
    ),
    RulePage(
        "target_oos.html",
        "https://www.target.com/p/pokemon-tcg-prismatic-evolutions-elite-trainer-box/-/A-93954435",
        "target",
        "59.99",
        "USD",
        OUT,
    ),
    RulePage("ebay.html", "https://www.ebay.com/itm/395621478833", "ebay", "189.99", "USD", IN),
    RulePage(
        "ebay_ended.html", "https://www.ebay.co.uk/itm/276398172211", "ebay", "229.99", "GBP", GONE
    ),
    RulePage(
        "johnlewis.html",
        "https://www.johnlewis.com/sony-wh-1000xm5-noise-cancelling-wireless-bluetooth-over-ear-headphones/black/p6056519",
        "johnlewis",
        "279.00",
        "GBP",
        IN,
    ),
    RulePage(
        "johnlewis_oos.html",
        "https://www.johnlewis.com/john-lewis-anyday-ceramic-table-lamp/sage/p110284456",
        "johnlewis",
        "45.00",
        "GBP",
        OUT,
    ),
    RulePage(
        "ikea.html",
        "https://www.ikea.com/us/en/p/poaeng-armchair-birch-veneer-knisa-light-beige-s79305647/",
        "ikea",
        "129.00",
        "USD",
        IN,
    ),
    RulePage(
        "ikea_oos.html",
        "https://www.ikea.com/de/de/p/kallax-regal-weiss-80275887/",
        "ikea",
        "79.99",
        "EUR",
        OUT,
    ),
    RulePage(
        "zalando.html",
        "https://www.zalando.de/nike-sportswear-air-force-1-07-sneaker-low-white-ni112o0bt-a11.html",
        "zalando",
        "89.99",
        "EUR",
        IN,
    ),
    RulePage(
        "zalando_oos.html",
        "https://www.zalando.pl/the-north-face-nuptse-jacket-kurtka-puchowa-black-th322t08b-q11.html",
        "zalando",
        "1449.00",
        "PLN",
        OUT,
    ),
    # --- platforms (matched by markers in the source, any domain) ---------------------------
    RulePage(
        "shopify.html",
        "https://northside-coffee.example.com/products/hario-v60-copper-dripper-02",
        "shopify",
        "64.00",
        "USD",
        IN,
    ),
    RulePage(
        "shopify_oos.html",
        "https://northside-coffee.example.com/products/comandante-c40-mk4",
        "shopify",
        "299.00",
        "USD",
        SOLD,
    ),
    RulePage(
        "woocommerce.html",
        "https://ashdownpottery.example.co.uk/product/hand-thrown-stoneware-teapot/",
        "woocommerce",
        "54.00",
        "GBP",
        IN,
    ),
    RulePage(
        "woocommerce_oos.html",
        "https://ateliercycles.example.fr/produit/velo-de-route-cadence-r2/",
        "woocommerce",
        "1849.00",
        "EUR",
        OUT,
    ),
    RulePage(
        "magento.html", "https://luma.example.com/radiant-tee.html", "magento", "17.60", "USD", IN
    ),
    RulePage(
        "magento_oos.html",
        "https://hifi-schmidt.example.de/roehrenverstaerker-aria-300b.html",
        "magento",
        "1299.00",
        "EUR",
        OUT,
    ),
    RulePage(
        "bigcommerce.html",
        "https://copperpot.example.com/chemex-classic-8-cup/",
        "bigcommerce",
        "39.95",
        "USD",
        IN,
    ),
    RulePage(
        "bigcommerce_oos.html",
        "https://beanscene.example.com.au/breville-barista-express-bes870/",
        "bigcommerce",
        "849.00",
        "AUD",
        OUT,
    ),
]


def _page(page_id: str) -> RulePage:
    return next(p for p in PAGES if p.id == page_id)


@pytest.mark.parametrize("case", PAGES, ids=[p.id for p in PAGES])
def test_rule_set_fixture(case: RulePage) -> None:
    html = (RULE_FIXTURES / case.file).read_bytes()
    # the fixtures must make the rule set work: no structured price for it to hide behind
    tree = LexborHTMLParser(html.decode("utf-8"))
    assert not tree.css('script[type="application/ld+json"]'), case.file
    assert not tree.css('[itemprop~="price"], [itemprop~="lowPrice"]'), case.file
    assert not tree.css('meta[property$="price:amount"]'), case.file

    chosen = rules_for(case.url, html.decode("utf-8"))
    assert chosen is not None and chosen.name == case.rule, chosen

    offer = extract(html, url=case.url)
    assert offer.availability == case.availability, offer
    if case.price is None:
        assert offer.status == PageStatus.no_price, offer
        assert offer.price is None and offer.currency is None, offer
    else:
        assert offer.status == PageStatus.ok, offer
        assert str(offer.price) == case.price, offer  # the decimals shown, too
        assert offer.currency == case.currency, offer
        assert offer.method == f"site:{case.rule}", offer


def test_every_rule_set_has_a_fixture() -> None:
    names = {rs.rules.name for rs in load_builtin_rules()}
    assert names == {p.rule for p in PAGES}
    # an in-stock page for each, and an out-of-stock one
    for name in names:
        avails = {p.availability.purchasable for p in PAGES if p.rule == name}
        assert avails == {True, False}, name


def test_saved_page_is_matched_by_its_canonical_url() -> None:
    """`tracker check page.html` has no URL: a shop's saved page names its home in
    ``<link rel=canonical>``, which picks the rule set."""
    html = (RULE_FIXTURES / "walmart.html").read_bytes()
    offer = extract(html)
    assert offer.method == "site:walmart", offer
    assert offer.price == Decimal("79.00") and offer.currency == "USD", offer


def test_rule_price_in_a_related_block_is_not_the_products() -> None:
    """Best Buy's carousels reuse .priceView-customer-price: with the hero price gone, a
    card's price must not become the product's."""
    html = (RULE_FIXTURES / "bestbuy.html").read_text()
    start = html.index('<div class="shop-pricing-price">')
    end = html.index('<div class="shop-open-box-buying-options">')
    offer = extract(html[:start] + html[end:], url=_page("bestbuy").url)
    assert offer.method != "site:bestbuy", offer
    assert offer.price not in {Decimal("499.99"), Decimal("99.99")}, offer


def test_rule_price_skips_a_struck_price_before_the_current_one() -> None:
    """IKEA-like markup with the previous price first: the struck one is not taken."""
    html = (RULE_FIXTURES / "ikea.html").read_text()
    current = html[html.index('<div class="pip-temp-price-module__current-price') :]
    current = current[: current.index('<div class="pip-temp-price-module__addons">')]
    addons = html[html.index('<div class="pip-temp-price-module__addons">') :]
    addons = addons[: addons.index("</div>") + len("</div>")]
    swapped = html.replace(current + addons, addons + current).replace(
        "pip-temp-price-module__current-price pip-temp-price-module__primary-currency-price",
        "pip-temp-price-module__lead",
    )
    assert swapped.index("Price $ 149.00") < swapped.index("Price $ 129.00")
    offer = extract(swapped, url=_page("ikea").url)
    assert (offer.price, offer.method) == (Decimal("129.00"), "site:ikea"), offer


@pytest.mark.parametrize("as_json", [False, True], ids=["human", "json"])
def test_tracker_check_names_the_rule_set(tmp_path: Path, as_json: bool) -> None:
    """`tracker check` on saved pages says which method answered: the rule set by name."""
    files = ["walmart.html", "shopify_oos.html", "bigcommerce.html"]
    args = [str(RULE_FIXTURES / f) for f in files]
    done = subprocess.run(
        [sys.executable, "-m", "tracker", "check", *(["--json"] if as_json else []), *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == len(files)
    want = ["site:walmart", "site:shopify", "site:bigcommerce"]
    if as_json:
        assert [json.loads(line)["method"] for line in lines] == want
    else:
        for line, method in zip(lines, want, strict=True):
            assert f"via {method}" in line, line


def test_rule_matches_in_a_card_about_another_product_come_after_the_products() -> None:
    """The first elements the price and availability selectors match sit in a "related"
    card (another price, sold out); the product's own, further down, are the ones read."""
    card = (
        '<section class="related-products"><div class="card"><h3>Other amp</h3>'
        '<span class="price">$5.00</span><p class="stock">Out of stock</p></div></section>'
    )
    main = (
        '<main><h1>Topping L50</h1><span class="price">$249.00</span>'
        '<p class="stock">In stock</p></main>'
    )
    rules = SiteRules(name="shop", price=".price", availability=".stock")
    offer = extract(f"<html><body>{card}{main}</body></html>", rules=rules)
    assert (offer.price, offer.method) == (Decimal("249.00"), "site:shop"), offer
    assert offer.availability is Availability.InStock, offer
