"""/v1/orders: start an order and get the accept decision, read it, find orders, cancel one;
support resolves one that needs attention.

Thin by design: validate and price first (so bad input starts nothing), then one Temporal call.
"""

from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Body, Depends, Header, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from temporalio.service import RPCError

from api.ops.breaker_gate import refuse_if_vendor_down
from api.orders import accept
from api.orders.models import (
    AcceptedOrder,
    CancelAccepted,
    CancelBody,
    OrderDetail,
    OrderPage,
    ReceivedOrder,
    ResolveAccepted,
    ResolveBody,
)
from api.orders.search import decode_cursor, search_orders
from api.orders.status import order_detail as build_order_detail
from api.orders.status import order_view
from api.orders.updates import Refusals, run_update
from api.shared.auth import Principal, require_scope
from api.shared.correlation import correlation_id
from api.shared.problems import (
    PROBLEM,
    PROBLEM_JSON,
    PaymentDeclinedProblem,
    ProblemError,
    ValidationProblem,
    validation_problem,
)
from api.shared.temporal import is_not_found, temporal_client
from canonical.order import Order
from canonical.pricing import PricingError, price
from canonical.saga import CancelRequest, OrderStatus, OrderView, ResolveRequest
from canonical.saga import workflow_id as order_workflow_id
from runtime.settings import Settings
from workflows.order import OrderWorkflow

log = structlog.get_logger("o2c.api")

router = APIRouter(prefix="/v1/orders", tags=["orders"])

INVALID = {"model": ValidationProblem, "content": {"application/problem+json": {}}}
AUTH_PROBLEMS = {401: PROBLEM, 403: PROBLEM}

OrderIdPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9._:-]{1,64}$", max_length=64)]


def _settings(request: Request) -> Settings:
    return request.app.state.settings


def _json(model: BaseModel, status: int, headers: dict[str, str] | None = None) -> JSONResponse:
    # Rendered here (not through response_model) so the status code is chosen per outcome; the
    # field order is the model's, so a replayed request gets a byte-identical body.
    return JSONResponse(model.model_dump(mode="json"), status_code=status, headers=headers)


@router.post(
    "",
    status_code=201,
    response_model=AcceptedOrder,
    summary="Start an order and get the accept decision",
    responses={
        200: {"model": AcceptedOrder, "description": "The same order was sent again"},
        202: {"model": ReceivedOrder, "description": "The decision is taking longer; poll links.self"},
        400: PROBLEM,
        402: {"model": PaymentDeclinedProblem, "content": {PROBLEM_JSON: {}}, "description": "`payment-declined`"},
        409: PROBLEM,
        422: INVALID,
        503: {**PROBLEM, "description": "`vendor-unavailable`: the payments (or, redeeming points, loyalty) "
              "breaker is open, nothing was started, send the order again after Retry-After; "
              "`payment-unavailable`: the vendor stayed down for the whole accept window; "
              "`temporal-unavailable`"},
        **AUTH_PROBLEMS,
    },
)
async def create_order(
    request: Request,
    order: Annotated[Order, Body()],
    principal: Annotated[Principal, Depends(require_scope("orders:write"))],
    idempotency_key: Annotated[
        str | None, Header(alias="Idempotency-Key", min_length=1, max_length=255, pattern=r"^[\x21-\x7e]+$")
    ] = None,
) -> JSONResponse:
    settings = _settings(request)
    _within_caps(order, settings)
    try:
        # In a thread: an order's pricing is cheap, but the event loop serves every other request.
        priced = await run_in_threadpool(price, order, settings.point_value_minor)
    except PricingError as err:
        raise validation_problem([{"loc": (err.field,), "msg": str(err)}], prefix=("body",)) from None
    fp = accept.fingerprint(order, idempotency_key)
    await refuse_if_vendor_down(request, priced, order.order_id)  # an open breaker: 503 at once, nothing started
    client = await temporal_client(request)  # only now: invalid requests never reach Temporal
    structlog.contextvars.bind_contextvars(
        order_id=order.order_id, workflow_id=order_workflow_id(order.order_id)
    )
    decision = await accept.decide(client, settings, order, priced, fp, correlation_id(request))
    links = accept.order_links(settings, order.order_id)
    if decision is None:
        return _json(ReceivedOrder(order_id=order.order_id, links=links), 202, {"Location": links.self})
    if decision.status == "rejected":
        problem = accept.rejection_problem(decision)
        log.info("order.rejected", rejection=problem.type, first=decision.first, actor=principal.name)
        raise problem
    log.info("order.accepted", amount_due=decision.amount_due, first=decision.first, actor=principal.name)
    body = accept.accepted_body(decision, settings)
    if decision.first:
        return _json(body, 201, {"Location": links.self})
    return _json(body, 200)


def _within_caps(order: Order, settings: Settings) -> None:
    units = sum(line.quantity for line in order.lines)
    if len(order.lines) > settings.max_order_lines:
        msg = f"at most {settings.max_order_lines} lines per order, got {len(order.lines)}"
    elif units > settings.max_order_units:
        msg = f"at most {settings.max_order_units} units per order (sum of quantities), got {units}"
    else:
        return
    raise validation_problem([{"loc": ("lines",), "msg": msg}], prefix=("body",))


