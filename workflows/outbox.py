"""Canonical events leave the order through the store's outbox: gathered as the order goes, then
written in one local activity at the next milestone (a single history marker), from where the
sender's delivery loop sends them to every subscribed endpoint (activities/webhooks.py)."""

from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.contracts.events import RECORD_EVENTS, RecordEvents
    from canonical.events import BusinessEvent, EventType
    from workflows import policies
    from workflows.steps import call


class Outbox:
    def __init__(self, order_id: str, correlation_id: str, common: dict[str, Any]) -> None:
        self._order_id = order_id
        self._correlation_id = correlation_id
        self._common = common
        self._pending: list[BusinessEvent] = []

    def emit(self, type: EventType, **data: Any) -> None:
        # workflow.uuid4 is replay-stable, so a re-run of the write inserts the same ids (no duplicates).
        self._pending.append(BusinessEvent(type=type, id=str(workflow.uuid4()), occurred_at=workflow.now(),
                                           order_id=self._order_id, correlation_id=self._correlation_id,
                                           data={**self._common, **data}))

    async def flush(self) -> None:
        if not self._pending:
            return
        events, self._pending = self._pending, []
        await call(RECORD_EVENTS, RecordEvents(events=events), policies.bookkeeping(),
                   f"record {', '.join(e.type for e in events)}")
