"""Publishing canonical events to the registered webhook endpoints (design §5, §6, §9).

The order workflow starts one PublishEventWorkflow per event and only awaits its start, so a slow or
dead subscriber never blocks or fails an order. PublishEventWorkflow records the event and one
delivery per subscribed endpoint (an activity: the store), then starts one DeliverWebhookWorkflow per
delivery. That workflow makes the attempts on a schedule close to Standard Webhooks' (immediately,
5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h; O2C_WEBHOOK_RETRY_SCHEDULE_S), sleeping on durable timers
in between, until the receiver answers 2xx, answers 410 (the endpoint is disabled) or the schedule
is exhausted (the delivery is kept as failed with the last answer). A manual retry through the API
starts the same workflow again as a new run, so both paths share one delivery code.

Activities are called by name: workflows/ imports neither the store nor httpx.

Both run outside the workflow sandbox (`sandboxed=False`): there is one of each per event and per
delivery, so they are the most numerous workflows the worker runs, and a sandboxed run pays for a fresh
module environment every time. They only call Temporal's own workflow APIs on canonical models, with
no clocks, randomness or I/O of their own, which is what the sandbox would otherwise guard.
"""

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from canonical.events import BusinessEvent
    from canonical.webhooks import (
        ATTEMPT_DELIVERY_ACTIVITY,
        RECORD_EVENT_ACTIVITY,
        AttemptDelivery,
        AttemptOutcome,
        DeliverWebhook,
        DeliveryResult,
        EventDeliveries,
        delivery_workflow_id,
    )

# Store trouble (the only thing these activities raise for) is retried until the store is back: an
# event must not be lost because the database blinked.
_STORE_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), backoff_coefficient=2.0,
                           maximum_interval=timedelta(seconds=60), maximum_attempts=0)


@workflow.defn(name="DeliverWebhookWorkflow", sandboxed=False)
class DeliverWebhookWorkflow:
    @workflow.run
    async def run(self, inp: DeliverWebhook) -> DeliveryResult:
        schedule = inp.schedule_s
        outcome = AttemptOutcome(outcome="failed")
        attempts = 0
        for index, delay in enumerate(schedule):
            if delay > 0:
                await workflow.sleep(timedelta(seconds=delay), summary=f"next attempt in {delay:g}s")
            attempts = index + 1
            outcome = await workflow.execute_activity(
                ATTEMPT_DELIVERY_ACTIVITY,
                AttemptDelivery(delivery_id=inp.delivery_id, run=inp.run, attempt=attempts,
                                next_delay_s=schedule[index + 1] if index + 1 < len(schedule) else None),
                result_type=AttemptOutcome,
                start_to_close_timeout=timedelta(seconds=inp.attempt_timeout_s + 30),
                retry_policy=_STORE_RETRY,
                summary=f"attempt {attempts} of {len(schedule)}",
            )
            workflow.set_current_details(
                f"**{outcome.outcome}** after attempt {attempts} of {len(schedule)}"
                + (f" — {outcome.error}" if outcome.error else "")
            )
            if outcome.outcome != "retry":
                break
        return DeliveryResult(delivery_id=inp.delivery_id, run=inp.run, outcome=outcome.outcome, attempts=attempts,
                              finished_at=workflow.now())


@workflow.defn(name="PublishEventWorkflow", sandboxed=False)
class PublishEventWorkflow:
    @workflow.run
    async def run(self, event: BusinessEvent) -> EventDeliveries:
        recorded = await workflow.execute_activity(
            RECORD_EVENT_ACTIVITY, event, result_type=EventDeliveries,
            start_to_close_timeout=timedelta(seconds=30), retry_policy=_STORE_RETRY,
            summary=f"record {event.type} and its deliveries",
        )
        for delivery in recorded.deliveries:
            if delivery.status != "pending":
                continue
            try:
                await workflow.start_child_workflow(
                    DeliverWebhookWorkflow.run,
                    DeliverWebhook(delivery_id=delivery.delivery_id, run=1, schedule_s=recorded.schedule_s,
                                   attempt_timeout_s=recorded.attempt_timeout_s),
                    id=delivery_workflow_id(delivery.delivery_id, 1),
                    parent_close_policy=ParentClosePolicy.ABANDON,
                    static_summary=f"{event.type} {event.order_id} to {delivery.endpoint_id}",
                )
            except WorkflowAlreadyStartedError:
                pass  # delivered by a run that already exists
        return recorded