@router.get(
    "/{order_id}",
    response_model=OrderDetail,
    summary="An order's status, steps, compensations, shipments and money",
    responses={404: PROBLEM, 503: PROBLEM, **AUTH_PROBLEMS},
)
async def get_order(
    request: Request,
    order_id: OrderIdPath,
    _: Annotated[Principal, Depends(require_scope("orders:read"))],
) -> JSONResponse:
    client = await temporal_client(request)
    return _json(await build_order_detail(client, _settings(request), order_id), 200)


@router.get(
    "",
    response_model=OrderPage,
    summary="Find orders by status and customer",
    responses={422: INVALID, **AUTH_PROBLEMS},
)
async def list_orders(
    request: Request,
    _: Annotated[Principal, Depends(require_scope("orders:read"))],
    status: Annotated[OrderStatus | None, Query()] = None,
    customer_id: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9._:-]{1,64}$", max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=4096)] = None,
) -> JSONResponse:
    token = decode_cursor(cursor)
    client = await temporal_client(request)
    page = await search_orders(
        client, _settings(request), status=status, customer_id=customer_id, limit=limit, token=token
    )
    return _json(page, 200)


NOT_CANCELLABLE = "NotCancellable"
NOT_RESOLVABLE = "NotResolvable"


@router.post(
    "/{order_id}/cancel",
    status_code=202,
    response_model=CancelAccepted,
    summary="Cancel an order before anything was dispatched",
    responses={404: PROBLEM, 409: PROBLEM, 422: INVALID, 503: PROBLEM, **AUTH_PROBLEMS},
)
async def cancel_order(
    request: Request,
    order_id: OrderIdPath,
    body: Annotated[CancelBody, Body()],
    principal: Annotated[Principal, Depends(require_scope("orders:cancel", "orders:write", "orders:support"))],
) -> JSONResponse:
    links = accept.order_links(_settings(request), order_id)
    try:
        view = await _update(
            request, order_id, OrderWorkflow.cancel, CancelRequest(reason=body.reason, actor=principal.name),
            {NOT_CANCELLABLE: lambda why: _not_cancellable(order_id, why)},
        )
    except RPCError as err:
        if not is_not_found(err):
            raise
        # Unknown order, or its workflow has closed: a closed cancelled order answers as cancelled.
        closed_view, _ = await order_view(await temporal_client(request), order_id)
        if closed_view.status != OrderStatus.CANCELLED:
            raise _not_cancellable(order_id, f"order is {closed_view.status.value}") from None
        return _json(CancelAccepted(order_id=order_id, status="cancelled", links=links), 202)
    log.info("order.cancel_requested", actor=principal.name)
    status = "cancelled" if view.status == OrderStatus.CANCELLED else "cancelling"
    return _json(CancelAccepted(order_id=order_id, status=status, links=links), 202)


@router.post(
    "/{order_id}/resolve",
    status_code=202,
    response_model=ResolveAccepted,
    summary="Support: get an order out of needs_attention",
    description="`retry` runs the failed step again now; `mark_resolved` closes it as fixed by hand (say how "
    "in `note`); `refund_and_close` refunds what was captured and closes it. The action, the note and who "
    "asked are recorded in the order's history. 409 `not-resolvable` unless the order is needs_attention.",
    responses={404: PROBLEM, 409: PROBLEM, 422: INVALID, 503: PROBLEM, **AUTH_PROBLEMS},
)
async def resolve_order(
    request: Request,
    order_id: OrderIdPath,
    body: Annotated[ResolveBody, Body()],
    principal: Annotated[Principal, Depends(require_scope("orders:support"))],
) -> JSONResponse:
    req = ResolveRequest(action=body.action, note=body.note, actor=principal.name)
    try:
        view = await _update(request, order_id, OrderWorkflow.resolve, req,
                             {NOT_RESOLVABLE: lambda why: _not_resolvable(order_id, why)})
    except RPCError as err:
        if not is_not_found(err):
            raise
        # Unknown (404), or closed: a closed order is not in needs_attention any more.
        closed_view, _ = await order_view(await temporal_client(request), order_id)
        raise _not_resolvable(order_id, f"order is {closed_view.status.value}") from None
    log.info("order.resolve_requested", action=body.action, actor=principal.name)
    links = accept.order_links(_settings(request), order_id)
    status = await _status_after_resolve(request, order_id, body.action, view)
    return _json(ResolveAccepted(order_id=order_id, status=status, links=links), 202)


async def _status_after_resolve(request: Request, order_id: str, action: str, seen: OrderView) -> OrderStatus:
    """The status the action led to. The update answers with the view it saw when it took the action, still
    needs_attention; the order moves on in the same workflow task that confirmed it, so reading it now tells."""
    try:
        view, _ = await order_view(await temporal_client(request), order_id)
    except ProblemError:
        # The action is taken: a retry would be refused, so answer with what it leads to where that is known.
        return OrderStatus.CANCELLING if action == "refund_and_close" else seen.status
    return view.status


async def _update(request: Request, order_id: str, update: Any, arg: BaseModel, refusals: Refusals) -> OrderView:
    structlog.contextvars.bind_contextvars(order_id=order_id)
    view: OrderView = await run_update(request, order_workflow_id(order_id), update, arg, refusals)
    return view


def _not_cancellable(order_id: str, reason: str) -> ProblemError:
    return ProblemError(
        409, "not-cancellable", f"Order {order_id} cannot be cancelled: {reason}", order_id=order_id
    )


def _not_resolvable(order_id: str, reason: str) -> ProblemError:
    return ProblemError(
        409, "not-resolvable", f"Order {order_id} cannot be resolved: {reason}", order_id=order_id
    )
