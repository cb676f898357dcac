"""Simulated shops on loopback for the offline demo, the tests and the benchmarks.

Each ``Shop`` is a standard-library HTTP/1.1 server (keep-alive, Content-Length,
gzip, ETag / Last-Modified with 304s) on its own ``127.0.0.1`` port, serving product
pages in the markup of a real platform (``Style``): Amazon, Shopify, WooCommerce,
BigCommerce, Magento or a manufacturer's plain page. Faults (``Fault``) make pages
slow, rate-limited, failing, blocked, gone, truncated, oversized or hostile, and
every request is logged (``RequestRecord``) for measurements at the server::

    with ShopFarm.demo() as farm:
        shop = farm["Amazon-like"]
        url = shop.url("topping-l50")
        shop.set_price("topping-l50", "229.00")
        shop.set_fault(Fault.rate_limit, sku="topping-l50", count=2, retry_after=1)

``python -m tracker.shops`` serves the demo farm in the foreground.
"""

from __future__ import annotations

from tracker.shops._farm import DEMO_SHOPS, ShopFarm, ShopSpec, demo_specs
from tracker.shops._model import Fault, FaultSpec, Product, RequestRecord, Style
from tracker.shops._money import format_price
from tracker.shops._server import DEFAULT_ROBOTS_TXT, Shop, gzip_bomb
from tracker.shops.amazon_api import ApiRequest, FakeCreatorsApi, FakeItem

__all__ = [
    "DEFAULT_ROBOTS_TXT",
    "DEMO_SHOPS",
    "ApiRequest",
    "FakeCreatorsApi",
    "FakeItem",
    "Fault",
    "FaultSpec",
    "Product",
    "RequestRecord",
    "Shop",
    "ShopFarm",
    "ShopSpec",
    "Style",
    "demo_specs",
    "format_price",
    "gzip_bomb",
]
