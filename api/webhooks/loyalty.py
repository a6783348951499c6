"""POST /v1/webhooks/loyalty: the loyalty engine's own tier changes (Open Loyalty webhook subscriptions).

The engine changes tiers on its own (points expiry, manual adjustments, recalculation), not only when
o2c's orders earn or take back points. Each tier-change webhook becomes ONE canonical `loyalty.tier_changed`
in the outbox, so webhook subscribers and Bloomreach get it exactly like an order-caused one.

- Authenticated by the exact Authorization header the subscription was configured to send
  (O2C_LOYALTY_WEBHOOK_AUTHORIZATION), compared in constant time before anything is parsed: a forged
  request is a 401 and leaves nothing behind. The body limit of every inbound webhook applies first.
- Open Loyalty's payload: `eventName`, `storeCode`, `createdAt`, `data.customer` (`customerId`, ...),
  `data.level` (`levelId`, `name`, ...), `data.levelMoveUp` / `data.levelMoveDown`. Fields we do not use
  are ignored (the engine adds fields); the ones we use are checked, and a bad one is a 422 naming it.
- The event id is derived from the payload, so the engine's redelivery of the same change records
  nothing new (and is answered 200 like the first delivery).
- Other event names are answered 200 `ignored`: subscriptions are per event name, and a 4xx would only
  make the engine retry, or flag as failing, an event o2c deliberately does not consume.
"""

import asyncio
import hashlib
import hmac
from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, model_validator

from api.shared.correlation import correlation_id
from api.shared.openapi import inline_schema
from api.shared.problems import PROBLEM, ProblemError, ValidationProblem, validation_problem
from api.shared.store import store
from canonical.events import BusinessEvent
from canonical.identifiers import Identifier
from runtime.settings import Settings
from store.webhooks import WebhookRepository

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])

TIER_CHANGE_EVENTS = frozenset({"CustomerLevelChangedAutomatically", "CustomerLevelChanged"})
"""Open Loyalty's tier-change webhook events: the automatic recalculation's and a manual change's."""
SOURCE = "loyalty_engine"


