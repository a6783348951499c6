"""POST /v1/webhooks/fulfillment: signed events from the fulfilment node (design §5, §9).

Standard Webhooks: HMAC-SHA256 over `{webhook-id}.{webhook-timestamp}.{body}` with the shared
secret, and a timestamp tolerance against replays of old captures. Nothing is parsed, let alone
applied, before the signature checks out. The `webhook-id` becomes the event id, by which the order
workflow applies a redelivered event once; so a redelivery is answered 200 like the first delivery.

The sender (sandbox/CONTRACT.md, "Webhooks") retries non-2xx answers except 4xx: 4xx means "this
event will never be accepted", so it is used only for events that are wrong in themselves. Such an
event, once its signature checks out, is kept as a dead letter with its reason for support (listed by
GET /v1/webhooks/fulfillment/dead-letters, orders:support), so it is not lost unseen; if the store
cannot take it, the answer is a 503 and the sender tries again.
"""

import asyncio
import re
import time
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import structlog
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from temporalio.service import RPCError

from api.shared.auth import Principal, require_scope
from api.shared.cursors import IdCursor
from api.shared.openapi import inline_schema
from api.shared.problems import (
    PROBLEM,
    ProblemError,
    ValidationProblem,
    payload_too_large,
    validation_problem,
)
from api.shared.store import store
from api.shared.temporal import describe_or_none, is_not_found, temporal_client
from canonical.identifiers import Identifier, Quantity
from canonical.returns import ReceivedLine
from canonical.returns import ReturnReceived as ReturnEvent
from canonical.saga import FulfillmentEvent
from canonical.saga import workflow_id as order_workflow_id
from canonical.steps import LineQuantity
from runtime.settings import Settings
from store.dead_letters import DeadLetterRepository
from workflows.order import OrderWorkflow

log = structlog.get_logger("o2c.api")

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])

SOURCE = "fulfillment"
ORDER_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
_CURSOR = IdCursor(b"dl:")


