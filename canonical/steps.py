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
    quantity: int


class StepResult(BaseModel):
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
    shipment_id: str
    lines: list[LineQuantity]
    carrier: str | None = None
    tracking_number: str | None = None


class Capture(StepResult):
    model_config = ConfigDict(use_attribute_docstrings=True)

    shipment_id: str
    capture_id: str
    payment_intent_id: str
    amount: int
    points: int


class ErpDocument(StepResult):
    model_config = ConfigDict(use_attribute_docstrings=True)

    kind: Literal["sales_order", "invoice", "credit_memo"]
    document_number: str
    external_reference: str
    amount: int
    shipment_id: str | None = None


class Done(StepResult):
    """A step or compensation with nothing to report but that it happened (or had nothing to undo)."""

    detail: str = ""
    acted: bool = True
    """False when there was nothing to do (an undo of a step that never happened)."""


class Refund(StepResult):
    model_config = ConfigDict(use_attribute_docstrings=True)

    refund_id: str
    payment_intent_id: str
    amount: int
    reference: str


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
