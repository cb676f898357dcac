"""Extraction on realistic platform pages: every demo shop x every product x every variant.

The simulated shops (``tracker.shops``) render product pages in the markup of six platforms,
traps included (Dawn's always-rendered "Sold out" badge, Amazon's related-product carousels
and "List Price", WooCommerce's header cart total, Magento's whole-number data attributes and
disabled add-to-cart button, German number formatting ...). Pages are produced with
``shop.page(sku)``: no HTTP.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

import pytest

from tracker.extract import extract
from tracker.models import Availability, PageStatus
from tracker.shops import Product, ShopFarm, Style, demo_specs

VARIANTS = ("as-is", "out-of-stock", "on-sale")


@dataclass(frozen=True)
class Row:
    shop: str
    style: Style
    product: Product  # the catalogue entry (the running shop holds its own copy)
    variant: str

    @property
    def id(self) -> str:
        return f"{self.style.value}-{self.product.sku}-{self.variant}"


ROWS = [
    Row(spec.name, Style(spec.style), product, variant)
    for spec in demo_specs()
    for product in spec.products
    for variant in VARIANTS
]


@pytest.fixture(scope="module")
def farm() -> Iterator[ShopFarm]:
    with ShopFarm(demo_specs()) as shops:
        yield shops


def _was_price(product: Product) -> Decimal:
    return max(product.was_price or Decimal(0), product.price + Decimal("30.00"))


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_shop_page(farm: ShopFarm, row: Row) -> None:
    shop = farm[row.shop]
    cat = row.product
    # back to the catalogue state, then the variant
    shop.set_price(cat.sku, cat.price, was_price=cat.was_price, in_stock=cat.in_stock)
    in_stock = cat.in_stock
    if row.variant == "out-of-stock":
        shop.set_stock(cat.sku, False)
        in_stock = False
    elif row.variant == "on-sale":
        shop.set_price(cat.sku, cat.price, was_price=_was_price(cat))
    try:
        offer = extract(shop.page(cat.sku), url=shop.url(cat.sku))
    finally:
        shop.set_price(cat.sku, cat.price, was_price=cat.was_price, in_stock=cat.in_stock)

    # an out-of-stock Amazon page has no buy box, hence no price; other platforms keep it
    shows_price = in_stock or row.style is not Style.amazon
    want = Availability.InStock if in_stock else Availability.OutOfStock
    assert offer.availability == want, offer
    if shows_price:
        assert offer.status == PageStatus.ok, offer
        assert offer.price == cat.price, offer
        assert offer.currency == cat.currency, offer
    else:
        assert offer.status == PageStatus.no_price, offer
        assert offer.price is None, offer
        assert offer.currency is None, offer


def test_every_style_is_covered() -> None:
    assert {r.style for r in ROWS} == set(Style)
    assert {r.product.currency for r in ROWS} >= {"USD", "EUR", "GBP"}
