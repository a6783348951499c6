"""Returns: what the commerce platform asks for, what the order workflow plans, what the return shows."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from canonical.identifiers import Identifier, Quantity
from canonical.steps import ErpDocument, LineQuantity, Refund

Condition = Literal["resellable", "damaged"]


class ReturnLine(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: Identifier
    quantity: Quantity


class ReturnRequest(BaseModel):
    """Body of POST /v1/orders/{order_id}/returns."""

    model_config = ConfigDict(extra="forbid")

    return_id: Identifier
    lines: list[ReturnLine] = Field(min_length=1, max_length=200)
    reason: str = Field(min_length=1, max_length=500)


class RegisterReturn(BaseModel):
    """The order workflow's `request_return` update: the request plus who asked."""

    request: ReturnRequest
    actor: str


class ReturnShare(BaseModel):
    """Returned units of one SKU from one shipment, with exactly what they were paid and earned."""

    shipment_id: str
    sku: str
    quantity: int
    amount: int
    """Amount due of these units: what a refund gives back."""
    points_redeemed: int
    points_earned: int
    payment_intent_id: str
    invoice: str | None


class ReturnTimings(BaseModel):
    receive_window_s: float
    refund_retry_window_s: float


class ReturnInput(BaseModel):
    order_id: str
    return_id: str
    correlation_id: str
    currency: str
    member_id: str | None
    reason: str
    shares: list[ReturnShare]
    timings: ReturnTimings


class ReceivedLine(BaseModel):
    sku: str
    quantity: int
    condition: Condition


class ReturnReceived(BaseModel):
    """The fulfilment node's `return.received` event, verified by the API."""

    event_id: str
    lines: list[ReceivedLine]


ReturnStatus = Literal["requested", "received", "needs_attention", "completed", "expired"]


class ResolveReturn(BaseModel):
    """Support's decision on damaged goods."""

    action: Literal["refund", "refuse"]
    note: str = Field(min_length=1, max_length=1000)
    actor: str


class ReturnView(BaseModel):
    order_id: str
    return_id: str
    status: ReturnStatus
    status_reason: str | None = None
    reason: str
    lines: list[LineQuantity]
    received: list[ReceivedLine] = []
    refunds: list[Refund] = []
    credit_memos: list[ErpDocument] = []
    points_given_back: int = 0
    points_taken_back: int = 0
    restocked: list[LineQuantity] = []
    decided_by: str | None = None
    updated_at: datetime | None = None


class ReturnSummary(BaseModel):
    """How an order lists its returns."""

    return_id: str
    lines: list[LineQuantity]
    reason: str


def return_workflow_id(order_id: str, return_id: str) -> str:
    return f"return-{order_id}-{return_id}"