# Inbound vendor payloads ignore fields we do not use (vendors add fields), but what we use is checked.
class WebhookLine(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    sku: Identifier
    quantity: Quantity


class ShipmentDispatched(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    order_id: Identifier
    request_id: str | None = None
    shipment_id: Identifier
    lines: list[WebhookLine] = Field(min_length=1)
    carrier: str | None = Field(default=None, max_length=100)
    tracking_number: str | None = Field(default=None, max_length=100)


class PickRejected(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    order_id: Identifier
    request_id: str | None = None
    lines: list[WebhookLine] = Field(min_length=1)
    reason: str | None = Field(default=None, max_length=500)


class ReturnLine(WebhookLine):
    condition: Literal["resellable", "damaged"]


class ReturnReceived(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    order_id: Identifier
    return_id: Identifier
    lines: list[ReturnLine] = Field(min_length=1)


class Envelope(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    type: str
    timestamp: datetime | None = None
    data: dict[str, Any]


class DispatchedEvent(Envelope):
    type: Literal["shipment.dispatched"]
    data: ShipmentDispatched  # type: ignore[assignment]


class PickRejectedEvent(Envelope):
    type: Literal["shipment.pick_rejected"]
    data: PickRejected  # type: ignore[assignment]


class ReturnReceivedEvent(Envelope):
    type: Literal["return.received"]
    data: ReturnReceived  # type: ignore[assignment]


EVENT_BODY = Annotated[DispatchedEvent | PickRejectedEvent | ReturnReceivedEvent, Field(discriminator="type")]
"""What the body is, for the OpenAPI document only: the handler reads the raw bytes, since nothing may be
parsed before the signature checks out."""

DATA_MODELS: dict[str, type[BaseModel]] = {
    "shipment.dispatched": ShipmentDispatched,
    "shipment.pick_rejected": PickRejected,
    "return.received": ReturnReceived,
}


class WebhookAck(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    status: Literal["received", "ignored"]
    """`received`: applied (or already applied); `ignored`: nothing to apply."""
    event_id: str
    """The delivery's `webhook-id`."""
    detail: str | None = None
    """Why it was ignored."""


def make_verifier(settings: Settings) -> Webhook:
    """Built at startup so a malformed secret fails the start, not every delivery."""
    return Webhook(settings.fulfillment_webhook_secret.get_secret_value())


def _invalid_signature(detail: str) -> ProblemError:
    return ProblemError(401, "invalid-signature", detail)


def verify(verifier: Webhook, settings: Settings, raw: bytes, headers: dict[str, str]) -> str:
    """The webhook-id of a correctly signed, fresh delivery; otherwise a 401 problem."""
    try:
        verifier.verify(raw, headers, json_parse=False)
    except WebhookVerificationError as err:
        raise _invalid_signature(f"Webhook signature verification failed: {err}") from None
    except ValueError:  # malformed signature header or non-UTF-8 body: the library does not wrap these
        raise _invalid_signature("Webhook signature verification failed: malformed signature") from None
    # The library's tolerance is fixed at 5 minutes; O2C_WEBHOOK_TOLERANCE_S may only tighten it.
    if abs(time.time() - float(headers["webhook-timestamp"])) > settings.webhook_tolerance_s:
        raise _invalid_signature("Webhook signature verification failed: timestamp outside tolerance")
    return headers["webhook-id"]


def _ack(status: Literal["received", "ignored"], event_id: str, detail: str | None = None) -> JSONResponse:
    return JSONResponse(WebhookAck(status=status, event_id=event_id, detail=detail).model_dump(mode="json"))


class Unusable(Exception):
    """A signed event that cannot be applied: answered with `problem` and kept as a dead letter."""

    def __init__(self, reason: str, problem: ProblemError, event_type: str | None = None,
                 order_id: str | None = None) -> None:
        super().__init__(reason)
        self.reason, self.problem, self.event_type, self.order_id = reason, problem, event_type, order_id


def _order_id_hint(data: dict[str, Any]) -> str | None:
    """The order an unusable event names, when it names one in a valid form (for support to search by)."""
    order_id = data.get("order_id")
    return order_id if isinstance(order_id, str) and ORDER_ID.fullmatch(order_id) else None


def parse_event(raw: bytes) -> tuple[str, Any]:
    """(type, data model) of a delivery's body; Unusable when it is not one we can apply."""
    try:
        envelope = Envelope.model_validate_json(raw)
    except ValidationError as err:
        problem = validation_problem(err.errors(), prefix=("body",))
        raise Unusable("malformed_json" if problem.status == 400 else "invalid_envelope", problem) from None
    hint = _order_id_hint(envelope.data)
    model = DATA_MODELS.get(envelope.type)
    if model is None:
        raise Unusable("unsupported_type", validation_problem(
            [{"loc": ("type",), "msg": f"unsupported event type; expected one of {', '.join(DATA_MODELS)}"}],
            prefix=("body",)), envelope.type[:100], hint)
    try:
        return envelope.type, model.model_validate(envelope.data)
    except ValidationError as err:
        raise Unusable("invalid_data", validation_problem(err.errors(), prefix=("body", "data")),
                       envelope.type, hint) from None


@router.post(
    "/fulfillment",
    operation_id="receive_fulfillment_event",
    response_model=WebhookAck,
    summary="Fulfilment events (Standard Webhooks signed)",
    description="A correctly signed event that cannot be applied is answered 4xx and kept as a dead letter "
    "(`dead_letter_id` in the problem), listed by `GET /v1/webhooks/fulfillment/dead-letters`.",
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": inline_schema(
        EVENT_BODY)}}}},
    responses={400: PROBLEM, 401: PROBLEM, 404: PROBLEM, 413: PROBLEM, 422: {"model": ValidationProblem},
               503: PROBLEM},
)
async def fulfillment_webhook(request: Request) -> JSONResponse:
    settings: Settings = request.app.state.settings
    raw = await request.body()  # at most O2C_MAX_WEBHOOK_BODY_BYTES (api/body_limit.py)
    event_id = verify(request.app.state.fulfillment_webhook, settings, raw, dict(request.headers))
    if len(event_id) > 255:
        raise validation_problem([{"loc": ("header", "webhook-id"), "msg": "at most 255 characters"}])
    try:
        event_type, data = parse_event(raw)
        structlog.contextvars.bind_contextvars(
            order_id=data.order_id, workflow_id=order_workflow_id(data.order_id), event_id=event_id,
            event_type=event_type)
        return await _apply(request, event_id, event_type, data)
    except Unusable as unusable:
        letter_id = await _keep(request, event_id, raw, unusable)
        log.warning("webhook.dead_lettered", event_id=event_id, reason=unusable.reason,
                    dead_letter_id=letter_id)
        unusable.problem.extra["dead_letter_id"] = letter_id
        raise unusable.problem from None


async def _apply(request: Request, event_id: str, event_type: str, data: Any) -> JSONResponse:
    if isinstance(data, ReturnReceived):
        received = ReturnEvent(event_id=event_id, return_id=data.return_id, lines=[
            ReceivedLine(sku=ln.sku, quantity=ln.quantity, condition=ln.condition) for ln in data.lines])
        return await _signal(request, order_workflow_id(data.order_id), OrderWorkflow.return_received, received,
                             event_id, event_type, data.order_id)
    lines = [LineQuantity(sku=ln.sku, quantity=ln.quantity) for ln in data.lines]
    if isinstance(data, ShipmentDispatched):
        event = FulfillmentEvent(
            event_id=event_id,
            type="shipment.dispatched",
            order_id=data.order_id,
            shipment_id=data.shipment_id,
            lines=lines,
            carrier=data.carrier,
            tracking_number=data.tracking_number,
        )
    else:
        event = FulfillmentEvent(
            event_id=event_id,
            type="shipment.pick_rejected",
            order_id=data.order_id,
            lines=lines,
            reason=data.reason,
        )

    response = await _signal(request, order_workflow_id(data.order_id), OrderWorkflow.fulfillment_event, event,
                             event_id, event_type, data.order_id)
    log.info("webhook.delivered")
    return response


async def _signal(request: Request, workflow_id: str, signal: Any, arg: Any, event_id: str, event_type: str,
                  order_id: str) -> JSONResponse:
    client = await temporal_client(request)
    handle = client.get_workflow_handle(workflow_id)
    try:
        await handle.signal(signal, arg)
    except RPCError as err:
        if payload_too_large(err):
            too_large = ProblemError(413, "payload-too-large", "The event is too large for Temporal")
            raise Unusable("too_large", too_large, event_type, order_id) from None
        if not is_not_found(err):
            raise
        if await describe_or_none(handle) is None:
            unknown = ProblemError(404, "not-found", f"No {workflow_id}", order_id=order_id)
            raise Unusable("unknown_workflow", unknown, event_type, order_id) from None
        # The order's workflow has closed (its return or late-dispatch window is over): nothing can apply
        # the event any more, so it is kept where support finds it rather than dropped.
        closed = ProblemError(409, "order-closed", f"Order {order_id} is closed; the event was kept for support",
                              order_id=order_id)
        raise Unusable("order_closed", closed, event_type, order_id) from None
    return _ack("received", event_id)


async def _keep(request: Request, event_id: str, raw: bytes, unusable: Unusable) -> int:
    """The dead letter's id; a store that cannot take it raises, which answers 503 (the sender retries)."""
    problem = unusable.problem

    def write() -> int:
        with store(request).writing() as session:
            return DeadLetterRepository(session).record(
                source=SOURCE, webhook_id=event_id, event_type=unusable.event_type,
                order_id=unusable.order_id, reason=unusable.reason, detail=problem.detail or problem.type,
                errors=problem.extra.get("errors", []), payload=raw.decode("utf-8", "replace"),
                at=datetime.now(UTC))

    return await asyncio.to_thread(write)


# ---- dead letters (support) ------------------------------------------------------------------


class DeadLetterView(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    id: int
    """The dead letter's id."""
    source: str
    """Who sent the event (`fulfillment`)."""
    webhook_id: str
    """The delivery's `webhook-id`."""
    event_type: str | None
    """The event's type, when it had one."""
    order_id: str | None
    """The order it names, when it names one in a valid form."""
    reason: str
    """malformed_json, invalid_envelope, unsupported_type, invalid_data, unknown_workflow or too_large."""
    detail: str
    """What was wrong, for humans."""
    errors: list[dict[str, Any]]
    """Each offending field, as in a validation problem."""
    payload: str
    """The body as the sender signed it."""
    deliveries: int
    """Times the sender delivered it."""
    received_at: datetime
    """First delivery (UTC)."""
    last_received_at: datetime
    """Latest delivery (UTC)."""


class DeadLetterPage(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    items: list[DeadLetterView]
    """Dead letters, oldest first."""
    next_cursor: str | None
    """Pass as `cursor` to get the next page; null on the last page."""


@router.get("/fulfillment/dead-letters", response_model=DeadLetterPage,
            summary="Signed fulfilment events that could not be applied, oldest first",
            responses={401: PROBLEM, 403: PROBLEM, 422: {"model": ValidationProblem}, 503: PROBLEM})
def list_dead_letters(
    request: Request,
    _: Annotated[Principal, Depends(require_scope("orders:support"))],
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> DeadLetterPage:
    after = _CURSOR.after_id(cursor)
    with store(request).reading() as session:
        rows = DeadLetterRepository(session).page(SOURCE, after_id=after, limit=limit + 1)
        items = [DeadLetterView.model_validate(r, from_attributes=True) for r in rows[:limit]]
    next_cursor = _CURSOR.encode(rows[limit - 1].id) if len(rows) > limit else None
    return DeadLetterPage(items=items, next_cursor=next_cursor)
