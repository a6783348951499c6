"""Outbound webhooks (design §5, §9): the payload every endpoint receives, and delivery identities.

Every canonical event goes to each active endpoint subscribed to its type, signed per Standard
Webhooks with that endpoint's secret. The `webhook-id` is the event id, stable across attempts and
manual retries, so a receiver that dedupes by it records each event once.
"""

import hashlib
from typing import Any, Literal, get_args

from canonical.events import BusinessEvent, EventType

EVENT_TYPES: tuple[str, ...] = get_args(EventType)

DeliveryStatus = Literal["pending", "delivered", "failed"]
EndpointStatus = Literal["active", "disabled"]

RESPONSE_KEEP_BYTES = 1024
"""How much of a receiver's answer a delivery reads and keeps (the last one), for support to read."""


def delivery_id(endpoint_id: str, event_id: str) -> str:
    """One delivery per (endpoint, event), with the same id however often it is recorded."""
    return "dlv_" + hashlib.sha256(f"{endpoint_id}\n{event_id}".encode()).hexdigest()[:24]


def webhook_payload(event: BusinessEvent) -> dict[str, Any]:
    """The body every endpoint receives: the canonical event (§6) in Standard Webhooks' envelope
    (`type`, `timestamp`, `data`); `data` carries the order id too, as receivers key on it."""
    canonical = event.model_dump(mode="json")
    return {
        **canonical,
        "timestamp": canonical["occurred_at"],
        "data": {"order_id": event.order_id, **canonical["data"]},
    }