class OpenLoyaltyCustomer(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    customerId: Identifier
    """The member's id in the loyalty engine (o2c's `loyalty_member_id`)."""


class OpenLoyaltyLevel(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    levelId: Identifier
    """The new tier's id."""
    name: str = Field(min_length=1, max_length=100)
    """The new tier's name."""


class TierChange(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    customer: OpenLoyaltyCustomer
    level: OpenLoyaltyLevel
    """The tier the member is in now."""
    levelMoveUp: bool = False
    levelMoveDown: bool = False

    @model_validator(mode="after")
    def _one_direction(self) -> "TierChange":
        if self.levelMoveUp == self.levelMoveDown:
            raise ValueError("exactly one of levelMoveUp and levelMoveDown must be true")
        return self

    @property
    def direction(self) -> Literal["up", "down"]:
        return "up" if self.levelMoveUp else "down"


class OpenLoyaltyWebhook(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    eventName: str = Field(min_length=1, max_length=100)
    """Tier changes are `CustomerLevelChangedAutomatically` and `CustomerLevelChanged`; others are ignored."""
    storeCode: str = Field(min_length=1, max_length=64)
    createdAt: AwareDatetime
    data: dict[str, Any]


class TierChangeWebhook(OpenLoyaltyWebhook):
    """What the body is, for the OpenAPI document only: the handler reads the raw bytes, since nothing may
    be parsed before the authorization checks out."""

    eventName: Literal["CustomerLevelChangedAutomatically", "CustomerLevelChanged"]  # type: ignore[assignment]
    data: TierChange  # type: ignore[assignment]


EXAMPLE = {
    "eventName": "CustomerLevelChangedAutomatically", "storeCode": "DEFAULT", "createdAt": "2026-12-01T10:00:00+00:00",
    "data": {"customer": {"customerId": "M-1001", "email": "ana.lima@example.com"},
             "level": {"levelId": "gold", "name": "Gold"}, "levelMoveUp": True, "levelMoveDown": False},
}


class LoyaltyWebhookAck(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    status: Literal["received", "ignored"]
    """`received`: recorded as a canonical event (or had been already); `ignored`: not a tier change."""
    event_id: str | None = None
    """The canonical `loyalty.tier_changed` event's id (the same for a redelivery)."""
    detail: str | None = None
    """Why it was ignored."""


def authorized(settings: Settings, header: str | None) -> bool:
    """The configured Authorization header, compared in constant time (no early exit on the first byte)."""
    expected = settings.loyalty_webhook_authorization.get_secret_value().encode()
    return hmac.compare_digest((header or "").encode(), expected)


def tier_event_id(hook: OpenLoyaltyWebhook, change: TierChange) -> str:
    """The same webhook, however often delivered, is the same canonical event."""
    key = "\n".join([hook.eventName, hook.storeCode, hook.createdAt.astimezone(UTC).isoformat(),
                     change.customer.customerId, change.level.levelId, change.direction])
    return "ol_" + hashlib.sha256(key.encode()).hexdigest()[:40]


def tier_changed(hook: OpenLoyaltyWebhook, change: TierChange, correlation: str) -> BusinessEvent:
    """The canonical event; it belongs to no order (order_id is empty)."""
    member = change.customer.customerId
    return BusinessEvent(
        type="loyalty.tier_changed", id=tier_event_id(hook, change), occurred_at=hook.createdAt.astimezone(UTC),
        order_id="", correlation_id=correlation,
        data={"customer_id": member, "member_id": member, "new_tier": change.level.name,
              "tier_id": change.level.levelId, "tier_name": change.level.name, "direction": change.direction,
              "source": SOURCE, "store_code": hook.storeCode},
    )


def parse(raw: bytes) -> tuple[OpenLoyaltyWebhook, TierChange | None]:
    """The webhook and, when it is a tier change, its data; a 400/422 problem naming the field otherwise."""
    try:
        hook = OpenLoyaltyWebhook.model_validate_json(raw)
    except ValidationError as err:
        raise validation_problem(err.errors(), prefix=("body",)) from None
    if hook.eventName not in TIER_CHANGE_EVENTS:
        return hook, None
    try:
        return hook, TierChange.model_validate(hook.data)
    except ValidationError as err:
        raise validation_problem(err.errors(), prefix=("body", "data")) from None


@router.post(
    "/loyalty",
    operation_id="receive_loyalty_event",
    response_model=LoyaltyWebhookAck,
    summary="Loyalty engine tier changes (Open Loyalty webhook subscriptions)",
    description="Authenticated by the `Authorization` header configured on the engine's webhook subscription "
    "(O2C_LOYALTY_WEBHOOK_AUTHORIZATION). A tier change (`CustomerLevelChangedAutomatically`, "
    "`CustomerLevelChanged`) becomes one canonical `loyalty.tier_changed` event, delivered to webhook "
    "subscribers and to Bloomreach; a redelivery records nothing new. Other event names are answered 200 "
    "`ignored`.",
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
        "schema": inline_schema(TierChangeWebhook), "example": EXAMPLE}}}},
    responses={400: PROBLEM, 401: PROBLEM, 413: PROBLEM, 422: {"model": ValidationProblem}, 503: PROBLEM},
)
async def loyalty_webhook(request: Request) -> JSONResponse:
    settings: Settings = request.app.state.settings
    if not authorized(settings, request.headers.get("authorization")):
        raise ProblemError(401, "unauthorized", "The Authorization header is not the loyalty engine's")
    raw = await request.body()  # at most O2C_MAX_WEBHOOK_BODY_BYTES (api/shared body limits)
    hook, change = parse(raw)
    if change is None:
        ignored = LoyaltyWebhookAck(status="ignored", detail=f"{hook.eventName} is not a tier change")
        return JSONResponse(ignored.model_dump(mode="json"))
    event = tier_changed(hook, change, correlation_id(request))

    def record() -> None:
        with store(request).writing() as session:
            WebhookRepository(session).record_events([event], datetime.now(UTC))

    await asyncio.to_thread(record)
    return JSONResponse(LoyaltyWebhookAck(status="received", event_id=event.id).model_dump(mode="json"))
