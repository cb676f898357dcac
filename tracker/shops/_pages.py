"""HTML of the simulated shops: one theme per platform, deterministic output.

Every page is a pure function of the shop (name, style, locale, base URL, ``big``) and
of the product's state, so the same state always yields the same bytes and ETag.
All product text is HTML-escaped; JSON in ``<script>`` is escaped against ``</script>``.
Markup lines are kept long, the way the platforms emit them (hence no E501 here).
"""

# ruff: noqa: E501

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from decimal import Decimal
from html import escape
from typing import Any

from tracker.shops._model import Product, Style
from tracker.shops._money import NBSP, format_price, machine_price, symbol_of

__all__ = ["PageContext", "product_path", "route_key", "theme_for"]

SCHEMA_IN = "http://schema.org/InStock"
SCHEMA_OUT = "http://schema.org/OutOfStock"


def e(text: object) -> str:
    """HTML-escape for text and attribute values."""
    return escape(str(text), quote=True)


def json_script(value: Any, *, escape_slashes: bool = False) -> str:
    """JSON safe inside ``<script>``: ``<``, ``>``, ``&`` as \\u escapes (and ``/`` as ``\\/``)."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    if escape_slashes:  # WordPress / WooCommerce style
        text = text.replace("/", "\\/")
    return text


def _digest(text: str) -> int:
    return int(hashlib.sha256(text.encode()).hexdigest()[:16], 16)


def num_id(sku: str, digits: int = 5, salt: str = "") -> int:
    """A stable numeric id for ``sku`` with exactly ``digits`` digits."""
    low: int = 10 ** (digits - 1)
    return low + _digest(salt + sku) % (9 * low)


_B36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def asin(sku: str) -> str:
    """An Amazon-like ASIN (``B0`` + 8 characters) derived from ``sku``."""
    n = _digest("asin:" + sku)
    chars = []
    for _ in range(8):
        n, r = divmod(n, 36)
        chars.append(_B36[r])
    return "B0" + "".join(chars)


def slugify(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug or "product"


def _title_slug(title: str) -> str:
    words = re.findall(r"[A-Za-z0-9]+", title)[:8]
    return "-".join(words) or "product"


def product_path(style: Style, product: Product) -> str:
    """The canonical path of a product page in ``style``."""
    slug = slugify(product.sku)
    if style is Style.amazon:
        return f"/{_title_slug(product.title)}/dp/{asin(product.sku)}"
    if style is Style.shopify:
        return f"/products/{slug}"
    if style is Style.woocommerce:
        return f"/product/{slug}/"
    if style is Style.bigcommerce:
        return f"/{slug}/"
    if style is Style.magento:
        return f"/{slug}.html"
    return f"/products/{slug}"


def product_key(style: Style, sku: str) -> str:
    """What ``route_key`` returns for the page of ``sku``."""
    return asin(sku) if style is Style.amazon else slugify(sku)


_ROUTES: dict[Style, tuple[re.Pattern[str], ...]] = {
    Style.amazon: (
        re.compile(r"^/(?:[^/]+/)?dp/([A-Z0-9]{10})(?:/.*)?$"),
        re.compile(r"^/gp/product/([A-Z0-9]{10})(?:/.*)?$"),
    ),
    Style.shopify: (re.compile(r"^/(?:collections/[^/]+/)?products/([a-z0-9-]+)/?$"),),
    Style.woocommerce: (re.compile(r"^/product/([a-z0-9-]+)(/?)$"),),
    Style.bigcommerce: (re.compile(r"^/([a-z0-9-]+)/$"),),
    Style.magento: (re.compile(r"^/([a-z0-9-]+)\.html$"),),
    Style.plain: (re.compile(r"^/products/([a-z0-9-]+)/?$"),),
}


def route_key(style: Style, path: str) -> tuple[str, bool] | None:
    """``(key, canonical)`` for a product-page path, None for anything else.

    ``canonical`` is False when the platform would redirect to the canonical path
    (WooCommerce without the trailing slash).
    """
    for pattern in _ROUTES[style]:
        match = pattern.match(path)
        if match:
            if style is Style.woocommerce:
                return match.group(1), match.group(2) == "/"
            return match.group(1), True
    return None


# --------------------------------------------------------------------------- context


_TEXT: dict[str, dict[str, str]] = {
    "en": {
        "in_stock": "In stock",
        "out_of_stock": "Out of stock",
        "add_to_cart": "Add to cart",
        "sold_out": "Sold out",
        "amz_in": "In Stock",
        "amz_out": "Currently unavailable.",
        "amz_out_note": "We don't know when or if this item will be back in stock.",
        "related": "Related products",
        "not_found": "Page not found",
        "gone": "This product is no longer available",
        "regular": "Regular price",
        "sale": "Sale price",
        "was": "Was:",
        "cart": "My Cart",
        "buy_now": "Buy Now",
        "search": "Search",
    },
    "de": {
        "in_stock": "Auf Lager",
        "out_of_stock": "Nicht vorrätig",
        "add_to_cart": "In den Warenkorb",
        "sold_out": "Ausverkauft",
        "amz_in": "Auf Lager",
        "amz_out": "Derzeit nicht verfügbar.",
        "amz_out_note": "Ob und wann dieser Artikel wieder vorrätig sein wird, ist unbekannt.",
        "related": "Ähnliche Produkte",
        "not_found": "Seite nicht gefunden",
        "gone": "Dieses Produkt ist nicht mehr erhältlich",
        "regular": "Normaler Preis",
        "sale": "Sonderpreis",
        "was": "Statt:",
        "cart": "Mein Warenkorb",
        "buy_now": "Jetzt kaufen",
        "search": "Suche",
    },
}


@dataclass(frozen=True, slots=True)
class PageContext:
    """What a theme needs to know about the shop."""

    shop: str
    style: Style
    locale: str
    base_url: str
    currency: str = "USD"
    big: bool = False

    @property
    def lang(self) -> str:
        return self.locale.replace("_", "-").split("-", 1)[0].lower()

    def t(self, key: str) -> str:
        return _TEXT.get(self.lang, _TEXT["en"])[key]

    def money(self, amount: Decimal, currency: str, *, code: bool = False) -> str:
        return format_price(amount, currency, locale=self.locale, code=code)

    def url(self, path: str) -> str:
        return self.base_url + path


@dataclass(frozen=True, slots=True)
class Item:
    """A product as a card in a grid (home page, related products)."""

    title: str
    href: str
    price: Decimal
    currency: str
    was_price: Decimal | None = None
    in_stock: bool = True
    sku: str = ""


# Related-product noise: fixed decoys with their own prices (never the page's product).
_DECOYS: tuple[tuple[str, str, str | None], ...] = (
    ("FiiO K7 Desktop DAC & Headphone Amplifier", "199.99", "219.99"),
    ("iFi Zen DAC V2 USB DAC and Headphone Amp", "169.00", None),
    ("JDS Labs Atom Amp+ Headphone Amplifier", "119.00", None),
    ("Sennheiser HD 600 Open Back Headphones", "299.95", "449.95"),
    ("Moondrop Aria Snow Edition In-Ear Monitors", "89.99", None),
    ("SMSL SU-1 MQA DAC", "89.99", "99.99"),
    ("Fosi Audio SK01 Headphone Amplifier", "59.99", None),
    ("Audio-Technica ATH-M50x Studio Headphones", "149.00", "169.00"),
    ("HIFIMAN Sundara Planar Magnetic Headphones", "349.00", None),
    ("FiiO BTR5 Bluetooth Receiver and DAC", "109.99", None),
    ("Cable Matters USB-C to USB-B Cable 6.6 ft", "9.99", None),
    ("4.4mm Balanced Headphone Cable, 1.2 m", "19.49", "24.99"),
)


def decoys(ctx: PageContext, currency: str, sku: str, count: int) -> list[Item]:
    start = _digest("decoys:" + sku) % len(_DECOYS)
    items = []
    for i in range(count):
        title, price, was = _DECOYS[(start + i) % len(_DECOYS)]
        slug = slugify(title)[:40]
        href = (
            f"/{_title_slug(title)}/dp/{asin(slug)}"
            if ctx.style is Style.amazon
            else product_path(ctx.style, Product(slug, title, Decimal(price)))
        )
        items.append(
            Item(title, href, Decimal(price), currency, Decimal(was) if was else None, sku=slug)
        )
    return items


def brand_of(title: str) -> str:
    return title.split()[0] if title.split() else "Generic"


def description_of(product: Product) -> str:
    return (
        f"{product.title} brings clean, powerful, low-noise sound to demanding headphones. "
        "A compact aluminium chassis, a precise volume control and protection circuits "
        "make it a set-and-forget part of any desk setup."
    )


def rating_of(sku: str) -> tuple[str, int]:
    n = _digest("rating:" + sku)
    return f"4.{n % 9 + 1}", 37 + n % 4000


_SPECS = (
    ("Output power", "4.8 W × 2 @ 16 Ω (balanced)"),
    ("THD+N", "< 0.0001 % @ 1 kHz"),
    ("SNR", "145 dB (A-weighted)"),
    ("Output impedance", "0.1 Ω"),
    ("Frequency response", "20 Hz – 40 kHz (±0.1 dB)"),
    ("Dimensions", "125 × 140 × 42 mm"),
    ("Weight", "680 g"),
)


_FILLER_WORDS = (
    *("Audio", "Video", "Home", "Kitchen", "Smart", "Outdoor", "Travel", "Office", "Gaming"),
    *("Studio", "Portable", "Wireless", "Vintage", "Compact", "Premium", "Classic", "Digital"),
    *("Analog", "Pro", "Mini", "Ultra"),
)
_FILLER_THINGS = (
    *("Headphones", "Speakers", "Amplifiers", "Cables", "Adapters", "Chargers", "Monitors"),
    *("Stands", "Cases", "Microphones", "Turntables", "Receivers", "Soundbars", "Earbuds"),
    *("Lamps", "Chairs", "Desks", "Keyboards"),
)


def filler(target: int, seed: str) -> str:
    """Hidden mega-menu markup of about ``target`` bytes (deterministic)."""
    words = _FILLER_WORDS
    things = _FILLER_THINGS
    parts = [f'<div class="nav-flyout-content" data-seed="{e(seed)}" style="display:none">']
    size = len(parts[0])
    n = 0
    while size < target:
        group = [f'<ul class="hmenu hmenu-translateX-right" data-menu-id="{n + 2}">']
        group.append(
            f'<li><div class="hmenu-item hmenu-title">{words[n % len(words)]} '
            f"{things[n % len(things)]}</div></li>"
        )
        for k in range(12):
            w = words[(n * 7 + k) % len(words)]
            t = things[(n * 3 + k * 5) % len(things)]
            group.append(
                f'<li><a href="/s?k={w.lower()}+{t.lower()}&amp;i=aps&amp;ref=nav_em_{n}_{k}" '
                f'class="hmenu-item" data-ref-tag="nav_em_1_1_1_{n}">{w} {t}</a></li>'
            )
        group.append("</ul>")
        block = "".join(group)
        parts.append(block)
        size += len(block)
        n += 1
    parts.append("</div>")
    return "\n".join(parts)


# --------------------------------------------------------------------------- themes


class Theme:
    """Markup of one platform. Subclasses override the pieces."""

    style: Style = Style.plain

    def __init__(self, ctx: PageContext) -> None:
        self.ctx = ctx

    # pieces every theme provides
    def layout(self, title: str, body: str, *, head: str = "") -> str:
        raise NotImplementedError

    def card(self, item: Item) -> str:
        raise NotImplementedError

    def product(self, product: Product, path: str) -> str:
        raise NotImplementedError

    # pages built from the pieces
    def home(self, items: list[Item]) -> str:
        cards = "\n".join(self.card(item) for item in items)
        body = (
            f'<section class="home-featured"><h2>Featured products</h2>'
            f'<ul class="product-grid">\n{cards}\n</ul></section>'
        )
        return self.layout(self.ctx.shop, body)

    def not_found(self) -> str:
        ctx = self.ctx
        body = (
            f'<div class="page-not-found"><h1>{e(ctx.t("not_found"))}</h1>'
            "<p>Sorry, the page you requested does not exist. "
            '<a href="/">Continue shopping</a></p></div>'
        )
        return self.layout(f"404 {ctx.t('not_found')} – {ctx.shop}", body)

    def gone(self) -> str:
        ctx = self.ctx
        body = (
            f'<div class="page-gone"><h1>{e(ctx.t("gone"))}</h1>'
            '<p>This item has been discontinued. <a href="/">See our current range</a></p></div>'
        )
        return self.layout(f"{ctx.t('gone')} – {ctx.shop}", body)

    def pad(self, page: str, seed: str, *, normal: int = 0) -> str:
        """Pad ``page`` before ``</body>`` to ~1 MB when the shop is ``big``."""
        target = 1_000_000 if self.ctx.big else normal
        missing = target - len(page.encode())
        if missing <= 0:
            return page
        head, sep, tail = page.rpartition("</body>")
        return head + filler(missing, seed) + "\n" + sep + tail


# ----------------------------------------------------------------------------- amazon


class AmazonTheme(Theme):
    style = Style.amazon

    def price_span(self, amount: Decimal, currency: str, *, cls: str, size: str = "xl") -> str:
        ctx = self.ctx
        text = ctx.money(amount, currency)
        symbol = symbol_of(currency)
        number = text.replace(symbol, "").replace(NBSP, "").strip()
        point = "," if ctx.lang in ("de", "fr", "nl", "it", "es") else "."
        whole, _, frac = number.rpartition(point)
        if not whole:
            whole, frac = number, ""
        sym = f'<span class="a-price-symbol">{e(symbol)}</span>'
        visible = (
            f'<span class="a-price-whole">{e(whole)}<span class="a-price-decimal">{point}</span>'
            f'</span><span class="a-price-fraction">{e(frac)}</span>'
        )
        visible = visible + sym if text.endswith(symbol) else sym + visible
        return (
            f'<span class="a-price {cls}" data-a-size="{size}" data-a-color="base">'
            f'<span class="a-offscreen">{e(text)}</span>'
            f'<span aria-hidden="true">{visible}</span></span>'
        )

    def strike_span(self, amount: Decimal, currency: str) -> str:
        text = e(self.ctx.money(amount, currency))
        return (
            '<span class="a-price a-text-price" data-a-size="s" data-a-strike="true" '
            f'data-a-color="secondary"><span class="a-offscreen">{text}</span>'
            f'<span aria-hidden="true">{text}</span></span>'
        )

    def layout(self, title: str, body: str, *, head: str = "") -> str:
        ctx = self.ctx
        departments = "".join(
            f'<option value="search-alias={slugify(d)}">{e(d)}</option>'
            for d in (
                "All Departments",
                "Arts & Crafts",
                "Automotive",
                "Baby",
                "Beauty & Personal Care",
                "Books",
                "Computers",
                "Electronics",
                "Home & Kitchen",
                "Musical Instruments",
                "Office Products",
                "Tools & Home Improvement",
                "Toys & Games",
                "Video Games",
            )
        )
        footer_links = "".join(
            f'<li class="nav_first"><a href="/gp/help/{slugify(x)}" class="nav_a">{e(x)}</a></li>'
            for x in (
                "Careers",
                "Blog",
                "About Amazon-like",
                "Investor Relations",
                "Sell products",
                "Become an Affiliate",
                "Advertise Your Products",
                "Your Account",
                "Your Orders",
                "Shipping Rates & Policies",
                "Returns & Replacements",
                "Help",
            )
        )
        return f"""<!doctype html><html lang="{e(ctx.locale)}-us" class="a-no-js" data-19ax5a9jf="dingo"><head>
