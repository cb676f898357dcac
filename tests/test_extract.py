"""Extraction: one row per case (HTML snippet -> expected values), plus a fuzz test.

Snippets are written for these tests; nothing here reads the shared corpus.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tracker.errors import ExtractError
from tracker.extract import extract, load_builtin_rules, normalize_availability, rules_for
from tracker.models import Availability, Offer, PageStatus, SiteRules

FIXTURES = Path(__file__).parent / "fixtures" / "extract"
IN = Availability.InStock
OUT = Availability.OutOfStock
ANY = object()  # "do not check this field"


def page(body: str, head: str = "", lang: str = "en") -> str:
    return (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">{head}</head>'
        f"<body>{body}</body></html>"
    )


def ld(data: object) -> str:
    return f'<script type="application/ld+json">{json.dumps(data)}</script>'


def product(
    price: object, currency: str = "USD", avail: str | None = None, **extra: object
) -> dict:
    offer: dict[str, object] = {"@type": "Offer", "price": price, "priceCurrency": currency}
    if avail:
        offer["availability"] = avail
    return {"@context": "https://schema.org", "@type": "Product", "offers": offer, **extra}


@dataclass(frozen=True)
class Case:
    id: str
    html: str
    price: object = ANY
    currency: object = ANY
    availability: object = ANY
    status: object = ANY
    method: object = ANY
    url: str | None = None
    http_status: int | None = None
    content_type: str | None = None
    rules: SiteRules | None = None
    currency_hint: str | None = None


def D(s: str) -> Decimal:
    return Decimal(s)


CASES = [
    # --- JSON-LD -----------------------------------------------------------------------------
    Case(
        "jsonld-basic",
        page("<h1>Kettle</h1>", ld(product("100.00", avail="https://schema.org/InStock"))),
        D("100.00"),
        "USD",
        IN,
        PageStatus.ok,
        "json-ld",
    ),
    Case(
        "jsonld-graph-number-price",
        page(
            "<h1>Lamp</h1>",
            ld(
                {
                    "@context": "https://schema.org",
                    "@graph": [
                        {"@type": "WebSite", "name": "Shop"},
                        {
                            "@type": "Product",
                            "name": "Lamp",
                            "offers": {
                                "@type": "Offer",
                                "price": 249,
                                "priceCurrency": "EUR",
                                "availability": "http://schema.org/InStock",
                            },
                        },
                    ],
                }
            ),
        ),
        D("249"),
        "EUR",
        IN,
        PageStatus.ok,
        "json-ld",
    ),
    Case(
        "jsonld-type-list-capital-offers-key",
        page(
            "",
            ld(
                {
                    "@type": ["Product", "Thing"],
                    "name": "x",
                    "Offers": {
                        "@type": "Offer",
                        "price": "19.90",
                        "priceCurrency": "CHF",
                        "availability": "instock",
                    },
                }
            ),
        ),
        D("19.90"),
        "CHF",
        IN,
        PageStatus.ok,
        "json-ld",
    ),
    Case(
        "jsonld-comma-decimal-string",
        page("", ld(product("249,00", "EUR"))),
        D("249.00"),
        "EUR",
    ),
    Case(
        "jsonld-aggregateoffer-lowprice",
        page(
            "",
            ld(
                {
                    "@type": "Product",
                    "name": "Phone",
                    "offers": {
                        "@type": "AggregateOffer",
                        "lowPrice": 8097000,
                        "highPrice": 8099900,
                        "priceCurrency": "COP",
                    },
                }
            ),
        ),
        D("8097000"),
        "COP",
    ),
    Case(
        "jsonld-pricespecification",
        page(
            "",
            ld(
                {
                    "@type": "Product",
                    "name": "Router",
                    "offers": {
                        "@type": "Offer",
                        "availability": "https://schema.org/InStock",
                        "priceSpecification": [
                            {
                                "@type": "UnitPriceSpecification",
                                "priceType": "https://schema.org/ListPrice",
                                "price": 150,
                                "priceCurrency": "USD",
                            },
                            {
                                "@type": "UnitPriceSpecification",
                                "price": 121.95,
                                "priceCurrency": "USD",
                            },
                        ],
                    },
                }
            ),
        ),
        D("121.95"),
        "USD",
        IN,
    ),
    Case(
        "jsonld-offer-list-lowest-purchasable",
        page(
            "",
            ld(
                {
                    "@type": "Product",
                    "name": "Bed",
                    "offers": [
                        {
                            "@type": "Offer",
                            "price": "249990",
                            "priceCurrency": "CLP",
                            "availability": "InStock",
                        },
                        {
                            "@type": "Offer",
                            "price": "99990",
                            "priceCurrency": "CLP",
                            "availability": "OutOfStock",
                        },
                        {
                            "@type": "Offer",
                            "price": "229990",
                            "priceCurrency": "CLP",
                            "availability": "InStock",
                        },
                    ],
                }
            ),
        ),
        D("229990"),
        "CLP",
        IN,
    ),
    Case(
        "jsonld-productgroup-selected-variant",
        page(
            "<h1>Shirt</h1>",
            ld(
                {
                    "@type": "ProductGroup",
                    "name": "Shirt",
                    "hasVariant": [
                        {
                            "@type": "Product",
                            "sku": "S-RED",
                            "offers": {
                                "@type": "Offer",
                                "price": "10.00",
                                "priceCurrency": "USD",
                                "availability": "InStock",
                            },
                        },
                        {
                            "@type": "Product",
                            "sku": "S-BLUE",
                            "offers": {
                                "@type": "Offer",
                                "price": "12.00",
                                "priceCurrency": "USD",
                                "availability": "OutOfStock",
                            },
                        },
                    ],
                }
            ),
        ),
        D("12.00"),
        "USD",
        OUT,
        url="https://shop.example.com/p/shirt?variant=S-BLUE",
    ),
    Case(
        "jsonld-productgroup-no-selection-lowest",
        page(
            "<h1>Shirt</h1>",
            ld(
                {
                    "@type": "ProductGroup",
                    "name": "Shirt",
                    "hasVariant": [
                        {
                            "@type": "Product",
                            "sku": "A",
                            "offers": {
                                "@type": "Offer",
                                "price": "15.00",
                                "priceCurrency": "USD",
                                "availability": "InStock",
                            },
                        },
                        {
                            "@type": "Product",
                            "sku": "B",
                            "offers": {
                                "@type": "Offer",
                                "price": "9.00",
                                "priceCurrency": "USD",
                                "availability": "SoldOut",
                            },
                        },
                        {
                            "@type": "Product",
                            "sku": "C",
                            "offers": {
                                "@type": "Offer",
                                "price": "13.00",
                                "priceCurrency": "USD",
                                "availability": "InStock",
                            },
                        },
                    ],
                }
            ),
        ),
        D("13.00"),
        "USD",
        IN,
    ),
    Case(
        "jsonld-main-product-not-first",
        page(
            "<h1>Espresso Machine Deluxe</h1>",
            ld(product("19.99", name="Milk Jug", avail="InStock"))
            + ld(product("499.00", name="Espresso Machine Deluxe", avail="InStock")),
        ),
        D("499.00"),
        "USD",
        IN,
    ),
    Case(
        "jsonld-related-product-list-skipped",
        page(
            "",
            ld(
                {
                    "@type": "Product",
                    "name": "Tent",
                    "offers": {"@type": "Offer", "price": "300", "priceCurrency": "EUR"},
                    "isRelatedTo": [product("5", "EUR", name="Peg")],
                }
            ),
        ),
        D("300"),
        "EUR",
    ),
    Case(
        "jsonld-trailing-comma-repaired",
        page(
            "",
            '<script type="application/ld+json">{"@type": "Product", "name": "t",'
            ' "offers": {"@type": "Offer", "price": 155.55, "priceCurrency": "AUD"},}</script>',
        ),
        D("155.55"),
        "AUD",
        ANY,
        PageStatus.ok,
        "json-ld",
    ),
    Case(
        "jsonld-garbage-falls-back-to-microdata",
        page(
            '<div itemscope itemtype="https://schema.org/Offer">'
            '<meta itemprop="price" content="42.50"><meta itemprop="priceCurrency" content="GBP">'
            "</div>",
            '<script type="application/ld+json">{"@type": "Product", [[[</script>',
        ),
        D("42.50"),
        "GBP",
        ANY,
        PageStatus.ok,
        "microdata",
    ),
    Case(
        "jsonld-zero-price-is-no-price",
        page("<h1>Free thing</h1>", ld(product("0.00"))),
        None,
        ANY,
        ANY,
        PageStatus.no_price,
    ),
    Case(
        "jsonld-sold-out-without-price",
        page(
            "<h1>Bear</h1>",
            ld(
                {
                    "@type": "Product",
                    "name": "Bear",
                    "offers": {"@type": "Offer", "availability": "https://schema.org/SoldOut"},
                }
            ),
        ),
        None,
        None,
        Availability.SoldOut,
        PageStatus.no_price,
    ),
    # --- microdata ------------------------------------------------------------------------------
    Case(
        "microdata-meta-content",
        page(
            '<span itemprop="offers" itemscope itemtype="http://schema.org/Offer">'
            '<meta content="767.55" itemprop="price"/>'
            '<meta content="EUR" itemprop="priceCurrency"/>'
            '<meta content="InStock" itemprop="availability"/></span>'
        ),
        D("767.55"),
        "EUR",
        IN,
        PageStatus.ok,
        "microdata",
    ),
    Case(
        "microdata-text-price-and-link-availability",
        page(
            '<div itemscope itemtype="https://schema.org/Product"><h1 itemprop="name">Anvil</h1>'
            '<div itemprop="offers" itemscope itemtype="https://schema.org/Offer">'
            "Regular price: $179.99 "
            '<meta itemprop="priceCurrency" content="USD">$<span itemprop="price">119.99</span>'
            '<link itemprop="availability" href="https://schema.org/OutOfStock"></div></div>'
        ),
        D("119.99"),
        "USD",
        OUT,
        PageStatus.ok,
        "microdata",
    ),
    Case(
        "microdata-related-only-is-no-price",
        page(
            '<h1>Thing</h1><div class="related-products"><div itemscope '
            'itemtype="https://schema.org/Offer"><span itemprop="price" content="5.00">5</span>'
            "</div></div>"
        ),
        None,
        ANY,
        ANY,
        PageStatus.no_price,
    ),
    # --- meta -------------------------------------------------------------------------------------
    Case(
        "opengraph-product-meta",
        page(
            "<h1>Blu-ray</h1>",
            '<meta property="product:price:amount" content="17.99">'
            '<meta property="product:price:currency" content="USD">'
            '<meta property="product:availability" content="oos">',
        ),
        D("17.99"),
        "USD",
        OUT,
        PageStatus.ok,
        "meta",
    ),
    Case(
        "og-price-meta",
        page(
            "",
            '<meta property="og:price:amount" content="1299.00">'
            '<meta property="og:price:currency" content="SEK">',
        ),
        D("1299.00"),
        "SEK",
        ANY,
        PageStatus.ok,
        "meta",
    ),
    # --- heuristics ---
    Case(
        "heuristic-skips-old-price",
        page(
            '<main><h1>Chair</h1><del class="price">$129.00</del>'
            '<span class="price price--sale">$99.00</span><button>Add to cart</button></main>'
        ),
        D("99.00"),
        "USD",
        IN,
        PageStatus.ok,
        "heuristic",
    ),
    Case(
        "heuristic-skips-was-class",
        page(
            '<h1>Desk</h1><div class="buy"><span class="was-price">£250</span>'
            '<span class="current-price">£199</span></div>',
            lang="en-GB",
        ),
        D("199"),
        "GBP",
    ),
    Case(
        "heuristic-skips-instalments",
        page(
            '<h1>Sofa</h1><div class="box"><p class="installments">12x de R$ 146,66</p>'
            '<p class="price">R$ 1.759,99</p></div>',
            lang="pt-BR",
        ),
        D("1759.99"),
        "BRL",
    ),
    Case(
        "heuristic-skips-monthly",
        page(
            '<h1>TV</h1><div><span class="price-monthly">$41.58/mo</span>'
            '<span class="price">$499.00</span></div>'
        ),
        D("499.00"),
        "USD",
    ),
    Case(
        "heuristic-skips-related-block",
        page(
            '<div class="recommendations"><span class="price">$5.00</span></div>'
            '<div class="pdp"><h1>Drill</h1><span class="price">$89.00</span></div>'
        ),
        D("89.00"),
        "USD",
    ),
    Case(
        "heuristic-skips-carousel-cards",
        page(
            '<div id="dp-container"><h1><span id="productTitle">Amp</span></h1>'
            '<div id="availability"><span>Currently unavailable.</span></div>'
            '<div class="celwidget"><ol class="a-carousel">'
            '<li class="a-carousel-card"><a href="/Other-Amp/dp/B0OTHER001">'
            '<span class="a-price p13n-sc-price"><span class="a-offscreen">$169.00</span>'
            "</span></a></li></ol></div></div>"
        ),
        None,
        None,
        OUT,
        PageStatus.no_price,
    ),
    Case(
        "heuristic-skips-cards-linking-to-other-products",
        page(
            '<div class="pdp"><h1>Drill</h1><p>Out of stock</p>'
            '<div class="grid"><div class="card"><a href="/p/saw-2000">Saw 2000 '
            '<span class="price">$59.00</span></a></div></div></div>'
        ),
        None,
        None,
        OUT,
        PageStatus.no_price,
        url="https://tools.example.com/p/drill-1000",
    ),
    Case(
        "heuristic-keeps-price-linking-to-the-page-itself",
        page(
            '<div class="pdp"><h1>Drill</h1><a href="drill-1000#offers">'
            '<span class="price">$89.00</span></a></div>'
        ),
        D("89.00"),
        "USD",
        url="https://tools.example.com/p/drill-1000",
    ),
    Case(
        "heuristic-skips-header-cart-total",
        page(
            '<header><a class="cart-contents" href="/cart/">'
            '<span class="woocommerce-Price-amount amount">£0.00</span></a></header>'
            '<div class="summary"><h1>Amp</h1><p class="price">Price: £239.00</p></div>'
        ),
        D("239.00"),
        "GBP",
    ),
    Case(
        "heuristic-price-split-by-comments",
        page('<h1>Cable</h1><div class="product-price">$<!-- -->90<!-- -->.<!-- -->74</div>'),
        D("90.74"),
        "USD",
    ),
    Case(
        "heuristic-text-only-small-page",
        "<html><body>129,00 € — Sold out</body></html>",
        D("129.00"),
        "EUR",
        OUT,
        PageStatus.ok,
    ),
    Case(
        "heuristic-no-price",
        "<html><body>No pricing info here</body></html>",
        None,
        None,
        None,
        PageStatus.no_price,
    ),
    Case(
        "meta-og-price-grouped-thousands",
        page(
            "<h1>DAC</h1>",
            '<meta property="og:price:amount" content="1,299.00">'
            '<meta property="og:price:currency" content="USD">',
        ),
        D("1299.00"),
        "USD",
        ANY,
        PageStatus.ok,
        "meta",
    ),
    # --- locale numbers and currency symbols ------------------------------------------------------
    Case(
        "eur-thousands-dot",
        page('<h1>A</h1><p class="price">1.299,00 €</p>', lang="de-DE"),
        D("1299.00"),
        "EUR",
    ),
    Case(
        "usd-thousands-comma", page('<h1>A</h1><p class="price">$1,299.00</p>'), D("1299.00"), "USD"
    ),
    Case(
        "clp-dot-thousands",
        page('<h1>A</h1><p class="price">$24.990</p>', lang="es"),
        D("24990"),
        "CLP",
        url="https://www.tienda.cl/p/1",
    ),
    Case(
        "clp-by-lang-region",
        page('<h1>A</h1><p class="price">$ 5.000</p>', lang="es-CL"),
        D("5000"),
        "CLP",
    ),
    Case(
        "pkr-rs",
        page('<h1>Phone</h1><span class="price">Rs 23,450</span>'),
        D("23450"),
        "PKR",
        url="https://www.market.com.pk/item/1",
    ),
    Case(
        "inr-rupee-sign",
        page('<h1>A</h1><span class="price">₹1,499</span>', lang="en-IN"),
        D("1499"),
        "INR",
    ),
    Case(
        "cad-by-tld",
        page('<h1>A</h1><span class="price">$35.00</span>'),
        D("35.00"),
        "CAD",
        url="https://shop.example.ca/p",
    ),
    Case(
        "aud-by-lang",
        page('<h1>A</h1><span class="price">$35.00</span>', lang="en-AU"),
        D("35.00"),
        "AUD",
    ),
    Case(
        "twd-nt-dollar",
        page('<h1>A</h1><span class="price">NT$99</span>', lang="zh-TW"),
        D("99"),
        "TWD",
    ),
    Case(
        "jpy-yen-ja",
        page('<h1>A</h1><span class="price">¥1,200</span>', lang="ja"),
        D("1200"),
        "JPY",
    ),
    Case(
        "cny-yen-zh",
        page('<h1>A</h1><span class="price">¥89.00</span>', lang="zh-CN"),
        D("89.00"),
        "CNY",
    ),
    Case(
        "sek-kr",
        page('<h1>A</h1><span class="price">499 kr</span>', lang="sv"),
        D("499"),
        "SEK",
        url="https://butik.example.se/p",
    ),
    Case(
        "nok-kr-by-tld",
        page('<h1>A</h1><span class="price">kr 1 299,00</span>'),
        D("1299.00"),
        "NOK",
        url="https://butikk.example.no/p",
    ),
    Case(
        "pln-zl",
        page('<h1>A</h1><span class="price">129,99 zł</span>', lang="pl"),
        D("129.99"),
        "PLN",
    ),
    Case(
        "brl-real",
        page('<h1>A</h1><span class="price">R$ 689,99</span>', lang="pt-BR"),
        D("689.99"),
        "BRL",
    ),
    Case("gbp-pound", page('<h1>A</h1><span class="price">£14.99</span>'), D("14.99"), "GBP"),
    Case(
        "chf-apostrophe",
        page('<h1>A</h1><span class="price">CHF 1\'299.50</span>'),
        D("1299.50"),
        "CHF",
    ),
    Case(
        "currency-hint-fallback",
        page('<h1>A</h1><span class="price">1,299.00</span>'),
        D("1299.00"),
        "HKD",
        currency_hint="HKD",
    ),
    # --- availability wording, scoped to the main product ----------------------------------------
    *[
        Case(
            f"oos-{lang}",
            page(
                f'<main><h1>Item</h1><span class="price">{price}</span><p>{text}</p></main>',
                lang=lang,
            ),
            ANY,
            ANY,
            OUT,
        )
        for lang, text, price in [
            ("en", "Sold out", "$10.00"),
            ("de", "Leider ausverkauft", "10,00 €"),
            ("fr", "Rupture de stock", "10,00 €"),
            ("es", "Agotado", "10,00 €"),
            ("it", "Esaurito", "10,00 €"),
            ("nl", "Uitverkocht", "€ 10,00"),
            ("pt", "Produto esgotado", "R$ 10,00"),
            ("pl", "Brak w magazynie", "10,00 zł"),
            ("sv", "Slutsåld", "100 kr"),
            ("ja", "在庫切れ", "¥1,000"),
            ("zh-TW", "缺貨", "NT$100"),
            ("fi", "Loppuunmyyty", "10,00 €"),
            ("sk", "Momentálne nie je skladom", "10,00 €"),
        ]
    ],
    *[
        Case(
            f"instock-{lang}",
            page(
                f'<main><h1>Item</h1><span class="price">{price}</span><p>{text}</p></main>',
                lang=lang,
            ),
            ANY,
            ANY,
            IN,
        )
        for lang, text, price in [
            ("en", "In stock", "$10.00"),
            ("de", "Auf Lager", "10,00 €"),
            ("fr", "En stock", "10,00 €"),
            ("nl", "Op voorraad", "€ 10,00"),
            ("pl", "W magazynie", "10,00 zł"),
            ("ja", "在庫あり", "¥1,000"),
        ]
    ],
    Case(
        "oos-in-recommendation-ignored",
        page(
            '<main><h1>Kettle</h1><span class="price">$30.00</span>'
            "<button>Add to cart</button></main>"
            '<section class="related-products"><h2>You may also like</h2>'
            '<div><span class="price">$12.00</span><p>Sold out</p></div></section>'
        ),
        D("30.00"),
        "USD",
        IN,
    ),
    Case(
        "notify-me-footer-ignored",
        page(
            '<main><h1>Kettle</h1><span class="price">$30.00</span>'
            "<button>Add to basket</button></main>"
            "<footer><p>Sold out? Notify me when available.</p></footer>"
        ),
        D("30.00"),
        "USD",
        IN,
    ),
    Case(
        "store-pickup-not-available-ignored",
        page(
            '<main><h1>Console</h1><span class="price">$24.990</span>'
            "<div>Despacho a domicilio</div><div>Disponible</div>"
            "<div>Retiro en tienda</div><div>No disponible</div></main>",
            lang="es-CL",
        ),
        D("24990"),
        "CLP",
        IN,
    ),
    Case(
        "hidden-sold-out-banner-ignored",
        page(
            '<main><h1>Bed</h1><span class="price">R$ 1.759,99</span>'
            '<div style="display: none"><p>Produto esgotado</p></div>'
            "<button>Comprar</button></main>",
            lang="pt-BR",
        ),
        D("1759.99"),
        "BRL",
        IN,
    ),
    Case(
        "stock-status-oos-beats-structured-instock",
        page(
            '<main><h1>Weather station</h1><p class="price">54,50 €</p>'
            '<ul class="availability-box"><li><strong>Vypredané</strong></li>'
            "<li>Dostupné v 1 predajni</li></ul></main>",
            ld(product("54.50", "EUR", "http://schema.org/InStock", name="Weather station")),
            lang="sk",
        ),
        D("54.50"),
        "EUR",
        OUT,
        PageStatus.ok,
        "json-ld",
    ),
    Case(
        "plain-oos-line-does-not-beat-structured-instock",
        page(
            '<main><h1>Weather station</h1><p class="price">54,50 €</p><p>Vypredané</p></main>',
            ld(product("54.50", "EUR", "http://schema.org/InStock", name="Weather station")),
            lang="sk",
        ),
        D("54.50"),
        "EUR",
        IN,
    ),
    Case(
        "plain-oos-line-beats-instock-wording",
        page('<main><h1>Mug</h1><p class="price">$9.00</p><p>Sold out</p><p>Buy now</p></main>'),
        D("9.00"),
        "USD",
        OUT,
    ),
    Case(
        "disabled-sold-out-button-beats-structured-instock",
        page(
            '<main><h1>Amp</h1><span class="price">$219.00</span><form action="/cart/add">'
            '<button type="submit" name="add" class="product-form__submit" disabled>'
            "<span>Sold out</span></button></form></main>",
            ld(product("219.00", "USD", "InStock", name="Amp")),
        ),
        D("219.00"),
        "USD",
        OUT,
    ),
    Case(
        # the wording is only in attributes, never in the page's text
        "disabled-button-labelled-sold-out-by-its-value-beats-structured-instock",
        page(
            '<main><h1>Amp</h1><span class="price">$219.00</span><form action="/cart/add">'
            '<input type="submit" name="add" value="Sold out" disabled></form></main>',
            ld(product("219.00", "USD", "InStock", name="Amp")),
        ),
        D("219.00"),
        "USD",
        OUT,
    ),
    Case(
        "disabled-button-labelled-sold-out-by-aria-label-beats-structured-instock",
        page(
            '<main><h1>Amp</h1><span class="price">$219.00</span><form action="/cart/add">'
            '<button type="submit" name="add" aria-label="Out of stock" disabled>'
            "<svg></svg></button></form></main>",
            ld(product("219.00", "USD", "InStock", name="Amp")),
        ),
        D("219.00"),
        "USD",
        OUT,
    ),
    Case(
        "disabled-sold-out-variant-pill-is-not-strong",
        page(
            '<main><h1>Tee</h1><span class="price">$20.00</span><form action="/cart/add">'
            '<button type="button" class="swatch" disabled>XL sold out</button>'
            '<button type="submit" name="add">Add to cart</button></form></main>',
            ld(product("20.00", "USD", "InStock", name="Tee")),
        ),
        D("20.00"),
        "USD",
        IN,
    ),
    Case(
        "dawn-sold-out-badge-and-hidden-labels-ignored",
        page(
            '<main><div class="product__info-container"><h1>Schiit Magni</h1>'
            '<div class="price price--large price--show-badge"><span class="price-item">'
            "$149.00 USD</span>"
            '<span class="badge price__badge-sold-out color-scheme-3">Sold out</span></div>'
            '<fieldset><input type="radio" id="c-0" name="Color" value="Black">'
            '<label for="c-0">Black<span class="visually-hidden label-unavailable">'
            "Variant sold out or unavailable</span></label></fieldset>"
            '<form action="/cart/add"><button type="submit" name="add">Add to cart</button>'
            "</form></div></main>",
            ld(product("149.00", "USD", "http://schema.org/InStock", name="Schiit Magni")),
        ),
        D("149.00"),
        "USD",
        IN,
    ),
    Case(
        "state-badge-counts-in-its-state",
        page(
            '<main><h1>Schiit Magni</h1><div class="price price--sold-out">'
            '<span class="price-item">$149.00</span>'
            '<span class="badge price__badge-sold-out">Sold out</span></div></main>'
        ),
        D("149.00"),
        "USD",
        OUT,
    ),
    *[
        Case(
            f"unseen-oos-text-ignored-{name}",
            page(
                f'<main><h1>Lamp</h1><span class="price">$40.00</span>{hidden}'
                "<button>Add to cart</button></main>"
            ),
            D("40.00"),
            "USD",
            IN,
        )
        for name, hidden in [
            ("sr-only", '<span class="sr-only">Out of stock</span>'),
            ("screen-reader-text", '<span class="screen-reader-text">Sold out</span>'),
            ("hidden-class", '<p class="notice hidden">Sold out</p>'),
            ("aria-hidden", '<p aria-hidden="true">Sold out</p>'),
            ("hidden-attribute", "<p hidden>Sold out</p>"),
            ("inline-style", '<p style="display:none">Sold out</p>'),
        ]
    ],
    Case(
        "page-wrapper-aria-hidden-behind-a-modal-still-read",
        page(
            '<div class="page" aria-hidden="true"><main><h1>Lamp</h1>'
            '<span class="price">$40.00</span><p class="stock">Out of stock</p></main></div>'
            '<div role="dialog" class="modal is-open">Sign up for our newsletter</div>',
            ld(product("40.00", "USD", "InStock", name="Lamp")),
        ),
        D("40.00"),
        "USD",
        OUT,
    ),
    Case(
        "store-pickup-status-is-not-strong",
        page(
            '<main><h1>Console</h1><span class="price">$24.990</span>'
            '<div class="shipping"><div><p>Despacho a domicilio</p><span>Disponible</span></div>'
            '<div><p class="unavailable">Retiro en tienda</p>'
            '<strong><span class="unavailable">No Disponible</span></strong></div></div></main>',
            ld(product("24990", "CLP", "InStock", name="Console")),
            lang="es-CL",
        ),
        D("24990"),
        "CLP",
        IN,
    ),
    Case(
        "back-in-stock-form-is-not-strong",
        page(
            '<main><h1>Kettle</h1><span class="price">$30.00</span>'
            '<div class="back-in-stock-notify"><p class="stock-alert">Notify me when '
            "available</p></div><button>Add to cart</button></main>",
            ld(product("30.00", "USD", "InStock", name="Kettle")),
        ),
        D("30.00"),
        "USD",
        IN,
    ),
    Case(
        "disabled-add-to-cart",
        page(
            '<main><h1>Boots</h1><span class="price">$80.00</span>'
            '<button class="add-to-cart" disabled>Add to cart</button></main>'
        ),
        D("80.00"),
        "USD",
        OUT,
    ),
    Case(
        "prose-mentioning-out-of-stock-ignored",
        page(
            '<main><h1>Pot</h1><span class="price">$20.00</span><p>'
            + "Lorem ipsum " * 10
            + "if the price is not shown the product is out of stock and you may ask us "
            "for a restock date by email.</p></main>"
        ),
        D("20.00"),
        "USD",
        None,
    ),
    Case(
        "priced-offer-without-availability-reads-in-stock",
        page(
            "<h1>Ticket</h1>",
            ld(
                {
                    "@type": "Event",
                    "name": "Ticket",
                    "offers": {
                        "@type": "AggregateOffer",
                        "lowPrice": "3340",
                        "priceCurrency": "CLP",
                    },
                }
            ),
        ),
        D("3340"),
        "CLP",
        IN,
    ),
    # --- status: blocked, gone, errors ------------------------------------------------------------
    Case(
        "cloudflare-just-a-moment",
        "<html><head><title>Just a moment...</title></head><body>Checking your browser"
        '<div id="cf-challenge-running"></div><script src="/cdn-cgi/challenge-platform/x.js">'
        "</script></body></html>",
        None,
        None,
        None,
        PageStatus.blocked,
    ),
    Case(
        "cloudflare-attention-required",
        "<html><head><title>Attention Required! | Cloudflare</title></head><body>"
        '<div class="cf-error-details">Sorry, you have been blocked</div></body></html>',
        None,
        None,
        None,
        PageStatus.blocked,
    ),
    Case(
        "perimeterx-press-and-hold",
        "<html><head><title>Access to this page has been denied</title></head><body>"
        '<div id="px-captcha"></div><p>Press &amp; Hold to confirm you are a human</p>'
        "</body></html>",
        None,
        None,
        None,
        PageStatus.blocked,
    ),
    Case(
        "datadome",
        "<html><head><title>example.com</title></head><body><script src="
        '"https://ct.captcha-delivery.com/c.js"></script><iframe src='
        '"https://geo.captcha-delivery.com/captcha/?x=1"></iframe></body></html>',
        None,
        None,
        None,
        PageStatus.blocked,
    ),
    Case(
        "akamai-access-denied",
        "<html><head><title>Access Denied</title></head><body><h1>Access Denied</h1>"
        'You don\'t have permission to access "http://www.example.com/p/1" on this server.'
        "<p>Reference #18.1234</p></body></html>",
        None,
        None,
        None,
        PageStatus.blocked,
    ),
    Case(
        "amazon-robot-check",
        "<html><head><title>Robot Check</title></head><body><p>Enter the characters you see "
        'below</p><form action="/errors/validateCaptcha"></form></body></html>',
        None,
        None,
        None,
        PageStatus.blocked,
    ),
    Case(
        "captcha-script-on-normal-page-not-blocked",
        page(
            "<h1>Kettle</h1><p>" + "A fine kettle. " * 300 + "</p>"
            '<script src="https://www.google.com/recaptcha/api.js"></script>'
            '<div class="g-recaptcha"></div>',
            ld(product("25.00", "GBP", "InStock")),
        ),
        D("25.00"),
        "GBP",
        IN,
        PageStatus.ok,
    ),
    Case(
        "http-403-blocked",
        "<html><body>Forbidden</body></html>",
        None,
        None,
        None,
        PageStatus.blocked,
        http_status=403,
    ),
    Case(
        "http-404-gone", page(ld(product("10"))), None, None, None, PageStatus.gone, http_status=404
    ),
    Case("http-410-gone", "", None, None, None, PageStatus.gone, http_status=410),
    Case("http-500-error", "oops", None, None, None, PageStatus.error, http_status=500),
    Case("empty-page", "", None, None, None, PageStatus.error),
    Case("whitespace-page", "   \n ", None, None, None, PageStatus.error),
    Case(
        "not-html-content-type",
        '{"price": 1}',
        None,
        None,
        None,
        PageStatus.error,
        content_type="application/json",
    ),
    Case("deep-nesting", "<div>" * 50_000 + "$10.00" + "</div>" * 50_000, status=ANY),
    Case(
        "deep-jsonld",
        page("", '<script type="application/ld+json">' + "[" * 50_000 + "]" * 50_000 + "</script>"),
        None,
        ANY,
        ANY,
        PageStatus.no_price,
    ),
    # --- site rules -------------------------------------------------------------------------------
    Case(
        "explicit-site-rules-win",
        page(
            '<h1>Widget</h1><div id="our-price">EUR 12,50</div><div id="stock">Nur noch '
            "wenige da</div>",
            ld(product("99.00", "EUR", "InStock")),
        ),
        D("12.50"),
        "EUR",
        Availability.LimitedAvailability,
        PageStatus.ok,
        "site:myshop",
        rules=SiteRules(
            name="myshop",
            price="#our-price",
            availability="#stock",
            availability_map={"nur noch": Availability.LimitedAvailability},
        ),
    ),
    Case(
        "explicit-rules-currency-fallback",
        page('<h1>Widget</h1><div class="p">12.50</div>'),
        D("12.50"),
        "DKK",
        ANY,
        PageStatus.ok,
        "site:dk",
        rules=SiteRules(name="dk", price=".p", currency="DKK"),
    ),
    Case(
        "builtin-amazon-by-domain",
        page(
            '<span id="productTitle">Kettle</span><div id="corePrice_feature_div">'
            '<span class="a-price"><span class="a-offscreen">$49.99</span></span></div>'
            '<div id="availability"><span>Only 2 left in stock - order soon.</span></div>'
        ),
        D("49.99"),
        "USD",
        Availability.LimitedAvailability,
        PageStatus.ok,
        "site:amazon",
        url="https://www.amazon.com/dp/B000000",
    ),
    Case(
        "builtin-amazon-by-markup-on-another-domain",
        page(
            '<div id="dp-container"><h1><span id="productTitle">Kettle</span></h1>'
            '<div id="corePrice_feature_div"><span class="a-price priceToPay">'
            '<span class="a-offscreen">$39.99</span></span>'
            '<span class="basisPrice">List Price: <span class="a-price a-text-price">'
            '<span class="a-offscreen">$59.99</span></span></span></div>'
            '<div id="olp_feature_div"><a href="/gp/offer-listing/B0KETTLE01">New &amp; Used '
            'from <span class="a-price"><span class="a-offscreen">$29.99</span></span></a></div>'
            '<div id="availability"><span>In Stock</span></div></div>'
        ),
        D("39.99"),
        "USD",
        IN,
        PageStatus.ok,
        "site:amazon",
        url="https://shop.example.net/dp/B0KETTLE01",
    ),
    Case(
        "builtin-amazon-list-price-not-taken",
        page(
            '<span id="productTitle">Kettle</span><div id="corePrice_feature_div">'
            '<span class="a-price a-text-price"><span class="a-offscreen">$59.99</span></span>'
            '<span class="a-price"><span class="a-offscreen">$39.99</span></span></div>'
        ),
        D("39.99"),
        "USD",
        ANY,
        PageStatus.ok,
        "site:amazon",
        url="https://www.amazon.com/dp/B000000",
    ),
    Case(
        "builtin-magento-whole-number-attribute-keeps-decimals",
        page(
            '<div class="product-info-main"><h1 class="page-title"><span class="base">DAC'
            '</span></h1><div class="price-box price-final_price"><span class="special-price">'
            '<span data-price-amount="1299" data-price-type="finalPrice" class="price-wrapper">'
            '<span class="price">1.299,00\u00a0€</span></span></span><span class="old-price">'
            '<span data-price-amount="1399" data-price-type="oldPrice" class="price-wrapper">'
            '<span class="price">1.399,00\u00a0€</span></span></span></div>'
            '<div class="stock unavailable"><span>Nicht vorrätig</span></div></div>',
            '<script type="text/x-magento-init">{}</script>',
            lang="de",
        ),
        D("1299.00"),
        "EUR",
        OUT,
        PageStatus.ok,
        "site:magento",
    ),
    Case(
        "builtin-shopify-by-marker",
        page(
            '<div class="product"><h1>Mug</h1><span data-product-price>$18.00</span>'
            '<form action="/cart/add"><button name="add" disabled>Sold out</button></form>'
            "</div>",
            "<script>Shopify.theme = {name: 'Dawn'};</script>",
        ),
        D("18.00"),
        "USD",
        Availability.SoldOut,
        PageStatus.ok,
        "site:shopify",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_extract_table(case: Case) -> None:
    offer = extract(
        case.html,
        url=case.url,
        http_status=case.http_status,
        content_type=case.content_type,
        rules=case.rules,
        currency_hint=case.currency_hint,
    )
    assert isinstance(offer, Offer)
    for name in ("price", "currency", "availability", "status", "method"):
        expected = getattr(case, name)
        if expected is not ANY:
            assert getattr(offer, name) == expected, f"{name}: {offer}"
    if offer.status is not PageStatus.ok:
        assert offer.price is None
        assert offer.reason


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("instock", IN),
        ("InStock", IN),
        ("https://schema.org/InStock", IN),
        ("http://schema.org/OutOfStock", OUT),
        ("https://schema.org/SoldOut", Availability.SoldOut),
        ("Discontinued", Availability.Discontinued),
        ("schema:PreOrder", Availability.PreOrder),
        ("LimitedAvailability", Availability.LimitedAvailability),
        ("BackOrder", Availability.BackOrder),
        ("http://schema.org/OnlineOnly", Availability.OnlineOnly),
        ("in stock", IN),
        ("out of stock", OUT),
        ("oos", OUT),
        ("  https://schema.org/InStoreOnly/ ", Availability.InStoreOnly),
        ("something else", None),
        ("", None),
        (None, None),
        (3, None),
    ],
)
def test_normalize_availability(value: object, expected: Availability | None) -> None:
    assert normalize_availability(value) == expected


@pytest.mark.parametrize(
    ("body", "content_type", "expected_title"),
    [
        ("<title>Café</title>".encode("latin-1"), "text/html; charset=ISO-8859-1", "Café"),
        (b'<meta charset="windows-1252"><title>Caf\xe9</title>', None, "Café"),
        (
            b'<meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1">'
            b"<title>Caf\xe9</title>",
            None,
            "Café",
        ),
        ("<title>Café</title>".encode(), None, "Café"),
        (b"<title>Caf\xff</title>", None, "Caf\ufffd"),
        (b"<title>Caf\xc3\xa9\xe2\x82</title>", "text/html; charset=UTF-8", "Caf\u00e9\ufffd"),
        (b"<title>Ca\x00f\xc3\xa9</title>", None, "Caf\u00e9"),
    ],
)
def test_decoding(body: bytes, content_type: str | None, expected_title: str) -> None:
    offer = extract(body, content_type=content_type)
    assert offer.title == expected_title


def test_binary_junk_is_error() -> None:
    junk = bytes(range(256)) * 64
    offer = extract(junk)
    assert offer.status is PageStatus.error
    assert offer.reason


def test_wrong_type_raises_extract_error() -> None:
    with pytest.raises(ExtractError):
        extract(12345)  # type: ignore[arg-type]


def test_fixture_pages() -> None:
    """Hand-written fixture pages (one file per case, expected values in expected.json)."""
    expected = json.loads((FIXTURES / "expected.json").read_text())
    for name, want in expected.items():
        offer = extract((FIXTURES / name).read_bytes(), url=want.get("url"))
        got = {
            "price": str(offer.price) if offer.price is not None else None,
            "currency": offer.currency,
            "availability": offer.availability.value if offer.availability else None,
            "status": offer.status.value,
        }
        want_fields = {k: v for k, v in want.items() if k != "url"}
        assert got == want_fields, name


def test_whole_number_price_attribute_keeps_the_decimals_shown() -> None:
    case = next(c for c in CASES if c.id.startswith("builtin-magento-whole-number"))
    offer = extract(case.html)
    assert str(offer.price) == "1299.00"


def test_builtin_amazon_matches_by_markup() -> None:
    amazon = rules_for("https://shop.example.net/x", '<div id="dp-container" class="a">')
    assert amazon is not None and amazon.name == "amazon"
    assert rules_for("https://shop.example.net/x", '<span class="a-offscreen">$1</span>')


def test_builtin_rules_load_and_match() -> None:
    rulesets = load_builtin_rules()
    names = {r.rules.name for r in rulesets}
    assert {
        "amazon",
        "walmart",
        "bestbuy",
        "target",
        "ebay",
        "johnlewis",
        "ikea",
        "zalando",
    } <= names
    assert {"shopify", "woocommerce", "magento", "bigcommerce"} <= names
    for rs in rulesets:
        assert rs.rules.price, rs.rules.name
        assert rs.match or rs.detect, rs.rules.name
    assert rules_for("https://www.ebay.it/itm/1") is not None
    assert rules_for("https://www.ebay.it/itm/1").name == "ebay"  # type: ignore[union-attr]
    assert rules_for("https://notamazon.com/x") is None
    woo = rules_for("https://blog.example.org/p", '<body class="woocommerce-product">')
    assert woo is not None and woo.name == "woocommerce"
    assert rules_for("https://example.org/", "<p>plain</p>") is None


# --- fuzz ---

_FRAGMENTS = [
    "<div>", "</div>", "<span class='price'>", "</span>", "<h1>", "</h1>", "$", "€", "£",
    "1.299,00", "24.990", "0", "-5", "99", "<del>", "</del>", "Sold out", "In stock",
    '<script type="application/ld+json">', "</script>", '{"@type":"Product","offers":',
    '{"price":"1,5","priceCurrency":"EUR","availability":"InStock"}', "}", "[", "]",
    '<meta itemprop="price" content="x">', '<button disabled>Add to cart</button>',
    "<!--", "-->", "<title>Just a moment...</title>", "\x00", "\ufffd", "<", ">", "&amp;",
    '<link itemprop="availability" href="SoldOut">', "<table><tr><td>", "<p",
]  # fmt: skip


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    parts=st.lists(st.one_of(st.sampled_from(_FRAGMENTS), st.text(max_size=20)), max_size=60),
    raw=st.binary(max_size=200),
    status=st.sampled_from([None, 200, 403, 404, 500]),
)
def test_fuzz_never_raises(parts: list[str], raw: bytes, status: int | None) -> None:
    html = "".join(parts)
    for body in (
        html,
        html.encode("utf-8", "surrogatepass"),
        raw,
        raw + html.encode("utf-8", "replace"),
    ):
        offer = extract(body, url="https://shop.example.de/p?variant=1", http_status=status)
        assert isinstance(offer, Offer)
        if offer.price is not None:
            assert offer.price > 0
            assert offer.status is PageStatus.ok


@pytest.mark.parametrize(
    ("title", "gone"),
    [
        ("SMSL Model 404 Headphone Amplifier – Shop", False),
        ("404 Not Found – Shop", True),
        ("Error 404 – Shop", True),
        ("Page not found – Shop", True),
    ],
)
def test_a_404_in_a_product_name_is_not_a_missing_page(title: str, gone: bool) -> None:
    html = page(
        f"<main><h1>{title.split(' – ')[0]}</h1>"
        '<p class="price">$129.00</p><button>Add to cart</button></main>',
        head=f"<title>{title}</title>",
    )
    offer = extract(html, url="https://shop.example/p/model-404")
    assert (offer.status is PageStatus.gone) is gone, offer
    if not gone:
        assert offer.price == Decimal("129.00")


@pytest.mark.parametrize(
    "hidden_open",
    [
        "<div hidden>",
        '<div class="quick-view d-none">',
        '<div class="is-hidden">',
        '<div style="display: none">',
        '<div style="visibility:hidden">',
        "<dialog>",
        '<div class="modal fade">',
        '<div role="dialog">',
    ],
)
def test_a_heading_a_reader_cannot_see_is_not_the_product_heading(hidden_open: str) -> None:
    """A hidden quick-view heading comes first; the product area is the visible heading's,
    whose sold-out button outweighs structured data that says in stock."""
    html = _two_headings_page(hidden_open, sold_out_first=False)
    offer = extract(html, url="https://shop.example/amp")
    assert (offer.price, offer.availability) == (D("99.00"), OUT)


@pytest.mark.parametrize(
    "shown_open",
    [
        "<div>",
        '<div class="modal show">',
        '<div class="modal fade in">',
        "<dialog open>",
        '<div class="d-none-print hidden-label">',
        '<div style="display: block">',
        '<div role="dialogue">',
        '<div data-hidden="true">',
    ],
)
def test_a_heading_a_reader_sees_first_is_the_product_heading(shown_open: str) -> None:
    """The first heading's block is shown (an open modal or dialog, class names that only
    resemble hiding ones): its area, which says sold out, is the product's."""
    html = _two_headings_page(shown_open, sold_out_first=True)
    offer = extract(html, url="https://shop.example/amp")
    assert (offer.price, offer.availability) == (D("99.00"), OUT)


