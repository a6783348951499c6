"""The Stripe adapter's mapping of what the SDK raises to the canonical vendor error kinds."""

from typing import Any

import pytest
import stripe

from activities.adapters.stripe_payments import CAPTURE_REFUSALS, stripe_failure
from canonical.errors import ErrorKind


def raised(status: int, body: Any, headers: dict[str, str] | None = None) -> stripe.StripeError:
    return stripe.StripeError("from Stripe", http_body=str(body), http_status=status, json_body=body,
                              headers=headers or {})


def error(type_: str, code: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"error": {"type": type_, "message": "m", **({"code": code} if code else {}), **extra}}


def test_a_card_error_is_a_business_rejection_keeping_its_decline_code() -> None:
    failure = stripe_failure(raised(402, error("card_error", "card_declined", decline_code="insufficient_funds")))
    assert failure is not None
    assert (failure.kind, failure.code, failure.decline_code, failure.http_status) == (
        ErrorKind.BUSINESS_REJECTION, "card_declined", "insufficient_funds", 402)


def test_an_expired_authorization_is_the_saga_s_business_code() -> None:
    failure = stripe_failure(raised(400, error("invalid_request_error", "charge_expired_for_capture")),
                             CAPTURE_REFUSALS)
    assert failure is not None and (failure.kind, failure.code) == (ErrorKind.BUSINESS_REJECTION,
                                                                    "charge_expired_for_capture")


@pytest.mark.parametrize(("status", "body", "kind"), [
    (429, error("rate_limit_error", "rate_limit"), ErrorKind.TRANSIENT),
    (500, error("api_error"), ErrorKind.TRANSIENT),
    (409, error("invalid_request_error", "lock_timeout"), ErrorKind.TRANSIENT),
    (503, {"message": "down"}, ErrorKind.TRANSIENT),
    (400, error("idempotency_error"), ErrorKind.CONTRACT_VIOLATION),
    (400, error("invalid_request_error", "parameter_unknown", param="x"), ErrorKind.CONTRACT_VIOLATION),
    (401, error("invalid_request_error"), ErrorKind.CONTRACT_VIOLATION),
    (402, {"message": "Your card was declined.", "status": 402}, ErrorKind.CONTRACT_VIOLATION),
    (200, None, ErrorKind.CONTRACT_VIOLATION),
])
def test_kinds(status: int, body: Any, kind: ErrorKind) -> None:
    failure = stripe_failure(raised(status, body))
    assert failure is not None and failure.kind is kind


def test_retry_after_is_honoured() -> None:
    failure = stripe_failure(raised(429, error("rate_limit_error"), {"Retry-After": "7"}))
    assert failure is not None and failure.retry_after_s == 7.0


def test_a_flat_error_shape_is_named_as_such() -> None:
    failure = stripe_failure(raised(402, {"message": "Your card was declined.", "status": 402}))
    assert failure is not None and failure.code == "malformed_error" and "error object" in failure.message


def test_connection_failures_are_transient_and_timeouts_named() -> None:
    timeout = stripe.APIConnectionError("network")
    timeout.__cause__ = TimeoutError()
    failure = stripe_failure(timeout)
    assert failure is not None and (failure.kind, failure.code) == (ErrorKind.TRANSIENT, "timeout")
    unreachable = stripe_failure(stripe.APIConnectionError("refused"))
    assert unreachable is not None and (unreachable.kind, unreachable.code) == (ErrorKind.TRANSIENT, "unreachable")


def test_other_exceptions_are_not_vendor_failures() -> None:
    assert stripe_failure(KeyError("bug")) is None