<script type="text/javascript">var ue_t0=ue_t0||+new Date();</script>
<meta charset="utf-8">
<title>{e(title)}</title>
<link rel="stylesheet" href="/css/AUIClients/AmazonUI-3c913031596ca78a3768f4e934b1cc02ce238101.secure.min.css">
<link rel="dns-prefetch" href="https://images-na.ssl-images-amazon.com">
{head}
</head>
<body class="a-m-us a-aui_72554-c a-aui_a11y_6_837773-c a-aui_killswitch_csa_logger_372963-c a-meter-animate">
<div id="a-page">
<header id="navbar-main" class="nav-opt-sprite nav-flex nav-locale-us nav-lang-en nav-ssl nav-unrec nav-progressive-attribute">
<div id="navbar" cel_widget_id="Navigation-desktop-navbar" role="navigation" class="nav-sprite-v1 celwidget nav-bluebeacon nav-a11y-t1 bold-focus-hover layout2 nav-flex layout3 layout3-alt nav-packard-glow hamburger using-mouse">
<div id="nav-belt"><div class="nav-left"><div id="nav-logo"><a href="/" id="nav-logo-sprites" class="nav-logo-link nav-progressive-attribute" aria-label="{e(ctx.shop)}"><span class="nav-sprite nav-logo-base"></span></a></div>
<div id="nav-global-location-slot"><span id="nav-global-location-data-modal-action" class="a-declarative"><a id="nav-global-location-popover-link" class="nav-a nav-a-2 a-popover-trigger a-declarative nav-progressive-attribute" tabindex="0"><div class="nav-sprite nav-progressive-attribute" id="nav-packard-glow-loc-icon"></div><div id="glow-ingress-block"><span class="nav-line-1 nav-progressive-content" id="glow-ingress-line1">Deliver to</span><span class="nav-line-2 nav-progressive-content" id="glow-ingress-line2">New York 10001</span></div></a></span></div></div>
<div class="nav-fill" id="nav-fill-search"><form id="nav-search-bar-form" accept-charset="utf-8" action="/s/ref=nb_sb_noss" class="nav-searchbar nav-progressive-attribute" method="GET" name="site-search" role="search"><div class="nav-left"><div id="nav-search-dropdown-card"><select aria-describedby="searchDropdownDescription" class="nav-search-dropdown searchSelect nav-progressive-attrubute nav-progressive-search-dropdown" data-nav-digest="k+fyIAyB82R9jVEmroQ0OWwSW3A=" data-nav-selected="0" id="searchDropdownBox" name="url" style="display: block;" tabindex="0" title="Search in">{departments}</select></div></div>
<div class="nav-fill"><div class="nav-search-field"><label for="twotabsearchtextbox" style="display: none;">{e(ctx.t("search"))}</label><input type="text" id="twotabsearchtextbox" value="" name="field-keywords" autocomplete="off" placeholder="Search" class="nav-input nav-progressive-attribute" dir="auto" tabindex="0" aria-label="Search"></div></div>
<div class="nav-right"><div class="nav-search-submit nav-sprite"><span id="nav-search-submit-text" class="nav-search-submit-text nav-sprite nav-progressive-attribute" aria-label="Go"><input id="nav-search-submit-button" type="submit" class="nav-input nav-progressive-attribute" value="Go" tabindex="0"></span></div></div></form></div>
<div class="nav-right"><div id="nav-tools" class="layoutToolbarPadding"><a href="/gp/css/homepage.html" class="nav-a nav-a-2 nav-truncate" id="nav-link-accountList" data-nav-ref="nav_youraccount_btn" tabindex="0"><div class="nav-line-1-container"><span id="nav-link-accountList-nav-line-1" class="nav-line-1 nav-progressive-content">Hello, sign in</span></div><span class="nav-line-2 ">Account &amp; Lists<span class="nav-icon nav-arrow" style="visibility: visible;"></span></span></a>
<a href="/gp/css/order-history?ref_=nav_orders_first" class="nav-a nav-a-2 nav-progressive-attribute" id="nav-orders" tabindex="0"><span class="nav-line-1">Returns</span><span class="nav-line-2">&amp; Orders<span class="nav-icon nav-arrow"></span></span></a>
<a href="/gp/cart/view.html?ref_=nav_cart" aria-label="0 items in cart" class="nav-a nav-a-2 nav-progressive-attribute" id="nav-cart"><div id="nav-cart-count-container"><span id="nav-cart-count" aria-hidden="true" class="nav-cart-count nav-cart-0 nav-progressive-attribute nav-progressive-content">0</span><span class="nav-cart-icon nav-sprite"></span></div><div id="nav-cart-text-container" class=" nav-progressive-attribute"><span aria-hidden="true" class="nav-line-1"></span><span aria-hidden="true" class="nav-line-2">Cart<span class="nav-icon nav-arrow"></span></span></div></a></div></div></div>
<div id="nav-main" class="nav-sprite"><div class="nav-left"><a href="javascript: void(0)" id="nav-hamburger-menu" role="button" aria-label="Open Menu" data-csa-c-type="widget" data-csa-c-slot-id="HamburgerMenuDesktop" data-csa-c-interaction-events="click"><i class="hm-icon nav-sprite"></i><span class="hm-icon-label">All</span></a></div>
<div class="nav-fill"><div id="nav-xshop-container"><div id="nav-xshop" class="nav-progressive-content"><ul class="nav-ul"><li class="nav-li"><a href="/gp/goldbox?ref_=nav_cs_gb" class="nav-a" tabindex="0">Today's Deals</a></li><li class="nav-li"><a href="/gp/help/customer/display.html?nodeId=508510&amp;ref_=nav_cs_customerservice" class="nav-a" tabindex="0">Customer Service</a></li><li class="nav-li"><a href="/gp/browse.html?node=16115931011&amp;ref_=nav_cs_registry" class="nav-a" tabindex="0">Registry</a></li><li class="nav-li"><a href="/gift-cards/b/?ie=UTF8&amp;node=2238192011&amp;ref_=nav_cs_gc" class="nav-a" tabindex="0">Gift Cards</a></li><li class="nav-li"><a href="/b/?_encoding=UTF8&amp;ld=AZUSSOA-sell&amp;node=12766669011&amp;ref_=nav_cs_sell" class="nav-a" tabindex="0">Sell</a></li></ul></div></div></div></div>
</div></header>
{body}
<div id="navFooter" class="navLeftFooter nav-sprite-v1" role="contentinfo" aria-label="More on {e(ctx.shop)}"><a href="javascript:void(0)" id="navBackToTop" aria-label="Back to top"><div class="navFooterBackToTop"><span class="navFooterBackToTopText">Back to top</span></div></a>
<div class="navFooterVerticalColumn navAccessibility" role="presentation"><div class="navFooterVerticalRow navAccessibility"><div class="navFooterLinkCol navAccessibility"><div class="navFooterColHead" role="heading" aria-level="6">Get to Know Us</div><ul>{footer_links}</ul></div></div></div>
<div class="navFooterLine navFooterLinkLine navFooterPadItemLine"><span><div class="navFooterCopyright">© 1996-2026, {e(ctx.shop)}, Inc. or its affiliates</div></span></div></div>
</div>
<script type="text/javascript">window.ue_t0 && (window.ue.t0 = ue_t0); (function(){{var h=document.documentElement; h.className=h.className.replace('a-no-js','a-js');}})();</script>
</body></html>
"""

    def card(self, item: Item) -> str:
        rating, reviews = rating_of(item.sku or item.title)
        strike = (
            f'<div class="a-row"><span class="a-size-mini">List: </span>'
            f"{self.strike_span(item.was_price, item.currency)}</div>"
            if item.was_price
            else ""
        )
        return f"""<li class="a-carousel-card" role="listitem" aria-setsize="10" aria-posinset="1"><div class="p13n-sc-uncoverable-faceout" id="{asin(item.sku or item.title)}">
<a class="a-link-normal aok-block" tabindex="-1" href="{e(item.href)}"><div class="a-section a-spacing-mini _cDEzb_noop_3Xbw5"><img alt="{e(item.title)}" src="https://images-na.ssl-images-amazon.com/images/I/{asin(item.title)}._AC_UL300_SR300,200_.jpg" class="a-dynamic-image p13n-sc-dynamic-image p13n-product-image" height="200" width="300"></div></a>
<a class="a-link-normal aok-block" href="{e(item.href)}"><span><div class="_cDEzb_p13n-sc-css-line-clamp-3_g3dy1 p13n-sc-truncate">{e(item.title)}</div></span></a>
<div class="a-row"><a class="a-link-normal" title="{rating} out of 5 stars" href="{e(item.href)}#customerReviews"><i class="a-icon a-icon-star-small a-star-small-4-5 aok-align-top"><span class="a-icon-alt">{rating} out of 5 stars</span></i><span class="a-size-small"> {reviews:,}</span></a></div>
<div class="a-row"><a class="a-link-normal a-text-normal" href="{e(item.href)}">{self.price_span(item.price, item.currency, cls="p13n-sc-price", size="l")}</a></div>{strike}
</div></li>"""

    def _carousel(self, heading: str, items: list[Item], widget: str) -> str:
        cards = "\n".join(self.card(item) for item in items)
        return f"""<div id="{widget}_feature_div" class="celwidget" data-feature-name="{widget}" data-csa-c-type="widget">
<div class="a-section a-spacing-large p13n-sc-shoveler"><h2 class="a-carousel-heading a-inline-block">{e(heading)}</h2>
<div class="a-row a-carousel-controls a-carousel-row a-carousel-has-buttons"><div class="a-carousel-row-inner"><div class="a-carousel-col a-carousel-left"><a class="a-button a-button-image a-carousel-button a-carousel-goto-prevpage" tabindex="-1" href="#"><span class="a-button-inner"><i class="a-icon a-icon-previous"><span class="a-icon-alt">Previous page</span></i></span></a></div>
<div class="a-carousel-col a-carousel-center"><div class="a-carousel-viewport"><ol class="a-carousel" role="list">
{cards}
</ol></div></div></div></div></div></div>"""

    def home(self, items: list[Item]) -> str:
        return self.layout(
            f"{self.ctx.shop}. Spend less. Smile more.",
            '<div id="pageContent" role="main">'
            + self._carousel("Featured items you may like", items, "gw-featured")
            + "</div>",
        )

    def not_found(self) -> str:
        body = (
            '<div id="g"><a href="/"><img id="d" src="https://images-na.ssl-images-amazon.com/'
            'images/G/01/error/title._TTD_.png" alt="Sorry! We couldn\'t find that page. Try '
            'searching or go to the home page."></a><a href="/dogsofamazon">'
            '<img id="b" src="https://images-na.ssl-images-amazon.com/images/G/01/error/95.'
            '_TTD_.jpg" alt="Dogs of Amazon-like"></a></div>'
        )
        return self.layout("Page Not Found", body)

    def product(self, product: Product, path: str) -> str:
        ctx = self.ctx
        p = product
        code = asin(p.sku)
        title = e(p.title)
        brand = e(brand_of(p.title))
        rating, reviews = rating_of(p.sku)
        if p.in_stock:
            core = [
                '<div class="a-section a-spacing-none aok-align-center aok-relative">',
            ]
            if p.was_price and p.was_price > p.price:
                pct = int(((p.was_price - p.price) / p.was_price * 100).to_integral_value())
                core.append(
                    '<span class="a-size-large a-color-price savingPriceOverride aok-align-center '
                    f'reinventPriceSavingsPercentageMargin savingsPercentage">-{pct}%</span>'
                )
            core.append(
                self.price_span(
                    p.price,
                    p.currency,
                    cls="aok-align-center reinventPricePriceToPayMargin priceToPay",
                )
            )
            core.append("</div>")
            if p.was_price and p.was_price > p.price:
                core.append(
                    '<div class="a-section a-spacing-small aok-align-center"><span><span '
                    'class="aok-relative"><span class="a-size-small a-color-secondary '
                    'aok-align-center basisPrice">List Price: '
                    f"{self.strike_span(p.was_price, p.currency)}</span></span></span></div>"
                )
            core_html = "\n".join(core)
            availability = (
                '<div id="availability" class="a-section a-spacing-base">'
                f'<span class="a-size-medium a-color-success">  {e(ctx.t("amz_in"))}  </span></div>'
            )
            buttons = f"""<div id="addToCart_feature_div" class="celwidget"><form method="post" id="addToCart" action="/cart/add-to-cart/ref=dp_start-bbf_1_glance" class="a-content" autocomplete="off">