@pytest.mark.parametrize("inside", ["<script>window.hero = 1</script>", "<style>h1{}</style>"])
def test_a_heading_whose_only_text_is_a_script_is_not_the_product_heading(inside: str) -> None:
    """The first h1 holds only a script or style (never shown): its block, which says sold
    out, is not the product area; the visible heading's is, and it says nothing against the
    structured in-stock."""
    blurb = "<p>" + "A compact desk amplifier with a warm sound and two gain settings. " * 5
    filler = "".join(f"<p>Review paragraph {i}: {'words ' * 30}</p>" for i in range(40))
    html = page(
        f"<div><h1>{inside}</h1>{blurb}</p><p class='stock'>Out of stock</p></div>"
        f"<main><h1>Acme Amp</h1>{blurb}</p><p>In stock</p></main><section>{filler}</section>",
        ld(product("99.00", avail="https://schema.org/InStock", name="Acme Amp")),
    )
    offer = extract(html, url="https://shop.example/amp")
    assert (offer.price, offer.availability) == (D("99.00"), IN), offer


def _two_headings_page(first_open: str, *, sold_out_first: bool) -> str:
    """A block opened by ``first_open`` with a heading, then the page's main heading; the
    area of one of them says sold out, the structured data says in stock. Each area is
    long enough to be the product area on its own."""
    close = "</dialog>" if first_open.startswith("<dialog") else "</div>"
    blurb = "<p>" + "A compact desk amplifier with a warm sound and two gain settings. " * 5
    sold_out = '<p class="stock out-of-stock">Out of stock</p><button disabled>Sold out</button>'
    first, main = (sold_out, "") if sold_out_first else ("", sold_out)
    filler = "".join(f"<p>Review paragraph {i}: {'words ' * 30}</p>" for i in range(40))
    return page(
        f"{first_open}<h1>Quick view: Acme Amp</h1>{blurb}</p>{first}{close}"
        f"<main><h1>Acme Amp</h1>{blurb}</p>{main}</main><section>{filler}</section>",
        ld(product("99.00", avail="https://schema.org/InStock", name="Acme Amp")),
    )


