"""How each phase of the saga calls its vendors: timeouts, retries, and local first.

Vendor calls are short HTTP requests with idempotency keys, so each step first runs as a local
activity: the worker running the workflow task calls the vendor at once, and the history records one
marker instead of three activity events and a workflow task. That is most of what makes an order as
cheap for the Temporal server as a bare workflow of no-op activities (README "Performance"). A local
activity gets a few quick attempts; a vendor still failing after them is handed to the server as a
regular activity with the phase's own retry window, so long outages are retried durably, their
attempts and last error show in Temporal (and GET /v1/orders/{id}), and the window is the server's to
enforce. Vendor HTTP calls time out after O2C_VENDOR_TIMEOUT_S (5 s by default), so every
start-to-close timeout leaves room for one slow answer plus our own processing.
"""

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from temporalio.common import RetryPolicy

from canonical.saga import SagaTimings

_NOT_RETRIED = ["BusinessRejection", "VendorContractViolation"]
_QUICK_ATTEMPTS = 3


@dataclass(frozen=True)
class Policy:
    start_to_close_s: float
    initial_s: float
    maximum_s: float
    window_s: float | None = None
    """Give up after this long (retries included); None: retry until it succeeds."""
    local: bool = True

    def remote(self) -> "Policy":
        """The same retries as a regular activity from the first attempt."""
        return Policy(self.start_to_close_s, self.initial_s, self.maximum_s, self.window_s, local=False)

    def local_options(self) -> dict[str, Any]:
        return {
            "start_to_close_timeout": timedelta(seconds=self.start_to_close_s),
            "retry_policy": RetryPolicy(initial_interval=timedelta(seconds=min(self.initial_s, 0.2)),
                                        maximum_attempts=_QUICK_ATTEMPTS, non_retryable_error_types=_NOT_RETRIED),
        }

    def remote_options(self, spent: timedelta = timedelta()) -> dict[str, Any] | None:
        """Options for the server-side retries; None if the window was used up by the quick attempts."""
        options: dict[str, Any] = {
            "start_to_close_timeout": timedelta(seconds=self.start_to_close_s),
            "retry_policy": RetryPolicy(initial_interval=timedelta(seconds=self.initial_s), backoff_coefficient=2.0,
                                        maximum_interval=timedelta(seconds=self.maximum_s), maximum_attempts=0,
                                        non_retryable_error_types=_NOT_RETRIED),
        }
        if self.window_s is not None:
            left = timedelta(seconds=self.window_s) - spent
            if left <= timedelta():
                return None
            options["schedule_to_close_timeout"] = left
        return options


def accept(t: SagaTimings) -> Policy:
    """Points and authorization sit on the customer's checkout: retry fast and give up within the
    accept window, so the shopper gets an answer (a 503 "try again") rather than a spinner."""
    return Policy(8, 0.2, 2, t.accept_retry_window_s)


def before_pivot(t: SagaTimings) -> Policy:
    """Allocate, book, ship: nobody waits, but a vendor down for longer than the step window means
    the order cannot be fulfilled and is compensated."""
    return Policy(15, 1, 30, t.step_retry_window_s)


def after_pivot() -> Policy:
    """Goods are with the customer: commit, capture, invoice and settle are retried until they
    succeed. Only a business rejection or a broken contract stops them (and parks the order)."""
    return Policy(15, 1, 60)


def compensation(t: SagaTimings) -> Policy:
    """Undo calls are idempotent and must not be given up lightly; past the window the order goes to
    needs_attention with the failing compensation named."""
    return Policy(15, 1, 30, t.compensation_retry_window_s)


def refund(t: SagaTimings) -> Policy:
    """Money going back to a customer: retried patiently, and past the window a human looks at it
    (needs_attention) rather than the refund being silently dropped."""
    return Policy(15, 1, 60, t.refund_retry_window_s)


def bookkeeping() -> Policy:
    """Writes to o2c's own store (the event outbox): retried until the store is back, since an event
    must not be lost because the database blinked."""
    return Policy(30, 1, 60)
