"""Request and response bodies of the /v1/orders endpoints (design §5).

The order itself is canonical.order.Order. Response models list exactly the contract's fields and
nothing volatile, so the same request replayed gets a byte-identical body.
"""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from canonical.saga import OrderStatus, OrderView, ResolveAction


class Links(BaseModel):
    self: str
    temporal_ui: str


class AuthorizationHold(BaseModel):
    id: str
    amount: int
    expires_at: datetime


class LoyaltyHold(BaseModel):
    reservation_id: str
    points: int


class AcceptedOrder(BaseModel):
    """201 for the request that created the order, 200 for the same request sent again."""

    order_id: str
    status: Literal["accepted"] = "accepted"
    workflow_id: str
    amount_due: int
    currency: str
    authorization: AuthorizationHold | None
    """None only when points pay the whole order (nothing to authorize)."""
    loyalty: LoyaltyHold | None
    """None when the order redeems no points."""
    links: Links


class ReceivedOrder(BaseModel):
    """202: the decision took longer than O2C_ACCEPT_TIMEOUT_S; poll `links.self` or resend."""

    order_id: str
    status: Literal["received"] = "received"
    links: Links


class OrderDetail(OrderView):
    """GET /v1/orders/{id}: the workflow's own view, with the authorization as the contract shows it."""

    authorization: AuthorizationHold | None  # type: ignore[assignment]
    next_action: str | None = None
    """While the order needs attention: the support call that moves it on (which action, which scope)."""
    links: Links


class OrderSummary(BaseModel):
    order_id: str
    status: str | None
    customer_id: str | None
    channel: str | None
    total: int | None
    currency: str | None
    workflow_id: str
    started_at: datetime
    closed_at: datetime | None
    links: Links


class OrderPage(BaseModel):
    items: list[OrderSummary]
    next_cursor: str | None
    """Pass as `cursor` to get the next page; null on the last page."""


class CancelBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=500)


class CancelAccepted(BaseModel):
    order_id: str
    status: Literal["cancelling", "cancelled"]
    links: Links


class ResolveBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: ResolveAction
    note: str = Field(min_length=1, max_length=1000)
    """Why, or what was done by hand: recorded in the order's history with who asked."""


class ResolveAccepted(BaseModel):
    order_id: str
    status: OrderStatus
    """The status the action led to, read right after it was taken (never the needs_attention it left):
    `cancelling` for refund_and_close; for retry and mark_resolved the status the order had when it parked,
    or a later one if it has already moved on. Follow links.self for the outcome."""
    links: Links
