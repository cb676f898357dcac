"""Showing money: amounts padded to their currency's minor unit (ISO 4217)."""

from __future__ import annotations

from decimal import Decimal

__all__ = ["format_amount", "minor_units"]

_ZERO = frozenset(
    [
        "BIF",
        "CLP",
        "DJF",
        "GNF",
        "ISK",
        "JPY",
        "KMF",
        "KRW",
        "PYG",
        "RWF",
        "UGX",
        "UYI",
        "VND",
        "VUV",
        "XAF",
        "XOF",
        "XPF",
    ]
)
_THREE = frozenset(["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"])


def minor_units(currency: str | None) -> int:
    """Digits after the decimal point in ``currency`` (2 when unknown)."""
    if currency in _ZERO:
        return 0
    return 3 if currency in _THREE else 2


def format_amount(amount: Decimal, currency: str | None) -> str:
    """``1299`` USD → ``"1299.00"``; never rounds away digits the shop showed."""
    places = minor_units(currency)
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and -exponent < places:
        amount = amount.quantize(Decimal(1).scaleb(-places))
    return format(amount, "f")
