"""The Temporal Schedule that runs reconciliation (daily by default; O2C_RECONCILIATION_*).

The worker ensures it at start: create it, or bring an existing one in line with the settings, so a
changed interval or cron takes effect with the next deployment and many workers starting at once
end up with one schedule.
"""

import dataclasses
from datetime import timedelta

import structlog
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)

from canonical.reconciliation import ReconciliationRequest
from runtime.settings import Settings
from workflows.reconciliation import ReconciliationWorkflow

SCHEDULE_ID = "o2c-reconciliation"
"""Also the prefix of each scheduled run's workflow id (Temporal appends the action time)."""

log = structlog.get_logger("o2c.reconciliation")


def reconciliation_schedule(settings: Settings) -> Schedule:
    if settings.reconciliation_cron:
        spec = ScheduleSpec(cron_expressions=[settings.reconciliation_cron])
    else:
        spec = ScheduleSpec(
            intervals=[ScheduleIntervalSpec(every=timedelta(seconds=settings.reconciliation_interval_s))]
        )
    request = ReconciliationRequest(
        trigger="schedule",
        interval_s=settings.reconciliation_interval_s,
        lag_s=settings.reconciliation_lag_s,
        stuck_after_s=settings.posting_stuck_after_s,
    )
    return Schedule(
        action=ScheduleActionStartWorkflow(
            ReconciliationWorkflow.run, request, id=SCHEDULE_ID, task_queue=settings.task_queue
        ),
        spec=spec,
        # A run still going when the next is due is left to finish; a missed run (no worker, server
        # down) is caught up within a day, after which the next run covers the time anyway.
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=timedelta(days=1)),
    )


async def ensure_reconciliation_schedule(client: Client, settings: Settings) -> None:
    schedule = reconciliation_schedule(settings)
    try:
        await client.create_schedule(SCHEDULE_ID, schedule)
        log.info("reconciliation.schedule_created", schedule_id=SCHEDULE_ID)
        return
    except ScheduleAlreadyRunningError:
        pass

    def replace(current: ScheduleUpdateInput) -> ScheduleUpdate:
        # Keep the state (an operator may have paused it); replace what the settings decide.
        return ScheduleUpdate(
            schedule=dataclasses.replace(schedule, state=current.description.schedule.state)
        )

    await client.get_schedule_handle(SCHEDULE_ID).update(replace)
    log.info("reconciliation.schedule_updated", schedule_id=SCHEDULE_ID)
