"""Read price, currency and availability of the main product from one HTML page.

Entry point: :func:`extract` (bytes or text in, an :class:`~tracker.models.Offer` out; it never
raises on hostile input). Built-in site rule sets live as data in ``tracker/rules/*.toml``:
:func:`load_builtin_rules` reads them and :func:`rules_for` picks the one for a page.

Methods, in order (the first that yields a positive price wins; ``Offer.method`` names it):

1. ``site:<name>`` - the caller's :class:`~tracker.models.SiteRules` (CSS selectors).
2. ``json-ld`` - schema.org Product / ProductGroup / Offer / AggregateOffer / Event with offers,
   inside ``@graph`` or lists, keys matched case-insensitively, broken JSON repaired when cheap.
3. ``microdata`` - ``itemprop=price`` (``content`` first, else text) with ``priceCurrency`` and
   ``availability`` from the same ``itemscope``.
4. ``site:<name>`` for a *built-in* rule set (a shop by domain; a platform - or a shop with
   recognisable markup, such as Amazon's ``#dp-container`` / ``a-offscreen`` - by a marker in
   the source): structured data is usually more reliable than CSS selectors that drift, so
   built-in rules come after it. A page read without its URL (a saved file) is matched by the
   domain of its ``<link rel=canonical>`` / ``og:url``.
5. ``meta`` - ``product:price:amount`` / ``og:price:amount`` and their ``:currency``.
6. ``heuristic`` - visible text: price-like elements in the main product area (the smallest
   block around the ``h1`` holding one), skipping struck-through / "was" / list / unit prices,
   instalments, shipping, and everything about other products: related / similar /
   sponsored / "customers also bought" blocks, carousels (``p13n``, ``data-a-carousel-options``)
   and cards linking to another page; then currency-marked amounts in that area. An
   out-of-stock page that shows no price of its own gives ``no_price``.

Main product among several JSON-LD products: score each by its name against the page ``h1`` /
``og:title`` / ``<title>``, its ``url``/``@id`` against the page or canonical URL, and a penalty
when it sits in a list of related items (``isRelatedTo``, ``ItemList`` ...); the best wins and
document order only breaks ties. Variants and offer lists: the offer whose ``sku`` / ``url`` /
id matches a query value of the page URL (``?variant=``, ``?sku=`` ...) wins; else the lowest
price among purchasable offers (availability missing counts as purchasable); else the lowest
price at all. ``AggregateOffer`` gives ``lowPrice``.

Availability precedence (strongest first). Visible text is read from the main product area
only, without hidden elements (``hidden``, ``display:none``, closed modals), text a sighted
reader does not see (``visually-hidden``, ``sr-only``, ``screen-reader-text``, ``.hidden``,
``aria-hidden="true"``), state badges that a theme renders on every page and CSS shows only in
that state (Dawn's ``price__badge-sold-out``, counted only under ``price--sold-out``),
``<option>`` lists, struck text and header/footer/nav/related blocks:

1. the caller's site rules (selector text through ``availability_map``, longest key first);
2. a *strong* out-of-stock signal: out-of-stock wording (e.g. "sold out", "ausverkauft",
   "agotado", "在庫切れ") in a stock-status element (class / id / ``itemprop`` / ``data-*``
   naming stock or availability; not a "notify me" form, not a badge, not a line about a
   fulfilment channel such as "Store pickup: not available"), or a disabled purchase button
   whose label says so. It beats structured data claiming in stock, which is often a template
   default (a more specific non-purchasable structured value such as ``SoldOut`` is kept);
3. structured data of the selected offer (JSON-LD, then microdata, then meta);
4. built-in site rules;
5. other out-of-stock wording in a short line (long lines are prose; generic "not available"
   right after a fulfilment channel speaks of that channel) - it beats in-stock wording;
6. in-stock wording, an enabled add-to-cart/buy button or a delivery estimate; a disabled
   add-to-cart button gives ``OutOfStock`` only when nothing else speaks;
7. a priced structured Offer (json-ld / microdata / meta) with no availability anywhere is
   read as ``InStock`` (an offer to sell now; ``reason`` says "availability implied");
8. else ``None`` - a heuristic price alone never implies availability.

Rule selectors (both kinds): for each price selector in order, the first element that parses
as a price wins, the main product's own first - a struck / "was" / list price only after the
others, and an element inside a block about other products (related, sponsored, carousels,
judged by class / id, ``data-testid`` / ``data-test`` and ``aria-label``) never for a built-in
rule set, last for the caller's own. An availability selector's element is read through the
rule's ``availability_map`` (longest key first); a button that is ``disabled``,
``aria-disabled="true"`` or has a ``*-disabled`` class turns a purchasable answer into
``OutOfStock``.

Numbers: the last of ``.``/``,`` is the decimal separator when both appear; one separator
repeated is a thousands separator; a single separator followed by exactly three digits is a
thousands separator (``$24.990`` -> 24990, ``Rs 23,450`` -> 23450) unless the currency has
three decimals (KWD, BHD, ...) or the integer part is 0. A machine-number price attribute in a
rule's element (Magento's ``data-price-amount="1299"`` / ``"17.6"``) takes the currency and
the decimals its text shows ("1.299,00 €", "$17.60") when both agree. Currency: ISO code from
structured data, else the symbol read with the page's country (domain TLD, ``<html lang>``
region), else ``rules.currency``, else ``currency_hint``.
"""

from __future__ import annotations

import codecs
import functools
import itertools
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from importlib import resources
from typing import Any
from urllib.parse import parse_qsl, urljoin, urlsplit

import tomli
from price_parser import Price
from selectolax.lexbor import LexborHTMLParser, LexborNode

from tracker.errors import ExtractError
from tracker.models import Availability, Offer, PageStatus, SiteRules

__all__ = ["RuleSet", "extract", "load_builtin_rules", "normalize_availability", "rules_for"]

# --------------------------------------------------------------------------------------------
# Small tables
# --------------------------------------------------------------------------------------------

_AVAIL_NAMES: dict[str, Availability] = {a.value.lower(): a for a in Availability}
_AVAIL_NAMES.update(
    {
        "instock": Availability.InStock,
        "available": Availability.InStock,
        "availablefororder": Availability.InStock,
        "in": Availability.InStock,
        "oos": Availability.OutOfStock,
        "outofstock": Availability.OutOfStock,
        "unavailable": Availability.OutOfStock,
        "notavailable": Availability.OutOfStock,
        "soldout": Availability.SoldOut,
        "discontinued": Availability.Discontinued,
        "preorder": Availability.PreOrder,
        "presale": Availability.PreSale,
        "backorder": Availability.BackOrder,
        "backordered": Availability.BackOrder,
        "limitedavailability": Availability.LimitedAvailability,
        "limitedstock": Availability.LimitedAvailability,
        "lowstock": Availability.LimitedAvailability,
        "onlineonly": Availability.OnlineOnly,
        "instoreonly": Availability.InStoreOnly,
        "madetoorder": Availability.MadeToOrder,
        "reserved": Availability.Reserved,
    }
)

_THREE_DECIMALS = frozenset({"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"})

# country (ISO 3166 alpha-2, upper) -> currency, for ambiguous symbols and bare numbers
_COUNTRY_CURRENCY: dict[str, str] = {
    "US": "USD", "CA": "CAD", "AU": "AUD", "NZ": "NZD", "MX": "MXN", "CL": "CLP", "CO": "COP",
    "AR": "ARS", "UY": "UYU", "SG": "SGD", "HK": "HKD", "TW": "TWD", "BR": "BRL", "JP": "JPY",
    "CN": "CNY", "SE": "SEK", "NO": "NOK", "DK": "DKK", "IS": "ISK", "GB": "GBP", "UK": "GBP",
    "IN": "INR", "PK": "PKR", "LK": "LKR", "NP": "NPR", "CH": "CHF", "LI": "CHF", "PL": "PLN",
    "CZ": "CZK", "HU": "HUF", "RO": "RON", "BG": "BGN", "RU": "RUB", "BY": "BYN", "UA": "UAH",
    "TR": "TRY", "KR": "KRW", "IL": "ILS", "TH": "THB", "VN": "VND", "PH": "PHP", "MY": "MYR",
    "ID": "IDR", "ZA": "ZAR", "SA": "SAR", "AE": "AED", "EG": "EGP", "PE": "PEN", "NG": "NGN",
    "KE": "KES", "QA": "QAR", "KW": "KWD", "BH": "BHD", "OM": "OMR", "JO": "JOD",
    "DE": "EUR", "FR": "EUR", "ES": "EUR", "IT": "EUR", "NL": "EUR", "BE": "EUR", "AT": "EUR",
    "PT": "EUR", "IE": "EUR", "FI": "EUR", "GR": "EUR", "SK": "EUR", "SI": "EUR", "EE": "EUR",
    "LV": "EUR", "LT": "EUR", "LU": "EUR", "MT": "EUR", "CY": "EUR", "HR": "EUR",
}  # fmt: skip

_DOLLAR_COUNTRIES = frozenset(
    {"US", "CA", "AU", "NZ", "MX", "CL", "CO", "AR", "UY", "SG", "HK", "TW"}
)
_KRONA_COUNTRIES = {"SE": "SEK", "NO": "NOK", "DK": "DKK", "IS": "ISK"}
_RUPEE_COUNTRIES = {"IN": "INR", "PK": "PKR", "LK": "LKR", "NP": "NPR"}

# unambiguous symbols / words -> ISO (checked longest first)
_SYMBOLS: dict[str, str] = {
    "R$": "BRL", "NT$": "TWD", "US$": "USD", "U$S": "USD", "A$": "AUD", "AU$": "AUD",
    "C$": "CAD", "CA$": "CAD", "NZ$": "NZD", "HK$": "HKD", "S$": "SGD", "MX$": "MXN",
    "CLP$": "CLP", "COP$": "COP", "€": "EUR", "£": "GBP", "₹": "INR", "₩": "KRW", "₪": "ILS",
    "₺": "TRY", "₽": "RUB", "฿": "THB", "₫": "VND", "₱": "PHP", "₴": "UAH", "₦": "NGN",
    "zł": "PLN", "zl": "PLN", "kč": "CZK", "kc": "CZK", "ft": "HUF", "lei": "RON", "лв": "BGN",
    "руб": "RUB", "р.": "BYN", "rm": "MYR", "rp": "IDR", "s/": "PEN", "chf": "CHF", "fr.": "CHF",
    "元": "CNY", "円": "JPY", "ر.س": "SAR", "ريال": "SAR", "د.إ": "AED", "درهم": "AED",
    "sar": "SAR", "aed": "AED", "tl": "TRY",
}  # fmt: skip

_ISO_RE = re.compile(r"^[A-Z]{3}$")
_KNOWN_ISO = (
    frozenset(_COUNTRY_CURRENCY.values())
    | frozenset(_SYMBOLS.values())
    | frozenset(
        {"USD", "EUR", "GBP", "JPY", "CNY", "INR", "BRL", "RUB", "KRW", "TWD", "HKD", "SGD", "CHF"}
    )
)

_TLD_COUNTRY_FIX = {"UK": "GB"}
_GENERIC_TLDS = frozenset({"com", "net", "org", "shop", "store", "io", "co", "info", "biz"})

# Out-of-stock wording (lower case, substring), by language.
_OOS_PHRASES: tuple[str, ...] = (
    # en
    "out of stock", "out-of-stock", "sold out", "currently unavailable", "temporarily unavailable",
    "no longer available", "not in stock", "notify me when available", "email me when available",
    "item is unavailable", "this item is not available", "product is not available",
    "discontinued", "not available for purchase", "no stock",
    # de
    "ausverkauft", "nicht verfügbar", "nicht lieferbar", "nicht auf lager", "vergriffen",
    "nicht vorrätig",
    "derzeit nicht verfügbar", "nicht mehr verfügbar", "momentan nicht",
    # fr
    "rupture de stock", "épuisé", "indisponible", "plus disponible", "non disponible",
    # es
    "agotado", "sin stock", "no disponible", "sin existencias", "fuera de stock",
    # it
    "esaurito", "non disponibile", "non è disponibile", "esauriti",
    # nl
    "uitverkocht", "niet op voorraad", "niet leverbaar", "niet beschikbaar",
    # pt
    "esgotado", "indisponível", "sem estoque", "fora de estoque", "produto indisponivel",
    # pl
    "brak w magazynie", "niedostępny", "wyprzedany", "brak towaru", "brak na stanie",
    # sv / da / no / fi
    "slutsåld", "slut i lager", "ej i lager", "tillfälligt slut", "inte i lager", "udsolgt",
    "ikke på lager", "utsolgt", "ikke tilgjengelig", "loppuunmyyty", "ei varastossa",
    "tilapäisesti loppu",
    # cs / sk / sl / hu / ro / tr / el
    "vyprodáno", "není skladem", "momentálně není", "vypredané", "nie je skladom",
    "momentálne nie je", "ni na zalogi", "razprodano", "elfogyott", "nincs készleten",
    "stoc epuizat", "tükendi", "stokta yok", "εξαντλήθηκε",
    # ja / zh / ko
    "在庫切れ", "売り切れ", "品切れ", "販売終了", "在庫なし", "缺貨", "缺货", "售完", "售罄",
    "無庫存", "无库存", "暫無庫存", "品切", "품절",
    # ru / uk / ar
    "нет в наличии", "распродано", "товар закончился", "немає в наявності",
    "نفذت الكمية", "غير متوفر", "نفدت",
)  # fmt: skip

