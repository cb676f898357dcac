"""Several shops at once, and the demo catalogue."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from types import TracebackType

from tracker.shops._model import Product, Style
from tracker.shops._server import DEFAULT_ROBOTS_TXT, Shop

__all__ = ["DEMO_SHOPS", "ShopFarm", "ShopSpec", "demo_specs"]


@dataclass(frozen=True, slots=True)
class ShopSpec:
    """How to build one ``Shop`` (its products are copied when the shop starts)."""

    name: str
    style: Style | str = Style.plain
    products: Sequence[Product] = ()
    locale: str = "en"
    currency: str | None = None  # default: EUR for de/fr/nl/it/es, GBP for en-GB, else USD
    big: bool = False
    robots_txt: str | None = DEFAULT_ROBOTS_TXT
    port: int = 0  # 0: any free port

    def start(self, *, host: str = "127.0.0.1") -> Shop:
        return Shop(
            self.name,
            style=self.style,
            products=self.products,
            locale=self.locale,
            currency=self.currency,
            big=self.big,
            robots_txt=self.robots_txt,
            host=host,
            port=self.port,
        )


def _p(
    sku: str,
    title: str,
    price: str,
    currency: str = "USD",
    *,
    in_stock: bool = True,
    was: str | None = None,
) -> Product:
    return Product(
        sku, title, Decimal(price), currency, in_stock, Decimal(was) if was is not None else None
    )


DEMO_SHOPS = (
    "TOPPING Direct",
    "Big Audio Mart",
    "Amazon-like",
    "Shopify store",
    "WooCommerce store",
    "Magento store",
)


def demo_specs(*, big: bool = False, first_port: int = 0) -> list[ShopSpec]:
    """The demo farm: six shops, one per style, selling headphone amps and DACs.

    ``topping-l50`` is sold everywhere; every shop has one item on sale and most have
    one out of stock. ``first_port`` > 0 puts the shops on consecutive fixed ports.
    """

    def port(i: int) -> int:
        return first_port + i if first_port else 0

    return [
        ShopSpec(
            "TOPPING Direct",
            Style.plain,
            [
                _p("topping-l50", "TOPPING L50 Headphone Amplifier", "249.00"),
                _p("topping-e50", "TOPPING E50 DAC", "249.00"),
                _p(
                    "topping-dx5-ii",
                    "TOPPING DX5 II DAC & Headphone Amplifier",
                    "399.00",
                    was="449.00",
                ),
                _p(
                    "topping-a90-discrete",
                    "TOPPING A90 Discrete Headphone Amplifier",
                    "599.00",
                    in_stock=False,
                ),
            ],
            big=big,
            port=port(0),
        ),
        ShopSpec(
            "Big Audio Mart",
            Style.bigcommerce,
            [
                _p("schiit-magni-unity", "Schiit Magni Unity Headphone Amplifier", "149.00"),
                _p("schiit-modi-plus", "Schiit Modi+ DAC", "129.00"),
                _p("jds-labs-atom-amp-plus", "JDS Labs Atom Amp+", "119.00", in_stock=False),
                _p("topping-l50", "TOPPING L50 Headphone Amplifier", "259.00", was="279.00"),
            ],
            big=big,
            port=port(1),
        ),
        ShopSpec(
            "Amazon-like",
            Style.amazon,
            [
                _p(
                    "topping-l50",
                    "TOPPING L50 Headphone Amplifier, 4.8W Output, Ultra-Low Noise NFCA "
                    "Amp for Headphones",
                    "249.00",
                ),
                _p("fiio-k7", "FiiO K7 Desktop Balanced DAC & Headphone Amplifier", "199.99"),
                _p(
                    "ifi-zen-dac-v2",
                    "iFi Zen DAC V2 USB DAC and Headphone Amplifier",
                    "169.00",
                    was="199.00",
                ),
                _p(
                    "fosi-audio-sk02",
                    "Fosi Audio SK02 Headphone Amplifier",
                    "89.99",
                    in_stock=False,
                ),
            ],
            big=big,
            port=port(2),
        ),
        ShopSpec(
            "Shopify store",
            Style.shopify,
            [
                _p("schiit-magni-unity", "Schiit Magni Unity", "149.00"),
                _p("schiit-modi-multibit", "Schiit Modi Multibit", "249.00"),
                _p(
                    "drop-thx-aaa-789",
                    "Drop + THX AAA 789 Linear Amplifier",
                    "219.00",
                    in_stock=False,
                ),
                _p("topping-l50", "TOPPING L50", "249.00", was="269.00"),
            ],
            big=big,
            port=port(3),
        ),
        ShopSpec(
            "WooCommerce store",
            Style.woocommerce,
            [
                _p("topping-l50", "TOPPING L50 Headphone Amplifier", "239.00", "GBP"),
                _p("fiio-k7", "FiiO K7 Desktop DAC & Amp", "179.00", "GBP"),
                _p(
                    "smsl-sh-9",
                    "SMSL SH-9 THX AAA Headphone Amplifier",
                    "239.00",
                    "GBP",
                    was="269.00",
                ),
                _p("rme-adi-2-dac-fs", "RME ADI-2 DAC FS", "1099.00", "GBP"),
            ],
            locale="en-GB",
            big=big,
            port=port(4),
        ),
        ShopSpec(
            "Magento store",
            Style.magento,
            [
                _p("topping-l50", "TOPPING L50 Kopfhörerverstärker", "259.00", "EUR"),
                _p("rme-adi-2-dac-fs", "RME ADI-2 DAC FS", "1299.00", "EUR"),
                _p("schiit-magni-unity", "Schiit Magni Unity", "169.00", "EUR", in_stock=False),
                _p("ifi-zen-dac-v2", "iFi Zen DAC V2", "179.00", "EUR", was="199.00"),
            ],
            locale="de",
            big=big,
            port=port(5),
        ),
    ]


class ShopFarm:
    """Several running shops; ``farm[name]`` is a ``Shop``. Close it (or use ``with``)."""

    def __init__(self, shops: Iterable[ShopSpec | Shop] = (), *, host: str = "127.0.0.1") -> None:
        self._shops: dict[str, Shop] = {}
        try:
            for spec in shops:
                if spec.name in self._shops:
                    raise ValueError(f"two shops are named {spec.name!r}")
                shop = spec if isinstance(spec, Shop) else spec.start(host=host)
                self._shops[shop.name] = shop
        except BaseException:
            self.close()
            raise

    @classmethod
    def demo(cls, *, big: bool = False, first_port: int = 0) -> ShopFarm:
        """Six shops, one per style (see ``demo_specs``)."""
        return cls(demo_specs(big=big, first_port=first_port))

    @property
    def shops(self) -> list[Shop]:
        return list(self._shops.values())

    @property
    def names(self) -> list[str]:
        return list(self._shops)

    def __getitem__(self, name: str) -> Shop:
        return self._shops[name]

    def __contains__(self, name: object) -> bool:
        return name in self._shops

    def __iter__(self) -> Iterator[Shop]:
        return iter(list(self._shops.values()))

    def __len__(self) -> int:
        return len(self._shops)

    def __repr__(self) -> str:
        return f"ShopFarm({', '.join(repr(s) for s in self._shops.values())})"

    def products_toml(self) -> str:
        """``[[products]]`` tables for config.toml: every product of every shop, one
        listing each, the product id being the shop's SKU."""
        lines = []
        for shop in self._shops.values():
            for sku in shop.products:
                lines += [
                    "[[products]]",
                    f'id = "{sku}"',
                    f'name = "{sku}"',
                    "[[products.listings]]",
                    f'retailer = "{shop.name}"',
                    f'url = "{shop.url(sku)}"',
                    "",
                ]
        return "\n".join(lines)

    def clear_faults(self) -> None:
        for shop in self._shops.values():
            shop.clear_faults()

    def reset_log(self) -> None:
        for shop in self._shops.values():
            shop.reset_log()

    def close(self) -> None:
        for shop in self._shops.values():
            shop.close()

    def __enter__(self) -> ShopFarm:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