<input type="hidden" id="ASIN" name="ASIN" value="{code}"><input type="hidden" name="quantity" value="1">
<span class="a-button a-spacing-small a-button-primary a-button-icon natc-enabled" id="a-autoid-1"><span class="a-button-inner"><i class="a-icon a-icon-cart"></i><input id="add-to-cart-button" name="submit.add-to-cart" title="Add to Shopping Cart" data-hover="Select &lt;b&gt;__dims__&lt;/b&gt; from the left&lt;br&gt; to add to Shopping Cart" class="a-button-input" type="submit" value="Add to Cart" aria-labelledby="submit.add-to-cart-announce"><span id="submit.add-to-cart-announce" class="a-button-text" aria-hidden="true">Add to Cart</span></span></span>
<span class="a-button a-spacing-none a-button-oneclick a-button-icon onml-buy-now-button" id="a-autoid-2"><span class="a-button-inner"><input id="buy-now-button" name="submit.buy-now" title="Buy Now" class="a-button-input" type="submit" value="Buy Now" aria-labelledby="submit.buy-now-announce"><span id="submit.buy-now-announce" class="a-button-text" aria-hidden="true">{e(ctx.t("buy_now"))}</span></span></span>
</form></div>
<div id="tabular-buybox" class="a-section a-spacing-small"><div class="tabular-buybox-text" tabular-attribute-name="Ships from"><span class="a-size-small tabular-buybox-text-message">{e(ctx.shop)}</span></div><div class="tabular-buybox-text" tabular-attribute-name="Sold by"><span class="a-size-small tabular-buybox-text-message">{e(ctx.shop)}</span></div></div>"""
            other = p.price - Decimal("10.00") if p.price > Decimal("20") else p.price
            olp = (
                '<div id="olp_feature_div" class="celwidget"><div class="a-section a-spacing-small '
                'a-spacing-top-small"><span><a class="a-link-normal" href="/gp/offer-listing/'
                f'{code}/ref=dp_olp_NEW_mbc?ie=UTF8&amp;condition=NEW"><span>New &amp; Used (7) '
                "from</span>&nbsp;"
                f"{self.price_span(other, p.currency, cls='olpOfferPrice', size='s')}"
                "</a></span></div></div>"
            )
            cerberus_price = machine_price(p.price, p.currency)
            delivery = (
                '<div id="mir-layout-DELIVERY_BLOCK"><div class="a-spacing-base">'
                '<span data-csa-c-type="element" data-csa-c-content-id="DEXUnifiedCXPDM">'
                'FREE delivery <span class="a-text-bold">Tuesday</span>. Order within '
                '<span id="ftCountdown" class="ftCountdownClass" style="color: #067D62">'
                "5 hrs 12 mins</span></span></div></div>"
            )
        else:
            core_html = ""
            availability = (
                '<div id="availability" class="a-section a-spacing-base a-spacing-top-micro">'
                f'<span class="a-size-medium a-color-price">{e(ctx.t("amz_out"))}</span><br>'
                f'<span class="a-size-base a-color-secondary">{e(ctx.t("amz_out_note"))}</span></div>'
            )
            buttons = (
                '<div id="outOfStockBuyBox_feature_div" class="celwidget"><div class="a-box '
                'a-text-center"><div class="a-box-inner"><span class="a-button a-button-base" '
                'id="a-autoid-3"><span class="a-button-inner"><a href="/gp/offer-listing/'
                f'{code}" class="a-button-text" role="button">See All Buying Options</a>'
                "</span></span></div></div></div>"
            )
            olp = ""
            cerberus_price = ""
            delivery = ""
        bullets = "".join(
            f'<li class="a-spacing-mini"><span class="a-list-item"> {e(k)}: {e(v)} </span></li>'
            for k, v in _SPECS
        )
        head = (
            f'<link rel="canonical" href="{e(ctx.url(path))}">\n'
            f'<meta name="description" content="{e(description_of(p))}">\n'
            f'<meta name="title" content="{title}">'
        )
        body = f"""<div id="dp" class="electronics en_US">
<div id="cerberus-data-metrics" style="display: none;" data-asin="{code}" data-asin-price="{cerberus_price}" data-asin-shipping="0" data-asin-currency-code="{e(p.currency)}" data-substitute-count="-1" data-device-type="WEB" data-display-code="Asin is not eligible because it has a retail offer"></div>
<div id="dp-container" class="a-container" role="main">
<div id="wayfinding-breadcrumbs_feature_div" class="celwidget"><ul class="a-unordered-list a-horizontal a-size-small"><li><span class="a-list-item"><a class="a-link-normal a-color-tertiary" href="/electronics-store/b/?ie=UTF8&amp;node=172282">Electronics</a></span></li><li class="a-breadcrumb-divider"><span class="a-list-item a-color-tertiary">›</span></li><li><span class="a-list-item"><a class="a-link-normal a-color-tertiary" href="/b/?ie=UTF8&amp;node=3015427011">Headphone Amplifiers</a></span></li></ul></div>
<div id="leftCol" class="a-column a-span5"><div id="imageBlock_feature_div" class="celwidget"><div id="imgTagWrapperId" class="imgTagWrapper"><img alt="{title}" src="https://m.media-amazon.com/images/I/{code}._AC_SX679_.jpg" data-old-hires="https://m.media-amazon.com/images/I/{code}._AC_SL1500_.jpg" class="a-dynamic-image a-stretch-vertical" id="landingImage" data-a-dynamic-image="{{&quot;https://m.media-amazon.com/images/I/{code}._AC_SX679_.jpg&quot;:[679,679]}}" style="max-width:679px;max-height:679px;"></div></div></div>
<div id="centerCol" class="centerColAlign">
<div id="titleSection" class="a-section a-spacing-none"><h1 id="title" class="a-size-large a-spacing-none"><span id="productTitle" class="a-size-large product-title-word-break">        {title}       </span></h1></div>
<div id="bylineInfo_feature_div" class="celwidget"><a id="bylineInfo" class="a-link-normal" href="/stores/{brand}/page/{num_id(p.sku, 8)}?ref_=ast_bln">Visit the {brand} Store</a></div>
<div id="averageCustomerReviews_feature_div" class="celwidget"><div id="averageCustomerReviews" data-asin="{code}" data-ref="dpx_acr_pop_"><span class="a-declarative"><span id="acrPopover" class="reviewCountTextLinkedHistogram noUnderline" title="{rating} out of 5 stars"><a class="a-popover-trigger a-declarative" href="javascript:void(0)"><i class="a-icon a-icon-star a-star-4-5 cm-cr-review-stars-spacing-big"><span class="a-icon-alt">{rating} out of 5 stars</span></i></a></span></span><a id="acrCustomerReviewLink" class="a-link-normal" href="#customerReviews"><span id="acrCustomerReviewText" class="a-size-base">{reviews:,} ratings</span></a></div></div>
<hr class="a-spacing-small a-divider-normal">
<div id="corePriceDisplay_desktop_feature_div" class="celwidget" data-feature-name="corePriceDisplay_desktop"><div id="corePrice_feature_div" class="celwidget" data-feature-name="corePrice" data-csa-c-type="widget" data-csa-c-asin="{code}">
{core_html}
</div></div>
{olp}
<div id="featurebullets_feature_div" class="celwidget"><div id="feature-bullets" class="a-section a-spacing-medium a-spacing-top-small"><h3 class="a-size-base-plus a-text-bold">About this item</h3><ul class="a-unordered-list a-vertical a-spacing-mini">{bullets}</ul></div></div>
</div>
<div id="rightCol" class="a-column a-span3 a-spacing-none a-span-last"><div id="desktop_buybox" class="celwidget"><div id="buybox" class="a-section a-spacing-none">
{delivery}
{availability}
{buttons}
</div></div></div>
<div id="productDescription_feature_div" class="celwidget"><div id="productDescription" class="a-section a-spacing-small"><p><span>{e(description_of(p))}</span></p></div></div>
{self._carousel("Products related to this item", decoys(ctx, p.currency, p.sku, 8), "sims-consolidated-1")}
{self._carousel("Customers who viewed this item also viewed", decoys(ctx, p.currency, p.sku + "/2", 6), "sims-consolidated-2")}
</div></div>"""
        title_tag = f"{ctx.shop}: {p.title} : Electronics"
        return self.pad(self.layout(title_tag, body, head=head), p.sku, normal=250_000)


# ---------------------------------------------------------------------------- shopify


class ShopifyTheme(Theme):
    style = Style.shopify

    def money(self, amount: Decimal, currency: str) -> str:
        return f"{self.ctx.money(amount, currency)} {currency}"

    def layout(self, title: str, body: str, *, head: str = "") -> str:
        ctx = self.ctx
        shop_id = num_id(ctx.shop, 8, "shop:")
        return f"""<!doctype html>
<html class="no-js" lang="{e(ctx.lang)}">
<head>
<meta charset="utf-8">
<meta http-equiv="X-UA-Compatible" content="IE=edge">
<meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="theme-color" content="">
<link rel="preconnect" href="https://cdn.shopify.com" crossorigin>
<title>{e(title)}</title>
<meta property="og:site_name" content="{e(ctx.shop)}">
{head}
<meta name="twitter:card" content="summary_large_image">
<script>var Shopify = Shopify || {{}};
Shopify.shop = "{slugify(ctx.shop)}.myshopify.com";
Shopify.locale = "{e(ctx.lang)}";
Shopify.currency = {{"active":"{e(ctx.currency)}","rate":"1.0"}};
Shopify.country = "US";
Shopify.theme = {{"name":"Dawn","id":{shop_id},"schema_name":"Dawn","schema_version":"15.0.0","theme_store_id":887,"role":"main"}};
Shopify.routes = Shopify.routes || {{}};
Shopify.routes.root = "/";</script>
<link href="//cdn.shopify.com/s/files/1/0{shop_id}/t/2/assets/base.css?v=1443519325063497817" rel="stylesheet" type="text/css" media="all">
</head>
<body class="gradient animate--hover-default">
<a class="skip-to-content-link button visually-hidden" href="#MainContent">Skip to content</a>
<div id="shopify-section-sections--announcement-bar" class="shopify-section shopify-section-group-header-group announcement-bar-section"><div class="utility-bar color-scheme-1 gradient"><div class="page-width utility-bar__grid"><div class="announcement-bar" role="region" aria-label="Announcement"><p class="announcement-bar__message h5"><span>Free shipping on orders over $99 &ndash; 30-day returns</span></p></div></div></div></div>
<div id="shopify-section-sections--header" class="shopify-section shopify-section-group-header-group section-header"><sticky-header data-sticky-type="on-scroll-up" class="header-wrapper color-scheme-1 gradient header-wrapper--border-bottom"><header class="header header--middle-left header--mobile-center page-width header--has-menu header--has-account">
<a href="/" class="header__heading-link link link--text focus-inset"><span class="h2">{e(ctx.shop)}</span></a>
<nav class="header__inline-menu"><ul class="list-menu list-menu--inline" role="list"><li><a href="/" class="header__menu-item list-menu__item link link--text focus-inset"><span>Home</span></a></li><li><a href="/collections/headphone-amplifiers" class="header__menu-item list-menu__item link link--text focus-inset"><span>Headphone amplifiers</span></a></li><li><a href="/collections/dacs" class="header__menu-item list-menu__item link link--text focus-inset"><span>DACs</span></a></li><li><a href="/pages/contact" class="header__menu-item list-menu__item link link--text focus-inset"><span>Contact</span></a></li></ul></nav>
<div class="header__icons"><a href="/cart" class="header__icon header__icon--cart link focus-inset" id="cart-icon-bubble"><span class="visually-hidden">Cart</span></a></div>
</header></sticky-header></div>
<main id="MainContent" class="content-for-layout focus-none" role="main" tabindex="-1">
{body}
</main>
<div id="shopify-section-sections--footer" class="shopify-section shopify-section-group-footer-group"><footer class="footer color-scheme-1 gradient section-sections--footer-padding"><div class="footer__content-bottom"><div class="footer__content-bottom-wrapper page-width"><div class="footer__copyright caption"><small class="copyright__content">&copy; 2026, <a href="/" title="">{e(ctx.shop)}</a></small><small class="copyright__content"><a target="_blank" rel="nofollow" href="https://www.shopify.com?utm_campaign=poweredby&amp;utm_medium=shopify&amp;utm_source=onlinestore">Powered by Shopify</a></small></div></div></div></footer></div>
</body>
</html>
"""

    def price_block(self, item: Item, *, large: bool, section: str = "") -> str:
        on_sale = item.was_price is not None and item.was_price > item.price
        classes = ["price"]
        if large:
            classes.append("price--large")
        if on_sale:
            classes.append("price--on-sale")
        if not item.in_stock:
            classes.append("price--sold-out")
        classes.append("price--show-badge")
        money = e(self.money(item.price, item.currency))
        compare = e(self.money(item.was_price, item.currency)) if item.was_price else ""
        ident = f' id="price-{section}" role="status"' if section else ""
        return f"""<div class="no-js-hidden"{ident}><div class="{" ".join(classes)}">
