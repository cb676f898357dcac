"""Serve the demo farm in the foreground: ``python -m tracker.shops [--port N] [--big]``."""

from __future__ import annotations

import argparse
import threading

from tracker.shops._farm import ShopFarm
from tracker.shops._money import format_price


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tracker.shops",
        description="Serve the simulated demo shops on 127.0.0.1 until Ctrl-C.",
    )
    parser.add_argument(
        "--port", type=int, default=0, help="first port; the six shops take consecutive ports"
    )
    parser.add_argument("--big", action="store_true", help="pad every product page to ~1 MB")
    args = parser.parse_args(argv)
    with ShopFarm.demo(big=args.big, first_port=args.port) as farm:
        for shop in farm:
            print(f"{shop.name} ({shop.style.value}, {shop.locale}): {shop.base_url}/")
            for sku, product in shop.products.items():
                price = format_price(product.price, product.currency, locale=shop.locale)
                stock = "in stock" if product.in_stock else "out of stock"
                print(f"  {shop.url(sku)}  {price}, {stock}")
        print("Serving; press Ctrl-C to stop.", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            print("\nStopping.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
