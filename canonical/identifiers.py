"""Constrained scalar types used across the canonical objects."""

from typing import Annotated

from pydantic import Field, StrictInt

Identifier = Annotated[str, Field(pattern=r"^[A-Za-z0-9._:-]{1,64}$", min_length=1, max_length=64)]
"""Opaque identifier: order ids, SKUs, customer ids, member ids."""

MinorUnits = Annotated[StrictInt, Field(ge=0, le=10**12)]
"""Money as an integer count of minor units. StrictInt so 19.99 or "1999" are rejected, not coerced."""

Quantity = Annotated[StrictInt, Field(gt=0, le=100_000)]
Points = Annotated[StrictInt, Field(ge=0, le=10**10)]

# ISO 4217 active codes; the minor-unit exponent matters only for display.
CURRENCY_EXPONENT: dict[str, int] = {
    **{c: 2 for c in ["AED", "AUD", "BGN", "BRL", "CAD", "CHF", "CNY", "CZK", "DKK", "EGP", "EUR", "GBP", "HKD",
                      "HUF", "ILS", "INR", "MXN", "MYR", "NOK", "NZD", "PHP", "PLN", "RON", "SAR", "SEK", "SGD",
                      "THB", "TRY", "TWD", "USD", "ZAR"]},
    **{c: 0 for c in ["CLP", "ISK", "JPY", "KRW", "VND"]},
    **{c: 3 for c in ["BHD", "JOD", "KWD", "OMR", "TND"]},
}


def format_money(amount: int, currency: str) -> str:
    """Human rendering for summaries and logs: 3498 EUR -> 'EUR 34.98'."""
    return f"{currency} {major_units(amount, currency)}"


def major_units(amount: int, currency: str) -> str:
    """Minor units as a plain decimal in the currency's major unit, as spreadsheets read numbers:
    116052 EUR -> '1160.52', 116052 JPY -> '116052', 1160525 KWD -> '1160.525'. No thousands
    separator, '.' before the decimals, exactly as many decimals as the currency has."""
    exp = CURRENCY_EXPONENT.get(currency, 2)
    if exp == 0:
        return str(amount)
    sign = "-" if amount < 0 else ""
    whole, frac = divmod(abs(amount), 10**exp)
    return f"{sign}{whole}.{frac:0{exp}d}"
