"""Activity timeouts and retry policies, chosen per phase of the saga.

Vendor HTTP calls time out after O2C_VENDOR_TIMEOUT_S (5 s by default), so every start-to-close
timeout leaves room for one slow answer plus our own processing.
"""

from datetime import timedelta
from typing import Any

from temporalio.common import RetryPolicy

from canonical.saga import SagaTimings

_NOT_RETRIED = ["BusinessRejection", "VendorContractViolation"]


def accept(t: SagaTimings) -> dict[str, Any]:
    """Points and authorization sit on the customer's checkout: retry fast and give up within the
    accept window, so the shopper gets an answer (a 503 "try again") rather than a spinner."""
    return {
        "start_to_close_timeout": timedelta(seconds=8),
        "schedule_to_close_timeout": timedelta(seconds=t.accept_retry_window_s),
        "retry_policy": RetryPolicy(initial_interval=timedelta(milliseconds=200), backoff_coefficient=2.0,
                                    maximum_interval=timedelta(seconds=2), non_retryable_error_types=_NOT_RETRIED),
    }


def before_pivot(t: SagaTimings) -> dict[str, Any]:
    """Allocate, book, ship: nobody waits, but a vendor down for longer than the step window means
    the order cannot be fulfilled and is compensated."""
    return {
        "start_to_close_timeout": timedelta(seconds=15),
        "schedule_to_close_timeout": timedelta(seconds=t.step_retry_window_s),
        "retry_policy": RetryPolicy(initial_interval=timedelta(seconds=1), backoff_coefficient=2.0,
                                    maximum_interval=timedelta(seconds=30), non_retryable_error_types=_NOT_RETRIED),
    }


def after_pivot() -> dict[str, Any]:
    """Goods are with the customer: capture, invoice, commit and settle are retried until they succeed.
    Only a business rejection stops them (and parks the order for a human)."""
    return {
        "start_to_close_timeout": timedelta(seconds=15),
        "retry_policy": RetryPolicy(initial_interval=timedelta(seconds=1), backoff_coefficient=2.0,
                                    maximum_interval=timedelta(seconds=60), maximum_attempts=0,
                                    non_retryable_error_types=_NOT_RETRIED),
    }


def compensation(t: SagaTimings) -> dict[str, Any]:
    """Undo calls are idempotent and must not be given up lightly; past the window the order goes to
    needs_attention with the failing compensation named."""
    return {
        "start_to_close_timeout": timedelta(seconds=15),
        "schedule_to_close_timeout": timedelta(seconds=t.compensation_retry_window_s),
        "retry_policy": RetryPolicy(initial_interval=timedelta(seconds=1), backoff_coefficient=2.0,
                                    maximum_interval=timedelta(seconds=30), non_retryable_error_types=_NOT_RETRIED),
    }


def refund(window_s: float) -> dict[str, Any]:
    """Money going back to a customer: retried patiently, and past the window a human looks at it
    (needs_attention) rather than the refund being silently dropped."""
    return {
        "start_to_close_timeout": timedelta(seconds=15),
        "schedule_to_close_timeout": timedelta(seconds=window_s),
        "retry_policy": RetryPolicy(initial_interval=timedelta(seconds=1), backoff_coefficient=2.0,
                                    maximum_interval=timedelta(seconds=60), non_retryable_error_types=_NOT_RETRIED),
    }
