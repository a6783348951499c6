"""GET /v1/orders/{order_id}: the workflow's own view of the order, plus what only Temporal knows.

The workflow's `status` query reports each step as it sees it; while a step's activity is being
retried, Temporal's pending-activity info has the live attempt count and the last error, which is
what support needs to see ("authorize payment: attempt 4, 503 from payments").
"""

from datetime import timedelta
from typing import Any

from temporalio.api.workflow.v1 import PendingActivityInfo
from temporalio.client import Client, WorkflowExecutionDescription, WorkflowExecutionStatus, WorkflowHandle

from api.orders.accept import order_links
from api.orders.models import AuthorizationHold, OrderDetail
from api.shared.problems import ProblemError
from api.shared.temporal import describe_or_none
from canonical.order_details import next_action, settled
from canonical.saga import OrderResult, OrderView
from canonical.saga import workflow_id as order_workflow_id
from runtime.settings import Settings
from workflows.order import OrderWorkflow

QUERY_TIMEOUT = timedelta(seconds=10)


def not_found(order_id: str) -> ProblemError:
    return ProblemError(404, "not-found", f"No order {order_id}", order_id=order_id)


async def order_view(client: Client, order_id: str) -> tuple[OrderView, WorkflowExecutionDescription]:
    handle = client.get_workflow_handle_for(OrderWorkflow.run, order_workflow_id(order_id))
    desc = await describe_or_none(handle)
    if desc is None or desc.workflow_type != OrderWorkflow.__name__:
        raise not_found(order_id)
    if desc.status == WorkflowExecutionStatus.COMPLETED:
        # The result is the final view; no worker needed to read it.
        result: OrderResult = await handle.result()
        return result.view, desc
    return await _query_view(handle, order_id), desc


async def _query_view(handle: WorkflowHandle[Any, Any], order_id: str) -> OrderView:
    view: OrderView = await query_status(handle, OrderWorkflow.status, f"order {order_id}")
    return view


async def query_status(handle: WorkflowHandle[Any, Any], query: Any, subject: str) -> Any:
    """A running workflow's status query; 503 (retry shortly) while no worker can answer it."""
    try:
        return await handle.query(query, rpc_timeout=QUERY_TIMEOUT)
    except Exception as exc:  # no worker polling, or the query failed
        raise ProblemError(
            503,
            "status-unavailable",
            f"The status of {subject} cannot be read right now; retry shortly",
            headers={"Retry-After": "5"},
        ) from exc


async def _failure_message(pa: PendingActivityInfo, desc: WorkflowExecutionDescription) -> str | None:
    if not pa.HasField("last_failure"):
        return None
    try:
        # Decoded through the client's converter: failure messages may be encrypted by the codec.
        err = await desc.data_converter.decode_failure(pa.last_failure)
        return getattr(err, "message", None) or str(err)
    except Exception:
        return pa.last_failure.message or None


async def _enrich(view: OrderView, desc: WorkflowExecutionDescription) -> OrderView:
    """The workflow runs each step and compensation with its name as the activity id."""
    pending = {pa.activity_id: pa for pa in desc.raw_description.pending_activities}
    if not pending:
        return view
    view = view.model_copy(deep=True)
    for step in view.steps:
        if (pa := pending.get(step.name)) is not None:
            step.attempts = pa.attempt
            step.error = await _failure_message(pa, desc) or step.error
    for undo in view.compensations:
        if (pa := pending.get(undo.name)) is not None:
            undo.error = await _failure_message(pa, desc) or undo.error
    return view


async def order_detail(client: Client, settings: Settings, order_id: str) -> OrderDetail:
    view, desc = await order_view(client, order_id)
    if desc.status == WorkflowExecutionStatus.RUNNING:
        view = await _enrich(view, desc)
    view = settled(view)
    auth = view.authorization
    return OrderDetail(
        **view.model_dump(exclude={"authorization"}),
        authorization=AuthorizationHold(id=auth.id, amount=auth.amount, expires_at=auth.expires_at) if auth else None,
        next_action=next_action(view.order_id, view.status, view.attention),
        links=order_links(settings, order_id, desc.run_id),
    )