<div class="price__container"><div class="price__regular"><span class="visually-hidden visually-hidden--inline">{e(self.ctx.t("regular"))}</span>
<span class="price-item price-item--regular">
{money}
</span></div>
<div class="price__sale"><span class="visually-hidden visually-hidden--inline">{e(self.ctx.t("regular"))}</span>
<span><s class="price-item price-item--regular">
{compare}
</s></span><span class="visually-hidden visually-hidden--inline">{e(self.ctx.t("sale"))}</span>
<span class="price-item price-item--sale price-item--last">
{money}
</span></div>
<small class="unit-price caption hidden"><span class="visually-hidden">Unit price</span><span class="price-item price-item--last"><span></span><span aria-hidden="true">/</span><span class="visually-hidden">&nbsp;per&nbsp;</span><span></span></span></small></div>
<span class="badge price__badge-sale color-scheme-4">Sale</span>
<span class="badge price__badge-sold-out color-scheme-3">{e(self.ctx.t("sold_out"))}</span>
</div></div>"""

    def card(self, item: Item) -> str:
        pid = num_id(item.sku or item.title, 13, "shopify-card:")
        return f"""<li class="grid__item scroll-trigger animate--slide-in"><div class="card-wrapper product-card-wrapper underline-links-hover"><div class="card card--standard card--media" style="--ratio-percent: 100%;">
<div class="card__inner color-scheme-2 gradient ratio" style="--ratio-percent: 100%;"><div class="card__media"><div class="media media--transparent media--hover-effect"><img src="//cdn.shopify.com/s/files/1/products/{slugify(item.title)}.jpg?v=1700000000&amp;width=533" alt="{e(item.title)}" class="motion-reduce" loading="lazy" width="1000" height="1000"></div></div></div>
<div class="card__content"><div class="card__information"><h3 class="card__heading h5" id="title-{pid}"><a href="{e(item.href)}" id="CardLink-{pid}" class="full-unstyled-link" aria-labelledby="CardLink-{pid} Badge-{pid}">{e(item.title)}</a></h3>
<div class="card-information"><span class="caption-large light"></span>
{self.price_block(item, large=False)}
</div></div></div></div></div></li>"""

    def product(self, product: Product, path: str) -> str:
        ctx = self.ctx
        p = product
        section = "template--2241345__main"
        pid = num_id(p.sku, 13, "shopify-product:")
        url = ctx.url(path)
        variants = [("Black", num_id(p.sku, 14, "v1:")), ("Silver", num_id(p.sku, 14, "v2:"))]
        amount = machine_price(p.price, p.currency)
        cents = int((p.price * 100).to_integral_value())
        compare_cents = int((p.was_price * 100).to_integral_value()) if p.was_price else None
        availability = SCHEMA_IN if p.in_stock else SCHEMA_OUT
        image = (
            f"https://cdn.shopify.com/s/files/1/products/{slugify(p.sku)}-front.jpg?v=1700000000"
        )
        ld = {
            "@context": "http://schema.org/",
            "@type": "Product",
            "name": p.title,
            "url": url,
            "image": [image],
            "description": description_of(p),
            "sku": p.sku.upper(),
            "brand": {"@type": "Brand", "name": brand_of(p.title)},
            "offers": [
                {
                    "@type": "Offer",
                    "sku": f"{p.sku.upper()}-{name[:3].upper()}",
                    "availability": availability,
                    "price": amount,
                    "priceCurrency": p.currency,
                    "url": f"{url}?variant={vid}",
                }
                for name, vid in variants
            ],
        }
        analytics = {
            "product": {
                "id": pid,
                "gid": f"gid://shopify/Product/{pid}",
                "vendor": brand_of(p.title),
                "type": "Headphone Amplifiers",
                "variants": [
                    {
                        "id": vid,
                        "price": cents,
                        "name": f"{p.title} - {name}",
                        "public_title": name,
                        "sku": f"{p.sku.upper()}-{name[:3].upper()}",
                    }
                    for name, vid in variants
                ],
                "remote": False,
            },
            "page": {"pageType": "product", "resourceType": "product", "resourceId": pid},
        }
        variant_json = [
            {
                "id": vid,
                "title": name,
                "option1": name,
                "sku": f"{p.sku.upper()}-{name[:3].upper()}",
                "available": p.in_stock,
                "name": f"{p.title} - {name}",
                "price": cents,
                "compare_at_price": compare_cents,
                "inventory_management": "shopify",
            }
            for name, vid in variants
        ]
        # og:price:amount is Shopify's money_without_currency: "1,299.00" with grouping
        og_amount = format_price(p.price, p.currency, locale="en").lstrip(symbol_of(p.currency))
        head = f"""<link rel="canonical" href="{e(url)}">
<meta name="description" content="{e(description_of(p))}">
<meta property="og:url" content="{e(url)}">
<meta property="og:title" content="{e(p.title)}">
<meta property="og:type" content="product">
<meta property="og:description" content="{e(description_of(p))}">
<meta property="og:image" content="http:{e(image)}">
<meta property="og:image:secure_url" content="https:{e(image)}">
<meta property="og:price:amount" content="{e(og_amount)}">
<meta property="og:price:currency" content="{e(p.currency)}">
<meta name="twitter:title" content="{e(p.title)}">
<script>window.ShopifyAnalytics = window.ShopifyAnalytics || {{}};
window.ShopifyAnalytics.meta = window.ShopifyAnalytics.meta || {{}};
window.ShopifyAnalytics.meta.currency = '{e(p.currency)}';
var meta = {json_script(analytics)};
for (var attr in meta) {{
  window.ShopifyAnalytics.meta[attr] = meta[attr];
}}</script>"""
        item = Item(p.title, path, p.price, p.currency, p.was_price, p.in_stock, p.sku)
        options = "".join(
            f'<input type="radio" id="{section}-1-{i}" name="Color" value="{name}" '
            f'form="product-form-{section}"{" checked" if i == 0 else ""}>'
            f'<label for="{section}-1-{i}">{name}<span class="visually-hidden label-unavailable">'
            "Variant sold out or unavailable</span></label>"
            for i, (name, _) in enumerate(variants)
        )
        if p.in_stock:
            button = (
                f'<button id="ProductSubmitButton-{section}" type="submit" name="add" '
                'class="product-form__submit button button--full-width button--secondary">'
                f'<span>{e(ctx.t("add_to_cart"))}</span><div class="loading__spinner hidden">'
                "</div></button>"
            )
        else:
            button = (
                f'<button id="ProductSubmitButton-{section}" type="submit" name="add" '
                'class="product-form__submit button button--full-width button--secondary" '
                f'disabled><span>{e(ctx.t("sold_out"))}</span><div class="loading__spinner '
                'hidden"></div></button>'
            )
        related = "\n".join(self.card(d) for d in decoys(ctx, p.currency, p.sku, 4))
        body = f"""<section id="shopify-section-{section}" class="shopify-section section"><product-info id="MainProduct-{section}" class="section-{section}-padding gradient color-scheme-1" data-section="{section}" data-product-id="{pid}" data-update-url="true" data-url="{e(path)}">
<div class="page-width"><div class="product product--large product--left product--thumbnail_slider product--mobile-hide grid grid--1-col grid--2-col-tablet">
<div class="grid__item product__media-wrapper"><media-gallery id="MediaGallery-{section}" role="region" class="product__column-sticky" aria-label="Gallery Viewer" data-desktop-layout="thumbnail_slider"><slider-component id="GalleryViewer-{section}" class="slider-mobile-gutter"><ul id="Slider-Gallery-{section}" class="product__media-list contains-media grid grid--peek list-unstyled slider slider--mobile" role="list"><li class="product__media-item grid__item slider__slide is-active" data-media-id="{section}-{pid}"><div class="product-media-container media-type-image media-fit-contain global-media-settings gradient constrain-height" style="--ratio: 1.0; --preview-ratio: 1.0;"><div class="product__media media media--transparent"><img src="{e(image)}&amp;width=1946" alt="{e(p.title)}" width="1946" height="1946" loading="eager" fetchpriority="high" class="image-magnify-lightbox"></div></div></li></ul></slider-component></media-gallery></div>
<div class="product__info-wrapper grid__item scroll-trigger animate--slide-in"><section id="ProductInfo-{section}" class="product__info-container product__column-sticky">
<p class="product__text inline-richtext caption-with-letter-spacing">{e(brand_of(p.title))}</p>
<div class="product__title"><h1>{e(p.title)}</h1><a href="{e(path)}" class="product__title"><h2 class="h1">{e(p.title)}</h2></a></div>
<p class="product__text inline-richtext"></p>
{self.price_block(item, large=True, section=section)}
<div class="product__tax caption rte">Tax included. <a href="/policies/shipping-policy">Shipping</a> calculated at checkout.</div>
<variant-selects id="variant-selects-{section}" data-section="{section}"><fieldset class="js product-form__input product-form__input--pill"><legend class="form__label">Color</legend>{options}</fieldset><script type="application/json" data-selected-variant>{json_script(variant_json[0])}</script></variant-selects>
<div id="Product-Form-{section}" class="product-form__input"><product-form class="product-form" data-hide-errors="false" data-section-id="{section}"><div class="product-form__error-message-wrapper" role="alert" hidden></div>
<form method="post" action="/cart/add" id="product-form-{section}" accept-charset="UTF-8" class="form" enctype="multipart/form-data" novalidate="novalidate" data-type="add-to-cart-form"><input type="hidden" name="form_type" value="product"><input type="hidden" name="utf8" value="✓"><input type="hidden" name="id" value="{variants[0][1]}" class="product-variant-id">
<div class="product-form__buttons">{button}</div></form></product-form></div>
<div class="product__description rte quick-add-hidden"><p>{e(description_of(p))}</p></div>
<script type="application/json" id="ProductJSON-{pid}">{json_script(variant_json)}</script>
</section></div></div></div></product-info></section>
<div id="shopify-section-template--2241345__related-products" class="shopify-section"><product-recommendations class="related-products page-width section-template--2241345__related-products-padding isolate scroll-trigger animate--slide-in" data-url="/recommendations/products?limit=4" data-section-id="template--2241345__related-products" data-product-id="{pid}">
<h2 class="related-products__heading inline-richtext h2">You may also like</h2>
<ul class="grid product-grid grid--4-col-desktop grid--2-col-tablet-down" role="list">
{related}
</ul></product-recommendations></div>
<script type="application/ld+json">
{json_script(ld)}
</script>"""
        return self.pad(self.layout(f"{p.title} – {ctx.shop}", body, head=head), p.sku)


# ------------------------------------------------------------------------ woocommerce


class WooTheme(Theme):
    style = Style.woocommerce

    def amount(self, amount: Decimal, currency: str) -> str:
        ctx = self.ctx
        text = ctx.money(amount, currency)
        symbol = symbol_of(currency)
        entity = {"$": "&#36;", "€": "&euro;", "£": "&pound;"}.get(symbol, e(symbol))
        sym = f'<span class="woocommerce-Price-currencySymbol">{entity}</span>'
        if text.startswith(symbol):
            inner = sym + e(text[len(symbol) :])
        else:
            inner = e(text[: -len(symbol)]) + sym
        return f'<span class="woocommerce-Price-amount amount"><bdi>{inner}</bdi></span>'

    def price_html(self, item: Item) -> str:
        now = self.amount(item.price, item.currency)
        if item.was_price and item.was_price > item.price:
            was_text = e(self.ctx.money(item.was_price, item.currency))
            now_text = e(self.ctx.money(item.price, item.currency))
            return (
                f'<del aria-hidden="true">{self.amount(item.was_price, item.currency)}</del> '
                f'<span class="screen-reader-text">Original price was: {was_text}.</span>'
                f'<ins aria-hidden="true">{now}</ins>'
                f'<span class="screen-reader-text">Current price is: {now_text}.</span>'
            )
        return now

    def layout(self, title: str, body: str, *, head: str = "") -> str:
        ctx = self.ctx
        lang = "de-DE" if ctx.lang == "de" else "en-US" if ctx.locale == "en" else ctx.locale
        yoast = {
            "@context": "https://schema.org",
            "@graph": [
                {
                    "@type": "WebSite",
                    "@id": ctx.url("/#website"),
                    "url": ctx.url("/"),
                    "name": ctx.shop,
                    "potentialAction": [
                        {
                            "@type": "SearchAction",
                            "target": {
                                "@type": "EntryPoint",
                                "urlTemplate": ctx.url("/?s={search_term_string}"),
                            },
                            "query-input": "required name=search_term_string",
                        }
                    ],
                    "inLanguage": lang,
                }
            ],
        }
        return f"""<!doctype html>
