"""The order as the commerce platform sends it (design §6)."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator, model_validator

from canonical.identifiers import CURRENCY_EXPONENT, Identifier, MinorUnits, Points, Quantity


class Strict(BaseModel):
    """Requests reject unknown fields instead of silently dropping them."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class Customer(Strict):
    customer_id: Identifier
    """The platform's id for the customer."""
    loyalty_member_id: Identifier | None = None
    """The loyalty programme's member id; needed to redeem points (`points_to_redeem`) and to earn them."""
    email: EmailStr
    """Where the customer is reached; personal data, never logged."""
    name: str = Field(min_length=1, max_length=200)
    """The customer's name; personal data, never logged."""


class Address(Strict):
    line1: str = Field(min_length=1, max_length=200)
    """Street and number."""
    line2: str | None = Field(default=None, max_length=200)
    """Flat, floor, c/o..."""
    city: str = Field(min_length=1, max_length=100)
    """City."""
    postal_code: str = Field(min_length=1, max_length=20)
    """Postal code."""
    country: str = Field(pattern=r"^[A-Z]{2}$")
    """ISO 3166-1 alpha-2 country code, e.g. `DE`."""


class OrderLine(Strict):
    sku: Identifier
    """The product's SKU; a SKU appears on one line per order."""
    quantity: Quantity
    """Units ordered, at least 1."""
    unit_price: MinorUnits
    """Price of one unit in integer minor units of the order's currency (1999 = EUR 19.99), tax included."""


class Payment(Strict):
    method_token: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_]+$")
    """The payment provider's token for the card or wallet (the sandbox knows `tok_visa`, `tok_decline`...);
    never a card number."""


Channel = Literal["web", "app", "store", "pos", "marketplace"]

MAX_LINES_CEILING = 1000
"""What parsing ever accepts; the configured cap (O2C_MAX_ORDER_LINES) is checked by the API."""


class Order(Strict):
    order_id: Identifier
    """The platform's order id: also the order's idempotency key (the same id and body again answers the
    same decision)."""
    channel: Channel
    """Where the order was placed."""
    currency: str
    """ISO 4217 code of every amount in the order, e.g. `EUR`."""
    customer: Customer
    """Who ordered."""
    shipping_address: Address
    """Where the goods go."""
    lines: list[OrderLine] = Field(min_length=1, max_length=MAX_LINES_CEILING)
    """What was ordered: one line per SKU."""
    payment: Payment
    """How the amount due is paid."""
    points_to_redeem: Points = 0
    """Loyalty points to pay with (each worth O2C_POINT_VALUE_MINOR minor units); needs `customer.loyalty_member_id`."""

    @field_validator("currency")
    @classmethod
    def _iso_4217(cls, value: str) -> str:
        if value not in CURRENCY_EXPONENT:
            raise ValueError("must be a supported ISO 4217 currency code, e.g. EUR")
        return value

    @field_validator("lines")
    @classmethod
    def _one_line_per_sku(cls, lines: list[OrderLine]) -> list[OrderLine]:
        # Shipments and returns address lines by SKU, so a SKU may appear once.
        skus = [line.sku for line in lines]
        if len(skus) != len(set(skus)):
            raise ValueError("each sku may appear on one line only")
        return lines

    @model_validator(mode="after")
    def _points_need_member(self) -> "Order":
        if self.points_to_redeem and not self.customer.loyalty_member_id:
            raise ValueError("points_to_redeem needs customer.loyalty_member_id")
        return self

    @property
    def total(self) -> int:
        return sum(line.quantity * line.unit_price for line in self.lines)