# In-stock wording (substring), only looked at when no out-of-stock wording is present.
_INSTOCK_PHRASES: tuple[str, ...] = (
    "in stock", "add to cart", "add to basket", "add to bag", "add to trolley", "buy now",
    "buy it now", "only a few left", "ready to ship", "ships today",
    "auf lager", "lieferbar", "sofort verfügbar", "in den warenkorb",
    "en stock", "ajouter au panier",
    "añadir al carrito", "agregar al carro", "añadir a la cesta", "agregar al carrito",
    "disponibilità immediata", "aggiungi al carrello", "acquista ora", "compra subito",
    "op voorraad", "in winkelwagen", "in mijn winkelwagen",
    "em estoque", "adicionar ao carrinho", "comprar agora",
    "w magazynie", "do koszyka", "dodaj do koszyka",
    "i lager", "lägg i varukorg", "på lager", "læg i kurv", "legg i handlekurv",
    "varastossa", "lisää ostoskoriin",
    "skladem", "na sklade", "na skladě", "do košíka", "do košíku", "na zalogi", "v košarico",
    "dodaj v košarico", "kosárba", "raktáron", "sepete ekle", "stokta",
    "在庫あり", "カートに入れる", "有貨", "有货", "現貨", "现货", "加入購物車", "加入购物车",
    "立即購買", "立即购买", "我要購買", "我要购买", "今すぐ購入", "장바구니", "바로구매",
    "dobavljivo", "jetzt kaufen", "sofort kaufen", "kup teraz", "köp nu", "koop nu",
    "comprar ahora", "acheter maintenant", "order now",
    "в наличии", "в корзину", "أضف إلى", "متوفر",
)  # fmt: skip

# In-stock words counted only when they stand alone in a short line ("Available!").
_INSTOCK_SHORT = re.compile(
    r"^(?:item |product |now |currently )?(?:available|disponible|disponibile|verfügbar|"
    r"beschikbaar|disponível|dostępny|tillgänglig|saatavilla|dostupné|na voljo)"
    r"(?: now| online| to order)?\s*[!.]?$"
)

_DELIVERY_RE = re.compile(
    r"\b(?:delivery by|get it by|arrives by|ships in|ships within|dispatched within|"
    r"delivered by|free delivery|lieferung bis|livraison (?:gratuite|estimée))\b"
)

_ADD_TO_CART_RE = re.compile(
    r"add[\s_-]?to[\s_-]?(?:cart|basket|bag|trolley)|buy[\s_-]?now|addtocart|add-to-cart|"
    r"in den warenkorb|ajouter au panier|añadir al carrito|agregar al carr|aggiungi al carrello|"
    r"in winkelwagen|adicionar ao carrinho|do koszyka|lägg i varukorg|lisää ostoskoriin|"
    r"do košíka|do košíku|v košarico|カートに入れる|加入購物車|加入购物车|в корзину|"
    r"(?:btn|button)[-_]?(?:cart|buy)|cart[-_]?(?:btn|button)|add[-_]?cart|buy[-_]?(?:btn|button)|"
    r"\bnaroči\b|\bkaufen\b|\bcomprar\b|\bacheter\b|\bbestellen\b|\border now\b|"
    r"購買|购买|購入",
    re.IGNORECASE,
)

_NOISE_RE = re.compile(
    r"(?i:related|recommend(?:ed|ations?)?|similar|up-?sells?|cross-?sells?|"
    r"also-?(?:bought|viewed|like)|recently(?:-?viewed)?|you-?may(?:-?also)?(?:-?like)?|"
    r"others-?also|complementary|mini-?cart|cart-?drawer|breadcrumbs?|footer|newsletter|"
    r"cookies?|mega-?menu|navigation|sponsored|ranking|carousel|p13n|shoveler|"
    r"(?:frequently|customers?)-?(?:bought|who|also)|bought-?together)(?![a-z])"
)
_OLD_PRICE_RE = re.compile(
    r"old|was|strike|crossed|compare|before|original|rrp|msrp|uvp|list-?price|listprice|prev|"
    r"saving|you-?save|discount-?amount|per-?unit|unit-?price|unitprice|base-?price|"
    r"instal|monthly|shipping|delivery|tax-|reference|regular-?price--?sale|lowest",
    re.IGNORECASE,
)
_BAD_PRICE_TEXT = re.compile(
    r"/\s*(?:mo|month|mes|mês|monat|mois|kg|g|100\s?g|l|ml|m|m2|unit|st|stk|piece|pc)\b|"
    r"per (?:month|unit|kg|item)|\b\d+\s*[x×]\s*(?:de\s)?[^\d\s]{0,3}\s?\d|"
    r"\b(?:shipping|delivery|versand|envío|frete|livraison|save|was|war|statt|antes|"
    r"avant|uvp|rrp|instead of|ab\b)|原價|原价|定價|定价|建議售價|市價|市价|現省|省下|"
    r"通常価格|参考価格|希望小売価格",
    re.IGNORECASE,
)

_PRICE_SEL = (
    '[itemprop~="price"], [class*="price" i], [id*="price" i], [data-testid*="price" i], '
    '[class*="preis" i], [class*="prix" i], [class*="precio" i], [class*="prezzo" i], '
    '[class*="preco" i], [class*="cena" i], [class*="amount" i]'
)

_MONEY_RE = re.compile(
    r"(?:(?P<pre>R\$|NT\$|US\$|A\$|C\$|HK\$|S\$|[$€£¥₹₩₪₺₽฿₫₱₴]|Rs\.?|kr\.?|CHF|Fr\.|"
    r"EUR|USD|GBP|PLN|CZK|SEK|NOK|DKK|INR|PKR|BRL|CLP|COP|MXN|TWD|JPY|CNY|SAR|AED|RM|Rp)"
    r"\s?(?P<n1>\d[\d.,'\u00a0\u202f ]*\d|\d))|"
    r"(?:(?P<n2>\d[\d.,'\u00a0\u202f ]*\d|\d)\s?(?P<post>€|£|¥|₽|₺|₫|₴|zł|Kč|Kc|kr\.?|Ft|lei|"
    r"лв|руб|р\.|CHF|EUR|USD|GBP|PLN|CZK|SEK|NOK|DKK|円|元|SAR|AED|TL|"
    r"ر\.س|ريال|د\.إ|درهم))"
)

# Elements a reader does not see, or sees struck through: by markup here, by inline style
# below (one walk over the styled elements, where a selector per declaration costs a walk each)
_HIDDEN_SEL = (
    "[hidden], .d-none, .is-hidden, dialog:not([open]), "
    '.modal:not(.show):not(.in):not(.is-open), [role="dialog"], '
    "del, s, strike, select, option, datalist"
)
_HIDDEN_STYLE_RE = re.compile(
    r"display\s*:\s*none|visibility\s*:\s*hidden|line-through", re.IGNORECASE
)
# the same tests for one element, read from its tag and attributes (see _is_unseen)
_HIDDEN_TAGS = frozenset({"del", "s", "strike", "select", "option", "datalist"})
_HIDDEN_CLASSES = frozenset({"d-none", "is-hidden"})
_MODAL_SHOWN_CLASSES = frozenset({"show", "in", "is-open"})
_ASCII_WS_RE = re.compile(r"[ \t\n\f\r]+")  # what separates class names in HTML

# the elements the first steps read (see _Scan), in one selector (each costs a walk of the
# page; a <template>'s content is outside the tree the parser builds: no text, no matches)
_SCAN_SEL = "meta, link, title, h1, script, style, noscript, svg, iframe, [itemprop]"
_HEAD_TAGS = frozenset({"meta", "link", "title"})
_STRIP_TAGS = frozenset({"script", "style", "noscript", "svg", "iframe"})

_NOISE_SEL = (
    'nav, footer, aside, header, [class*="related" i], [class*="recommend" i], '
    '[class*="similar" i], [class*="sell" i], [class*="recently" i], [class*="also" i], '
    '[class*="footer" i], [class*="breadcrumb" i], [id*="related" i], [id*="recommend" i], '
    '[id*="footer" i], [id*="breadcrumb" i], [class*="sponsored" i], [class*="you-may" i], '
    '[class*="ranking" i], [class*="carousel" i], [class*="p13n" i], [class*="shoveler" i], '
    '[class*="bought" i], [data-a-carousel-options]'
)

# Text a sighted reader does not see (screen-reader labels such as Shopify's "Variant sold out
# or unavailable") or that is a decorative duplicate; removed before availability is read.
_A11Y_HIDDEN_SEL = (
    '[class*="visually-hidden" i], [class*="visuallyhidden" i], [class*="sr-only" i], '
    '[class*="screen-reader" i], [class*="screenreader" i], [class~="hidden"], '
    '[class~="hide"], [class~="invisible"], [aria-hidden="true"], [hidden]'
)

# Badges and labels whose class names a sold-out state: themes render them on every page and
# let CSS show them when an ancestor carries the same state (Dawn's ``price--sold-out``).
_STATE_BADGE_SEL = (
    '[class*="badge" i][class*="sold" i], [class*="badge" i][class*="stock" i], '
    '[class*="badge" i][class*="unavailable" i], [class*="label" i][class*="sold-out" i], '
    '[class*="label" i][class*="soldout" i], [class*="label" i][class*="out-of-stock" i]'
)
_OOS_STATE_RE = re.compile(r"sold-?out|out-?of-?stock|outofstock|unavailable", re.IGNORECASE)

# Stock-status elements: out-of-stock wording inside one is a strong signal.
_STATUS_SEL = (
    '[class*="stock" i], [id*="stock" i], [class*="availab" i], [id*="availab" i], '
    '[itemprop~="availability"], [data-availability], [data-product-stock], '
    '[class*="inventory" i], [data-testid*="stock" i], [data-testid*="availab" i], '
    '[data-test*="stock" i], [data-test*="availab" i], [class*="lieferbar" i], '
    '[class*="verfuegbar" i], [class*="dostupn" i], [class*="disponib" i], '
    '[class*="voorraad" i]'
)
# ... but not a "notify me when back in stock" form, which themes render on every page
_BUTTON_SEL = 'button, input[type="submit"], input[type="button"], a[role="button"]'

_NOT_STATUS_RE = re.compile(
    r"notif|restock|back-?in|alert|subscri|wait-?list|e-?mail|remind|badge", re.IGNORECASE
)

_BLOCK_TITLES = (
    "just a moment",
    "attention required",
    "access denied",
    "access to this page has been denied",
    "robot check",
    "are you a robot",
    "are you a human",
    "captcha",
    "pardon our interruption",
    "security check",
    "verify you are human",
    "verifying you are human",
    "please verify you are a human",
    "bot verification",
    "checking your browser",
    "request unsuccessful",
    "you have been blocked",
    "one more step",
    "ddos-guard",
    "human verification",
)
# Markers of challenge pages; they count only on a page with little visible text. Markers
# that share a substring of six characters or more are grouped (see _marker_search): a page
# without it is searched once for the whole group.
_BLOCK_MARKERS: tuple[tuple[str, ...], ...] = (
    ("cf-browser-verification",),
    ("cf_chl_opt",),
    ("cf-challenge", "challenge-platform"),
    ("cf-error-details",),
    ("px-captcha", "_pxCaptcha", "validateCaptcha", "captcha-delivery.com"),
    ("Press & Hold", "Press &amp; Hold"),
    ("datadome",),
    ("DataDome",),
    ("errors.edgesuite.net",),
    ("You don't have permission to access",),
    ("_Incapsula_Resource", "Incapsula incident"),
    ("Enter the characters you see below",),
    ("not a robot",),
    ("unusual traffic",),
    ("automated access",),
    ("Access Denied",),
)

