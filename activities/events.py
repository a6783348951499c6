"""The outbox's write side: an order's canonical events and their deliveries, in one transaction.

Idempotent (event ids are the workflow's replay-stable ids; deliveries are keyed by endpoint and
event), so a re-run after a crash records nothing twice. Delivering is the worker's delivery loop's
job (activities/webhooks.py), not the order's.
"""

from datetime import UTC, datetime

from temporalio import activity

from activities import store_access
from activities.contracts.events import RECORD_EVENTS, RecordEvents
from activities.vendor_http import attempt
from canonical.steps import Done
from store.webhooks import WebhookRepository


@activity.defn(name=RECORD_EVENTS.name)
async def record_events(inp: RecordEvents) -> Done:
    at = datetime.now(UTC)

    def write(session: object) -> int:
        repo = WebhookRepository(session)  # type: ignore[arg-type]
        return sum(len(repo.record_event(event, at)) for event in inp.events)

    deliveries = await store_access.write(write)
    return Done(detail=f"{len(inp.events)} events, {deliveries} deliveries", attempt=attempt())
