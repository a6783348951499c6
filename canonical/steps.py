"""Results of the saga's steps, as the workflow records them."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict


class OrderCall(BaseModel):
    """Every activity input names its order and carries the correlation id into vendor calls."""

    order_id: str
    correlation_id: str


class LineQuantity(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    sku: str
    """The product's SKU."""
    quantity: int
    """Units of it."""


class StepResult(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    attempt: int = 1
    """Which activity attempt produced this result (support sees retries)."""


class PointsReservation(StepResult):
    reservation_id: str
    member_id: str
    points: int


class Authorization(StepResult):
    id: str
    amount: int
    currency: str
    expires_at: datetime


class Allocation(StepResult):
    reservation_id: str
    node: str
    lines: list[LineQuantity]


class ShipmentRequest(StepResult):
    request_id: str
    node: str


class Shipment(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    shipment_id: str
    """The fulfilment node's shipment id."""
    lines: list[LineQuantity]
    """What the shipment carries."""
    carrier: str | None = None
    """The carrier, when the node named one."""
    tracking_number: str | None = None
    """The carrier's tracking number, when known."""


class Capture(StepResult):
    model_config = ConfigDict(use_attribute_docstrings=True)

    shipment_id: str
    """The shipment this capture charges for."""
    capture_id: str
    """The payment provider's capture id."""
    payment_intent_id: str
    """The authorization (PaymentIntent) captured from."""
    amount: int
    """Amount captured, in integer minor units."""
    points: int
    """Loyalty points spent for this shipment."""


class ErpDocument(StepResult):
    model_config = ConfigDict(use_attribute_docstrings=True)

    kind: Literal["sales_order", "invoice", "credit_memo"]
    """`sales_order` when accepted, `invoice` per captured shipment, `credit_memo` per refund."""
    document_number: str
    """The ERP's document number."""
    external_reference: str
    """Our reference for the document (idempotency key at the ERP)."""
    amount: int
    """Document amount, in integer minor units."""
    shipment_id: str | None = None
    """The shipment an invoice is for; None for a sales order."""


class Done(StepResult):
    """A step or compensation with nothing to report but that it happened (or had nothing to undo)."""

    detail: str = ""
    acted: bool = True
    """False when there was nothing to do (an undo of a step that never happened)."""


class Refund(StepResult):
    model_config = ConfigDict(use_attribute_docstrings=True)

    refund_id: str
    """The payment provider's refund id."""
    payment_intent_id: str
    """The authorization (PaymentIntent) refunded against."""
    amount: int
    """Amount refunded, in integer minor units."""
    reference: str
    """Our reference for the refund (idempotency key at the provider)."""


class PointsEarned(StepResult):
    """Points the loyalty engine credited for an order's captured amount, at the member's tier rate."""

    member_id: str
    points: int
    tier_before: str
    tier_after: str

    @property
    def tier_changed(self) -> bool:
        return self.tier_before != self.tier_after


class PointsTakenBack(StepResult):
    """Earned points taken back on a refund; the tier may move down."""

    member_id: str
    points: int
    tier_before: str
    tier_after: str

    @property
    def tier_changed(self) -> bool:
        return self.tier_before != self.tier_after