<html lang="{e(lang)}">
<head>
<meta charset="UTF-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="profile" href="http://gmpg.org/xfn/11">
<title>{e(title)}</title>
<meta name='robots' content='index, follow, max-image-preview:large, max-snippet:-1, max-video-preview:-1' />
{head}
<script type="application/ld+json" class="yoast-schema-graph">{json_script(yoast, escape_slashes=True)}</script>
<link rel='stylesheet' id='storefront-style-css' href='{e(ctx.url("/wp-content/themes/storefront/style.css?ver=4.5.5"))}' media='all' />
<link rel='stylesheet' id='storefront-woocommerce-style-css' href='{e(ctx.url("/wp-content/themes/storefront/assets/css/woocommerce/woocommerce.css?ver=4.5.5"))}' media='all' />
</head>
<body class="product-template-default single single-product woocommerce woocommerce-page woocommerce-js storefront-align-wide right-sidebar woocommerce-active">
<div id="page" class="hfeed site">
<header id="masthead" class="site-header" role="banner" style=""><div class="col-full"><a class="skip-link screen-reader-text" href="#site-navigation">Skip to navigation</a><a class="skip-link screen-reader-text" href="#content">Skip to content</a>
<div class="site-branding"><div class="beta site-title"><a href="{e(ctx.url("/"))}" rel="home">{e(ctx.shop)}</a></div><p class="site-description">Headphone amplifiers, DACs and more</p></div>
<div class="site-search"><div class="widget woocommerce widget_product_search"><form role="search" method="get" class="woocommerce-product-search" action="{e(ctx.url("/"))}"><label class="screen-reader-text" for="woocommerce-product-search-field-0">Search for:</label><input type="search" id="woocommerce-product-search-field-0" class="search-field" placeholder="Search products&hellip;" value="" name="s" /><button type="submit" value="Search" class="">Search</button><input type="hidden" name="post_type" value="product" /></form></div></div></div>
<div class="storefront-primary-navigation"><div class="col-full"><nav id="site-navigation" class="main-navigation" role="navigation" aria-label="Primary Navigation"><div class="primary-navigation"><ul id="menu-main" class="menu"><li class="menu-item"><a href="{e(ctx.url("/"))}">Home</a></li><li class="menu-item"><a href="{e(ctx.url("/product-category/amplifiers/"))}">Amplifiers</a></li><li class="menu-item"><a href="{e(ctx.url("/product-category/dacs/"))}">DACs</a></li><li class="menu-item"><a href="{e(ctx.url("/contact/"))}">Contact</a></li></ul></div></nav>
<ul id="site-header-cart" class="site-header-cart menu"><li class=""><a class="cart-contents" href="{e(ctx.url("/cart/"))}" title="View your shopping cart"><span class="woocommerce-Price-amount amount">{e(ctx.money(Decimal(0), ctx.currency))}</span> <span class="count">0 items</span></a></li></ul></div></div>
</header>
<div id="content" class="site-content" tabindex="-1"><div class="col-full"><div class="woocommerce"></div>
<div id="primary" class="content-area"><main id="main" class="site-main" role="main">
{body}
</main></div></div></div>
<footer id="colophon" class="site-footer" role="contentinfo"><div class="col-full"><div class="site-info">&copy; {e(ctx.shop)} 2026<br /><a href="https://woocommerce.com" target="_blank" title="WooCommerce - The Best eCommerce Platform for WordPress" rel="noreferrer nofollow">Built with WooCommerce</a>.</div></div></footer>
</div>
</body>
</html>
"""

    def card(self, item: Item) -> str:
        pid = num_id(item.sku or item.title, 3, "woo:")
        stock = "instock" if item.in_stock else "outofstock"
        sale = " sale" if item.was_price else ""
        price = self.price_html(item)
        button = (
            f'<a href="?add-to-cart={pid}" data-quantity="1" class="button wp-element-button '
            f'product_type_simple add_to_cart_button ajax_add_to_cart" data-product_id="{pid}" '
            f'rel="nofollow">{e(self.ctx.t("add_to_cart"))}</a>'
            if item.in_stock
            else f'<a href="{e(item.href)}" class="button wp-element-button product_type_simple" '
            f'data-product_id="{pid}" rel="nofollow">Read more</a>'
        )
        return f"""<li class="product type-product post-{pid} status-publish {stock} product_cat-amplifiers has-post-thumbnail{sale} shipping-taxable purchasable product-type-simple">
<a href="{e(item.href)}" class="woocommerce-LoopProduct-link woocommerce-loop-product__link"><img width="324" height="324" src="/wp-content/uploads/2025/04/{slugify(item.title)}-324x324.jpg" class="attachment-woocommerce_thumbnail size-woocommerce_thumbnail" alt="{e(item.title)}" decoding="async" loading="lazy" /><h2 class="woocommerce-loop-product__title">{e(item.title)}</h2>
<span class="price">{price}</span>
</a>{button}</li>"""

    def home(self, items: list[Item]) -> str:
        cards = "\n".join(self.card(item) for item in items)
        body = (
            '<section class="storefront-product-section storefront-recent-products">'
            '<h2 class="section-title">New In</h2><div class="woocommerce columns-4">'
            f'<ul class="products columns-4">\n{cards}\n</ul></div></section>'
        )
        return self.layout(f"{self.ctx.shop} – Headphone amplifiers, DACs and more", body)

    def product(self, product: Product, path: str) -> str:
        ctx = self.ctx
        p = product
        pid = num_id(p.sku, 3, "woo:")
        url = ctx.url(path)
        amount = machine_price(p.price, p.currency)
        item = Item(p.title, path, p.price, p.currency, p.was_price, p.in_stock, p.sku)
        stock_class = "instock" if p.in_stock else "outofstock"
        sale = " sale" if p.was_price and p.was_price > p.price else ""
        offer: dict[str, Any] = {
            "@type": "Offer",
            "priceSpecification": [
                {
                    "@type": "UnitPriceSpecification",
                    "price": amount,
                    "priceCurrency": p.currency,
                    "valueAddedTaxIncluded": False,
                    "validThrough": "2027-12-31",
                }
            ],
            "priceValidUntil": "2027-12-31",
            "availability": SCHEMA_IN if p.in_stock else SCHEMA_OUT,
            "url": url,
            "seller": {"@type": "Organization", "name": ctx.shop, "url": ctx.url("/")},
            "price": amount,
            "priceCurrency": p.currency,
        }
        if sale and p.was_price:
            offer["priceSpecification"].append(
                {
                    "@type": "UnitPriceSpecification",
                    "price": machine_price(p.was_price, p.currency),
                    "priceCurrency": p.currency,
                    "valueAddedTaxIncluded": False,
                    "validThrough": "2027-12-31",
                    "priceType": "https://schema.org/ListPrice",
                }
            )
        ld = {
            "@context": "https://schema.org/",
            "@graph": [
                {
                    "@context": "https://schema.org/",
                    "@type": "BreadcrumbList",
                    "itemListElement": [
                        {
                            "@type": "ListItem",
                            "position": 1,
                            "item": {"name": "Home", "@id": ctx.url("/")},
                        },
                        {
                            "@type": "ListItem",
                            "position": 2,
                            "item": {
                                "name": "Amplifiers",
                                "@id": ctx.url("/product-category/amplifiers/"),
                            },
                        },
                        {"@type": "ListItem", "position": 3, "item": {"name": p.title, "@id": url}},
                    ],
                },
                {
                    "@context": "https://schema.org/",
                    "@type": "Product",
                    "@id": url + "#product",
                    "name": p.title,
                    "url": url,
                    "description": description_of(p),
                    "image": ctx.url(f"/wp-content/uploads/2025/04/{slugify(p.sku)}.jpg"),
                    "sku": p.sku.upper(),
                    "offers": [offer],
                    "brand": {"@type": "Brand", "name": brand_of(p.title)},
                },
            ],
        }
        if p.in_stock:
            stock = f'<p class="stock in-stock">{e(ctx.t("in_stock"))}</p>'
            form = f"""<form class="cart" action="{e(url)}" method="post" enctype='multipart/form-data'>
<div class="quantity"><label class="screen-reader-text" for="quantity_{pid}">{e(p.title)} quantity</label><input type="number" id="quantity_{pid}" class="input-text qty text" name="quantity" value="1" aria-label="Product quantity" size="4" min="1" max="" step="1" placeholder="" inputmode="numeric" autocomplete="off" /></div>
<button type="submit" name="add-to-cart" value="{pid}" class="single_add_to_cart_button button alt wp-element-button">{e(ctx.t("add_to_cart"))}</button>
</form>"""
        else:
            stock = f'<p class="stock out-of-stock">{e(ctx.t("out_of_stock"))}</p>'
            form = ""
        specs = "".join(
            f'<tr class="woocommerce-product-attributes-item"><th class="woocommerce-product-'
            f'attributes-item__label" scope="row">{e(k)}</th><td class="woocommerce-product-'
            f'attributes-item__value"><p>{e(v)}</p></td></tr>'
            for k, v in _SPECS
        )
        related = "\n".join(self.card(d) for d in decoys(ctx, p.currency, p.sku, 4))
        body = f"""<div class="woocommerce-notices-wrapper"></div><nav class="woocommerce-breadcrumb" aria-label="breadcrumbs"><a href="{e(ctx.url("/"))}">Home</a>&nbsp;&#47;&nbsp;<a href="{e(ctx.url("/product-category/amplifiers/"))}">Amplifiers</a>&nbsp;&#47;&nbsp;{e(p.title)}</nav>
<div id="product-{pid}" class="product type-product post-{pid} status-publish first {stock_class} product_cat-amplifiers has-post-thumbnail{sale} shipping-taxable purchasable product-type-simple">
<div class="woocommerce-product-gallery woocommerce-product-gallery--with-images woocommerce-product-gallery--columns-4 images" data-columns="4" style="opacity: 0; transition: opacity .25s ease-in-out;"><div class="woocommerce-product-gallery__wrapper"><div data-thumb="{e(ctx.url(f"/wp-content/uploads/2025/04/{slugify(p.sku)}-100x100.jpg"))}" class="woocommerce-product-gallery__image"><a href="{e(ctx.url(f"/wp-content/uploads/2025/04/{slugify(p.sku)}.jpg"))}"><img width="416" height="416" src="{e(ctx.url(f"/wp-content/uploads/2025/04/{slugify(p.sku)}-416x416.jpg"))}" class="wp-post-image" alt="{e(p.title)}" title="{e(p.title)}" decoding="async" /></a></div></div></div>
<div class="summary entry-summary">
<h1 class="product_title entry-title">{e(p.title)}</h1><p class="price">{self.price_html(item)}</p>
<div class="woocommerce-product-details__short-description"><p>{e(description_of(p))}</p></div>
{stock}
{form}
<div class="product_meta"><span class="sku_wrapper">SKU: <span class="sku">{e(p.sku.upper())}</span></span><span class="posted_in">Category: <a href="{e(ctx.url("/product-category/amplifiers/"))}" rel="tag">Amplifiers</a></span></div>
</div>
<div class="woocommerce-tabs wc-tabs-wrapper"><ul class="tabs wc-tabs" role="tablist"><li class="description_tab active" id="tab-title-description" role="tab" aria-controls="tab-description"><a href="#tab-description">Description</a></li><li class="additional_information_tab" id="tab-title-additional_information" role="tab" aria-controls="tab-additional_information"><a href="#tab-additional_information">Additional information</a></li></ul>
<div class="woocommerce-Tabs-panel woocommerce-Tabs-panel--description panel entry-content wc-tab" id="tab-description" role="tabpanel" aria-labelledby="tab-title-description"><h2>Description</h2><p>{e(description_of(p))}</p></div>
<div class="woocommerce-Tabs-panel woocommerce-Tabs-panel--additional_information panel entry-content wc-tab" id="tab-additional_information" role="tabpanel" aria-labelledby="tab-title-additional_information"><h2>Additional information</h2><table class="woocommerce-product-attributes shop_attributes">{specs}</table></div></div>
<section class="related products"><h2>{e(ctx.t("related"))}</h2><ul class="products columns-4">
{related}
</ul></section>
</div>
<script type="application/ld+json">{json_script(ld, escape_slashes=True)}</script>"""
        head = (
            f'<link rel="canonical" href="{e(url)}" />\n'
            f'<meta property="og:locale" content="en_US" />\n'
            f'<meta property="og:type" content="product" />\n'
            f'<meta property="og:title" content="{e(p.title)} - {e(ctx.shop)}" />\n'
            f'<meta property="og:url" content="{e(url)}" />\n'
            f'<meta property="og:site_name" content="{e(ctx.shop)}" />'
        )
        return self.pad(self.layout(f"{p.title} – {ctx.shop}", body, head=head), p.sku)


# ------------------------------------------------------------------------ bigcommerce


class BigCommerceTheme(Theme):
    style = Style.bigcommerce

    def layout(self, title: str, body: str, *, head: str = "") -> str:
        ctx = self.ctx
        return f"""<!DOCTYPE html>
