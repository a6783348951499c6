"""/v1/orders/{order_id}/returns: the commerce platform returns goods; support decides on damaged ones.

Returns live in the order's own workflow: it checks what may be returned (shipped and not yet
returned, SKU by SKU), runs each return, and answers reads and support decisions.
"""

from typing import Annotated, Literal

import structlog
from fastapi import APIRouter, Body, Depends, Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from temporalio.service import RPCError

from api.orders.status import order_view
from api.orders.updates import run_update
from api.shared.auth import Principal, require_scope
from api.shared.problems import PROBLEM, ProblemError, ValidationProblem
from api.shared.temporal import describe_or_none, is_not_found, temporal_client
from canonical.returns import RegisterReturn, ResolveReturn, ReturnRequest, ReturnView
from canonical.saga import workflow_id as order_workflow_id
from workflows.order import OrderWorkflow

log = structlog.get_logger("o2c.api")

router = APIRouter(prefix="/v1/orders/{order_id}/returns", tags=["returns"])

RESPONSES = {401: PROBLEM, 403: PROBLEM, 404: PROBLEM, 409: PROBLEM, 422: {"model": ValidationProblem}, 503: PROBLEM}
IdPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9._:-]{1,64}$", max_length=64)]


class ReturnAccepted(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    order_id: str
    """The order."""
    return_id: str
    """The return's id, as sent."""
    status: Literal["requested"] = "requested"
    """Always `requested`: the warehouse has not received the goods yet."""
    lines: list[dict[str, object]]
    """What was requested."""
    links: dict[str, str]
    """`self`: the return; `order`: its order."""


class ReturnDecision(BaseModel):
    # Titled apart from canonical.returns.ReturnDecision (a decision as recorded), which a client generator
    # would otherwise take for the same model.
    model_config = ConfigDict(use_attribute_docstrings=True, extra="forbid", title="ReturnResolveBody")

    action: Literal["refund", "refuse"]
    """`refund` the damaged goods anyway, or `refuse`."""
    note: str = Field(min_length=1, max_length=1000)
    """Why: recorded with the decision and who made it."""


def _links(order_id: str, return_id: str) -> dict[str, str]:
    return {"self": f"/v1/orders/{order_id}/returns/{return_id}", "order": f"/v1/orders/{order_id}"}


@router.post("", status_code=202, response_model=ReturnAccepted, responses=RESPONSES, operation_id="request_return",
             summary="Return goods of a completed order (refunded once the warehouse accepts them)")
async def create_return(
    request: Request,
    order_id: IdPath,
    body: Annotated[ReturnRequest, Body()],
    principal: Annotated[Principal, Depends(require_scope("orders:write"))],
) -> JSONResponse:
    refusals = {
        "NotReturnable": lambda why: ProblemError(409, "not-returnable", why, order_id=order_id),
        "OverReturn": lambda why: ProblemError(409, "over-return", why, order_id=order_id),
        "ReturnConflict": lambda why: ProblemError(409, "return-id-conflict", why, order_id=order_id),
    }
    try:
        summary: ReturnView = await run_update(
            request, order_workflow_id(order_id), OrderWorkflow.request_return,
            RegisterReturn(request=body, actor=principal.name), refusals,
        )
    except RPCError as err:
        if not is_not_found(err):
            raise
        handle = (await temporal_client(request)).get_workflow_handle(order_workflow_id(order_id))
        if await describe_or_none(handle) is None:
            raise ProblemError(404, "not-found", f"No order {order_id}", order_id=order_id) from None
        raise ProblemError(409, "not-returnable", f"Order {order_id} is closed to returns", order_id=order_id) from None
    log.info("return.requested", order_id=order_id, return_id=summary.return_id, actor=principal.name)
    accepted = ReturnAccepted(order_id=order_id, return_id=summary.return_id, links=_links(order_id, summary.return_id),
                              lines=[ln.model_dump() for ln in summary.lines])
    return JSONResponse(accepted.model_dump(mode="json"), status_code=202)


@router.get("/{return_id}", response_model=ReturnView, responses=RESPONSES, summary="A return and its refunds")
async def get_return(
    request: Request,
    order_id: IdPath,
    return_id: IdPath,
    _: Annotated[Principal, Depends(require_scope("orders:read"))],
) -> ReturnView:
    view, _ = await order_view(await temporal_client(request), order_id)
    found = next((r for r in view.returns if r.return_id == return_id), None)
    if found is None:
        raise ProblemError(404, "not-found", f"No return {return_id} of order {order_id}")
    return found


@router.post("/{return_id}/resolve", status_code=202, response_model=ReturnView, responses=RESPONSES,
             summary="Support: refund damaged goods anyway, or refuse with a note")
async def resolve_return(
    request: Request,
    order_id: IdPath,
    return_id: IdPath,
    body: Annotated[ReturnDecision, Body()],
    principal: Annotated[Principal, Depends(require_scope("orders:support"))],
) -> JSONResponse:
    decision = ResolveReturn(return_id=return_id, action=body.action, note=body.note, actor=principal.name)
    refusals = {"NotResolvable": lambda why: ProblemError(409, "not-resolvable", why, order_id=order_id)}
    try:
        view: ReturnView = await run_update(request, order_workflow_id(order_id), OrderWorkflow.resolve_return,
                                            decision, refusals)
    except RPCError as err:
        if is_not_found(err):
            raise ProblemError(404, "not-found", f"No open return {return_id} of order {order_id}") from None
        raise
    return JSONResponse(view.model_dump(mode="json"), status_code=202)