def test_the_same_price_text_takes_each_pages_currency() -> None:
    """ "$35.00" is Canadian dollars on a .ca shop and US dollars on a .com one, in any order."""
    html = page('<h1>Amp</h1><span class="price">$35.00</span>')
    seen = [
        extract(html, url=url).currency
        for url in ("https://shop.example.ca/p", "https://shop.example.com/p") * 2
    ]
    assert seen == ["CAD", "USD", "CAD", "USD"]


def test_template_content_is_never_read() -> None:
    """A <template> (markup a script may insert later) neither names nor prices the
    product, nor says it is sold out."""
    tpl = (
        "<template><h1>Other Amp</h1><p class='stock out-of-stock'>Sold out</p>"
        "<span class='price'>$5.00</span><button disabled>Sold out</button></template>"
    )
    offer = extract(
        page(
            f"{tpl}<main><h1>Acme Amp</h1><span class='price'>$99.00</span>{tpl}"
            "<button>Add to cart</button></main>"
        ),
        url="https://shop.example.com/amp",
    )
    assert (offer.price, offer.availability, offer.title) == (D("99.00"), IN, "Acme Amp")


@pytest.mark.parametrize("holder", ["noscript", "svg", "script", "style"])
def test_microdata_inside_unshown_elements_is_never_read(holder: str) -> None:
    """A <noscript> fallback (or an <svg>, a script, a style) with microdata of its own
    neither prices the product nor says it is sold out; the microdata shown does."""
    tag = "g" if holder == "svg" else "span"  # (most HTML elements end an <svg>)
    inner = (
        f'<{tag} itemprop="price" content="5.00"></{tag}>'
        f'<{tag} itemprop="priceCurrency" content="EUR"></{tag}>'
        f'<{tag} itemprop="availability" content="https://schema.org/OutOfStock"></{tag}>'
    )
    offer = extract(
        page(
            f"<{holder}>{inner}</{holder}>"
            '<main itemscope itemtype="https://schema.org/Product"><h1>Acme Amp</h1>'
            '<div itemprop="offers" itemscope itemtype="https://schema.org/Offer">'
            '<span itemprop="price" content="99.00">$99.00</span>'
            '<meta itemprop="priceCurrency" content="USD">'
            '<link itemprop="availability" href="https://schema.org/InStock"></div></main>'
        ),
        url="https://shop.example.com/amp",
    )
    assert (offer.price, offer.currency, offer.availability, offer.method) == (
        D("99.00"),
        "USD",
        IN,
        "microdata",
    )


