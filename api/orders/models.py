"""Request and response bodies of the /v1/orders endpoints (design §5).

The order itself is canonical.order.Order. Response models list exactly the contract's fields and
nothing volatile, so the same request replayed gets a byte-identical body.
"""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from canonical.saga import OrderStatus, OrderView, ResolveAction


class Links(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    self: str
    """This order in the API (GET it for its status)."""
    temporal_ui: str
    """The order's workflow in the Temporal UI, for support."""


class AuthorizationHold(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    id: str
    """The payment provider's authorization (PaymentIntent) id."""
    amount: int
    """Amount held on the card, in integer minor units."""
    expires_at: datetime
    """When the hold lapses if the order has not been captured by then (UTC)."""


class LoyaltyHold(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    reservation_id: str
    """The loyalty programme's reservation id."""
    points: int
    """Points reserved for this order."""


class AcceptedOrder(BaseModel):
    """201 for the request that created the order, 200 for the same request sent again."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    order_id: str
    """The order's id, as sent."""
    status: Literal["accepted"] = "accepted"
    """Always `accepted`: payment is held and the order runs."""
    workflow_id: str
    """The order's Temporal workflow id."""
    amount_due: int
    """What the card pays after points, in integer minor units of `currency`."""
    currency: str
    """ISO 4217 currency code of the amounts."""
    authorization: AuthorizationHold | None
    """None only when points pay the whole order (nothing to authorize)."""
    loyalty: LoyaltyHold | None
    """None when the order redeems no points."""
    links: Links
    """Where to follow the order."""


class ReceivedOrder(BaseModel):
    """202: the decision took longer than O2C_ACCEPT_TIMEOUT_S; poll `links.self` or resend."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    order_id: str
    """The order's id, as sent."""
    status: Literal["received"] = "received"
    """Always `received`: the order runs; its decision is not known yet."""
    links: Links
    """Where to follow the order."""


class OrderDetail(OrderView):
    """GET /v1/orders/{id}: the workflow's own view, with the authorization as the contract shows it."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    authorization: AuthorizationHold | None  # type: ignore[assignment]
    """The card authorization held for the order; None when nothing was authorized."""
    next_action: str | None = None
    """While the order needs attention: the support call that moves it on (which action, which scope)."""
    links: Links
    """Where to follow the order."""


class OrderSummary(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    order_id: str
    """The order's id."""
    status: str | None
    """The order's status when it was last indexed."""
    customer_id: str | None
    """The customer's id."""
    channel: str | None
    """Where the order was placed."""
    total: int | None
    """Order total in integer minor units of `currency`."""
    currency: str | None
    """ISO 4217 currency code."""
    workflow_id: str
    """The order's Temporal workflow id."""
    started_at: datetime
    """When the order was received (UTC)."""
    closed_at: datetime | None
    """When the order's workflow closed (UTC); None while it runs."""
    links: Links
    """Where to follow the order."""


class OrderPage(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    items: list[OrderSummary]
    """Orders, newest first."""
    next_cursor: str | None
    """Pass as `cursor` to get the next page; null on the last page."""


class CancelBody(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True, extra="forbid")

    reason: str = Field(min_length=1, max_length=500)
    """Why the order is cancelled; recorded in its history."""


class CancelAccepted(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    order_id: str
    """The order's id."""
    status: Literal["cancelling", "cancelled"]
    """`cancelling` while releases and refunds run, `cancelled` once done."""
    links: Links
    """Where to follow the order."""


class ResolveBody(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True, extra="forbid")

    action: ResolveAction
    """`retry`, `mark_resolved` or `refund_and_close`."""
    note: str = Field(min_length=1, max_length=1000)
    """Why, or what was done by hand: recorded in the order's history with who asked."""


class ResolveAccepted(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    order_id: str
    """The order's id."""
    status: OrderStatus
    """The status the action led to, read right after it was taken (never the needs_attention it left):
    `cancelling` for refund_and_close; for retry and mark_resolved the status the order had when it parked,
    or a later one if it has already moved on. Follow links.self for the outcome."""
    links: Links
    """Where to follow the order."""
