"""Run a workflow update for an HTTP request: within the accept deadline, with validator refusals
turned into the right problem."""

from collections.abc import Callable, Mapping
from typing import Any

import structlog
from fastapi import Request
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from api.shared.problems import ProblemError
from api.shared.temporal import DeadlineExceeded, temporal_client, unavailable, within

Refusals = Mapping[str, Callable[[str], ProblemError]]
"""ApplicationError type raised by an update's validator -> the problem for its message."""


async def run_update(request: Request, workflow_id: str, update: Any, arg: Any, refusals: Refusals) -> Any:
    """An unknown or closed workflow raises Temporal's not-found RPCError for the caller to interpret."""
    client = await temporal_client(request)
    structlog.contextvars.bind_contextvars(workflow_id=workflow_id)
    handle = client.get_workflow_handle(workflow_id)
    try:
        return await within(request.app.state.settings.accept_timeout_s, handle.execute_update(update, arg))
    except DeadlineExceeded:
        raise unavailable(
            f"{workflow_id} did not confirm the {update.__name__} in time; read it before retrying") from None
    except RPCError as err:
        # The server refuses an update while the workflow's own task is failing or being retried
        # ("workflow not ready"): nothing was applied, so the caller may simply send it again.
        if err.status == RPCStatusCode.FAILED_PRECONDITION:
            raise unavailable(f"{workflow_id} is not ready to take the {update.__name__}; retry shortly") from None
        raise
    except WorkflowUpdateFailedError as err:
        cause = err.cause
        if isinstance(cause, ApplicationError) and cause.type in refusals:
            raise refusals[cause.type](cause.message) from None
        raise
