"""ReconciliationWorkflow: one reconciliation run (design §5), by schedule or on demand.

Record the run, find the orders the period touched (recorded in the store with the run), compare
them page by page (each page records its own findings, so the history carries counts and one order
id per page, never the period's list of orders, which can outgrow Temporal's payload limit), check
for postings stuck retrying, then close the run with its counts. A run that cannot finish is closed
as failed with the reason.
"""

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.contracts import reconciliation as act
    from canonical.reconciliation import Period, ReconciliationOutcome, ReconciliationRequest

BATCH_SIZE = 100
"""Orders compared per activity: small enough to retry cheaply, large enough to keep history short."""

PAGED_DISCOVERY = "paged-discovery"
"""Runs started before it carried the whole list of the period's orders in one activity result."""

_OPTIONS = {
    "start_to_close_timeout": timedelta(minutes=5),
    # Vendors and the store get a few minutes to come back; past that the run fails visibly and
    # the next one (or a manual one) covers the period again.
    "schedule_to_close_timeout": timedelta(minutes=15),
    "retry_policy": RetryPolicy(
        initial_interval=timedelta(seconds=1),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(seconds=30),
        non_retryable_error_types=["VendorContractViolation"],
    ),
}


@workflow.defn
class ReconciliationWorkflow:
    @workflow.run
    async def run(self, req: ReconciliationRequest) -> ReconciliationOutcome:
        run_id = workflow.info().workflow_id
        period = req.resolve(workflow.now())
        await workflow.execute_activity(
            act.START_RUN,
            act.RunStart(run_id=run_id, trigger=req.trigger, period=period, stuck_after_s=req.stuck_after_s),
            summary=f"start run {period.start:%Y-%m-%d %H:%M:%S} – {period.end:%Y-%m-%d %H:%M:%S} UTC",
            **_OPTIONS,
        )
        self._checked = 0
        try:
            if workflow.patched(PAGED_DISCOVERY):
                await self._compare_pages(run_id, period)
            else:
                await self._compare_batches(run_id, period)
            await workflow.execute_activity(
                act.FIND_STUCK,
                act.StuckCheck(run_id=run_id, stuck_after_s=req.stuck_after_s),
                summary="postings stuck retrying",
                **_OPTIONS,
                result_type=int,
            )
        except ActivityError as err:
            reason = str(err.cause or err)
            await workflow.execute_activity(
                act.FINISH_RUN,
                act.RunFinish(run_id=run_id, status="failed", orders_checked=self._checked,
                              error=reason[:2000]),
                summary="close the run as failed",
                **_OPTIONS,
                result_type=ReconciliationOutcome,
            )
            raise ApplicationError(f"reconciliation run failed: {reason}", non_retryable=True) from err
        return await workflow.execute_activity(
            act.FINISH_RUN,
            act.RunFinish(run_id=run_id, status="completed", orders_checked=self._checked),
            summary="close the run",
            **_OPTIONS,
            result_type=ReconciliationOutcome,
        )

    async def _compare_pages(self, run_id: str, period: Period) -> None:
        total = await workflow.execute_activity(
            act.RECORD_ORDERS,
            act.PeriodScan(run_id=run_id, period=period),
            summary="find the orders of the period",
            **_OPTIONS,
            result_type=int,
        )
        after: str | None = None
        while True:
            page = await workflow.execute_activity(
                act.COMPARE_PAGE,
                act.OrdersPage(run_id=run_id, period=period, after_order_id=after, limit=BATCH_SIZE),
                summary=f"compare orders {self._checked + 1}–{min(self._checked + BATCH_SIZE, total)}"
                f" of {total}",
                **_OPTIONS,
                result_type=act.PageChecked,
            )
            self._checked += page.checked
            if page.last_order_id is None or page.checked < BATCH_SIZE:
                return
            after = page.last_order_id

    async def _compare_batches(self, run_id: str, period: Period) -> None:
        order_ids = await workflow.execute_activity(
            act.DISCOVER_ORDERS,
            act.PeriodScan(run_id=run_id, period=period),
            summary="find the orders of the period",
            **_OPTIONS,
            result_type=list[str],
        )
        for first in range(0, len(order_ids), BATCH_SIZE):
            batch = order_ids[first : first + BATCH_SIZE]
            await workflow.execute_activity(
                act.COMPARE_BATCH,
                act.OrdersBatch(run_id=run_id, period=period, order_ids=batch),
                summary=f"compare orders {first + 1}–{first + len(batch)} of {len(order_ids)}",
                **_OPTIONS,
                result_type=int,
            )
            self._checked += len(batch)