<html class="no-js" lang="{e(ctx.lang)}">
<head>
<title>{e(title)}</title>
<meta name="keywords" content="headphone amplifier, dac, hifi">
{head}
<link href="https://cdn11.bigcommerce.com/s-{num_id(ctx.shop, 6, "bc:")}/product_images/favicon.png" rel="shortcut icon">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link data-stencil-stylesheet href="https://cdn11.bigcommerce.com/s-{num_id(ctx.shop, 6, "bc:")}/stencil/1f2b3c40/css/theme-7c1e6e30.css" rel="stylesheet">
</head>
<body>
<svg data-src="https://cdn11.bigcommerce.com/s-{num_id(ctx.shop, 6, "bc:")}/stencil/1f2b3c40/img/icon-sprite.svg" class="icons-svg-sprite"></svg>
<header class="header" role="banner"><a href="#" class="mobileMenu-toggle" data-mobile-menu-toggle="menu"><span class="mobileMenu-toggleIcon">Toggle menu</span></a>
<nav class="navUser"><ul class="navUser-section navUser-section--alt"><li class="navUser-item"><a class="navUser-action navUser-item--compare" href="/compare" data-compare-nav>Compare <span class="countPill countPill--positive countPill--alt"></span></a></li><li class="navUser-item"><a class="navUser-action navUser-action--quickSearch" href="#" data-search="quickSearch" aria-controls="quickSearch" aria-expanded="false">Search</a></li><li class="navUser-item navUser-item--account"><a class="navUser-action" href="/login.php">Sign in</a> <span class="navUser-or">or</span> <a class="navUser-action" href="/login.php?action=create_account">Register</a></li><li class="navUser-item navUser-item--cart"><a class="navUser-action" data-cart-preview data-dropdown="cart-preview-dropdown" data-options="align:right" href="/cart.php" aria-label="Cart with 0 items"><span class="navUser-item-cartLabel">Cart</span> <span class="countPill cart-quantity"></span></a></li></ul></nav>
<div class="header-logo header-logo--center"><a href="/" class="header-logo__link" data-header-logo-link><span class="header-logo-text">{e(ctx.shop)}</span></a></div>
<div class="navPages-container" id="menu" data-menu><nav class="navPages"><ul class="navPages-list"><li class="navPages-item"><a class="navPages-action" href="/headphone-amplifiers/">Headphone Amplifiers</a></li><li class="navPages-item"><a class="navPages-action" href="/dacs/">DACs</a></li><li class="navPages-item"><a class="navPages-action" href="/headphones/">Headphones</a></li><li class="navPages-item"><a class="navPages-action" href="/shipping-returns/">Shipping &amp; Returns</a></li></ul></nav></div>
</header>
<main class="body" id="main-content" role="main" data-currency-code="{e(ctx.currency)}">
<div class="container">
{body}
</div>
</main>
<footer class="footer" role="contentinfo"><div class="container"><section class="footer-info"><article class="footer-info-col footer-info-col--small" data-section-type="footer-webPages"><h2 class="footer-info-heading">Navigate</h2><ul class="footer-info-list"><li><a href="/shipping-returns/">Shipping &amp; Returns</a></li><li><a href="/contact-us/">Contact Us</a></li><li><a href="/sitemap.php">Sitemap</a></li></ul></article></section><div class="footer-copyright"><p class="powered-by">&copy; 2026 {e(ctx.shop)} </p></div><div class="footer-copyright"><p class="powered-by">Powered by <a href="https://www.bigcommerce.com?utm_source=merchant&amp;utm_medium=poweredbyBC" rel="nofollow">BigCommerce</a></p></div></div></footer>
</body>
</html>
"""

    def card(self, item: Item) -> str:
        pid = num_id(item.sku or item.title, 3, "bc:")
        was = (
            f'<div class="price-section price-section--withoutTax non-sale-price--withoutTax">'
            f'{e(self.ctx.t("was"))} <span data-product-non-sale-price-without-tax class="price '
            f'price--non-sale">{e(self.ctx.money(item.was_price, item.currency))}</span></div>'
            if item.was_price
            else ""
        )
        return f"""<li class="product"><article class="card" data-test="card-{pid}" data-event-type="list" data-entity-id="{pid}" data-position="1" data-name="{e(item.title)}" data-product-category="Headphone Amplifiers" data-product-brand="{e(brand_of(item.title))}" data-product-price="{machine_price(item.price, item.currency)}">
<figure class="card-figure"><a href="{e(item.href)}" class="card-figure__link" aria-label="{e(item.title)}"><div class="card-img-container"><img src="https://cdn11.bigcommerce.com/s-{num_id(self.ctx.shop, 6, "bc:")}/images/stencil/500x659/products/{pid}/{pid}/{slugify(item.title)}.jpg" alt="{e(item.title)}" title="{e(item.title)}" data-sizes="auto" class="card-image lazyload"></div></a></figure>
<div class="card-body"><p class="card-text" data-test-info-type="brandName">{e(brand_of(item.title))}</p><h3 class="card-title"><a aria-label="{e(item.title)}" href="{e(item.href)}">{e(item.title)}</a></h3>
<div class="card-text" data-test-info-type="price"><div class="price-section price-section--withoutTax rrp-price--withoutTax" style="display: none;">MSRP: <span data-product-rrp-price-without-tax class="price price--rrp"></span></div>{was}
<div class="price-section price-section--withoutTax"><span class="price-label"></span><span class="price-now-label" style="display: none;">Now:</span><span data-product-price-without-tax class="price price--withoutTax">{e(self.ctx.money(item.price, item.currency))}</span></div></div>
</div></article></li>"""

    def home(self, items: list[Item]) -> str:
        cards = "\n".join(self.card(item) for item in items)
        body = (
            '<div class="page"><main class="page-content"><h2 class="page-heading">Featured '
            'Products</h2><section class="productCarousel"><ul class="productGrid">'
            f"\n{cards}\n</ul></section></main></div>"
        )
        return self.layout(self.ctx.shop, body)

    def product(self, product: Product, path: str) -> str:
        ctx = self.ctx
        p = product
        pid = num_id(p.sku, 3, "bc:")
        url = ctx.url(path)
        money = ctx.money(p.price, p.currency)
        amount = machine_price(p.price, p.currency)
        on_sale = p.was_price is not None and p.was_price > p.price
        availability = SCHEMA_IN if p.in_stock else SCHEMA_OUT
        price_obj: dict[str, Any] = {
            "without_tax": {
                "formatted": money,
                "value": float(p.price),
                "currency": p.currency,
            },
            "tax_label": "Tax",
        }
        if on_sale and p.was_price is not None:
            price_obj["sale_price_without_tax"] = price_obj["without_tax"]
            price_obj["non_sale_price_without_tax"] = {
                "formatted": ctx.money(p.was_price, p.currency),
                "value": float(p.was_price),
                "currency": p.currency,
            }
        bcdata: dict[str, Any] = {
            "product_attributes": {
                "sku": p.sku.upper(),
                "upc": None,
                "mpn": None,
                "gtin": None,
                "weight": None,
                "base": True,
                "image": None,
                "price": price_obj,
                "out_of_stock_behavior": "label_option",
                "out_of_stock_message": "Out of stock",
                "available_modifier_values": [],
                "in_stock_attributes": [],
                "stock": None,
                "instock": p.in_stock,
                "stock_message": None,
                "purchasable": p.in_stock,
                "purchasing_message": None,
                "call_for_price_message": None,
            }
        }
        was = (
            '<div class="price-section price-section--withoutTax non-sale-price--withoutTax">'
            f'{e(ctx.t("was"))} <span data-product-non-sale-price-without-tax class="price '
            f'price--non-sale">{e(ctx.money(p.was_price, p.currency))}</span></div>'
            if on_sale and p.was_price is not None
            else '<div class="price-section price-section--withoutTax non-sale-price--withoutTax"'
            ' style="display: none;">Was: <span data-product-non-sale-price-without-tax '
            'class="price price--non-sale"></span></div>'
        )
        if p.in_stock:
            button = (
                '<input id="form-action-addToCart" data-wait-message="Adding to cart…" '
                f'class="button button--primary" type="submit" value="{e(ctx.t("add_to_cart"))}">'
            )
        else:
            button = (
                '<input id="form-action-addToCart" data-wait-message="Adding to cart…" '
                f'class="button button--primary" type="submit" value="{e(ctx.t("out_of_stock"))}"'
                " disabled>"
            )
        related = "\n".join(self.card(d) for d in decoys(ctx, p.currency, p.sku, 4))
        body = f"""<nav aria-label="Breadcrumb"><ol class="breadcrumbs"><li class="breadcrumb "><a class="breadcrumb-label" href="/"><span>Home</span></a></li><li class="breadcrumb "><a class="breadcrumb-label" href="/headphone-amplifiers/"><span>Headphone Amplifiers</span></a></li><li class="breadcrumb is-active"><a class="breadcrumb-label" href="{e(path)}" aria-current="page"><span>{e(p.title)}</span></a></li></ol></nav>
<div itemscope itemtype="http://schema.org/Product">
<div class="productView" data-entity-id="{pid}" data-event-type="product" data-name="{e(p.title)}" data-product-category="Headphone Amplifiers" data-product-brand="{e(brand_of(p.title))}" data-product-price="{amount}" data-product-variant="single-product-option">
<section class="productView-images" data-image-gallery><figure class="productView-image" data-image-gallery-main><div class="productView-img-container"><a href="https://cdn11.bigcommerce.com/s-{num_id(ctx.shop, 6, "bc:")}/images/stencil/1280x1280/products/{pid}/{pid}/{slugify(p.sku)}.jpg" target="_blank" itemprop="image"><img src="https://cdn11.bigcommerce.com/s-{num_id(ctx.shop, 6, "bc:")}/images/stencil/760x760/products/{pid}/{pid}/{slugify(p.sku)}.jpg" alt="{e(p.title)}" title="{e(p.title)}" data-sizes="auto" class="lazyload" data-main-image></a></div></figure></section>
<section class="productView-details product-data"><div class="productView-product">
<h1 class="productView-title" itemprop="name">{e(p.title)}</h1>
<h2 class="productView-brand" itemprop="brand" itemscope itemtype="http://schema.org/Brand"><a href="/brands/{e(slugify(brand_of(p.title)))}.html" itemprop="url"><span itemprop="name">{e(brand_of(p.title))}</span></a></h2>
<div class="productView-price">
<div class="price-section price-section--withoutTax rrp-price--withoutTax" style="display: none;">MSRP: <span data-product-rrp-price-without-tax class="price price--rrp"></span></div>
{was}
<div class="price-section price-section--withoutTax" itemprop="offers" itemscope itemtype="http://schema.org/Offer">
<span class="price-label"></span><span class="price-now-label"{"" if on_sale else ' style="display: none;"'}>Now:</span>
<span data-product-price-without-tax class="price price--withoutTax">{e(money)}</span>
<meta itemprop="price" content="{amount}">
<meta itemprop="priceCurrency" content="{e(p.currency)}">
<link itemprop="availability" href="{availability}">
<meta itemprop="itemCondition" content="http://schema.org/NewCondition">
<meta itemprop="url" content="{e(url)}">
<meta itemprop="priceValidUntil" content="2027-12-31">
</div>
<div class="price-section price-section--saving price"{"" if on_sale else ' style="display: none;"'}><span class="price">(You save</span><span data-product-price-saved class="price price--saving">{e(ctx.money(p.was_price - p.price, p.currency)) if on_sale and p.was_price else ""}</span><span class="price">)</span></div>
</div>
<div data-content-region="product_below_price"></div>
<div class="productView-rating"><span class="icon icon--ratingFull"></span><span class="productView-reviewLink">{rating_of(p.sku)[1]} reviews</span></div>
<dl class="productView-info"><dt class="productView-info-name sku-label">SKU:</dt><dd class="productView-info-value" data-product-sku itemprop="sku">{e(p.sku.upper())}</dd><dt class="productView-info-name">Shipping:</dt><dd class="productView-info-value">Calculated at Checkout</dd></dl>
</div></section>
<section class="productView-details product-options"><div class="productView-options"><form class="form" method="post" action="https://{slugify(ctx.shop)}.mybigcommerce.com/cart.php" enctype="multipart/form-data" data-cart-item-add><input type="hidden" name="action" value="add"><input type="hidden" name="product_id" value="{pid}"/>
<div class="form-field form-field--increments"><label class="form-label form-label--alternate" for="qty[]">Quantity:</label><div class="form-increment" data-quantity-change><input class="form-input form-input--incrementTotal" id="qty[]" name="qty[]" type="tel" value="1" data-quantity-min="0" data-quantity-max="0" min="1" pattern="[0-9]*" aria-live="polite"></div></div>
<div class="alertBox productAttributes-message" style="display:none"><div class="alertBox-column alertBox-icon"><icon glyph="ic-success" class="icon" aria-hidden="true"></icon></div><p class="alertBox-column alertBox-message"></p></div>
<div class="form-action">{button}<span class="product-status-message aria-description--hidden">Adding to cart… The item has been added</span></div>
</form></div></section>
<article class="productView-description" data-product-description><div class="tabs-contents"><div class="tab-content is-active" id="tab-description" itemprop="description">{e(description_of(p))}</div></div></article>
</div></div>
<div id="previewModal" class="modal modal--large" data-reveal><button class="modal-close" type="button" title="Close"><span class="aria-description--hidden">Close</span><span aria-hidden="true">&#215;</span></button><div class="modal-content"></div></div>
<div data-content-region="product_below_content"></div>
<ul class="tabs" data-tab role="tablist"><li class="tab is-active" role="presentational"><a class="tab-title" href="#tab-related" role="tab" tabindex="0" aria-selected="true" aria-controls="tab-related">Related Products</a></li></ul>
<div class="tabs-contents"><div role="tabpanel" aria-hidden="false" class="tab-content has-jsContent is-active" id="tab-related"><section class="productCarousel" data-list-name="Related Products"><ul class="productGrid">
{related}
</ul></section></div></div>
<script type="text/javascript">var BCData = {json_script(bcdata)};</script>"""
        head = (
            f'<link rel="canonical" href="{e(url)}">\n'
            f'<meta property="product:price:amount" content="{amount}" />'
            f'<meta property="product:price:currency" content="{e(p.currency)}" />'
            f'<meta property="og:url" content="{e(url)}" />'
            f'<meta property="og:site_name" content="{e(ctx.shop)}" />\n'
            '<meta property="og:type" content="product" />'
            f'<meta property="og:title" content="{e(p.title)}" />'
            f'<meta property="og:description" content="{e(description_of(p))}" />'
            f'<meta property="og:availability" content="{"instock" if p.in_stock else "oos"}" />'
            '<meta property="pinterest:richpins" content="enabled" />'
        )
        return self.pad(self.layout(f"{p.title} - {ctx.shop}", body, head=head), p.sku)


# ---------------------------------------------------------------------------- magento


class MagentoTheme(Theme):
    style = Style.magento

    def price_box(self, item: Item, pid: int) -> str:
        ctx = self.ctx
        amount = machine_price(item.price, item.currency, compact=True)
        text = e(ctx.money(item.price, item.currency))
        if item.was_price and item.was_price > item.price:
            old = machine_price(item.was_price, item.currency, compact=True)
            old_text = e(ctx.money(item.was_price, item.currency))
            inner = (
                '<span class="special-price"><span class="price-container price-final_price '
                'tax weee"><span class="price-label">Special Price</span>'
                f'<span id="product-price-{pid}" data-price-amount="{amount}" '
                'data-price-type="finalPrice" class="price-wrapper "><span class="price">'
                f"{text}</span></span></span></span>\n"
                '<span class="old-price"><span class="price-container price-final_price tax '
                'weee"><span class="price-label">Regular Price</span>'
                f'<span id="old-price-{pid}" data-price-amount="{old}" data-price-type="oldPrice" '
                f'class="price-wrapper "><span class="price">{old_text}</span></span></span></span>'
            )
        else:
            inner = (
                '<span class="price-container price-final_price tax weee">'
                f'<span id="product-price-{pid}" data-price-amount="{amount}" '
                'data-price-type="finalPrice" class="price-wrapper "><span class="price">'
                f"{text}</span></span></span>"
            )
        return (
            f'<div class="price-box price-final_price" data-role="priceBox" data-product-id="{pid}"'
            f' data-price-box="product-id-{pid}">{inner}</div>'
        )

    def layout(self, title: str, body: str, *, head: str = "") -> str:
        ctx = self.ctx
        return f"""<!doctype html>
