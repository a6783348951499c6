"""POST /v1/webhooks/fulfillment: signed events from the fulfilment node (design §5, §9).

Standard Webhooks: HMAC-SHA256 over `{webhook-id}.{webhook-timestamp}.{body}` with the shared
secret, and a timestamp tolerance against replays of old captures. Nothing is parsed, let alone
applied, before the signature checks out. The `webhook-id` becomes the event id, by which the order
workflow applies a redelivered event once; so a redelivery is answered 200 like the first delivery.

The sender (sandbox/CONTRACT.md, "Webhooks") retries non-2xx answers except 4xx: 4xx means "this
event will never be accepted", so it is used only for events that are wrong in themselves.
"""

import time
from datetime import datetime
from typing import Any, Literal

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from temporalio.service import RPCError

from api.problems import Problem, ProblemError, ValidationProblem, validation_problem
from api.temporal_gateway import describe_or_none, is_not_found, temporal_client
from canonical.identifiers import Identifier, Quantity
from canonical.returns import ReceivedLine, return_workflow_id
from canonical.returns import ReturnReceived as ReturnEvent
from canonical.saga import FulfillmentEvent
from canonical.saga import workflow_id as order_workflow_id
from canonical.settings import Settings
from canonical.steps import LineQuantity
from workflows.order import OrderWorkflow
from workflows.returns import ReturnWorkflow

log = structlog.get_logger("o2c.api")

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])

PROBLEM = {"model": Problem, "content": {"application/problem+json": {}}}


# Inbound vendor payloads ignore fields we do not use (vendors add fields), but what we use is checked.
class WebhookLine(BaseModel):
    sku: Identifier
    quantity: Quantity


class ShipmentDispatched(BaseModel):
    order_id: Identifier
    request_id: str | None = None
    shipment_id: Identifier
    lines: list[WebhookLine] = Field(min_length=1)
    carrier: str | None = Field(default=None, max_length=100)
    tracking_number: str | None = Field(default=None, max_length=100)


class PickRejected(BaseModel):
    order_id: Identifier
    request_id: str | None = None
    lines: list[WebhookLine] = Field(min_length=1)
    reason: str | None = Field(default=None, max_length=500)


class ReturnLine(WebhookLine):
    condition: Literal["resellable", "damaged"]


class ReturnReceived(BaseModel):
    order_id: Identifier
    return_id: Identifier
    lines: list[ReturnLine] = Field(min_length=1)


class Envelope(BaseModel):
    type: str
    timestamp: datetime | None = None
    data: dict[str, Any]


DATA_MODELS: dict[str, type[BaseModel]] = {
    "shipment.dispatched": ShipmentDispatched,
    "shipment.pick_rejected": PickRejected,
    "return.received": ReturnReceived,
}


class WebhookAck(BaseModel):
    status: Literal["received", "ignored"]
    event_id: str
    detail: str | None = None


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


@router.post(
    "/fulfillment",
    response_model=WebhookAck,
    summary="Fulfilment events (Standard Webhooks signed)",
    responses={400: PROBLEM, 401: PROBLEM, 404: PROBLEM, 422: {"model": ValidationProblem}, 503: PROBLEM},
)
async def fulfillment_webhook(request: Request) -> JSONResponse:
    settings: Settings = request.app.state.settings
    raw = await request.body()
    event_id = verify(request.app.state.fulfillment_webhook, settings, raw, dict(request.headers))
    if len(event_id) > 255:
        raise validation_problem([{"loc": ("header", "webhook-id"), "msg": "at most 255 characters"}])

    try:
        envelope = Envelope.model_validate_json(raw)
    except ValidationError as err:
        raise validation_problem(err.errors(), prefix=("body",)) from None
    model = DATA_MODELS.get(envelope.type)
    if model is None:
        raise validation_problem(
            [{"loc": ("type",), "msg": f"unsupported event type; expected one of {', '.join(DATA_MODELS)}"}],
            prefix=("body",),
        )
    try:
        data: Any = model.model_validate(envelope.data)
    except ValidationError as err:
        raise validation_problem(err.errors(), prefix=("body", "data")) from None

    structlog.contextvars.bind_contextvars(
        order_id=data.order_id,
        workflow_id=order_workflow_id(data.order_id),
        event_id=event_id,
        event_type=envelope.type,
    )
    if isinstance(data, ReturnReceived):
        received = ReturnEvent(event_id=event_id, lines=[
            ReceivedLine(sku=ln.sku, quantity=ln.quantity, condition=ln.condition) for ln in data.lines])
        wid = return_workflow_id(data.order_id, data.return_id)
        return await _signal(request, wid, ReturnWorkflow.return_received, received, event_id, data.order_id)
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
                             event_id, data.order_id)
    log.info("webhook.delivered")
    return response


async def _signal(request: Request, workflow_id: str, signal: Any, arg: Any, event_id: str,
                  order_id: str) -> JSONResponse:
    client = await temporal_client(request)
    handle = client.get_workflow_handle(workflow_id)
    try:
        await handle.signal(signal, arg)
    except RPCError as err:
        if not is_not_found(err):
            raise
        if await describe_or_none(handle) is None:
            raise ProblemError(404, "not-found", f"No {workflow_id}", order_id=order_id) from None
        # The workflow has closed: most likely a redelivery of an event it already applied.
        log.warning("webhook.workflow_closed")
        return _ack("ignored", event_id, "the order or return is closed")
    return _ack("received", event_id)
