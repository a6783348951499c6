"""ContractChecksWorkflow: every configured vendor role's contract suite, once (the daily schedule, or on demand).

One activity per role, all at once: a role whose vendor is down or broken must not delay the others' checks.
A failing check is a finding the activity records (store, metrics, ops page), not a failure of this workflow;
the workflow fails only when a role could not be checked at all, and says which.
"""

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.contracts import contract_checks as act
    from canonical.contract_checks import ContractChecksOutcome, ContractChecksRequest, RoleCheck

_OPTIONS = {
    # A suite is a few dozen vendor calls and one deliberate vendor timeout: minutes at most.
    "start_to_close_timeout": timedelta(minutes=10),
    "retry_policy": RetryPolicy(initial_interval=timedelta(seconds=5), maximum_attempts=3),
}


@workflow.defn
class ContractChecksWorkflow:
    @workflow.run
    async def run(self, req: ContractChecksRequest) -> ContractChecksOutcome:
        configured = await workflow.execute_activity(act.LIST_ROLES.name, req, summary="roles with a suite",
                                                     result_type=act.LIST_ROLES.output, **_OPTIONS)
        run_by = workflow.info().workflow_id
        results = await asyncio.gather(
            *(workflow.execute_activity(act.CHECK_ROLE.name, act.RoleToCheck(role=role, run_by=run_by),
                                        summary=f"{role} contract suite", result_type=act.CHECK_ROLE.output, **_OPTIONS)
              for role in configured.roles),
            return_exceptions=True)
        unchecked = []
        for role, result in zip(configured.roles, results, strict=True):
            if isinstance(result, ActivityError):
                unchecked.append(f"{role}: {result.cause or result}")
            elif isinstance(result, BaseException):
                raise result
        if unchecked:
            raise ApplicationError("contract checks could not run: " + "; ".join(unchecked), non_retryable=True)
        return ContractChecksOutcome(roles=[r for r in results if isinstance(r, RoleCheck)])
