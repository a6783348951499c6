"""The daily contract checks on the real stack: the schedule exists at the configured interval; every role with
a suite is checked; a run while the payments vendor is broken (an outage) records failing checks that the ops
page lists and the worker's o2c_contract_check_failures gauge counts, while the other roles pass; a run once it
is healthy again shows every role passing."""

import uuid

import pytest
from e2e_support import Stack
from temporalio.client import Client, ScheduleActionStartWorkflow
from test_worker_metrics import scrape, value

from activities.certification.runner import suite_roles
from canonical.contract_checks import ContractChecksOutcome, ContractChecksRequest
from deploy.stack import LocalStack
from runtime.schedules import CONTRACT_CHECKS_SCHEDULE_ID
from workflows.contract_checks import ContractChecksWorkflow

pytestmark = [pytest.mark.e2e]


async def check_now(temporal: Client, local_stack: LocalStack) -> ContractChecksOutcome:
    return await temporal.execute_workflow(
        ContractChecksWorkflow.run, ContractChecksRequest(trigger="manual"),
        id=f"contract-checks-test-{uuid.uuid4().hex[:8]}", task_queue=local_stack.settings.task_queue)


async def ops_page(stack: Stack) -> str:
    page = await stack.api.get("/ops", auth=("on-call", "ops-dev-key"))
    assert page.status_code == 200
    return page.text


async def test_a_broken_vendor_shows_on_ops_and_in_metrics_then_passes(
        stack: Stack, local_stack: LocalStack, temporal: Client) -> None:
    schedule = await temporal.get_schedule_handle(CONTRACT_CHECKS_SCHEDULE_ID).describe()
    assert isinstance(schedule.schedule.action, ScheduleActionStartWorkflow)
    assert schedule.schedule.action.workflow == "ContractChecksWorkflow"
    assert [i.every.total_seconds() for i in schedule.schedule.spec.intervals] == [24 * 3600.0]

    await stack.sandbox.put("/_sandbox/faults/payments", json={"outage": True})
    try:
        broken = await check_now(temporal, local_stack)
    finally:
        await stack.sandbox.delete("/_sandbox/faults")
    roles = suite_roles()
    assert [r.role for r in broken.roles] == roles and len(roles) >= 5
    [payments] = [r for r in broken.roles if r.role == "payments"]
    assert payments.adapter == "sandbox" and {"authorize", "idempotency.authorize"} <= set(payments.failing)
    assert {r.role: r.failing for r in broken.roles if r.role != "payments"} == {
        role: [] for role in roles if role != "payments"}
    page = await ops_page(stack)
    assert 'data-contract="payments">failing<' in page and "idempotency.authorize: " in page
    assert value(await scrape(local_stack), "o2c_contract_check_failures",
                 vendor="payments", adapter="sandbox") == len(payments.failing)

    healthy = await check_now(temporal, local_stack)
    assert [(r.role, r.failing, r.checks > 0) for r in healthy.roles] == [(role, [], True) for role in roles]
    page = await ops_page(stack)
    samples = await scrape(local_stack)
    for role in roles:
        assert f'data-contract="{role}">passing<' in page
        assert value(samples, "o2c_contract_check_failures", vendor=role, adapter="sandbox") == 0
        assert value(samples, "o2c_contract_check_last_run_timestamp_seconds", vendor=role, adapter="sandbox") > 0
