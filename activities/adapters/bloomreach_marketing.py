"""Bloomreach Engagement's tracking API: `POST {base}/track/v2/projects/{projectToken}/customers/events`.

HTTP Basic auth with an API key id and secret (private access, permission Events > Set). The body is one
customer event: `customer_ids` (the hard id `registered`: o2c's customer id), `event_type`, `properties`
and `timestamp` (UNIX seconds). Bloomreach answers `{"success": true}`; errors come as
`{"success": false, "errors": ...}`. Bloomreach has no idempotency key on this call, so every event
carries the canonical event id in its properties (`event_id`): receivers and analysts dedupe on it.
"""

import base64
import json
from typing import Any

import httpcore

from activities.bounded_post import post_bounded
from activities.contracts.marketing import PostOutcome
from canonical.events import BusinessEvent
from canonical.webhooks import RESPONSE_KEEP_BYTES
from runtime.settings import Settings

USER_AGENT = "o2c-marketing/1"
TIER_CHANGED = "loyalty.tier_changed"
ENVELOPE_KEYS = ("customer_id", "order_id")
"""Event data keys that go into the request's own fields, not into `properties`."""


class Untrackable(ValueError):
    """A canonical event Bloomreach cannot take (no customer to attach it to)."""


def event_type_of(canonical_type: str) -> str:
    """`loyalty.tier_changed` -> `loyalty_tier_changed`: Bloomreach event names are snake_case words."""
    return canonical_type.replace(".", "_")


def _tier_properties(data: dict[str, Any]) -> dict[str, Any]:
    """Tier changes as marketing segments on them: the new tier's id and name and the move's direction.
    Order-caused changes name the tier only (`new_tier`); the loyalty engine's carry an id and a name."""
    properties = {"tier_id": data.get("tier_id", data.get("new_tier")),
                  "tier_name": data.get("tier_name", data.get("new_tier"))}
    if data.get("direction") in ("up", "down"):
        properties["levelMove"] = data["direction"]
    return properties


def customer_event(event: BusinessEvent) -> dict[str, Any]:
    """The Bloomreach customer event of a canonical event; Untrackable without a customer id."""
    customer_id = event.data.get("customer_id")
    if not isinstance(customer_id, str) or not customer_id:
        raise Untrackable(f"{event.type} {event.id} has no customer_id")
    properties = {k: v for k, v in event.data.items() if k not in ENVELOPE_KEYS}
    if event.type == TIER_CHANGED:
        properties |= _tier_properties(event.data)
    properties["event_id"] = event.id  # the dedupe and audit key
    if event.order_id:
        properties["order_id"] = event.order_id
    return {
        "customer_ids": {"registered": customer_id},
        "event_type": event_type_of(event.type),
        "properties": properties,
        "timestamp": event.occurred_at.timestamp(),
    }


def basic_authorization(key_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{key_id}:{secret}".encode()).decode()


def _refused_answer(outcome: PostOutcome) -> PostOutcome:
    """A 2xx whose body says `"success": false` is no success (a contract breach, not retried as transient)."""
    if outcome.error is not None:
        return outcome
    try:
        answer = json.loads(outcome.head)
    except ValueError:
        return outcome
    if isinstance(answer, dict) and answer.get("success") is False:
        return PostOutcome(outcome.status_code, outcome.head, "http_error")
    return outcome


class BloomreachMarketing:
    """MarketingTracker for Bloomreach Engagement (O2C_MARKETING_ADAPTER=bloomreach)."""

    def __init__(self, settings: Settings) -> None:
        base = settings.vendor_url("marketing")
        self.url = f"{base}/track/v2/projects/{settings.marketing_project_token}/customers/events"
        self._key_id = settings.marketing_api_key_id
        self._secret = settings.marketing_api_secret
        self._deadline_s = settings.webhook_delivery_timeout_s
        # The destination comes from the operator's settings, not from an API caller, so it needs none of
        # the outbound-webhook guards against private addresses.
        self._pool = httpcore.AsyncConnectionPool()

    async def aclose(self) -> None:
        await self._pool.aclose()

    async def track(self, event: BusinessEvent) -> PostOutcome:
        try:
            body = json.dumps(customer_event(event), separators=(",", ":"), ensure_ascii=False).encode()
        except Untrackable as untrackable:
            return PostOutcome(None, str(untrackable).encode(), "destination_refused")
        headers = {
            "authorization": basic_authorization(self._key_id, self._secret.get_secret_value()),
            "content-type": "application/json",
            "accept": "application/json",
            "user-agent": USER_AGENT,
        }
        outcome = await post_bounded(self._pool, self.url, body, headers, deadline_s=self._deadline_s,
                                     keep_bytes=RESPONSE_KEEP_BYTES)
        return _refused_answer(outcome)
