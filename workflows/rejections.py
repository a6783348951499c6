"""What the caller is told when the accept decision fails: a vendor's refusal or its unavailability."""

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from canonical.saga import Rejection
    from workflows.steps import StepFailed


def points_rejection(failed: StepFailed) -> Rejection:
    if failed.is_rejection and failed.code == "insufficient_points" and failed.error is not None:
        return Rejection(type="insufficient-points", detail=failed.error.message)
    if failed.is_rejection:
        return Rejection(type="order-failed", detail=str(failed))
    return Rejection(type="payment-unavailable", detail=str(failed))


def payment_rejection(failed: StepFailed) -> Rejection:
    if failed.is_rejection and failed.error is not None:
        return Rejection(type="payment-declined", detail=failed.error.message,
                         decline_code=failed.error.decline_code or failed.error.code)
    return Rejection(type="payment-unavailable", detail=str(failed))
