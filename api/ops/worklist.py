"""The exception worklist: orders parked in needs_attention, with why, the money at risk and where to
act. Found through Temporal visibility (OrderStatus, AttentionReason and MoneyAtRisk are search attributes);
the reason in words is in the order's own status, so each listed order is asked for it, all at once and each
within a short bound."""

import asyncio
from datetime import datetime, timedelta

from pydantic import BaseModel
from temporalio.client import Client, WorkflowExecution

from api.orders.accept import order_links
from canonical.saga import OrderView
from runtime.settings import Settings
from workflows.order import OrderWorkflow
from workflows.search_attributes import (
    ATTENTION_REASON,
    CURRENCY,
    MONEY_AT_RISK,
    ORDER_ID,
    PARKED_ORDERS_QUERY,
)

WORKLIST_LIMIT = 50
QUERY_TIMEOUT = timedelta(seconds=3)


class AttentionItem(BaseModel):
    order_id: str
    reason_code: str | None
    status_reason: str | None
    """None when the order could not be asked right now (no worker answered in time)."""
    money_at_risk: int | None
    currency: str | None
    started_at: datetime | None
    temporal_ui: str


async def _view(client: Client, execution: WorkflowExecution) -> OrderView | None:
    handle = client.get_workflow_handle_for(OrderWorkflow.run, execution.id)
    try:
        return await handle.query(OrderWorkflow.status, rpc_timeout=QUERY_TIMEOUT)
    except Exception:  # a worklist row without the words beats no worklist
        return None


def _item(settings: Settings, execution: WorkflowExecution, view: OrderView | None) -> AttentionItem:
    attrs = execution.typed_search_attributes
    order_id = attrs.get(ORDER_ID) or execution.id.removeprefix("order-")
    return AttentionItem(
        order_id=order_id,
        reason_code=attrs.get(ATTENTION_REASON),
        status_reason=view.status_reason if view else None,
        money_at_risk=attrs.get(MONEY_AT_RISK),
        currency=attrs.get(CURRENCY),
        started_at=execution.start_time,
        temporal_ui=order_links(settings, order_id, execution.run_id).temporal_ui,
    )


async def attention_worklist(client: Client, settings: Settings) -> list[AttentionItem]:
    executions = [e async for e in client.list_workflows(PARKED_ORDERS_QUERY, limit=WORKLIST_LIMIT)]
    views = await asyncio.gather(*(_view(client, e) for e in executions))
    return [_item(settings, e, v) for e, v in zip(executions, views, strict=True)]
