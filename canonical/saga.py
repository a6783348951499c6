"""What goes into and comes out of the order workflow: its input, updates, signals and status view."""

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from canonical.order import Order
from canonical.pricing import PricedOrder
from canonical.returns import ReturnView
from canonical.steps import (
    Authorization,
    Capture,
    ErpDocument,
    LineQuantity,
    PointsReservation,
    Refund,
    Shipment,
)


class OrderStatus(StrEnum):
    RECEIVED = "received"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    ALLOCATED = "allocated"
    PARTIALLY_SHIPPED = "partially_shipped"
    SHIPPED = "shipped"
    COMPLETED = "completed"
    CANCELLING = "cancelling"
    CANCELLED = "cancelled"
    NEEDS_ATTENTION = "needs_attention"


TERMINAL_STATUSES = frozenset({OrderStatus.COMPLETED, OrderStatus.CANCELLED, OrderStatus.REJECTED})


class AttentionCode(StrEnum):
    """Why an order needs a human: a fixed list, so the clear-text search attribute never holds free
    text (vendor messages, cancel reasons); the words are in the order's encrypted status reason."""

    CAPTURE_FAILED = "capture_failed"
    STEP_FAILED = "step_failed"
    COMPENSATION_FAILED = "compensation_failed"
    DISPATCH_SLA_MISSED = "dispatch_sla_missed"
    IMPOSSIBLE_SHIPMENT = "impossible_shipment"
    CONFLICTING_SHIPMENT = "conflicting_shipment"
    DISPATCHED_AFTER_CANCEL = "dispatched_after_cancel"
    CANCEL_AFTER_DISPATCH = "cancel_after_dispatch"
    REFUND_FAILED = "refund_failed"


NOTHING_TO_RETRY = frozenset({
    AttentionCode.IMPOSSIBLE_SHIPMENT, AttentionCode.CONFLICTING_SHIPMENT, AttentionCode.DISPATCHED_AFTER_CANCEL,
    AttentionCode.CANCEL_AFTER_DISPATCH,
})
"""Parked for something the node or an operator did, not for a step that failed: `retry` has nothing to run."""


class SagaTimings(BaseModel):
    """Durations taken from settings when the order starts, so a running order keeps its clocks."""

    accept_retry_window_s: float
    step_retry_window_s: float
    compensation_retry_window_s: float
    dispatch_sla_s: float
    return_window_s: float = 30 * 24 * 3600.0
    refund_retry_window_s: float = 3600.0
    late_dispatch_window_s: float = 24 * 3600.0


class OrderInput(BaseModel):
    order: Order
    priced: PricedOrder
    fingerprint: str
    """Hash of the request that created the order; a different request for the same id conflicts."""
    correlation_id: str
    timings: SagaTimings


class AcceptRequest(BaseModel):
    fingerprint: str


RejectionType = Literal["payment-declined", "insufficient-points", "payment-unavailable", "order-failed"]


class Rejection(BaseModel):
    type: RejectionType
    detail: str
    decline_code: str | None = None


class AcceptDecision(BaseModel):
    order_id: str
    status: Literal["accepted", "rejected"]
    amount_due: int
    currency: str
    authorization: Authorization | None = None
    loyalty: PointsReservation | None = None
    rejection: Rejection | None = None
    first: bool = False
    """True only for the request that created the order (201 rather than 200)."""


class CancelRequest(BaseModel):
    reason: str = Field(min_length=1, max_length=500)
    actor: str


ResolveAction = Literal["retry", "mark_resolved", "refund_and_close"]


class ResolveRequest(BaseModel):
    """Support's way out of needs_attention. Recorded in the history with who and why."""

    action: ResolveAction
    note: str = Field(min_length=1, max_length=1000)
    actor: str


class SupportAction(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    action: Literal["cancel", "retry", "mark_resolved", "refund_and_close"]
    """What was asked."""
    actor: str
    """Who asked (the API key's name)."""
    note: str
    """Why, or what was done by hand."""
    at: datetime
    """When (UTC)."""


class ShipmentView(Shipment):
    model_config = ConfigDict(use_attribute_docstrings=True)

    amount: int = 0
    """Amount due of the goods it carries: what it is captured for."""
    points: int = 0
    """Loyalty points the goods it carries are paid with."""
    capture: Literal["pending", "captured", "settled_outside", "written_off"] = "pending"
    """settled_outside: support marked the failed capture resolved by hand; written_off: the order was
    refunded and closed with these goods uncaptured."""


class FulfillmentEvent(BaseModel):
    """An inbound event from the fulfilment node, already verified by the API."""

    event_id: str
    type: Literal["shipment.dispatched", "shipment.pick_rejected"]
    order_id: str
    shipment_id: str | None = None
    lines: list[LineQuantity]
    carrier: str | None = None
    tracking_number: str | None = None
    reason: str | None = None


StepState = Literal["pending", "running", "succeeded", "failed", "skipped", "compensated"]


class StepView(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    name: str
    """The saga step, e.g. `authorize_payment`, `capture_payment`, `post_invoice`."""
    status: StepState
    """Where the step stands."""
    attempts: int = 0
    """Activity attempts so far (retries included)."""
    started_at: datetime | None = None
    """When the step started (UTC)."""
    finished_at: datetime | None = None
    """When it finished (UTC)."""
    error: str | None = None
    """The last failure, when it failed."""


class CompensationView(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    name: str
    """The undo registered for a step, e.g. `void_authorization`."""
    status: Literal["registered", "running", "succeeded", "failed"]
    """Where the undo stands."""
    error: str | None = None
    """The last failure, when it failed."""


class LoyaltyView(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    reserved: int = 0
    """Points reserved at acceptance."""
    spent: int = 0
    """Points spent with the captures."""
    released: int = 0
    """Points given back (cancel, release, return)."""
    earned: int = 0
    """Points the customer earned on what was captured."""


class OrderView(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    order_id: str
    """The order's id."""
    status: OrderStatus
    """The order's status."""
    status_reason: str | None = None
    """Why it has that status, for humans (e.g. why it needs attention)."""
    attention: AttentionCode | None = None
    """When status is needs_attention: a code for what needs doing."""
    amount_due: int
    """What the card pays after points, in integer minor units of `currency`."""
    currency: str
    """ISO 4217 currency code of every amount."""
    customer_id: str
    """The customer's id."""
    authorization: Authorization | None = None
    steps: list[StepView]
    """The saga's steps in order, with their state."""
    compensations: list[CompensationView]
    """Undos registered for finished steps, and whether they ran."""
    shipments: list[ShipmentView]
    """Shipments dispatched, and whether each is captured."""
    captures: list[Capture]
    """Payment captures, one per shipment."""
    erp_postings: list[ErpDocument]
    """ERP documents posted for the order."""
    loyalty: LoyaltyView
    """Loyalty points of the order."""
    released_lines: list[LineQuantity]
    """Lines released without shipping (pick rejected, cancelled)."""
    money_at_risk: int = 0
    """Amount due of dispatched goods not (yet) captured: what support must chase in needs_attention."""
    written_off: int = 0
    """Amount due of dispatched goods left uncaptured when support refunded and closed the order."""
    refunds: list[Refund] = []
    """Refunds paid (cancellation, support, returns)."""
    support_actions: list[SupportAction] = []
    """What support did on the order, and who."""
    returns: list[ReturnView] = []
    """Returns of the order."""


class OrderResult(BaseModel):
    """The workflow's return value: its final view, and the accept decision replays are answered with."""

    view: OrderView
    decision: AcceptDecision | None = None


def workflow_id(order_id: str) -> str:
    return f"order-{order_id}"