_PRODUCT_TYPES = frozenset(
    {
        "product",
        "productgroup",
        "productmodel",
        "individualproduct",
        "someproducts",
        "vehicle",
        "car",
        "motorcycle",
        "book",
        "event",
        "service",
        "softwareapplication",
        "creativework",
        "menuitem",
        "course",
        "trip",
    }
)
_OFFER_TYPES = frozenset({"offer", "aggregateoffer"})
_RELATED_KEYS = frozenset(
    {
        "isrelatedto",
        "issimilarto",
        "isaccessoryorsparepartfor",
        "isconsumablefor",
        "relatedlink",
        "itemlistelement",
        "review",
        "reviews",
        "mainentityofpage",
        "subjectof",
        "isvariantof",
    }
)
_MAX_JSON_NODES = 20_000
_MAX_DEPTH = 40
_SNIFF = 4096


# --------------------------------------------------------------------------------------------
# Built-in site rules
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RuleSet:
    """A built-in rule set: the selectors plus how to recognise its pages."""

    rules: SiteRules
    kind: str = "shop"  # "shop" (matched by domain first) or "platform" (by a marker)
    match: tuple[str, ...] = ()  # domain suffixes, e.g. "amazon.co.uk"
    detect: tuple[str, ...] = ()  # case-sensitive markers in the page source (any domain)


def _ruleset_from_toml(data: Mapping[str, Any], source: str) -> RuleSet:
    try:
        name = str(data["name"])
    except KeyError as exc:
        raise ExtractError(f"rule set {source} has no 'name'") from exc
    amap: dict[str, Availability] = {}
    for key, value in dict(data.get("availability_map", {})).items():
        avail = normalize_availability(str(value))
        if avail is None:
            raise ExtractError(f"rule set {source}: unknown availability {value!r} for {key!r}")
        amap[str(key).lower()] = avail

    def _sel(key: str) -> str | None:
        value = data.get(key)
        if value is None:
            return None
        if isinstance(value, list):
            return ", ".join(str(v) for v in value)
        return str(value)

    rules = SiteRules(
        name=name,
        price=_sel("price"),
        availability=_sel("availability"),
        title=_sel("title"),
        currency=str(data["currency"]) if data.get("currency") else None,
        availability_map=amap,
    )
    return RuleSet(
        rules=rules,
        kind=str(data.get("kind", "platform" if data.get("detect") else "shop")),
        match=tuple(str(m).lower() for m in data.get("match", ())),
        detect=tuple(str(m) for m in data.get("detect", ())),
    )


@functools.cache
def _builtin_rules() -> tuple[RuleSet, ...]:
    out: list[RuleSet] = []
    folder = resources.files("tracker").joinpath("rules")
    try:
        entries = sorted(folder.iterdir(), key=lambda p: p.name)
    except (FileNotFoundError, NotADirectoryError):
        return ()
    for entry in entries:
        if not entry.name.endswith(".toml"):
            continue
        try:
            data = tomli.loads(entry.read_text(encoding="utf-8"))
        except (OSError, tomli.TOMLDecodeError) as exc:
            raise ExtractError(f"built-in rule set {entry.name} cannot be read: {exc}") from exc
        out.append(_ruleset_from_toml(data, entry.name))
    return tuple(out)


def load_builtin_rules() -> list[RuleSet]:
    """Every built-in rule set shipped in ``tracker/rules/*.toml`` (shops, then platforms)."""
    rulesets = _builtin_rules()
    return [r for r in rulesets if r.kind == "shop"] + [r for r in rulesets if r.kind != "shop"]


def _host_of(url: str | None) -> str:
    if not url:
        return ""
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return ""
    return host.lower().rstrip(".")


_MARKER_WINDOW = 400_000  # characters of the page source searched for platform markers


def _rules_for_source(host: str, source: str) -> SiteRules | None:
    rulesets = load_builtin_rules()
    if host:
        for rs in rulesets:
            for dom in rs.match:
                if host == dom or host.endswith("." + dom):
                    return rs.rules
    # by page markers: platforms, and shops whose markup is recognisable on any domain
    for rs in rulesets:
        if not rs.detect:
            continue
        common, markers = _marker_search(rs.detect)
        if common is not None and source.find(common, 0, _MARKER_WINDOW) < 0:
            continue  # no marker can be there
        if any(source.find(m, 0, _MARKER_WINDOW) >= 0 for m in markers):
            return rs.rules
    return None


@functools.cache
def _marker_search(detect: tuple[str, ...]) -> tuple[str | None, tuple[str, ...]]:
    """How to search a page for any of the markers ``detect`` with fewer passes over it
    (each costs about 0.1 ms per 400 KB): a substring of at least six characters that every
    marker contains, when there is one (the page has no marker without it), and the markers
    that contain no other marker (finding a longer one means finding the one it contains).
    """
    markers = tuple(m for m in detect if not any(o != m and o in m for o in detect))
    shortest = min(markers, key=len)
    common = next(
        (
            shortest[i : i + n]
            for n in range(len(shortest), 5, -1)
            for i in range(len(shortest) - n + 1)
            if all(shortest[i : i + n] in m for m in markers)
        ),
        None,
    )
    return (None if len(markers) == 1 else common), markers


def rules_for(url: str | None, html_tree: LexborHTMLParser | str | None = None) -> SiteRules | None:
    """The built-in rule set for a page: a shop by the URL's domain, else a platform (or a shop
    with recognisable markup, such as Amazon's) by a marker in the page source."""
    if html_tree is None:
        source = ""
    elif isinstance(html_tree, str):
        source = html_tree
    else:
        source = html_tree.html or ""
    return _rules_for_source(_host_of(url), source)


# --------------------------------------------------------------------------------------------
# Values
# --------------------------------------------------------------------------------------------


def normalize_availability(value: object) -> Availability | None:
    """schema.org availability in any spelling (``instock``, ``https://schema.org/OutOfStock``)."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text or len(text) > 200:
        return None
    tail = re.split(r"[/#:]", text.rstrip("/"))[-1]
    key = re.sub(r"[\s_\-]+", "", tail).lower()
    return _AVAIL_NAMES.get(key)


@dataclass(slots=True)
class _Ctx:
    url: str | None
    host: str
    country: str | None
    lang: str
    currency_hint: str | None
    query_values: frozenset[str] = frozenset()


def _country_of(host: str, lang: str) -> str | None:
    # the language region first ("es-CL", "zh-Hant-TW"), then the TLD
    if lang:
        for part in reversed(re.split(r"[-_]", lang)[1:]):
            if len(part) == 2 and part.isalpha():
                return _TLD_COUNTRY_FIX.get(part.upper(), part.upper())
    if host:
        labels = host.split(".")
        tld = labels[-1]
        if len(tld) == 2 and tld.isalpha():
            return _TLD_COUNTRY_FIX.get(tld.upper(), tld.upper())
        # language-country subdomains such as "ar-sa.example.com" or "en-ca.shop.com"
        m = re.match(r"^[a-z]{2}[-_]([a-z]{2})\.", host)
        if m:
            return m.group(1).upper()
        if tld in _GENERIC_TLDS:
            return None
    return None


def _iso(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    v = value.strip()
    if _ISO_RE.match(v.upper()) and v.isalpha():
        return v.upper()
    return None


def _currency_from_symbol(sym: str | None, ctx: _Ctx) -> str | None:
    if not sym:
        return None
    s = sym.strip().rstrip(":")
    if not s:
        return None
    iso = _iso(s)
    if iso and (iso in _KNOWN_ISO or s.isupper()):
        return iso
    low = s.lower()
    country = ctx.country
    lang = ctx.lang.split("-")[0]
    if low in {"$", "us$"} or (low.endswith("$") and low not in _SYMBOLS_LOWER):
        if low == "us$":
            return "USD"
        if country in _DOLLAR_COUNTRIES:
            return _COUNTRY_CURRENCY[country]
        return "USD"
    if low in {"¥", "￥"}:
        if country == "CN" or lang == "zh":
            return "CNY"
        return "JPY"
    if low.rstrip(".") in {"kr", "kr,-"}:
        if country in _KRONA_COUNTRIES:
            return _KRONA_COUNTRIES[country]
        for lg, cur in (("sv", "SEK"), ("nb", "NOK"), ("nn", "NOK"), ("no", "NOK"), ("da", "DKK")):
            if lang == lg:
                return cur
        return "SEK"
    if low.rstrip(".") in {"rs", "₨", "rupees"}:
        if country in _RUPEE_COUNTRIES:
            return _RUPEE_COUNTRIES[country]
        return "INR"
    if low == "元":
        return {"TW": "TWD", "HK": "HKD", "MO": "MOP"}.get(country or "", "CNY")
    if low in {"р.", "руб", "руб."}:
        return "BYN" if country == "BY" else "RUB"
    return _SYMBOLS_LOWER.get(low)


_SYMBOLS_LOWER = {k.lower(): v for k, v in _SYMBOLS.items()}


def _to_decimal(amount_text: str, currency: str | None) -> Decimal | None:
    """Turn the digits of a price ("1.299,00", "24.990", "1,299.00") into a Decimal."""
    t = re.sub(r"[\s\u00a0\u202f\u2009'’`]", "", amount_text)
    t = t.strip(".,")
    if not t or not re.fullmatch(r"\d[\d.,]*", t):
        return None
    dots, commas = t.count("."), t.count(",")
    if dots and commas:
        dec = "." if t.rfind(".") > t.rfind(",") else ","
        thou = "," if dec == "." else "."
        if t.count(dec) > 1:
            return None
        t = t.replace(thou, "").replace(dec, ".")
    elif dots or commas:
        sep = "." if dots else ","
        if t.count(sep) > 1:
            t = t.replace(sep, "")
        else:
            head, tail = t.split(sep)
            three_dec = currency in _THREE_DECIMALS
            if len(tail) == 3 and head not in {"0", ""} and not three_dec:
                t = head + tail
            else:
                t = head + "." + tail
    try:
        value = Decimal(t)
    except InvalidOperation:
        return None
    if not value.is_finite() or value <= 0 or value >= Decimal(10) ** 12:
        return None
    return value


def _structured_price(value: object, currency: str | None) -> Decimal | None:
    """A price from structured data: numbers, "249.00", "249,00", "$249", "1.299,00 €"."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Decimal(value) if 0 < value < 10**12 else None
    if isinstance(value, float):
        if value != value or value <= 0 or value >= 1e12:
            return None
        return Decimal(repr(value))
    if isinstance(value, list) and value:
        return _structured_price(value[0], currency)
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text or len(text) > 60:
        return None
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        # plain machine number: "249.00", "24.990" stays a decimal unless zero-decimal currency
        if "." in text:
            head, tail = text.split(".")
            if len(tail) == 3 and currency in _ZERO_DECIMALS and head != "0":
                return _to_decimal(head + tail, currency)
        try:
            d = Decimal(text)
        except InvalidOperation:
            return None
        return d if 0 < d < 10**12 else None
    m = re.search(r"\d[\d.,'\s\u00a0]*", text)
    if not m:
        return None
    return _to_decimal(m.group(0), currency)


_ZERO_DECIMALS = frozenset(
    {"CLP", "COP", "JPY", "KRW", "VND", "IDR", "PYG", "ISK", "HUF", "TWD", "PKR", "UGX", "XOF"}
)


def _parse_visible_price(text: str, ctx: _Ctx) -> tuple[Decimal | None, str | None]:
    """A price and currency from a short visible string ("1.299,00 €", "Rs 23,450")."""
    text = text.strip()
    if not text or len(text) > 120:
        return None, None
    parsed = _price_parts(text)
    if parsed is None:
        return None, None
    symbol, amount_text = parsed
    currency = _currency_from_symbol(symbol, ctx)
    if not amount_text:
        return None, currency
    return _to_decimal(amount_text, currency), currency


@functools.lru_cache(maxsize=4096)
def _price_parts(text: str) -> tuple[str | None, str | None] | None:
    """price-parser's reading of ``text``: its currency symbol and amount digits (None when
    it fails). Cached: shops repeat the same price strings, and a reading costs ~0.1 ms."""
    try:
        parsed = Price.fromstring(text)
    except Exception:  # price-parser is third-party code: never let it break extraction
        return None
    return parsed.currency, parsed.amount_text