<html lang="{e(ctx.lang)}">
<head>
<meta charset="utf-8"/>
<meta name="title" content="{e(title)}"/>
<meta name="robots" content="INDEX,FOLLOW"/>
<meta name="viewport" content="width=device-width, initial-scale=1"/>
<meta name="format-detection" content="telephone=no"/>
<title>{e(title)}</title>
<link rel="stylesheet" type="text/css" media="all" href="{e(ctx.url("/static/version1712345678/frontend/Magento/luma/" + ctx.locale + "/css/styles-m.css"))}" />
<link rel="stylesheet" type="text/css" media="screen and (min-width: 768px)" href="{e(ctx.url("/static/version1712345678/frontend/Magento/luma/" + ctx.locale + "/css/styles-l.css"))}" />
<script type="text/javascript" src="{e(ctx.url("/static/version1712345678/frontend/Magento/luma/" + ctx.locale + "/requirejs/require.js"))}"></script>
{head}
</head>
<body data-container="body" data-mage-init='{{"loaderAjax": {{}}, "loader": {{ "icon": "{e(ctx.url("/static/version1712345678/frontend/Magento/luma/" + ctx.locale + "/images/loader-2.gif"))}"}}}}' id="html-body" class="catalog-product-view product-page page-layout-1column">
<div class="page-wrapper"><header class="page-header"><div class="panel wrapper"><div class="panel header"><a class="action skip contentarea" href="#contentarea"><span>Skip to Content</span></a>
<ul class="header links"><li class="greet welcome" data-bind="scope: 'customer'"><span class="not-logged-in" data-bind="html: 'Default welcome msg!'"></span></li><li class="authorization-link" data-label="or"><a href="{e(ctx.url("/customer/account/login/"))}">Sign In</a></li><li><a href="{e(ctx.url("/customer/account/create/"))}">Create an Account</a></li></ul></div></div>
<div class="header content"><span data-action="toggle-nav" class="action nav-toggle"><span>Toggle Nav</span></span><a class="logo" href="{e(ctx.url("/"))}" title="{e(ctx.shop)}" aria-label="store logo"><img src="{e(ctx.url("/static/version1712345678/frontend/Magento/luma/" + ctx.locale + "/images/logo.svg"))}" title="{e(ctx.shop)}" alt="{e(ctx.shop)}" width="170" height="43" /></a>
<div data-block="minicart" class="minicart-wrapper"><a class="action showcart" href="{e(ctx.url("/checkout/cart/"))}" data-bind="scope: 'minicart_content'"><span class="text">{e(ctx.t("cart"))}</span><span class="counter qty empty"><span class="counter-number">0</span><span class="counter-label"></span></span></a></div>
<div class="block block-search"><div class="block block-title"><strong>{e(ctx.t("search"))}</strong></div><div class="block block-content"><form class="form minisearch" id="search_mini_form" action="{e(ctx.url("/catalogsearch/result/"))}" method="get"><div class="field search"><div class="control"><input id="search" type="text" name="q" value="" maxlength="128" role="combobox" aria-haspopup="false" aria-autocomplete="both" autocomplete="off" aria-expanded="false"/></div></div></form></div></div></div></header>
<div class="sections nav-sections"><nav class="navigation" data-action="navigation"><ul data-mage-init='{{"menu":{{"responsive":true, "expanded":true, "position":{{"my":"left top","at":"left bottom"}}}}}}'><li class="level0 nav-1 category-item first level-top"><a href="{e(ctx.url("/kopfhoererverstaerker.html"))}" class="level-top"><span>{"Kopfhörerverstärker" if ctx.lang == "de" else "Headphone Amplifiers"}</span></a></li><li class="level0 nav-2 category-item level-top"><a href="{e(ctx.url("/dac.html"))}" class="level-top"><span>DAC</span></a></li><li class="level0 nav-3 category-item last level-top"><a href="{e(ctx.url("/sale.html"))}" class="level-top"><span>Sale</span></a></li></ul></nav></div>
<main id="maincontent" class="page-main"><a id="contentarea" tabindex="-1"></a>
{body}
</main>
<footer class="page-footer"><div class="footer content"><ul class="footer links"><li class="nav item"><a href="{e(ctx.url("/privacy-policy-cookie-restriction-mode/"))}">Privacy and Cookie Policy</a></li><li class="nav item"><a href="{e(ctx.url("/search/term/popular/"))}">Search Terms</a></li><li class="nav item"><a href="{e(ctx.url("/contact/"))}">Contact Us</a></li></ul></div></footer>
<small class="copyright"><span>Copyright © 2013-present Magento, Inc. All rights reserved.</span></small>
</div>
</body>
</html>
"""

    def card(self, item: Item) -> str:
        pid = num_id(item.sku or item.title, 4, "mage:")
        return f"""<li class="item product product-item"><div class="product-item-info" data-container="product-grid"><a href="{e(self.ctx.url(item.href))}" class="product photo product-item-photo" tabindex="-1"><span class="product-image-container product-image-container-{pid}" style="width: 240px;"><span class="product-image-wrapper" style="padding-bottom: 125%;"><img class="product-image-photo" src="{e(self.ctx.url("/media/catalog/product/cache/" + slugify(item.title) + ".jpg"))}" loading="lazy" width="240" height="300" alt="{e(item.title)}"/></span></span></a>
<div class="product details product-item-details"><strong class="product name product-item-name"><a class="product-item-link" href="{e(self.ctx.url(item.href))}">{e(item.title)}</a></strong>
{self.price_box(item, pid)}
</div></div></li>"""

    def home(self, items: list[Item]) -> str:
        cards = "\n".join(self.card(item) for item in items)
        body = (
            '<div class="columns"><div class="column main"><div class="block widget block-products-'
            'list grid"><div class="block-content"><div class="products-grid grid"><ol class="'
            f'product-items widget-product-grid">\n{cards}\n</ol></div></div></div></div></div>'
        )
        return self.layout(f"Home – {self.ctx.shop}", body)

    def product(self, product: Product, path: str) -> str:
        ctx = self.ctx
        p = product
        pid = num_id(p.sku, 4, "mage:")
        url = ctx.url(path)
        item = Item(p.title, path, p.price, p.currency, p.was_price, p.in_stock, p.sku)
        decimal_symbol = "," if ctx.lang in ("de", "fr", "nl", "it", "es") else "."
        group_symbol = "." if decimal_symbol == "," else ","
        symbol = symbol_of(p.currency)
        pattern = f"%s\u00a0{symbol}" if decimal_symbol == "," else f"{symbol}%s"
        init = {
            f"[data-role=priceBox][data-price-box=product-id-{pid}]": {
                "priceBox": {
                    "priceConfig": {
                        "productId": str(pid),
                        "priceFormat": {
                            "pattern": pattern,
                            "precision": 2,
                            "requiredPrecision": 2,
                            "decimalSymbol": decimal_symbol,
                            "groupSymbol": group_symbol,
                            "groupLength": 3,
                            "integerRequired": False,
                        },
                    }
                }
            }
        }
        add_url = ctx.url(f"/checkout/cart/add/uenc/{num_id(p.sku, 10, 'uenc:')}/product/{pid}/")
        if p.in_stock:
            stock = (
                f'<div class="stock available" title="Availability"><span>'
                f"{e(ctx.t('in_stock'))}</span></div>"
            )
            form = f"""<div class="product-add-form"><form data-product-sku="{e(p.sku.upper())}" action="{e(add_url)}" method="post" id="product_addtocart_form"><input type="hidden" name="product" value="{pid}" /><input type="hidden" name="selected_configurable_option" value="" /><input type="hidden" name="related_product" id="related-products-field" value="" /><input name="form_key" type="hidden" value="Xy8dJ2kq9LmN4pQr" />
<div class="box-tocart"><div class="fieldset"><div class="field qty"><label class="label" for="qty"><span>Qty</span></label><div class="control"><input type="number" name="qty" id="qty" min="0" value="1" title="Qty" class="input-text qty" data-validate="{{&quot;required-number&quot;:true,&quot;validate-item-quantity&quot;:{{&quot;minAllowed&quot;:1,&quot;maxAllowed&quot;:10000}}}}" /></div></div>
<div class="actions"><button type="submit" title="{e(ctx.t("add_to_cart"))}" class="action primary tocart" id="product-addtocart-button" disabled><span>{e(ctx.t("add_to_cart"))}</span></button></div></div></div>
</form></div>"""
        else:
            stock = (
                f'<div class="stock unavailable" title="Availability"><span>'
                f"{e(ctx.t('out_of_stock'))}</span></div>"
            )
            form = ""
        related = "\n".join(self.card(d) for d in decoys(ctx, p.currency, p.sku, 4))
        body = f"""<div class="page-title-wrapper product"><h1 class="page-title"><span class="base" data-ui-id="page-title-wrapper" itemprop="name">{e(p.title)}</span></h1></div>
