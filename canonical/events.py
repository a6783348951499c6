"""Canonical business events (design §6), emitted to logs now and to webhooks later."""

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel

EventType = Literal[
    "order.accepted", "order.rejected", "order.allocated", "shipment.dispatched", "payment.captured",
    "erp.posted", "order.completed", "order.cancelled", "order.needs_attention", "return.received", "refund.completed",
    "loyalty.points_earned", "loyalty.tier_changed",
]


class BusinessEvent(BaseModel):
    type: EventType
    id: str
    occurred_at: datetime
    order_id: str
    correlation_id: str
    data: dict[str, Any]