# --------------------------------------------------------------------------------------------
# Decoding
# --------------------------------------------------------------------------------------------

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_\-:.]+)""", re.I)
_CT_CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9_\-:.]+)", re.I)


def _decoded(body: bytes | str, content_type: str | None) -> tuple[str, bool]:
    """The page's text (by its declared charset, else UTF-8), and whether ``body`` is
    bytes decoded as UTF-8 with nothing to clean: then the parser can read ``body``
    itself, which costs less than handing it the text (a 1 MB page: about 1 ms)."""
    if isinstance(body, str):
        return body, False
    candidates: list[str] = []
    if content_type:
        m = _CT_CHARSET.search(content_type)
        if m:
            candidates.append(m.group(1))
    if body.startswith(b"\xef\xbb\xbf"):
        candidates.insert(0, "utf-8-sig")
    elif body.startswith((b"\xff\xfe", b"\xfe\xff")):
        candidates.insert(0, "utf-16")
    m2 = _META_CHARSET.search(body[:_SNIFF])
    if m2:
        candidates.append(m2.group(1).decode("ascii", "replace"))
    for enc in candidates:
        try:
            return body.decode(enc, errors="replace"), _is_utf8(enc) and b"\x00" not in body
        except LookupError:
            continue
    return body.decode("utf-8", errors="replace"), b"\x00" not in body


def _is_utf8(encoding: str) -> bool:
    return codecs.lookup(encoding).name == "utf-8"


# control characters other than tab, newline, form feed and carriage return; U+FFFD
_BINARY_RE = re.compile("[\x00-\x08\x0b\x0e-\x1f\ufffd]")


def _looks_binary(text: str) -> bool:
    head = text[:2048]
    if not head:
        return False
    return len(_BINARY_RE.findall(head)) > max(8, len(head) // 10)


# --------------------------------------------------------------------------------------------
# JSON-LD
# --------------------------------------------------------------------------------------------


def _load_json(raw: str) -> Any:
    text = raw.strip()
    if not text:
        return None
    if text.startswith("<!--"):
        text = text[4:]
    if text.endswith("-->"):
        text = text[:-3]
    text = text.replace("<![CDATA[", "").replace("]]>", "").strip().rstrip(";")
    try:
        return json.loads(text, strict=False)
    except (ValueError, RecursionError):
        pass
    fixed = re.sub(r",\s*([}\]])", r"\1", text)
    try:
        return json.loads(fixed, strict=False)
    except (ValueError, RecursionError):
        pass
    try:  # the first complete value, when two are glued together
        value, _ = json.JSONDecoder(strict=False).raw_decode(fixed)
        return value
    except (ValueError, RecursionError):
        return None


def _get(d: Mapping[str, Any], key: str) -> Any:
    if key in d:
        return d[key]
    low = key.lower()
    for k, v in d.items():
        if isinstance(k, str) and k.lower() == low:
            return v
    return None


def _types(d: Mapping[str, Any]) -> set[str]:
    t = _get(d, "@type")
    out: set[str] = set()
    for item in t if isinstance(t, list) else [t]:
        if isinstance(item, str):
            out.add(item.rsplit("/", 1)[-1].rsplit(":", 1)[-1].lower())
    return out


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


@dataclass(slots=True)
class _OfferVal:
    price: Decimal | None
    currency: str | None
    availability: Availability | None
    keys: frozenset[str]  # sku / url / ids to match against the page URL


@dataclass(slots=True)
class _Item:
    node: dict[str, Any]
    related: bool
    order: int


def _walk_jsonld(values: list[Any]) -> tuple[list[_Item], list[_Item]]:
    """Products (anything with offers or a product type) and free-standing offers."""
    products: list[_Item] = []
    offers: list[_Item] = []
    count = 0
    stack: list[tuple[Any, bool, int, bool]] = [(v, False, 0, False) for v in reversed(values)]
    while stack:
        node, related, depth, in_product = stack.pop()
        count += 1
        if count > _MAX_JSON_NODES or depth > _MAX_DEPTH:
            break
        if isinstance(node, list):
            for v in reversed(node):
                stack.append((v, related, depth + 1, in_product))
            continue
        if not isinstance(node, dict):
            continue
        types = _types(node)
        is_product = bool(types & _PRODUCT_TYPES) or (
            _get(node, "offers") is not None and not types & _OFFER_TYPES
        )
        if is_product and not in_product:
            products.append(_Item(node, related or "itemlist" in types, count))
        elif types & _OFFER_TYPES and not in_product:
            offers.append(_Item(node, related, count))
        child_in_product = in_product or is_product
        for k, v in node.items():
            if not isinstance(v, (dict, list)):
                continue
            kl = k.lower() if isinstance(k, str) else ""
            if kl in {"offers", "hasvariant", "model", "itemoffered"} and is_product:
                continue  # read by _product_offer
            rel = related or kl in _RELATED_KEYS or "itemlist" in types
            stack.append((v, rel, depth + 1, child_in_product and kl != "@graph"))
    return products, offers


def _offer_values(node: Mapping[str, Any], ctx: _Ctx, inherited_cur: str | None) -> list[_OfferVal]:
    out: list[_OfferVal] = []
    types = _types(node)
    cur = _iso(_get(node, "priceCurrency")) or _currency_from_symbol(
        _get(node, "priceCurrency") if isinstance(_get(node, "priceCurrency"), str) else None,
        ctx,
    )
    cur = cur or inherited_cur
    avail = normalize_availability(_get(node, "availability"))
    keys = _offer_keys(node)
    price: Decimal | None = None
    if "aggregateoffer" in types:
        price = _structured_price(_get(node, "lowPrice"), cur) or _structured_price(
            _get(node, "price"), cur
        )
        nested: list[_OfferVal] = []
        for sub in _as_list(_get(node, "offers"))[:500]:
            if isinstance(sub, dict):
                nested.extend(_offer_values(sub, ctx, cur))
        if price is None:
            return nested
        if avail is None and nested:
            avails = [n.availability for n in nested if n.availability is not None]
            if any(a.purchasable for a in avails):
                avail = next(a for a in avails if a.purchasable)
            elif avails:
                avail = avails[0]
        if cur is None:
            cur = next((n.currency for n in nested if n.currency), None)
        return [_OfferVal(price, cur, avail, keys)]
    price = _structured_price(_get(node, "price"), cur)
    if price is None:
        specs = [s for s in _as_list(_get(node, "priceSpecification")) if isinstance(s, dict)]
        specs.sort(key=lambda s: _is_list_price_spec(s))
        for spec in specs:
            spec_cur = _iso(_get(spec, "priceCurrency")) or cur
            p = _structured_price(_get(spec, "price"), spec_cur) or _structured_price(
                _get(spec, "minPrice"), spec_cur
            )
            if p is not None:
                price, cur = p, spec_cur
                break
    if price is None:
        price = _structured_price(_get(node, "lowPrice"), cur)
    out.append(_OfferVal(price, cur, avail, keys))
    return out


def _is_list_price_spec(spec: Mapping[str, Any]) -> bool:
    pt = _get(spec, "priceType")
    return isinstance(pt, str) and bool(re.search(r"list|strike|msrp|srp|was", pt, re.I))


def _offer_keys(node: Mapping[str, Any]) -> frozenset[str]:
    keys: set[str] = set()
    for k in (
        "sku",
        "productID",
        "gtin",
        "gtin8",
        "gtin12",
        "gtin13",
        "gtin14",
        "mpn",
        "@id",
        "url",
    ):
        v = _get(node, k)
        if isinstance(v, (str, int)) and not isinstance(v, bool):
            s = str(v).strip().lower()
            if s:
                keys.add(s)
                if k in {"@id", "url"}:
                    for _, qv in parse_qsl(urlsplit(s).query):
                        keys.add(qv.lower())
    return frozenset(keys)


def _choose_offer(offers: list[_OfferVal], ctx: _Ctx) -> tuple[_OfferVal | None, str]:
    priced = [o for o in offers if o.price is not None]
    if not priced:
        avails = [o.availability for o in offers if o.availability is not None]
        if avails:
            return _OfferVal(None, None, _overall(avails), frozenset()), "no price"
        return None, "no price"
    if len(priced) == 1:
        return priced[0], ""
    # offers in several currencies: the listing's own currency when it is among them;
    # prices in different currencies are never compared with each other
    currencies = {o.currency for o in priced if o.currency}
    if len(currencies) > 1:
        wanted = ctx.currency_hint if ctx.currency_hint in currencies else priced[0].currency
        priced = [o for o in priced if o.currency in (wanted, None)]
    if ctx.query_values:
        for o in priced:
            if o.keys & ctx.query_values:
                return o, "selected variant"
    buyable = [o for o in priced if o.availability is None or o.availability.purchasable]
    pool = buyable or priced
    best = min(pool, key=lambda o: o.price or Decimal(0))
    if best.availability is None:
        avails = [o.availability for o in priced if o.availability is not None]
        if avails:
            best = _OfferVal(best.price, best.currency, _overall(avails), best.keys)
    return best, "lowest purchasable"


def _overall(avails: list[Availability]) -> Availability:
    for a in avails:
        if a.purchasable:
            return a
    return avails[0]


def _product_offer(node: Mapping[str, Any], ctx: _Ctx) -> tuple[_OfferVal | None, str]:
    variants = [v for v in _as_list(_get(node, "hasVariant")) if isinstance(v, dict)][:500]
    offers: list[_OfferVal] = []
    for off in _as_list(_get(node, "offers"))[:500]:
        if isinstance(off, dict):
            offers.extend(_offer_values(off, ctx, None))
    if variants:
        vals: list[_OfferVal] = []
        for v in variants:
            vkeys = _offer_keys(v)
            for off in _as_list(_get(v, "offers"))[:50]:
                if isinstance(off, dict):
                    for ov in _offer_values(off, ctx, None):
                        vals.append(
                            _OfferVal(ov.price, ov.currency, ov.availability, ov.keys | vkeys)
                        )
        if ctx.query_values:
            for ov in vals:
                if ov.price is not None and ov.keys & ctx.query_values:
                    return ov, "selected variant"
        if vals:
            offers = offers + vals
    return _choose_offer(offers, ctx)


def _norm_text(s: str) -> set[str]:
    return {w for w in re.findall(r"\w+", s.lower()) if len(w) > 1}


def _similar(a: str | None, b: str | None) -> float:
    if not a or not b:
        return 0.0
    wa, wb = _norm_text(a), _norm_text(b)
    if not wa or not wb:
        return 0.0
    return len(wa & wb) / min(len(wa), len(wb))


def _url_path(u: str) -> str:
    try:
        return urlsplit(u).path.rstrip("/").lower()
    except ValueError:
        return ""


@dataclass(slots=True)
class _Page:
    h1: str | None = None
    og_title: str | None = None
    title: str | None = None
    canonical: str | None = None


def _pick_product(
    items: list[_Item], ctx: _Ctx, page: _Page
) -> tuple[_Item | None, _OfferVal | None, str]:
    best: tuple[float, int] | None = None
    chosen: tuple[_Item | None, _OfferVal | None, str] = (None, None, "")
    paths = {p for p in (_url_path(ctx.url or ""), _url_path(page.canonical or "")) if p}
    for item in items:
        off, why = _product_offer(item.node, ctx)
        name = _get(item.node, "name")
        name = name if isinstance(name, str) else None
        score = 0.0
        score += 3 * _similar(name, page.h1)
        score += 2 * max(_similar(name, page.og_title), _similar(name, page.title))
        for key in ("url", "@id"):
            v = _get(item.node, key)
            if isinstance(v, str) and paths and _url_path(v) in paths and _url_path(v):
                score += 3
                break
        if item.related:
            score -= 5
        if off is not None and off.price is not None:
            score += 1
        elif off is not None and off.availability is not None:
            score += 0.5
        rank = (score, -item.order)
        if best is None or rank > best:
            best = rank
            chosen = (item, off, why)
    return chosen


# --------------------------------------------------------------------------------------------
# Page helpers
# --------------------------------------------------------------------------------------------


def _text(node: LexborNode | None, sep: str = "") -> str:
    if node is None:
        return ""
    try:
        return node.text(deep=True, separator=sep, strip=False) or ""
    except Exception:
        return ""


def _attr(node: LexborNode, name: str) -> str | None:
    v = _attrs(node).get(name)
    return v if isinstance(v, str) else None


def _attrs(node: LexborNode) -> dict[str, str | None]:
    """Every attribute of ``node`` (a valueless one maps to None): one read where several
    attributes of the same element are wanted."""
    try:
        return node.attributes
    except Exception:
        return {}


def _css(node: LexborHTMLParser | LexborNode | None, sel: str) -> list[LexborNode]:
    if node is None:
        return []
    try:
        return list(node.css(sel))
    except Exception:
        return []


def _css_first(node: LexborHTMLParser | LexborNode | None, sel: str) -> LexborNode | None:
    if node is None:
        return None
    try:
        return node.css_first(sel)
    except Exception:
        return None


def _remove(node: LexborNode) -> None:
    """Take ``node``, and all it holds, out of the page: only its link to its parent is cut.
    (The default ``decompose()`` unlinks every element inside it one by one, 2 ms for the
    7,000 links of a hidden mega-menu on a 1 MB page; the memory goes with the tree in
    both cases.)"""
    node.decompose(recursive=False)


@functools.lru_cache(maxsize=256)
def _split_selectors(sel: str) -> tuple[str, ...]:
    """A selector list split at its top-level commas (rule sets are few: kept)."""
    parts: list[str] = []
    depth = 0
    quote = ""
    cur: list[str] = []
    for ch in sel:
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == "," and depth <= 0:
            parts.append("".join(cur).strip())
            cur = []
            continue
        cur.append(ch)
    parts.append("".join(cur).strip())
    return tuple(p for p in parts if p)


def _ancestors(node: LexborNode, limit: int = 60) -> Iterator[LexborNode]:
    cur = node.parent
    n = 0
    while cur is not None and n < limit:
        if cur.tag in {"html", "-undef", "#document"}:
            return
        yield cur
        cur = cur.parent
        n += 1


def _class_id(node: LexborNode, attrs: Mapping[str, str | None] | None = None) -> str:
    """``node``'s class and id (from ``attrs``, its attributes, when already read)."""
    attrs = _attrs(node) if attrs is None else attrs
    return f"{attrs.get('class') or ''} {attrs.get('id') or ''}"