@pytest.mark.parametrize("at", [0, 350_000, 399_000])
def test_every_platform_marker_is_recognised_anywhere_in_the_first_400k(at: int) -> None:
    """Each marker a built-in rule set declares names that rule set on its own, wherever it
    sits in the first 400,000 characters of the source; past them it is not looked for."""
    rulesets = [rs for rs in load_builtin_rules() if rs.detect]
    for rs in rulesets:
        for marker in rs.detect:
            source = "x" * (at - len(marker) if at else 0) + marker + " y" * 10
            # the first rule set in order with a marker in the page, by plain search
            expected = next(r.rules.name for r in rulesets if any(m in source for m in r.detect))
            found = rules_for(None, source)
            assert found is not None and found.name == expected, (rs.rules.name, marker)
            assert rules_for(None, "x" * 400_000 + marker) is None, marker


@pytest.mark.parametrize(
    "hidden_open",
    [
        '<nav class="mega-menu" style="display:none">',
        '<div class="cart-drawer" hidden>',
        '<div class="size-guide modal fade">',
    ],
)
@pytest.mark.parametrize("structured", [True, False])
@pytest.mark.parametrize("flat", [False, True])
def test_hidden_bulk_beside_the_product_does_not_cut_its_area_short(
    hidden_open: str, structured: bool, flat: bool
) -> None:
    """A long block a reader does not see (a mega-menu, a cart drawer) sits beside the
    product's description; the stock line after it is still in the product area, and it
    outweighs structured data that says in stock. ``flat``: the blocks are children of a
    body with hundreds of (empty) others."""
    blurb = "A compact desk amplifier with a warm sound and two gain settings. " * 5
    hidden = "".join(f"<p>Menu entry {i}: {'words ' * 30}</p>" for i in range(40))
    blocks = (
        f'<div class="info"><h1>Acme Amp</h1><p>{blurb}</p></div>'
        f"{hidden_open}{hidden}</{hidden_open[1:].split()[0]}>"
        '<p class="price">$99.00</p><p class="stock-status">Sold out</p>'
    )
    html = page(
        blocks + "<i></i>" * 300 if flat else f'<div class="product">{blocks}</div>',
        ld(product("99.00", avail="https://schema.org/InStock", name="Acme Amp"))
        if structured
        else '<meta property="product:price:amount" content="99.00">'
        '<meta property="product:price:currency" content="USD">',
    )
    offer = extract(html, url="https://shop.example/amp")
    assert (offer.price, offer.availability) == (D("99.00"), OUT)


