from __future__ import annotations

from decimal import Decimal

import pytest

from tracker.money import format_amount


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [
        ("1299", "USD", "1299.00"),
        ("1299.5", "EUR", "1299.50"),
        ("24990", "CLP", "24990"),
        ("1200", "JPY", "1200"),
        ("12.5", "KWD", "12.500"),
        ("9.999", "USD", "9.999"),  # never rounds away what the shop showed
        ("5", None, "5.00"),
    ],
)
def test_amounts_are_shown_to_the_currency_minor_unit(
    amount: str, currency: str | None, shown: str
) -> None:
    assert format_amount(Decimal(amount), currency) == shown