_NOISE_TAGS = frozenset({"nav", "footer", "aside"})
_STRIKE_TAGS = frozenset({"del", "s", "strike"})


def _is_noise(node: LexborNode, h1: LexborNode | None) -> bool:
    for anc in [node, *_ancestors(node)]:
        tag = anc.tag
        if tag in {"body", "main"}:
            return False
        if tag in _NOISE_TAGS:
            return True
        if _names_other_products(_class_id(anc)):
            return True
    return False


@functools.lru_cache(maxsize=8192)
def _label_says(pattern: re.Pattern[str], label: str) -> bool:
    """Whether an element's class and id (and labels) match ``pattern``. Cached: a shop's
    pages repeat the same few hundred class names, and the patterns are long (an
    ancestor climb tests a dozen labels per price or button)."""
    return bool(label.strip()) and pattern.search(label) is not None


def _names_other_products(label: str) -> bool:
    """Whether a label names a block about other products (see ``_label_says``)."""
    return _label_says(_NOISE_RE, label)


def _is_old_price(node: LexborNode) -> bool:
    for i, anc in enumerate([node, *_ancestors(node, 4)]):
        if anc.tag in _STRIKE_TAGS:
            return True
        attrs = _attrs(anc)
        ci = _class_id(anc, attrs)
        if i <= 2 and _label_says(_OLD_PRICE_RE, ci):
            return True
        style = attrs.get("style")
        if style and "line-through" in style:
            return True
    return False


# --------------------------------------------------------------------------------------------
# Extraction
# --------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Found:
    price: Decimal | None = None
    currency: str | None = None
    availability: Availability | None = None
    title: str | None = None
    method: str | None = None
    notes: list[str] = field(default_factory=list)


_BLOCK_LABEL_ATTRS = ("data-testid", "data-test", "aria-label")


def _in_other_product_block(node: LexborNode) -> bool:
    """Inside a block about other products (related, sponsored, carousels...), judged by
    class / id and by test hooks and labels (``data-testid="carousel-container"``,
    ``aria-label="Similar items you might like"``)."""
    for anc in [node, *_ancestors(node)]:
        tag = anc.tag
        if tag in {"body", "main"}:
            return False
        if tag in _NOISE_TAGS:
            return True
        attrs = _attrs(anc)
        if not attrs:
            continue
        if isinstance(attrs.get("data-a-carousel-options"), str):
            return True
        bits = [_class_id(anc, attrs)]
        bits += [attrs.get(a) or "" for a in _BLOCK_LABEL_ATTRS]
        if _labels_name_other_products(" ".join(bits)):
            return True
    return False


_LABEL_GAPS_RE = re.compile(r"[\s/@]+")


@functools.lru_cache(maxsize=4096)
def _labels_name_other_products(labels: str) -> bool:
    """``_names_other_products`` of class, id, test hooks and labels joined by spaces,
    their gaps read as hyphens ("Similar items" as "similar-items")."""
    return _names_other_products(_LABEL_GAPS_RE.sub("-", labels.strip()))


def _rule_price_nodes(tree: LexborHTMLParser, sel: str, *, builtin: bool) -> Iterator[LexborNode]:
    """Nodes a price selector matches, the main product's own first: a struck / "was" price
    comes after the others, a node in a block about other products is dropped (built-in rule
    sets) or tried last (the caller's own rules).

    The first match, when it is the product's own, comes before the others are looked for:
    ``css_first`` stops at it, and a reader that finds its price there asks for no more (on
    a page of 15,000 elements, a whole walk costs 1.5 ms)."""
    first = _css_first(tree, sel)
    if first is None:
        return
    lead = not _in_other_product_block(first) and not _is_old_price(first)
    if lead:
        yield first
    own: list[LexborNode] = []
    old: list[LexborNode] = []
    other: list[LexborNode] = []
    for node in _css(tree, sel)[:40]:
        if _in_other_product_block(node):
            other.append(node)
        elif _is_old_price(node):
            old.append(node)
        else:
            own.append(node)
    ordered = (own + old + ([] if builtin else other))[:20]
    if lead and ordered and ordered[0].mem_id == first.mem_id:
        ordered = ordered[1:]
    yield from ordered


def _rule_availability_node(
    tree: LexborHTMLParser, sel: str, *, builtin: bool
) -> LexborNode | None:
    """The first element an availability selector matches outside blocks about other products
    (a recommendation card's "Add to basket" button says nothing of this product); the
    caller's own rules fall back to the first match. (The first match alone is found
    first: ``css_first`` stops there, where a whole walk of a big page costs milliseconds.)"""
    first = _css_first(tree, sel)
    if first is None or not _in_other_product_block(first):
        return first
    nodes = _css(tree, sel)[:40]
    for node in nodes:
        if not _in_other_product_block(node):
            return node
    return None if builtin or not nodes else nodes[0]


def _apply_rules(
    tree: LexborHTMLParser, rules: SiteRules, ctx: _Ctx, *, builtin: bool = False
) -> _Found:
    found = _Found()
    if rules.price:
        for sel in _split_selectors(rules.price):
            for node in _rule_price_nodes(tree, sel, builtin=builtin):
                content = (
                    _attr(node, "content")
                    or _attr(node, "data-price-amount")
                    or _attr(node, "data-price")
                    or ""
                )
                for text in (content, _text(node)):
                    if not text.strip():
                        continue
                    price, cur = _parse_visible_price(text, ctx)
                    if price is None:
                        continue
                    if found.price is None:
                        found.price, found.currency = price, cur
                        if re.fullmatch(r"\s*\d+(?:\.\d+)?\s*", content):
                            # a machine number attribute: the text shows the currency and
                            # the decimals (Magento's data-price-amount="1299" / "17.6")
                            continue
                    elif price == found.price:
                        found.price, found.currency = price, found.currency or cur
                    break
                if found.price is not None:
                    break
            if found.price is not None:
                break
    if rules.availability:
        for sel in _split_selectors(rules.availability):
            anode = _rule_availability_node(tree, sel, builtin=builtin)
            if anode is None:
                continue
            found.availability = _availability_from_node(anode, rules.availability_map)
            if found.availability is not None:
                break
    if rules.title:
        tnode = _css_first(tree, rules.title)
        t = " ".join(_text(tnode, " ").split())
        found.title = t or None
    if found.currency is None and rules.currency:
        found.currency = _iso(rules.currency)
    return found


def _availability_from_node(
    node: LexborNode, amap: Mapping[str, Availability]
) -> Availability | None:
    text = " ".join(_text(node, " ").split()).lower()
    if node.tag in {"button", "input"} or _attr(node, "role") == "button":
        label = f"{text} {_attr(node, 'value') or ''} {_attr(node, 'aria-label') or ''}".lower()
        disabled = (
            _attr(node, "disabled") is not None
            or "disabled" in (node.attributes or {})
            or (_attr(node, "aria-disabled") or "").strip().lower() == "true"
            or any(
                c == "disabled" or c.endswith("-disabled")
                for c in (_attr(node, "class") or "").lower().split()
            )
        )
    else:
        label, disabled = text, False
    for key in sorted(amap, key=len, reverse=True):
        if key and key in label:
            found = amap[key]
            if disabled and found.purchasable:
                return Availability.OutOfStock  # a disabled "Add to cart" button
            return found
    for attr in ("href", "content", "value", "data-availability"):
        v = _attr(node, attr)
        a = normalize_availability(v) if v else None
        if a is not None:
            return a
    a = normalize_availability(text)
    if a is not None:
        return a
    if text:
        return _availability_from_text(text)
    return None


def _availability_from_text(text: str) -> Availability | None:
    low = text.lower()
    for phrase in _OOS_PHRASES:
        if phrase in low:
            return Availability.OutOfStock
    for phrase in _INSTOCK_PHRASES:
        if phrase in low:
            return Availability.InStock
    return None


def _jsonld(scripts: Sequence[LexborNode], ctx: _Ctx, page: _Page) -> _Found:
    found = _Found()
    values: list[Any] = []
    for script in scripts[:50]:
        raw = _text(script)
        if len(raw) > 2_000_000:
            continue
        data = _load_json(raw)
        if data is None:
            if raw.strip():
                found.notes.append("unreadable JSON-LD")
            continue
        values.append(data)
    if not values:
        return found
    products, loose = _walk_jsonld(values)
    item, off, _why = _pick_product(products, ctx, page)
    if item is not None:
        name = _get(item.node, "name")
        if isinstance(name, str) and name.strip():
            found.title = " ".join(name.split())[:300]
    if off is None or off.price is None:
        # free-standing Offer nodes (some shops emit the offer next to the product)
        vals: list[_OfferVal] = []
        for it in loose:
            if not it.related:
                vals.extend(_offer_values(it.node, ctx, None))
        if vals:
            off2, _ = _choose_offer(vals, ctx)
            if off2 is not None and (off is None or off2.price is not None):
                off = _OfferVal(
                    off2.price,
                    off2.currency,
                    off2.availability or (off.availability if off else None),
                    off2.keys,
                )
    if off is not None:
        found.price, found.currency, found.availability = off.price, off.currency, off.availability
        if off.price is not None:
            found.method = "json-ld"
    return found


def _scope_of(node: LexborNode) -> LexborNode | None:
    for anc in _ancestors(node, 30):
        if _attr(anc, "itemscope") is not None or "itemscope" in (anc.attributes or {}):
            return anc
    return None


def _microdata(items: _Items, ctx: _Ctx, h1: LexborNode | None) -> _Found:
    found = _Found()
    nodes, avails, currencies = items.price[:200], items.availability, items.currency
    if not nodes:
        if avails:
            found.availability = _microdata_availability(avails[0])
        return found
    candidates: list[tuple[int, Decimal, str | None, LexborNode]] = []
    for node in nodes:
        content = _attr(node, "content")
        price: Decimal | None = None
        cur: str | None = None
        if content is not None and content.strip():
            price = _structured_price(content, None)
            if price is None:
                price, cur = _parse_visible_price(content, ctx)
        else:
            price, cur = _parse_visible_price(_text(node), ctx)
        if price is None:
            continue
        candidates.append((0 if content is not None else 1, price, cur, node))
    if not candidates:
        return found
    candidates.sort(key=lambda c: c[0])  # stable: document order within a rank
    chosen: tuple[Decimal, str | None, LexborNode] | None = None
    fallback: tuple[Decimal, str | None, LexborNode] | None = None
    for _rank, price, cur, node in candidates[:40]:
        if _is_noise(node, h1):
            continue
        if _is_old_price(node):
            fallback = fallback or (price, cur, node)
            continue
        chosen = (price, cur, node)
        break
    chosen = chosen or fallback
    if chosen is None:
        found.notes.append("microdata price only in related products")
        return found
    price, cur, node = chosen
    scope = _scope_of(node)
    cur_node = _css_first(scope, '[itemprop~="priceCurrency"]') if scope is not None else None
    if cur_node is None and currencies:
        cur_node = currencies[0]
    if cur_node is not None:
        c = _attr(cur_node, "content") or _text(cur_node).strip()
        cur = _iso(c) or _currency_from_symbol(c, ctx) or cur
    avail_node = _css_first(scope, '[itemprop~="availability"]') if scope is not None else None
    if avail_node is None and avails:
        avail_node = avails[0]
    if avail_node is not None:
        found.availability = _microdata_availability(avail_node)
    found.price, found.currency, found.method = price, cur, "microdata"
    return found


