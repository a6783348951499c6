"""The outbox's write side: an order's canonical events and their deliveries, in one transaction.

Idempotent (event ids are the workflow's replay-stable ids; deliveries are keyed by endpoint and
event), so a re-run after a crash records nothing twice. Delivering is the worker's delivery loop's
job (activities/webhooks.py), not the order's.
"""

from datetime import UTC, datetime

from temporalio import activity

from activities.contracts.events import RECORD_EVENTS, RecordEvents
from activities.store_executor import StoreExecutor
from activities.vendor_http import attempt
from canonical.steps import Done
from store.webhooks import WebhookRepository


class EventActivities:
    def __init__(self, store: StoreExecutor) -> None:
        self._store = store

    @activity.defn(name=RECORD_EVENTS.name)
    async def record_events(self, inp: RecordEvents) -> Done:
        at = datetime.now(UTC)

        deliveries = await self._store.write(lambda session: WebhookRepository(session).record_events(inp.events, at))
        return Done(detail=f"{len(inp.events)} events, {deliveries} deliveries", attempt=attempt())
