"""The order as the commerce platform sends it (design §6)."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator, model_validator

from canonical.identifiers import CURRENCY_EXPONENT, Identifier, MinorUnits, Points, Quantity


class Strict(BaseModel):
    """Requests reject unknown fields instead of silently dropping them."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Customer(Strict):
    customer_id: Identifier
    loyalty_member_id: Identifier | None = None
    email: EmailStr
    name: str = Field(min_length=1, max_length=200)


class Address(Strict):
    line1: str = Field(min_length=1, max_length=200)
    line2: str | None = Field(default=None, max_length=200)
    city: str = Field(min_length=1, max_length=100)
    postal_code: str = Field(min_length=1, max_length=20)
    country: str = Field(pattern=r"^[A-Z]{2}$")


class OrderLine(Strict):
    sku: Identifier
    quantity: Quantity
    unit_price: MinorUnits


class Payment(Strict):
    method_token: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_]+$")


Channel = Literal["web", "app", "store", "pos", "marketplace"]

MAX_LINES_CEILING = 1000
"""What parsing ever accepts; the configured cap (O2C_MAX_ORDER_LINES) is checked by the API."""


class Order(Strict):
    order_id: Identifier
    channel: Channel
    currency: str
    customer: Customer
    shipping_address: Address
    lines: list[OrderLine] = Field(min_length=1, max_length=MAX_LINES_CEILING)
    payment: Payment
    points_to_redeem: Points = 0

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