def _microdata_availability(node: LexborNode) -> Availability | None:
    for attr in ("href", "content", "value"):
        v = _attr(node, attr)
        if v:
            a = normalize_availability(v)
            if a is not None:
                return a
    text = " ".join(_text(node, " ").split())
    return normalize_availability(text) or (
        _availability_from_text(text) if len(text) < 80 else None
    )


@dataclass(slots=True)
class _Head:
    """meta / link / title read in one pass over the tree."""

    metas: dict[str, str] = field(default_factory=dict)
    title: str | None = None
    canonical: str | None = None

    def get(self, *names: str) -> str | None:
        for name in names:
            v = self.metas.get(name)
            if v:
                return v
        return None


def _read_head(nodes: Sequence[LexborNode]) -> _Head:
    """The page's meta, link and title elements read into one lookup."""
    head = _Head()
    for node in nodes[:5000]:
        tag = node.tag
        if tag == "meta":
            attrs = _attrs(node)
            content = attrs.get("content")
            if not isinstance(content, str) or not content.strip():
                continue
            for attr in ("property", "name", "itemprop"):
                key = attrs.get(attr)
                if isinstance(key, str) and key:
                    head.metas.setdefault(key.strip().lower(), content.strip())
        elif tag == "link":
            if head.canonical is None and (_attr(node, "rel") or "").lower() == "canonical":
                head.canonical = _attr(node, "href")
        elif tag == "title" and head.title is None:
            head.title = " ".join(_text(node).split()) or None
    return head


def _meta(head: _Head, ctx: _Ctx) -> _Found:
    found = _Found()
    cur_raw = head.get("product:price:currency", "og:price:currency")
    cur = _iso(cur_raw) or _currency_from_symbol(cur_raw, ctx)
    amount = head.get("product:price:amount", "og:price:amount", "product:sale_price:amount")
    if amount:
        price = _structured_price(amount, cur)
        if price is not None:
            found.price, found.currency, found.method = price, cur, "meta"
    avail = head.get("product:availability", "og:availability")
    if avail:
        found.availability = normalize_availability(avail)
    return found


def _heuristic_price(
    body: LexborNode | None,
    h1: LexborNode | None,
    ctx: _Ctx,
    page_paths: frozenset[str] = frozenset(),
) -> tuple[Decimal | None, str | None]:
    """The price nearest the product heading in visible text."""
    if body is None:
        return None, None
    scopes: list[LexborNode] = []
    if h1 is not None:
        scopes.extend(list(_ancestors(h1, 10)))
    scopes.append(body)
    seen_scope_text = 0
    for scope in scopes:
        if scope is not body:
            seen_scope_text = len(_text(scope))
            if seen_scope_text > 60_000:
                scope = body
        best = _price_in_scope(scope, h1, ctx, page_paths)
        if best[0] is not None:
            return best
        if scope is body:
            break
    return None, None


def _foreign_link(
    node: LexborNode, page_paths: frozenset[str], base_url: str | None
) -> LexborNode | None:
    """The link around ``node`` to another page (a product card, "other sellers from"), if any."""
    for anc in [node, *_ancestors(node, 8)]:
        if anc.tag in {"body", "main"}:
            return None
        if anc.tag != "a":
            continue
        href = (_attr(anc, "href") or "").strip()
        if not href or href.startswith("#") or href.lower().startswith("javascript:"):
            return None
        try:
            path = _url_path(urljoin(base_url, href) if base_url else href)
        except ValueError:
            return None
        if not path or path in page_paths:
            return None
        return anc
    return None


def _price_in_scope(
    scope: LexborNode, h1: LexborNode | None, ctx: _Ctx, page_paths: frozenset[str]
) -> tuple[Decimal | None, str | None]:
    nodes = _css(scope, _PRICE_SEL)[:400]
    foreign: dict[int, LexborNode] = {}
    for node in nodes:
        if node.tag in {"script", "style", "meta", "link", "input", "select", "option", "body"}:
            continue
        text = _text(node)
        if not text.strip() or len(text) > 80:
            continue
        # innermost: skip a container holding another price-like element with a price
        inner = [c for c in _css(node, _PRICE_SEL)[:10] if c.mem_id != node.mem_id]
        if any(_money_in(_text(c), ctx)[0] is not None for c in inner):
            continue
        if _BAD_PRICE_TEXT.search(text) or _is_old_price(node) or _is_noise(node, h1):
            continue
        link = _foreign_link(node, page_paths, ctx.url)
        if link is not None:
            foreign[link.mem_id] = link
            continue
        price, cur = _money_in(text, ctx)
        if price is not None:
            return price, cur
    # currency-marked amounts in the scope's text (small pages, unlabelled prices), without
    # the cards of other products seen above
    for link in foreign.values():
        _remove(link)
    text = _text(scope, " ")
    if len(text) > 20_000:
        return None, None
    for m in _MONEY_RE.finditer(text):
        start = max(0, m.start() - 12)
        around = text[start : m.end() + 10]
        if _BAD_PRICE_TEXT.search(around):
            continue
        sym = m.group("pre") or m.group("post")
        num = m.group("n1") or m.group("n2")
        cur = _currency_from_symbol(sym, ctx)
        price = _to_decimal(num, cur)
        if price is not None:
            return price, cur
    return None, None


def _money_in(text: str, ctx: _Ctx) -> tuple[Decimal | None, str | None]:
    """A price in an element's text: needs a currency mark or a price-like decimal number."""
    clean = " ".join(text.split())
    if not clean or not re.search(r"\d", clean):
        return None, None
    m = _MONEY_RE.search(clean)
    if m:
        sym = m.group("pre") or m.group("post")
        cur = _currency_from_symbol(sym, ctx)
        price = _to_decimal(m.group("n1") or m.group("n2"), cur)
        if price is not None:
            return price, cur
    price, cur = _parse_visible_price(clean, ctx)
    if price is None:
        return None, None
    # a bare number counts only when it looks like money ("12.99", "1.299,00")
    if cur is None and not re.search(r"\d[.,]\d{2}\b", clean):
        return None, None
    return price, cur


def _drop_noise(scope: LexborNode, h1: LexborNode | None) -> bool:
    keep = ({a.mem_id for a in _ancestors(h1)} | {h1.mem_id}) if h1 is not None else set()
    drop: list[LexborNode] = []
    for node in _css(scope, _NOISE_SEL)[:500]:
        if node.mem_id in keep or node.mem_id == scope.mem_id:
            continue
        if node.tag in {"body", "html", "main"}:
            continue
        if (
            node.tag in _NOISE_TAGS
            or node.tag == "header"
            or _names_other_products(_class_id(node))
            or _attr(node, "data-a-carousel-options") is not None
        ):
            drop.append(node)
    for node in drop:
        _remove(node)
    return bool(drop)


def _drop_unseen(body: LexborNode, h1: LexborNode | None) -> bool:
    """Remove visually hidden text and state badges that CSS shows only in that state.

    Dawn renders ``<span class="badge price__badge-sold-out">Sold out</span>`` on every
    product page and shows it only inside ``.price--sold-out``: a badge whose class names a
    sold-out state counts only when an ancestor carries such a state too.
    """
    keep = ({a.mem_id for a in _ancestors(h1)} | {h1.mem_id}) if h1 is not None else set()
    drop: list[LexborNode] = []
    for node in _css(body, _A11Y_HIDDEN_SEL)[:1000]:
        if node.mem_id not in keep and node.tag not in {"body", "html", "main"}:
            drop.append(node)
    for node in _css(body, _STATE_BADGE_SEL)[:200]:
        if node.mem_id in keep or not _OOS_STATE_RE.search(_attr(node, "class") or ""):
            continue
        if not any(_OOS_STATE_RE.search(_class_id(a)) for a in _ancestors(node, 6)):
            drop.append(node)
    for node in drop:
        _remove(node)
    return bool(drop)


def _block_around(h1: LexborNode) -> tuple[LexborNode, str]:
    """The block around the h1 that holds the product (about 6,000 characters), and its text.

    It is found on the page as served, with one exception: where the climb would stop at a
    block too long, that block's children a reader does not see (a hidden mega-menu or cart
    drawer beside the product) are removed first and its text measured again. (Elements
    inside them, an h1 of a ``_Scan`` among them, are gone: none is read after this.)
    """
    region = h1
    region_text = _text(h1, "\n")
    for anc in _ancestors(h1, 12):
        t = _text(anc, "\n")
        if len(t) > 6000 and _drop_unseen_children(anc):
            t = _text(anc, "\n")
        if len(t) > 6000 and len(region_text) > 200:
            break
        region, region_text = anc, t
        if len(t) > 6000:
            break
    return region, region_text


_MANY_CHILDREN = 200  # beyond this, one walk of the selectors costs less than a test each


def _drop_unseen_children(node: LexborNode) -> bool:
    """Remove the children of ``node`` that a reader does not see; whether there were any.

    Each child is tested (``_is_unseen``, about 1 µs); a flat page's body, with thousands
    of children, is searched with the selectors instead (``_hidden_in``).
    """
    children = list(itertools.islice(node.iter(), _MANY_CHILDREN + 1))
    if len(children) > _MANY_CHILDREN:
        unseen = [n for n in _hidden_in(node) if (p := n.parent) and p.mem_id == node.mem_id]
    else:
        unseen = [child for child in children if _is_unseen(child)]
    for child in unseen:
        _remove(child)
    return bool(unseen)


def _may_say_sold_out(region: LexborNode, text: str) -> bool:
    """Whether the main product area (``region``, uncleaned, and its ``text``) has
    out-of-stock wording anywhere: in its text, or in one of its buttons' labels.

    Without any, its cleaned version (see ``_main_region``) has no strong signal: cleaning
    only removes elements from this same area (it is not looked for again), and a
    stock-status line must be one of the area's own lines. Structured availability then
    stands, and the area needs no cleaning or reading.
    """
    low = text.lower()
    if any(phrase in low for phrase in _OOS_PHRASES):
        return True
    for node in _css(region, _BUTTON_SEL):
        label = " ".join(_button_text(node).lower().split())
        if any(phrase in label for phrase in _OOS_PHRASES):
            return True
    return False


def _main_region(
    body: LexborNode | None, h1: LexborNode | None, around: tuple[LexborNode, str] | None
) -> tuple[str, LexborNode | None]:
    """Visible text of the main product area: the block around the h1 (``around``, when
    already found) or the body."""
    if body is None:
        return "", None
    if h1 is None:
        if len(_text(body)) < 50_000:
            _drop_noise(body, None)
            _drop_unseen(body, None)
        text = _text(body, "\n")
        return text[:20_000], body
    region, region_text = around if around is not None else _block_around(h1)
    # blocks about other things (site header and footer, related products) do not count, nor
    # text a reader does not see (screen-reader labels, state badges CSS shows in that state)
    dropped = _drop_noise(region, h1)
    if _drop_unseen(region, h1) or dropped:
        region_text = _text(region, "\n")
    # start at the heading: text before it belongs to navigation and breadcrumbs
    h1_text = _text(h1, "\n").strip()
    idx = region_text.find(h1_text) if h1_text else -1
    if idx > 0:
        region_text = region_text[idx:]
    return region_text[:8000], region


_CHANNEL_RE = re.compile(
    r"pick ?up|collect|in[- ]store|store|shop|deliver|shipping|ship to|tienda|retiro|despacho|"
    r"envío|envio|entrega|retirada|frete|lieferung|abholung|filiale|markt|livraison|retrait|"
    r"magasin|consegna|ritiro|negozio|bezorg|afhalen|winkel|levering|odbiór|dostawa|salon|"
    r"butik|hämta|leverans|nouto|toimitus|配送|店舗|門市|到店|宅配|自取|доставка|самовывоз|"
    r"магазин|توصيل"
)


@dataclass(slots=True)
class _RegionSignals:
    """What the main product area says about availability, by strength."""

    strong: Availability | None = None  # a stock-status element or a sold-out buy button
    wording: Availability | None = None  # out-of-stock wording in a short line
    weak: Availability | None = None  # in-stock wording, buttons, delivery estimates
    why: str = ""


