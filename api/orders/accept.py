"""The customer-facing accept decision behind POST /v1/orders (design §4, §5).

One update-with-start call starts the order workflow if needed and waits for its accept decision:
points reserved and payment authorized, or the order rejected. The same request sent again reaches
the same workflow (the order id is the workflow id) and gets the same decision; a different request
for the same order id is refused by the workflow's update validator (its fingerprint differs).
Once an order's workflow has closed, Temporal refuses to start it again, and the decision is read
back from the closed workflow's history instead, so replays keep getting the same answer.
"""

import hashlib
import json
from typing import Any

import structlog
from temporalio.client import (
    Client,
    RPCTimeoutOrCancelledError,
    WithStartWorkflowOperation,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowUpdateFailedError,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError

from api.orders.models import AcceptedOrder, AuthorizationHold, Links, LoyaltyHold
from api.shared.problems import ProblemError
from api.shared.temporal import DeadlineExceeded, describe_or_none, is_not_found, unavailable, within
from canonical.identifiers import format_money
from canonical.order import Order
from canonical.order_details import static_details
from canonical.pricing import PricedOrder
from canonical.saga import AcceptDecision, AcceptRequest, OrderInput
from canonical.saga import workflow_id as order_workflow_id
from runtime.settings import Settings, saga_timings
from workflows.order import OrderWorkflow
from workflows.search_attributes import initial_search_attributes

log = structlog.get_logger("o2c.api")

# ApplicationError types raised by the workflow's update validators.
ORDER_ID_CONFLICT = "OrderIdConflict"


# Rejection type -> HTTP status of the problem answered (design §5).
REJECTION_STATUS: dict[str, int] = {
    "payment-declined": 402,
    "insufficient-points": 409,
    # The payment or loyalty vendor stayed unreachable for the whole accept window.
    "payment-unavailable": 503,
    # Any other reason the order could not be accepted; final for this order id.
    "order-failed": 422,
}


def fingerprint(order: Order, idempotency_key: str | None) -> str:
    """sha256 over the canonical JSON of the validated order and the Idempotency-Key.

    Computed from the parsed model, not the raw bytes, so key order and whitespace do not matter.
    """
    canonical = json.dumps(
        {"order": order.model_dump(mode="json"), "idempotency_key": idempotency_key},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def order_links(settings: Settings, order_id: str, run_id: str | None = None) -> Links:
    """With the run known, the UI link opens on the run's User Metadata: the UI opens a workflow on its
    timeline and raw input, while the status, reason, money at risk and next action are in its details."""
    wid = order_workflow_id(order_id)
    ui = f"{settings.temporal_ui_url.rstrip('/')}/namespaces/{settings.temporal_namespace}/workflows/{wid}"
    return Links(self=f"/v1/orders/{order_id}", temporal_ui=f"{ui}/{run_id}/user-metadata" if run_id else ui)


def order_input(
    order: Order, priced: PricedOrder, fp: str, correlation_id: str, settings: Settings
) -> OrderInput:
    return OrderInput(
        order=order,
        priced=priced,
        fingerprint=fp,
        correlation_id=correlation_id,
        timings=saga_timings(settings),
    )


async def decide(
    client: Client,
    settings: Settings,
    order: Order,
    priced: PricedOrder,
    fp: str,
    correlation_id: str,
) -> AcceptDecision | None:
    """The accept decision, or None if it was not taken within O2C_ACCEPT_TIMEOUT_S (-> 202).

    Raises ProblemError for an order id conflict or when Temporal is unreachable.
    """
    wid = order_workflow_id(order.order_id)
    start = WithStartWorkflowOperation(
        OrderWorkflow.run,
        order_input(order, priced, fp, correlation_id, settings),
        id=wid,
        task_queue=settings.task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        search_attributes=initial_search_attributes(order),
        memo={"fingerprint": fp},
        # Shown in the Temporal UI's list; no personal data.
        static_summary=f"Order {order.order_id} {format_money(order.total, order.currency)} {order.channel}",
        static_details=static_details(order),
    )
    try:
        return await within(
            settings.accept_timeout_s,
            client.execute_update_with_start_workflow(
                OrderWorkflow.accept, AcceptRequest(fingerprint=fp), start_workflow_operation=start
            ),
        )
    except (DeadlineExceeded, RPCTimeoutOrCancelledError):
        # The update carries on server-side (the client's own RPC deadline, or a server restarting, ends
        # the call as RPCTimeoutOrCancelledError); say "received" only if the order really exists.
        if await describe_or_none(client.get_workflow_handle(wid)) is not None:
            log.info("order.accept_pending", order_id=order.order_id, workflow_id=wid)
            return None
        raise unavailable() from None
    except WorkflowAlreadyStartedError:
        # REJECT_DUPLICATE: a workflow with this id existed and has closed.
        return await closed_order_decision(client, order.order_id, fp)
    except WorkflowUpdateFailedError as err:
        if isinstance(err.cause, ApplicationError) and err.cause.type == ORDER_ID_CONFLICT:
            raise conflict(order.order_id) from None
        raise
    except RPCError as err:
        if is_not_found(err):  # it closed between the start and the update: read it back
            return await closed_order_decision(client, order.order_id, fp)
        raise
    finally:
        _retrieve_start_outcome(start)


def _retrieve_start_outcome(start: WithStartWorkflowOperation[Any, Any]) -> None:
    # The SDK stores a failed start on a future nobody awaits, and asyncio would log it as
    # "exception was never retrieved"; the error is handled above (or the call was abandoned).
    fut = getattr(start, "_workflow_handle", None)
    if fut is not None:
        fut.add_done_callback(lambda f: f.cancelled() or f.exception())


def conflict(order_id: str) -> ProblemError:
    return ProblemError(
        409,
        "order-id-conflict",
        f"Order {order_id} was already received with a different payload or Idempotency-Key",
        order_id=order_id,
    )


async def closed_order_decision(client: Client, order_id: str, fp: str) -> AcceptDecision | None:
    """The decision of a closed order; None (-> 202) if it is in fact still running: an update that a
    restarting server lost answers NOT_FOUND too."""
    handle = client.get_workflow_handle_for(OrderWorkflow.run, order_workflow_id(order_id))
    desc = await handle.describe()
    if await desc.memo_value("fingerprint", None) != fp:
        raise conflict(order_id)
    if desc.status == WorkflowExecutionStatus.RUNNING:
        return None
    try:
        decision = (await handle.result()).decision
    except WorkflowFailureError:  # cancelled or terminated by an operator
        decision = None
    if decision is None:
        raise ProblemError(422, "order-failed", f"Order {order_id} ended without an accept decision",
                           order_id=order_id)
    return decision.model_copy(update={"first": False})


def accepted_body(decision: AcceptDecision, settings: Settings) -> AcceptedOrder:
    auth = decision.authorization
    points = decision.loyalty
    return AcceptedOrder(
        order_id=decision.order_id,
        workflow_id=order_workflow_id(decision.order_id),
        amount_due=decision.amount_due,
        currency=decision.currency,
        authorization=AuthorizationHold(id=auth.id, amount=auth.amount, expires_at=auth.expires_at)
        if auth
        else None,
        loyalty=LoyaltyHold(reservation_id=points.reservation_id, points=points.points) if points else None,
        links=order_links(settings, decision.order_id),
    )


def rejection_problem(decision: AcceptDecision) -> ProblemError:
    rejection = decision.rejection
    kind = rejection.type if rejection else "order-failed"
    return ProblemError(
        REJECTION_STATUS.get(kind, 422),
        kind,
        rejection.detail if rejection else f"Order {decision.order_id} was rejected",
        order_id=decision.order_id,
        decline_code=rejection.decline_code if rejection else None,
    )
