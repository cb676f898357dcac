"""Prices as shops print them: ``$1,299.00``, ``1.299,00 €``, ``£1,299.00``."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

__all__ = ["NBSP", "format_price", "machine_price", "symbol_of"]

NBSP = "\u00a0"
NNBSP = "\u202f"  # narrow no-break space: French digit grouping

_SYMBOLS = {
    "USD": "$",
    "EUR": "€",
    "GBP": "£",
    "JPY": "¥",
    "CAD": "CA$",
    "AUD": "A$",
    "CHF": "CHF",
    "SEK": "kr",
}
_ZERO_DECIMAL = frozenset({"JPY", "KRW"})
# language -> (group separator, decimal separator, symbol after the number)
_LOCALES = {
    "en": (",", ".", False),
    "de": (".", ",", True),
    "nl": (".", ",", True),
    "it": (".", ",", True),
    "es": (".", ",", True),
    "fr": (NNBSP, ",", True),
}


def _language(locale: str) -> str:
    lang = locale.replace("_", "-").split("-", 1)[0].lower()
    return lang if lang in _LOCALES else "en"


def symbol_of(currency: str) -> str:
    """The symbol shops print for ``currency`` (the code itself when unknown)."""
    return _SYMBOLS.get(currency.upper(), currency.upper())


def machine_price(amount: Decimal, currency: str = "USD", *, compact: bool = False) -> str:
    """The price as markup attributes carry it: ``"1299.00"`` (``"1299"`` if ``compact``)."""
    decimals = 0 if currency.upper() in _ZERO_DECIMAL else 2
    value = amount.quantize(Decimal(1).scaleb(-decimals), ROUND_HALF_UP)
    if compact and value == value.to_integral_value():
        return str(value.quantize(Decimal(1)))
    return f"{value:f}"


def format_price(
    amount: Decimal, currency: str = "USD", *, locale: str = "en", code: bool = False
) -> str:
    """The price as a shop in ``locale`` shows it to readers.

    ``format_price(Decimal("1299"), "USD")`` -> ``"$1,299.00"``;
    ``format_price(Decimal("1299"), "EUR", locale="de")`` -> ``"1.299,00\u00a0€"``;
    ``code=True`` prints the ISO code instead of the symbol (``"USD 1,299.00"``).
    """
    currency = currency.upper()
    group, point, after = _LOCALES[_language(locale)]
    text = machine_price(amount, currency)
    sign = "-" if text.startswith("-") else ""
    whole, _, frac = text.lstrip("-").partition(".")
    groups: list[str] = []
    while len(whole) > 3:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    groups.insert(0, whole)
    number = sign + group.join(groups) + (point + frac if frac else "")
    if code:
        return f"{number}{NBSP}{currency}" if after else f"{currency} {number}"
    symbol = symbol_of(currency)
    if after:
        return f"{number}{NBSP}{symbol}"
    if symbol.isalpha():  # "CHF 12.00", "kr 12.00"
        return f"{symbol}{NBSP}{number}"
    return f"{symbol}{number}"