def _oos_line(lines: list[str], *, strict: bool, among: frozenset[str] | None = None) -> str | None:
    """The first short line with out-of-stock wording about the product itself.

    Long lines are prose ("if no price is shown, the item is out of stock"), and a line right
    after a fulfilment channel ("Store pickup: not available") speaks of that channel only;
    ``strict`` ignores channel lines even for unambiguous wording ("Out of stock in store").
    ``among``: only these lines count (the others are context).
    """
    for i, line in enumerate(lines):
        low = line.lower()
        if len(low) > 120 or (among is not None and line not in among):
            continue
        for phrase in _OOS_PHRASES:
            if phrase in low:
                context = " ".join(lines[max(0, i - 2) : i]).lower() + " " + low
                if _CHANNEL_RE.search(context) and (strict or phrase not in _UNAMBIGUOUS_OOS):
                    continue
                return line
    return None


def _split_lines(text: str) -> list[str]:
    return [ln for ln in (raw.strip() for raw in text.split("\n")) if ln]


def _status_element_oos(region: LexborNode | None) -> str | None:
    """Out-of-stock wording inside a stock-status element ("availability", "stock" ...)."""
    if region is None:
        return None
    for node in _css(region, _STATUS_SEL)[:60]:
        if node.tag in {"body", "html", "main", "form", "input", "select", "option", "button"}:
            continue
        text = _text(node, "\n")
        if not text.strip() or len(text) > 400:
            continue  # a wrapper (Woo's "product instock" div), not a status line
        ancestors = list(_ancestors(node, 3))
        if any(_NOT_STATUS_RE.search(_class_id(a)) for a in [node, *ancestors]):
            continue
        # read it with the lines just before it: "Store pickup" + "Not available"
        context = text
        for anc in ancestors[:2]:
            t = _text(anc, "\n")
            if len(t) > 400:
                break
            context = t
        line = _oos_line(_split_lines(context), strict=True, among=frozenset(_split_lines(text)))
        if line is not None:
            return line
    return None


def _region_availability(region_text: str, region: LexborNode | None) -> _RegionSignals:
    """Availability signals of the main product area (see the module docstring)."""
    out = _RegionSignals()
    lines = _split_lines(region_text)
    button_state, button_oos = _cart_button_state(region)
    status_line = _status_element_oos(region)
    if status_line is not None:
        out.strong, out.why = Availability.OutOfStock, f"stock status {status_line[:60]!r}"
    elif button_oos is not None:
        out.strong, out.why = Availability.OutOfStock, f"disabled button {button_oos[:40]!r}"
    line = _oos_line(lines, strict=False)
    if line is not None:
        out.wording = Availability.OutOfStock
        out.why = out.why or f"text {line[:60]!r}"
    low_all = "\n".join(lines).lower()
    weak: Availability | None = None
    why = ""
    for phrase in _INSTOCK_PHRASES:
        if phrase in low_all:
            if button_state == "disabled" and _ADD_TO_CART_RE.search(phrase):
                continue  # the label of the disabled button itself
            weak, why = Availability.InStock, f"text {phrase!r}"
            break
    if weak is None:
        for ln in lines:
            low = ln.lower()
            if len(low) <= 40 and _INSTOCK_SHORT.match(low):
                weak, why = Availability.InStock, f"text {ln!r}"
                break
    if button_state == "enabled" and weak is None:
        weak, why = Availability.InStock, "add-to-cart button"
    elif button_state == "disabled" and weak is None:
        weak, why = Availability.OutOfStock, "disabled add-to-cart button"
    if weak is None and _DELIVERY_RE.search(low_all):
        weak, why = Availability.InStock, "delivery estimate"
    out.weak = weak
    out.why = out.why or why
    return out


_UNAMBIGUOUS_OOS = frozenset(
    {"out of stock", "sold out", "ausverkauft", "rupture de stock", "agotado", "esaurito",
     "uitverkocht", "esgotado", "slutsåld", "udsolgt", "utsolgt", "loppuunmyyty", "vyprodáno",
     "vypredané", "razprodano", "elfogyott", "tükendi", "在庫切れ", "売り切れ", "品切れ",
     "缺貨", "缺货", "售罄", "품절", "нет в наличии", "распродано"}
)  # fmt: skip

_PURCHASE_ATTR_RE = re.compile(r"add|submit|buy|cart|basket|bag|purchase|checkout", re.I)


def _button_text(node: LexborNode) -> str:
    """What a button says: its text, then its ``value`` and ``aria-label``."""
    return " ".join([_text(node, " "), _attr(node, "value") or "", _attr(node, "aria-label") or ""])


def _cart_button_state(region: LexborNode | None) -> tuple[str | None, str | None]:
    """("enabled" / "disabled" / None for add-to-cart buttons, the label of a disabled
    purchase button that says the product is sold out or None)."""
    if region is None:
        return None, None
    state: str | None = None
    oos_label: str | None = None
    for node in _css(region, _BUTTON_SEL)[:80]:
        text = _button_text(node)
        attrs = " ".join(
            [_attr(node, "name") or "", _class_id(node), _attr(node, "data-testid") or ""]
        )
        is_cart = bool(_ADD_TO_CART_RE.search(text + " " + attrs))
        disabled = (
            _attr(node, "disabled") is not None
            or "disabled" in (node.attributes or {})
            or (_attr(node, "aria-disabled") or "").lower() == "true"
            or bool(re.search(r"\bdisabled\b|is-disabled", _attr(node, "class") or ""))
        )
        if disabled and oos_label is None:
            label = " ".join(text.split())
            low = label.lower()
            if (
                0 < len(low) <= 60
                and any(phrase in low for phrase in _OOS_PHRASES)
                and (is_cart or (_is_submit(node) and bool(_PURCHASE_ATTR_RE.search(attrs))))
            ):
                oos_label = label
        if not is_cart:
            continue
        if not disabled:
            return "enabled", oos_label
        state = "disabled"
    return state, oos_label


def _is_submit(node: LexborNode) -> bool:
    """A button that submits a form (a purchase form's button, not a variant pill)."""
    kind = (_attr(node, "type") or "").lower()
    if node.tag == "input":
        return kind == "submit"
    if node.tag != "button" or kind not in {"", "submit"}:
        return False
    return any(anc.tag == "form" for anc in _ancestors(node, 12))


_SOFT_404 = re.compile(
    # "404" alone is a model number as often as an error ("SMSL Model 404"): only at the
    # start of the title or heading, or with "error" / "not found" / "page" beside it
    r"^\W*404\b|\b404\s*(?:error|not found|page)|\berror\s*(?:code\s*)?:?\s*404\b"
    r"|page not found|not be found|product not found|page (?:does not|doesn't) exist"
    r"|we couldn.t find (?:that|this|the) page|seite (?:wurde )?nicht gefunden"
    r"|page (?:est )?introuvable|p[aá]gina no encontrada|pagina non trovata"
    r"|pagina niet gevonden|p[aá]gina n[aã]o encontrada|nie znaleziono strony"
    r"|strona nie (?:zosta[lł]a )?znaleziona|sidan (?:kunde inte hittas|hittades inte)"
    r"|ページが見つかりません|页面不存在|找不到页面",
    re.IGNORECASE,
)


def _soft_404(title: str, h1: str) -> str | None:
    """The title or main heading of a "not found" page answered with 200, if it is one."""
    for text in (title, h1):
        text = " ".join(text.split())
        if text and len(text) <= 120 and _SOFT_404.search(text):
            return text[:80]
    return None


def _blocked_reason(html: str, title: str, body: LexborNode | None) -> str | None:
    """A captcha / challenge / access-denied page: a telling title, or a challenge marker on
    a page with little visible text (a shop page that merely loads a captcha script is not)."""
    t = title.strip().lower()
    visible: int | None = None

    def visible_len() -> int:
        nonlocal visible
        if visible is None:
            visible = len(" ".join(_text(body, " ").split())) if body is not None else 0
        return visible

    for marker in _BLOCK_TITLES:
        if marker in t and (t.startswith(marker) or visible_len() < 5000):
            return f"bot protection page (title {title.strip()[:60]!r})"
    if len(html) > 250_000:  # challenge pages are small; a big page is a real one
        return None
    for common, markers in _block_searches():
        if common is not None and common not in html:
            continue
        for marker in markers:
            if marker in html and visible_len() < 2500:
                return f"bot protection page (marker {marker!r})"
    return None


@functools.cache
def _block_searches() -> tuple[tuple[str | None, tuple[str, ...]], ...]:
    """How to search a page for each group of ``_BLOCK_MARKERS`` (see ``_marker_search``),
    worked out once."""
    return tuple(_marker_search(group) for group in _BLOCK_MARKERS)


def _first_h1(candidates: Iterable[LexborNode]) -> LexborNode | None:
    """The first of the page's first ten h1 elements that has text and is not noise."""
    for node in itertools.islice(candidates, 10):
        if _text(node).strip() and not _is_noise(node, None):
            return node
    return None


def _visible_h1(first: LexborNode | None, scan: _Scan) -> LexborNode | None:
    """The product's heading among the visible h1 elements of ``scan`` (see ``_first_h1``),
    where ``first`` was the heading among all of them before ``scan.drop_strip()``.

    When ``first`` is still there, still has text and is visible, it is the answer: the
    elements before it were passed over for no text or for noise, and neither changes when
    elements are stripped (text only shrinks; noise is read from ancestors, which stay).
    """
    if (
        first is not None
        and any(n.mem_id == first.mem_id for n in scan.h1)
        and _text(first).strip()
        and not _in_unseen(first)
    ):
        return first
    return _first_h1(n for n in scan.h1 if not _in_unseen(n))


def _is_unseen(node: LexborNode) -> bool:
    """Whether a reader does not see ``node``: what ``_HIDDEN_SEL`` and ``_HIDDEN_STYLE_RE``
    find, tested on one element (never the body or the root)."""
    tag = node.tag
    if tag in _HIDDEN_TAGS:
        return True
    if tag in {"body", "html"}:
        return False
    attrs = _attrs(node)
    if tag == "dialog" and "open" not in attrs:
        return True
    if not attrs:
        return False
    if "hidden" in attrs or attrs.get("role") == "dialog":
        return True
    style = attrs.get("style")
    if style and _HIDDEN_STYLE_RE.search(style):
        return True
    cls = attrs.get("class")
    if cls:
        names = set(_ASCII_WS_RE.split(cls))
        if names & _HIDDEN_CLASSES or ("modal" in names and not names & _MODAL_SHOWN_CLASSES):
            return True
    return False


def _in_unseen(node: LexborNode) -> bool:
    """Whether ``node`` or one of its ancestors is an element a reader does not see."""
    return _is_unseen(node) or any(_is_unseen(a) for a in _ancestors(node, 10_000))


def _hidden_in(root: LexborNode | None) -> list[LexborNode]:
    """The elements a reader does not see inside ``root``: what ``_HIDDEN_SEL`` and
    ``_HIDDEN_STYLE_RE`` find (each selector costs a walk of ``root``'s subtree)."""
    hidden = _css(root, _HIDDEN_SEL)[:2000]
    hidden += (n for n in _css(root, "[style]") if _HIDDEN_STYLE_RE.search(_attr(n, "style") or ""))
    return [n for n in hidden if n.tag not in {"body", "html"}]


def _drop_hidden(body: LexborNode | None, scan: _Scan) -> LexborNode | None:
    """Remove the elements a reader does not see from ``body`` (and their h1 elements from
    ``scan``); return the product's heading among the h1 elements left.

    This walks the whole page, so it runs only when the whole page's text is read (no price
    or no heading); the product area alone is cleaned by ``_unseen_removed``, and until then
    ``_in_unseen`` tells whether one element is visible.
    """
    hidden = _hidden_in(body)
    if hidden:
        gone = {n.mem_id for n in hidden}
        scan.h1 = [n for n in scan.h1 if not _inside(n, gone)]
        for node in hidden:
            _remove(node)
    return _first_h1(scan.h1)


def _unseen_removed(area: tuple[LexborNode, str]) -> tuple[LexborNode, str]:
    """The product area (see ``_block_around``) and its text without the elements inside it
    that a reader does not see (removed from the page)."""
    region = area[0]
    hidden = _hidden_in(region)
    for node in hidden:
        _remove(node)
    return (region, _text(region, "\n")) if hidden else area


def _inside(node: LexborNode, ids: set[int]) -> bool:
    """Whether ``node`` or one of its ancestors is one of the elements ``ids`` names."""
    return node.mem_id in ids or any(a.mem_id in ids for a in _ancestors(node, 10_000))


