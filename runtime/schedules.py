"""The Temporal Schedules: reconciliation (daily by default; O2C_RECONCILIATION_*) and the vendors' contract
checks (daily by default; O2C_CONTRACT_CHECK_*).

The worker ensures each at start: create it, or bring an existing one in line with the settings, so a
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

from canonical.contract_checks import ContractChecksRequest
from canonical.reconciliation import ReconciliationRequest
from runtime.settings import Settings
from workflows.contract_checks import ContractChecksWorkflow
from workflows.reconciliation import ReconciliationWorkflow

SCHEDULE_ID = "o2c-reconciliation"
"""Also the prefix of each scheduled run's workflow id (Temporal appends the action time)."""
CONTRACT_CHECKS_SCHEDULE_ID = "o2c-contract-checks"

log = structlog.get_logger("o2c.schedules")

# A run still going when the next is due is left to finish; a missed run (no worker, server down) is caught up
# within a day, after which the next run covers the time anyway.
_POLICY = SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=timedelta(days=1))


def _spec(cron: str | None, interval_s: float) -> ScheduleSpec:
    if cron:
        return ScheduleSpec(cron_expressions=[cron])
    return ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(seconds=interval_s))])


def reconciliation_schedule(settings: Settings) -> Schedule:
    spec = _spec(settings.reconciliation_cron, settings.reconciliation_interval_s)
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
        policy=_POLICY,
    )


def contract_checks_schedule(settings: Settings) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(ContractChecksWorkflow.run, ContractChecksRequest(trigger="schedule"),
                                           id=CONTRACT_CHECKS_SCHEDULE_ID, task_queue=settings.task_queue),
        spec=_spec(settings.contract_check_cron, settings.contract_check_interval_s),
        policy=_POLICY,
    )


async def ensure_reconciliation_schedule(client: Client, settings: Settings) -> None:
    await _ensure(client, SCHEDULE_ID, reconciliation_schedule(settings))


async def ensure_contract_checks_schedule(client: Client, settings: Settings) -> None:
    await _ensure(client, CONTRACT_CHECKS_SCHEDULE_ID, contract_checks_schedule(settings))


async def _ensure(client: Client, schedule_id: str, schedule: Schedule) -> None:
    try:
        await client.create_schedule(schedule_id, schedule)
        log.info("schedule.created", schedule_id=schedule_id)
        return
    except ScheduleAlreadyRunningError:
        pass

    def replace(current: ScheduleUpdateInput) -> ScheduleUpdate:
        # Keep the state (an operator may have paused it); replace what the settings decide.
        return ScheduleUpdate(
            schedule=dataclasses.replace(schedule, state=current.description.schedule.state)
        )

    await client.get_schedule_handle(schedule_id).update(replace)
    log.info("schedule.updated", schedule_id=schedule_id)
