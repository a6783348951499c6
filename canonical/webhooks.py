"""Outbound webhooks (design §5, §9): what the publishing and delivery workflows hand their activities.

Every canonical event goes to each active endpoint subscribed to its type, signed per Standard
Webhooks with that endpoint's secret. The `webhook-id` is the event id, stable across attempts and
manual retries, so a receiver that dedupes by it records each event once.
"""

import hashlib
from datetime import datetime
from typing import Any, Literal, get_args

from pydantic import BaseModel, Field

from canonical.events import BusinessEvent, EventType

EVENT_TYPES: tuple[str, ...] = get_args(EventType)

DeliveryStatus = Literal["pending", "delivered", "failed"]
EndpointStatus = Literal["active", "disabled"]

# Activity names: the workflows call them by name, so workflows/ never imports the store or httpx.
RECORD_EVENT_ACTIVITY = "record_event_deliveries"
ATTEMPT_DELIVERY_ACTIVITY = "attempt_webhook_delivery"

RESPONSE_KEEP_BYTES = 1024
"""How much of a receiver's answer a delivery reads and keeps (the last one), for support to read."""


def delivery_id(endpoint_id: str, event_id: str) -> str:
    """One delivery per (endpoint, event), with the same id however often it is recorded."""
    return "dlv_" + hashlib.sha256(f"{endpoint_id}\n{event_id}".encode()).hexdigest()[:24]


def delivery_workflow_id(delivery_id: str, run: int) -> str:
    """Run 1 is the automatic schedule; each manual retry is a fresh run with the next number."""
    return f"webhook-{delivery_id}-{run}"


def webhook_payload(event: BusinessEvent) -> dict[str, Any]:
    """The body every endpoint receives: the canonical event (§6) in Standard Webhooks' envelope
    (`type`, `timestamp`, `data`); `data` carries the order id too, as receivers key on it."""
    canonical = event.model_dump(mode="json")
    return {
        **canonical,
        "timestamp": canonical["occurred_at"],
        "data": {"order_id": event.order_id, **canonical["data"]},
    }


class PendingDelivery(BaseModel):
    delivery_id: str
    endpoint_id: str
    status: DeliveryStatus


class EventDeliveries(BaseModel):
    """The deliveries recorded for one event, and the retry schedule they follow."""

    deliveries: list[PendingDelivery]
    schedule_s: list[float]
    attempt_timeout_s: float


class DeliverWebhook(BaseModel):
    """Input of one delivery run: attempts at the schedule's delays until one succeeds."""

    delivery_id: str
    run: int = Field(default=1, ge=1)
    schedule_s: list[float] = Field(min_length=1)
    """Delay before each attempt, from the previous one (the first is usually 0: at once)."""
    attempt_timeout_s: float = 5.0
    """How long one attempt waits for the receiver (O2C_WEBHOOK_DELIVERY_TIMEOUT_S)."""


class AttemptDelivery(BaseModel):
    delivery_id: str
    run: int
    attempt: int
    """1-based within the run."""
    next_delay_s: float | None
    """Delay before the run's next attempt; None on the last one, whose failure fails the delivery."""


AttemptOutcomeKind = Literal["delivered", "retry", "failed", "endpoint_disabled", "stopped"]


class AttemptOutcome(BaseModel):
    outcome: AttemptOutcomeKind
    status_code: int | None = None
    error: str | None = None
    detail: str = ""


class DeliveryResult(BaseModel):
    delivery_id: str
    run: int
    outcome: AttemptOutcomeKind
    attempts: int
    finished_at: datetime