@dataclass(slots=True)
class _Items:
    """The microdata properties read (``itemprop``), in document order."""

    price: list[LexborNode] = field(default_factory=list)  # price, lowPrice
    availability: list[LexborNode] = field(default_factory=list)
    currency: list[LexborNode] = field(default_factory=list)  # priceCurrency

    def add(self, node: LexborNode, itemprop: str) -> None:
        props = itemprop.split()
        if "price" in props or "lowPrice" in props:
            self.price.append(node)
        if "availability" in props:
            self.availability.append(node)
        if "priceCurrency" in props:
            self.currency.append(node)

    def outside(self, ids: set[int]) -> None:
        """Forget the properties that are, or are inside, the elements ``ids`` names
        (about to be removed)."""
        for nodes in (self.price, self.availability, self.currency):
            nodes[:] = [n for n in nodes if not _inside(n, ids)]


@dataclass(slots=True)
class _Scan:
    """The elements the first steps read, found in one walk of the document."""

    head: list[LexborNode] = field(default_factory=list)  # meta, link, title
    h1: list[LexborNode] = field(default_factory=list)
    jsonld: list[LexborNode] = field(default_factory=list)  # script[type*="ld+json" i]
    strip: list[LexborNode] = field(default_factory=list)  # never visible: removed after
    items: _Items = field(default_factory=_Items)

    @classmethod
    def of(cls, tree: LexborHTMLParser) -> _Scan:
        scan = cls()
        for node in _css(tree, _SCAN_SEL):
            tag = node.tag
            attrs = _attrs(node)
            itemprop = attrs.get("itemprop")
            if itemprop:
                scan.items.add(node, itemprop)
            if tag in _HEAD_TAGS:
                scan.head.append(node)
            elif tag == "h1":
                scan.h1.append(node)
            elif tag in _STRIP_TAGS:
                scan.strip.append(node)
                if tag == "script" and "ld+json" in (attrs.get("type") or "").lower():
                    scan.jsonld.append(node)
        return scan

    def drop_strip(self) -> None:
        """Remove the elements never shown (scripts, styles, ...), and forget what this
        scan found inside them (an h1 or a microdata property in a <noscript>)."""
        if self.strip:
            stripped = {n.mem_id for n in self.strip}
            self.h1 = [n for n in self.h1 if not _inside(n, stripped)]
            self.items.outside(stripped)
            for node in self.strip:
                _remove(node)


def _query_values(url: str | None) -> frozenset[str]:
    if not url:
        return frozenset()
    try:
        parts = urlsplit(url)
    except ValueError:
        return frozenset()
    vals = {v.lower() for _, v in parse_qsl(parts.query) if v}
    vals |= {v.lower() for _, v in parse_qsl(parts.fragment) if v}
    return frozenset(vals)


def extract(
    body: bytes | str,
    *,
    url: str | None = None,
    content_type: str | None = None,
    rules: SiteRules | None = None,
    currency_hint: str | None = None,
    http_status: int | None = None,
) -> Offer:
    """Read the main product's price, currency and availability from one page.

    Never raises on a hostile page: an unreadable one is ``status=error`` with a reason.
    """
    try:
        return _extract(
            body,
            url=url,
            content_type=content_type,
            rules=rules,
            currency_hint=currency_hint,
            http_status=http_status,
        )
    except ExtractError:
        raise
    except RecursionError:
        return Offer(status=PageStatus.error, reason="page too deeply nested to read")
    except Exception as exc:  # the last line of defence: one bad page must not stop a run
        return Offer(status=PageStatus.error, reason=f"extraction failed: {type(exc).__name__}")


def _extract(
    body: bytes | str,
    *,
    url: str | None,
    content_type: str | None,
    rules: SiteRules | None,
    currency_hint: str | None,
    http_status: int | None,
) -> Offer:
    if http_status in (404, 410):
        return Offer(status=PageStatus.gone, reason=f"HTTP {http_status}: the page is gone")
    status_blocked = http_status in (401, 403, 429)
    if http_status is not None and http_status >= 500:
        return Offer(status=PageStatus.error, reason=f"HTTP {http_status}")
    if content_type:
        ct = content_type.split(";")[0].strip().lower()
        if ct and not (
            "html" in ct
            or "xml" in ct
            or ct.startswith("text/")
            or ct == "application/octet-stream"
        ):
            return Offer(status=PageStatus.error, reason=f"not an HTML page ({ct})")
    raw: object = body
    if isinstance(raw, (bytearray, memoryview)):
        body = bytes(raw)
    elif not isinstance(raw, (bytes, str)):
        raise ExtractError(f"extract() needs bytes or str, not {type(raw).__name__}")
    html, utf8 = _decoded(body, content_type)
    if not html or html.isspace():  # (not html.strip(), without copying the page)
        return Offer(status=PageStatus.error, reason="empty page")
    if _looks_binary(html):
        return Offer(status=PageStatus.error, reason="binary content, not HTML")
    if not utf8 and "\x00" in html:  # (UTF-8 bytes read as they are have no NUL)
        html = html.replace("\x00", "")

    # bytes are read as UTF-8 the way Python decodes them (invalid bytes become U+FFFD)
    tree = LexborHTMLParser(body if utf8 else html)
    root = tree.root
    if root is None:
        return Offer(status=PageStatus.error, reason="page could not be parsed")
    html_node = _css_first(tree, "html")
    lang = (_attr(html_node, "lang") or _attr(html_node, "xml:lang") or "") if html_node else ""
    lang = lang.strip().lower()
    host = _host_of(url)
    ctx = _Ctx(
        url=url,
        host=host,
        country=_country_of(host, lang),
        lang=lang,
        currency_hint=_iso(currency_hint),
        query_values=_query_values(url),
    )
    scan = _Scan.of(tree)  # one walk instead of one per kind of element
    head = _read_head(scan.head)
    if not lang:
        og_locale = head.get("og:locale")
        if og_locale:
            ctx.lang = og_locale.lower().replace("_", "-")
            ctx.country = _country_of(host, ctx.lang)

    page = _Page(title=head.title, og_title=head.get("og:title", "twitter:title"))
    page.canonical = head.canonical

    h1 = _first_h1(scan.h1)
    page.h1 = (" ".join(_text(h1, " ").split()) or None) if h1 is not None else None
    # JSON-LD must be read before scripts are stripped
    ld = _jsonld(scan.jsonld, ctx, page)

    scan.drop_strip()
    body_node = tree.body
    blocked = _blocked_reason(html, page.title or "", body_node)
    if blocked or (status_blocked and ld.price is None):
        return Offer(
            status=PageStatus.blocked,
            reason=blocked or f"HTTP {http_status}: access refused",
        )

    soft_404 = _soft_404(page.title or "", page.h1 or "")
    if soft_404 and ld.price is None and ld.availability is None:
        # a 200 answer that says the page does not exist: any price on it belongs to
        # the "you may also like" grid, never to the tracked product
        return Offer(status=PageStatus.gone, reason=f"the page says it does not exist: {soft_404}")

    explicit = _apply_rules(tree, rules, ctx) if rules is not None else _Found()
    micro = _microdata(scan.items, ctx, h1)
    meta = _meta(head, ctx)
    # built-in rules only when structured data leaves the price or availability open
    builtin_rules: SiteRules | None = None
    if rules is None and (
        (ld.price is None and micro.price is None)
        or (ld.availability is None and micro.availability is None)
    ):
        # a saved page read without its URL names its home in the canonical link / og:url
        rules_host = host or _host_of(page.canonical) or _host_of(head.get("og:url"))
        builtin_rules = _rules_for_source(rules_host, html)
    builtin = (
        _apply_rules(tree, builtin_rules, ctx, builtin=True)
        if builtin_rules is not None
        else _Found()
    )

    # what a reader cannot see does not speak for the product ("Sold out" banners kept
    # hidden); structured data above may live in hidden elements, visible text below not.
    # The product's heading is a visible one. The hidden elements themselves are removed
    # (see _drop_hidden) only before visible text is read.
    h1 = _visible_h1(h1, scan)
    cleaned = False

    price: Decimal | None = None
    currency: str | None = None
    method: str | None = None
    reason_bits: list[str] = []
    if rules is not None and explicit.price is not None:
        price, currency, method = explicit.price, explicit.currency, f"site:{rules.name}"
    else:
        for found, name in (
            (ld, "json-ld"),
            (micro, "microdata"),
            (builtin, f"site:{builtin_rules.name}" if builtin_rules else ""),
            (meta, "meta"),
        ):
            if found.price is not None:
                price, currency, method = found.price, found.currency, name
                break
    page_paths = frozenset(
        path for path in (_url_path(url or ""), _url_path(page.canonical or "")) if path
    )
    if body_node is not None and (h1 is None or price is None or currency is None):
        # the page's text will be read: first without what a reader does not see
        h1, cleaned = _drop_hidden(body_node, scan), True
    if body_node is not None and (price is None or currency is None):
        # blocks about other products (related, carousels, sponsored) never price this one
        _drop_noise(body_node, h1)
    if price is None:
        hp, hc = _heuristic_price(body_node, h1, ctx, page_paths)
        if hp is not None:
            price, currency, method = hp, hc, "heuristic"

    # currency fallbacks: other structured sources, then the page's symbol, rules, hint
    if price is not None and currency is None:
        for found in (ld, micro, meta, explicit, builtin):
            if found.currency and found.price == price:
                currency = found.currency
                break
    if price is not None and currency is None and method != "heuristic":
        _, currency = _heuristic_price(body_node, h1, ctx, page_paths)
    if currency is None:
        if rules is not None and rules.currency:
            currency = _iso(rules.currency)
        elif builtin_rules is not None and builtin_rules.currency:
            currency = _iso(builtin_rules.currency)
    if currency is None and price is not None:
        currency = ctx.currency_hint
    if price is not None and currency is None:
        reason_bits.append("currency not shown")

    # availability, by the precedence in the module docstring
    structured = ld.availability or micro.availability or meta.availability
    settled = rules is not None and explicit.availability is not None
    speaks = structured or builtin.availability
    # the product area (see _block_around): for the check below and for reading. It is found
    # once, before any text is read; the hidden elements inside it are removed before reading
    around: tuple[LexborNode, str] | None = None
    while True:
        if around is None and h1 is not None and body_node is not None and not settled:
            around = _block_around(h1)
        if not settled and speaks is not None:
            # the page's own answer (its data, or the shop's known element) stands unless
            # the product area says "sold out"; without such wording, cleaning and reading
            # the area would change nothing (read as served first: an area without such
            # wording even with hidden text in needs no search for hidden elements)
            region_node, text = around or (body_node, _text(body_node, "\n"))
            settled = region_node is None or not _may_say_sold_out(region_node, text)
        if settled or cleaned:
            break
        # the area will be read: first without what a reader does not see in it
        if around is not None:
            around, cleaned = _unseen_removed(around), True
        else:  # no heading: the whole page is read
            h1, cleaned = _drop_hidden(body_node, scan), True
    if settled:
        signals = _RegionSignals()
    else:
        region_text, region = _main_region(body_node, h1, around)
        signals = _region_availability(region_text, region)
    availability: Availability | None = None
    if rules is not None and explicit.availability is not None:
        availability = explicit.availability
    elif signals.strong is not None:
        # keep a more specific "not purchasable" value (SoldOut, Discontinued) when one exists
        specific = [
            a
            for a in (ld.availability, micro.availability, meta.availability, builtin.availability)
            if a is not None and not a.purchasable
        ]
        availability = specific[0] if specific else signals.strong
    elif structured is not None:
        availability = structured
    elif builtin.availability is not None:
        availability = builtin.availability
    elif signals.wording is not None:
        availability = signals.wording
    elif signals.weak is not None:
        availability = signals.weak
    elif price is not None and method in {"json-ld", "microdata", "meta"}:
        # a structured Offer with a price and no availability is an offer to sell now
        availability = Availability.InStock
        reason_bits.append("availability implied by a priced offer")
    if availability is None:
        reason_bits.append("availability not shown")

    title = explicit.title or ld.title or builtin.title or page.og_title or page.h1 or page.title
    if price is None:
        notes = ld.notes + micro.notes
        reason = "no price found" + (f" ({'; '.join(notes)})" if notes else "")
        if availability is not None and not availability.purchasable:
            reason = "no price shown (product not available)"
        return Offer(
            status=PageStatus.no_price,
            currency=None,
            availability=availability,
            title=title,
            reason=reason,
        )
    return Offer(
        status=PageStatus.ok,
        price=price,
        currency=currency,
        availability=availability,
        title=title,
        method=method,
        reason="; ".join(reason_bits) or None,
    )
