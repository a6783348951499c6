"""The saga's steps and their undos, bound to one order.

`StepRunner.run` calls an operation with the order's reference filled in, records the step as support
sees it (status, attempts, error) and turns a failed activity into `StepFailed` carrying the vendor's
classified error. `Compensations` is the undo stack: each undo is registered before the step it
undoes, so a step that half-happened is undone too, and `run` undoes in reverse and says how it went.
"""

from dataclasses import dataclass
from enum import Enum
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, FailureError

with workflow.unsafe.imports_passed_through():
    from activities.contracts.fulfillment import ALREADY_DISPATCHED
    from canonical.errors import ErrorKind, VendorError
    from canonical.operations import Operation
    from canonical.saga import CompensationView, StepView
    from workflows.policies import Policy

Out = TypeVar("Out", bound=BaseModel)


class StepFailed(Exception):
    """A step failed for good: a business rejection, a broken contract, or its retries ran out."""

    def __init__(self, step: str, message: str, error: VendorError | None) -> None:
        super().__init__(message)
        self.step = step
        self.error = error

    @property
    def is_rejection(self) -> bool:
        return self.error is not None and self.error.kind == ErrorKind.BUSINESS_REJECTION

    @property
    def code(self) -> str | None:
        return self.error.code if self.error else None


def vendor_error(err: FailureError) -> tuple[str, VendorError | None]:
    """The vendor's classified error behind a failed activity. A local activity's failure arrives as
    the activity's own error, a regular one's wrapped in an ActivityError."""
    cause = err.cause if isinstance(err, ActivityError) else err
    if isinstance(cause, ApplicationError):
        if cause.details:
            try:
                return cause.message, VendorError.model_validate(cause.details[0])
            except ValidationError:  # details of another shape: the message is all we have
                return cause.message, None
        return cause.message, None
    return str(cause or err), None


class StepRunner:
    def __init__(self, order_id: str, correlation_id: str) -> None:
        self._ref = {"order_id": order_id, "correlation_id": correlation_id}
        self.views: dict[str, StepView] = {}

    def input(self, op: Operation[Any, Any], **fields: Any) -> BaseModel:
        return op.input(**self._ref, **fields)

    async def run(self, name: str, op: Operation[Any, Out], policy: Policy, summary: str, **fields: Any) -> Out:
        view = self.views.setdefault(name, StepView(name=name, status="pending"))
        view.status, view.started_at, view.error = "running", workflow.now(), None
        try:
            result: Out = await call(op, self.input(op, **fields), policy, summary, activity_id=name)
        except FailureError as err:
            message, error = vendor_error(err)
            view.status, view.finished_at, view.error = "failed", workflow.now(), message
            # A failure without the vendor's classified error (a timeout) still was tried at least once.
            view.attempts = (error.attempt if error else None) or max(view.attempts, 1)
            raise StepFailed(name, f"{name} failed: {message}", error) from err
        view.status, view.finished_at = "succeeded", workflow.now()
        view.attempts = getattr(result, "attempt", 1)
        return result


async def call(op: Operation[Any, Out], arg: BaseModel, policy: Policy, summary: str,
               activity_id: str | None = None) -> Out:
    """Run one operation: a few quick local attempts, then, if the vendor is still failing transiently,
    a regular activity that the server retries for what is left of the phase's window."""
    options = policy.remote_options()
    if policy.local:
        started = workflow.now()
        try:
            return await workflow.execute_local_activity(op.name, arg, result_type=op.output, summary=summary,
                                                         activity_id=activity_id, **policy.local_options())
        except FailureError as err:
            options = policy.remote_options(workflow.now() - started)
            if options is None or not _transient(err):
                raise
    assert options is not None
    return await workflow.execute_activity(op.name, arg, result_type=op.output, summary=summary,
                                           activity_id=activity_id, **options)


def _transient(err: FailureError) -> bool:
    """A failure worth handing to the server's retries: anything but the vendor's final word."""
    cause = err.cause if isinstance(err, ActivityError) else err
    return not (isinstance(cause, ApplicationError) and cause.non_retryable)


class UndoOutcome(Enum):
    DONE = "done"
    DISPATCHED = "dispatched"
    """The node had already dispatched: nothing may be undone, the order goes on."""
    FAILED = "failed"


@dataclass
class _Undo:
    op: Operation[Any, Any]
    arg: BaseModel
    view: CompensationView
    acted: bool = False


class Compensations:
    def __init__(self, steps: StepRunner, policy: Policy) -> None:
        self._steps = steps
        self._policy = policy
        self._undos: list[_Undo] = []

    def register(self, name: str, op: Operation[Any, Any], **fields: Any) -> None:
        self._undos.append(_Undo(op, self._steps.input(op, **fields), CompensationView(name=name, status="registered")))

    def revise(self, op: Operation[Any, Any], **fields: Any) -> None:
        """Tell a registered undo what its step turned out to do (e.g. the hold it made), before it runs."""
        for undo in self._undos:
            if undo.op is op:
                undo.arg = self._steps.input(op, **fields)

    @property
    def views(self) -> list[CompensationView]:
        return [undo.view for undo in self._undos]

    def succeeded(self, op: Operation[Any, Any]) -> bool:
        return any(undo.op is op and undo.view.status == "succeeded" for undo in self._undos)

    def acted(self, op: Operation[Any, Any]) -> bool:
        """The undo found its step done at the vendor and undid it (vendor truth, not this run's memory)."""
        return any(undo.op is op and undo.acted for undo in self._undos)

    def failures(self) -> str:
        return "; ".join(f"{u.view.name}: {u.view.error}" for u in self._undos if u.view.status == "failed")

    async def run(self) -> UndoOutcome:
        """Undo in reverse what is not undone yet. Stops at once if the node had dispatched."""
        outcome = UndoOutcome.DONE
        for undo in reversed(self._undos):
            if undo.view.status == "succeeded":
                continue
            undo.view.status = "running"
            try:
                result = await call(undo.op, undo.arg, self._policy, undo.view.name, activity_id=undo.view.name)
            except FailureError as err:
                message, error = vendor_error(err)
                if error is not None and error.code == ALREADY_DISPATCHED:
                    undo.view.status = "registered"
                    return UndoOutcome.DISPATCHED
                undo.view.status, undo.view.error = "failed", message
                outcome = UndoOutcome.FAILED
                continue
            undo.view.status, undo.view.error = "succeeded", None
            undo.acted = getattr(result, "acted", True)
        return outcome
