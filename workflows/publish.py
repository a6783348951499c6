"""How workflows publish canonical events: each event is delivered by its own workflow, so a slow or
dead subscriber never blocks or fails the business process; only the Temporal-internal start is awaited."""

from typing import Any

from temporalio import workflow
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from canonical.events import BusinessEvent, EventType


async def publish(type: EventType, order_id: str, correlation_id: str, data: dict[str, Any]) -> None:
    event = BusinessEvent(type=type, id=str(workflow.uuid4()), occurred_at=workflow.now(), order_id=order_id,
                          correlation_id=correlation_id, data=data)
    await workflow.start_child_workflow(
        "PublishEventWorkflow", event, id=f"event-{event.id}", task_queue=workflow.info().task_queue,
        parent_close_policy=ParentClosePolicy.ABANDON, static_summary=f"{type} {order_id}",
    )