CHALLENGE_MARKERS = [
    "cf-browser-verification",
    "cf_chl_opt",
    "cf-challenge",
    "challenge-platform",
    "cf-error-details",
    "px-captcha",
    "_pxCaptcha",
    "Press & Hold",
    "Press &amp; Hold",
    "captcha-delivery.com",
    "datadome",
    "DataDome",
    "errors.edgesuite.net",
    "You don't have permission to access",
    "_Incapsula_Resource",
    "Incapsula incident",
    "validateCaptcha",
    "Enter the characters you see below",
    "not a robot",
    "unusual traffic",
    "automated access",
    "Access Denied",
]


@pytest.mark.parametrize("marker", CHALLENGE_MARKERS)
def test_each_challenge_marker_makes_a_short_page_blocked(marker: str) -> None:
    """A challenge page: little text and one bot-protection marker in its source, even
    one that shares a word with other markers ("captcha", "Incapsula"). A product page
    with the same marker in a script and a full description is read as usual."""
    challenge = page(f'<div><script src="/{marker}.js"></script><p>One moment...</p></div>')
    offer = extract(challenge, url="https://shop.example/amp")
    assert (offer.status, offer.reason) == (
        PageStatus.blocked,
        f"bot protection page (marker {marker!r})",
    )
    described = "<p>" + "A compact desk amplifier with a warm sound. " * 80 + "</p>"
    shop_page = page(
        f'<script src="/{marker}.js"></script><main><h1>Acme Amp</h1>{described}</main>',
        ld(product("99.00", avail="https://schema.org/InStock", name="Acme Amp")),
    )
    assert extract(shop_page, url="https://shop.example/amp").status is PageStatus.ok
