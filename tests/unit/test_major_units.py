"""Amounts as spreadsheets read them: decimal in the major unit, as many decimals as the currency has."""

from decimal import Decimal

import pytest

from canonical.identifiers import CURRENCY_EXPONENT, format_money, major_units


@pytest.mark.parametrize(
    ("minor", "currency", "shown"),
    [
        (116052, "EUR", "1160.52"),
        (5, "EUR", "0.05"),
        (0, "USD", "0.00"),
        (116052, "JPY", "116052"),
        (1160525, "KWD", "1160.525"),
        (-1999, "EUR", "-19.99"),
        (123456789012, "GBP", "1234567890.12"),  # no thousands separator, however large
    ],
)
def test_major_units(minor: int, currency: str, shown: str) -> None:
    assert major_units(minor, currency) == shown
    assert Decimal(shown) * 10 ** CURRENCY_EXPONENT[currency] == minor
    assert format_money(minor, currency) == f"{currency} {shown}"