<div class="page messages"><div data-placeholder="messages"></div></div>
<div class="columns"><div class="column main">
<div class="product-info-main">
<div class="product-info-price">
{self.price_box(item, pid)}
<div class="product-info-stock-sku">{stock}
<div class="product attribute sku"><strong class="type">SKU</strong><div class="value" itemprop="sku">{e(p.sku.upper())}</div></div></div>
</div>
<div class="product-social-links"><div class="product-addto-links" data-role="add-to-links"><a href="#" class="action towishlist" data-action="add-to-wishlist"><span>Add to Wish List</span></a><a href="#" class="action tocompare"><span>Add to Compare</span></a></div></div>
{form}
<div class="product attribute overview"><div class="value" itemprop="description">{e(description_of(p))}</div></div>
</div>
<div class="product media"><div class="gallery-placeholder _block-content-loading" data-gallery-role="gallery-placeholder"><img alt="{e(p.title)}" class="gallery-placeholder__image" src="{e(ctx.url("/media/catalog/product/cache/" + slugify(p.sku) + ".jpg"))}" /></div></div>
<div class="product info detailed"><div class="product data items" data-mage-init='{{"tabs":{{"openedState":"active"}}}}'><div class="data item title" data-role="collapsible" id="tab-label-description"><a class="data switch" tabindex="-1" data-toggle="trigger" href="#description"><strong>Details</strong></a></div><div class="data item content" aria-labelledby="tab-label-description-title" id="description" data-role="content"><div class="product attribute description"><div class="value">{e(description_of(p))}</div></div></div></div></div>
<div class="block related" data-mage-init='{{"relatedProducts":{{"relatedCheckbox":".related.checkbox"}}}}' data-limit="0" data-shuffle="0" data-shuffle-weighted="0"><div class="block-title title"><strong id="block-related-heading" role="heading" aria-level="2">{e(ctx.t("related"))}</strong></div>
<div class="block-content content" aria-labelledby="block-related-heading"><div class="products wrapper grid products-grid products-related"><ol class="products list items product-items">
{related}
</ol></div></div></div>
</div></div>
<script type="text/x-magento-init">{json_script(init)}</script>"""
        head = (
            f'<link rel="canonical" href="{e(url)}" />\n'
            '<meta property="og:type" content="product" />\n'
            f'<meta property="og:title" content="{e(p.title)}" />\n'
            f'<meta property="og:image" content="{e(ctx.url("/media/catalog/product/cache/" + slugify(p.sku) + ".jpg"))}" />\n'
            f'<meta property="og:description" content="{e(description_of(p))}" />\n'
            f'<meta property="og:url" content="{e(url)}" />\n'
            f'<meta property="product:price:amount" content="{machine_price(p.price, p.currency, compact=True)}"/>\n'
            f'<meta property="product:price:currency" content="{e(p.currency)}"/>'
        )
        return self.pad(self.layout(p.title, body, head=head), p.sku)


# ------------------------------------------------------------------------------ plain


class PlainTheme(Theme):
    style = Style.plain

    def layout(self, title: str, body: str, *, head: str = "") -> str:
        ctx = self.ctx
        return f"""<!DOCTYPE html>
<html lang="{e(ctx.lang)}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{e(title)}</title>
{head}
<link rel="stylesheet" href="/assets/site.css">
</head>
<body>
<div class="banner">Free worldwide shipping on orders over USD 99 · 2-year warranty</div>
<header class="site"><a class="logo" href="/">{e(ctx.shop)}</a>
<nav><a href="/">Products</a> <a href="/support">Support</a> <a href="/downloads">Drivers &amp; Downloads</a> <a href="/where-to-buy">Where to buy</a> <a href="/contact">Contact</a></nav></header>
<main>
{body}
</main>
<footer class="site"><p>© 2026 {e(ctx.shop)}. All rights reserved.</p><p><a href="/privacy">Privacy</a> · <a href="/terms">Terms of sale</a> · <a href="/warranty">Warranty</a></p></footer>
</body>
</html>
"""

    def card(self, item: Item) -> str:
        return (
            f'<li class="tile"><a href="{e(item.href)}"><img src="/img/{slugify(item.title)}.jpg" '
            f'alt="{e(item.title)}"><span class="name">{e(item.title)}</span></a> '
            f'<span class="cost">{e(self.ctx.money(item.price, item.currency, code=True))}</span>'
            "</li>"
        )

    def product(self, product: Product, path: str) -> str:
        ctx = self.ctx
        p = product
        url = ctx.url(path)
        specs = "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in _SPECS)
        was = (
            f' <s class="was">{e(ctx.money(p.was_price, p.currency, code=True))}</s>'
            if p.was_price and p.was_price > p.price
            else ""
        )
        action = (
            f'<button class="add" type="submit" name="add" value="{e(p.sku)}">'
            f"{e(ctx.t('add_to_cart'))}</button>"
            if p.in_stock
            else f'<span class="soldout">{e(ctx.t("sold_out"))}</span>'
        )
        head = (
            f'<meta name="description" content="{e(description_of(p))}">\n'
            f'<meta property="og:title" content="{e(p.title)}">\n'
            '<meta property="og:type" content="product">\n'
            f'<meta property="og:url" content="{e(url)}">\n'
            f'<meta property="og:image" content="{e(ctx.url("/img/" + slugify(p.sku) + ".jpg"))}">\n'
            f'<meta property="product:price:amount" content="{machine_price(p.price, p.currency)}">\n'
            f'<meta property="product:price:currency" content="{e(p.currency)}">'
        )
        body = f"""<article class="product">
<div class="gallery"><img src="/img/{slugify(p.sku)}.jpg" alt="{e(p.title)}" width="800" height="600"></div>
<h1>{e(p.title)}</h1>
<p class="lead">{e(description_of(p))}</p>
<form class="buy-form" method="post" action="/cart">
<div class="buy"><span class="cost">{e(ctx.money(p.price, p.currency, code=True))}</span>{was} {action}</div>
</form>
<h2>Specifications</h2>
<table class="specs">{specs}</table>
<p class="note">Prices include VAT where applicable. Specifications may change without notice.</p>
</article>"""
        return self.pad(self.layout(f"{p.title} — {ctx.shop}", body, head=head), p.sku)


_THEMES: dict[Style, type[Theme]] = {
    Style.amazon: AmazonTheme,
    Style.shopify: ShopifyTheme,
    Style.woocommerce: WooTheme,
    Style.bigcommerce: BigCommerceTheme,
    Style.magento: MagentoTheme,
    Style.plain: PlainTheme,
}


def theme_for(ctx: PageContext) -> Theme:
    return _THEMES[ctx.style](ctx)


# ------------------------------------------------------------------- non-shop pages


def robot_check_page(variant: str, *, shop: str) -> str:
    """A captcha page (Amazon-style) or a JS challenge (Cloudflare-style)."""
    if variant == "cloudflare":
        return """<!DOCTYPE html><html lang="en-US"><head><title>Just a moment...</title><meta http-equiv="Content-Type" content="text/html; charset=UTF-8"><meta http-equiv="X-UA-Compatible" content="IE=Edge"><meta name="robots" content="noindex,nofollow"><meta name="viewport" content="width=device-width,initial-scale=1"><style>*{box-sizing:border-box;margin:0;padding:0}html{line-height:1.15;-webkit-text-size-adjust:100%;color:#313131;font-family:system-ui,-apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,"Helvetica Neue",Arial,"Noto Sans",sans-serif}body{display:flex;flex-direction:column;height:100vh;min-height:100vh}.main-content{margin:8rem auto;max-width:60rem;padding-left:1.5rem}</style><meta http-equiv="refresh" content="390"></head><body class="no-js"><div class="main-wrapper" role="main"><div class="main-content"><noscript><div id="challenge-error-title"><div class="h2"><span class="icon-wrapper"><div class="heading-icon warning-icon"></div></span><span id="challenge-error-text">Enable JavaScript and cookies to continue</span></div></div></noscript></div></div><script>(function(){window._cf_chl_opt={cvId: '3',cZone: "127.0.0.1",cType: 'managed',cNounce: '41325',cRay: '8c4f2e1b9d7a3f60',cHash: '2e4a6b8c0d1f3e5a',cUPMDTk: "\\/?__cf_chl_tk=Qm9ndXNUb2tlbg-1717000000-0.0.1.1-1234",cFPWv: 'b',cTTimeMs: '1000',cMTimeMs: '390000',cTplV: 5,cTplB: 'cf',cK: "",fa: "\\/?__cf_chl_f_tk=Qm9ndXNUb2tlbg-1717000000-0.0.1.1-1234",md: "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789",cRq: {ru: 'aHR0cDovLzEyNy4wLjAuMS8=',ra: 'TW96aWxsYS81LjA=',rm: 'R0VU',d: 'Qm9ndXM=',t: 'MTcxNzAwMDAwMC4wMDAwMDA=',cT: Math.floor(Date.now() / 1000),m: 'Qm9ndXM=',i1: 'Qm9ndXM=',i2: 'Qm9ndXM=',zh: 'Qm9ndXM=',uh: 'Qm9ndXM=',hh: 'Qm9ndXM=',}};var cpo = document.createElement('script');cpo.src = '/cdn-cgi/challenge-platform/h/b/orchestrate/chl_page/v1?ray=8c4f2e1b9d7a3f60';window._cf_chl_opt.cOgUHash = location.hash === '' && location.href.indexOf('#') !== -1 ? '#' : location.hash;window._cf_chl_opt.cOgUQuery = location.search === '' && location.href.slice(0, location.href.length - window._cf_chl_opt.cOgUHash.length).indexOf('?') !== -1 ? '?' : location.search;if (window.history && window.history.replaceState) {var ogU = location.pathname + window._cf_chl_opt.cOgUQuery + window._cf_chl_opt.cOgUHash;history.replaceState(null, null, "\\/?__cf_chl_rt_tk=Qm9ndXNUb2tlbg-1717000000-0.0.1.1-1234" + window._cf_chl_opt.cOgUHash);cpo.onload = function() {history.replaceState(null, null, ogU);}}document.getElementsByTagName('head')[0].appendChild(cpo);}());</script></body></html>
"""
    return f"""<!doctype html><html lang="en-us" class="a-no-js" data-19ax5a9jf="dingo"><!-- sp:feature:head-start -->
<head><script>var aPageStart = (new Date()).getTime();</script><meta charset="utf-8">
<!-- sp:end-feature:head-start -->
<!-- sp:feature:csm:head-open-part1 -->
<script type='text/javascript'>var ue_t0=ue_t0||+new Date();</script>
<!-- sp:end-feature:csm:head-open-part1 -->
<title dir="ltr">Robot Check</title>
<meta name="viewport" content="width=device-width">
<link rel="stylesheet" href="https://images-na.ssl-images-amazon.com/images/G/01/AUIClients/AmazonUI-3c913031596ca78a3768f4e934b1cc02ce238101.secure.min._V1_.css">
</head>
<body>
<!--
        To discuss automated access to Amazon data please contact api-services-support@amazon.com.
        For information about migrating to our APIs refer to our Marketplace APIs at https://developer.amazonservices.com/ref=rm_c_sv, or our Product Advertising API at https://affiliate-program.amazon.com/gp/advertising/api/detail/main.html/ref=rm_c_ac for advertising use cases.
-->
<div class="a-container a-padding-double-large" style="min-width:350px;padding:44px 0 !important">
<div class="a-row a-spacing-double-large" style="width: 350px; margin: 0 auto">
<div class="a-row a-spacing-medium a-text-center"><i class="a-icon a-logo" aria-label="{e(shop)}"></i></div>
<div class="a-box a-alert a-alert-info a-spacing-base"><div class="a-box-inner"><i class="a-icon a-icon-alert"></i>
<h4>Enter the characters you see below</h4>
<p class="a-last">Sorry, we just need to make sure you're not a robot. For best results, please make sure your browser is accepting cookies.</p>
</div></div>
<div class="a-section"><div class="a-box a-color-offset-background"><div class="a-box-inner a-padding-extra-large">
<form method="get" action="/errors/validateCaptcha" name="">
<input type=hidden name="amzn" value="PGq5bGzQmNxk2h0yX3ZbBg==" /><input type=hidden name="amzn-r" value="&#047;" />
<div class="a-row a-spacing-large"><div class="a-box"><div class="a-box-inner">
<h4>Type the characters you see in this image:</h4>
<div class="a-row a-text-center"><img src="https://images-na.ssl-images-amazon.com/captcha/usvmgloq/Captcha_kwrrnqwkph.jpg"></div>
<div class="a-row a-spacing-base"><div class="a-row"><div class="a-column a-span6"></div><div class="a-column a-span6 a-span-last a-text-right"><a onclick="window.location.reload()">Try different image</a></div></div></div>
<div class="a-row a-spacing-base"><input autocomplete="off" spellcheck="false" placeholder="Type characters" id="captchacharacters" name="field-keywords" class="a-span12" autocapitalize="off" autocorrect="off" type="text"></div>
</div></div></div>
<div class="a-section a-spacing-extra-large"><div class="a-row"><span class="a-button a-button-primary a-span12"><span class="a-button-inner"><button type="submit" class="a-button-text">Continue shopping</button></span></span></div></div>
</form>
</div></div></div>
</div>
<div class="a-divider a-divider-section"><div class="a-divider-inner"></div></div>
<div class="a-text-center a-spacing-small a-size-mini"><a href="/gp/help/customer/display.html/ref=footer_cou?ie=UTF8&amp;nodeId=508088">Conditions of Use</a><span class="a-letter-space"></span><span class="a-letter-space"></span><a href="/gp/help/customer/display.html/ref=footer_privacy?ie=UTF8&amp;nodeId=468496">Privacy Policy</a></div>
<div class="a-text-center a-size-mini a-color-secondary">&copy; 1996-2026, {e(shop)}, Inc. or its affiliates</div>
</div>
</body></html>
"""


def status_page(status: int, reason: str, server: str = "nginx") -> str:
    """A bare error page like the one a web server or proxy shows."""
    return (
        f"<html>\r\n<head><title>{status} {e(reason)}</title></head>\r\n<body>\r\n"
        f"<center><h1>{status} {e(reason)}</h1></center>\r\n<hr><center>{e(server)}</center>\r\n"
        "</body>\r\n</html>\r\n"
    )
