"""The Stripe adapter (official SDK) against the sandbox's Stripe router over real HTTP: every gateway
operation lands as the same ledger entries as the sandbox dialect, retries are safe, rejections map to the
canonical kinds, and every call passes through the vendor client's metrics."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sandbox_testkit import Api
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.adapters.stripe_payments import StripePayments
from activities.contracts import payments
from activities.payments import PaymentActivities
from activities.vendor_http import VendorClient
from activities.vendor_metrics import VendorMetrics
from activities.vendors import adapter
from canonical.errors import ErrorKind, VendorError
from canonical.reconciliation import Period
from runtime.settings import Settings


class RecordingMetrics(VendorMetrics):
    def __init__(self) -> None:
        super().__init__()
        self.outcomes: list[tuple[str, str]] = []

    def observe(self, vendor: str, outcome: str, seconds: float | None) -> None:
        self.outcomes.append((vendor, outcome))


@pytest.fixture
def metrics() -> RecordingMetrics:
    return RecordingMetrics()


@pytest.fixture
async def acts(served: str, metrics: RecordingMetrics) -> AsyncIterator[PaymentActivities]:
    """Wired as the worker wires them, with O2C_PAYMENTS_ADAPTER=stripe."""
    settings = Settings(sandbox_url=served, payments_adapter="stripe")
    http = VendorClient(settings, metrics)
    gateway = adapter("payments", http, settings)
    assert isinstance(gateway, StripePayments)
    try:
        yield PaymentActivities(gateway)
    finally:
        await http.aclose()


@pytest.fixture
def env() -> ActivityEnvironment:
    return ActivityEnvironment()


def ref(order_id: str) -> dict[str, str]:
    return {"order_id": order_id, "correlation_id": f"corr-{order_id}"}


async def authorize(env: ActivityEnvironment, acts: PaymentActivities, order_id: str, amount: int,
                    token: str = "tok_visa") -> str:
    auth = await env.run(acts.authorize_payment, payments.AuthorizePayment(
        **ref(order_id), amount=amount, currency="EUR", method_token=token))
    assert auth.amount == amount and auth.currency == "EUR"
    return auth.id


def vendor_error(err: ApplicationError) -> VendorError:
    assert err.details and isinstance(err.details[0], VendorError), err
    return err.details[0]


async def test_authorize_capture_per_shipment_release_and_void(
    env: ActivityEnvironment, acts: PaymentActivities, api: Api, metrics: RecordingMetrics
) -> None:
    intent = await authorize(env, acts, "O-S1", 10_000)
    for shipment, amount in (("SH-1", 3000), ("SH-2", 2000)):
        capture = payments.CapturePayment(**ref("O-S1"), payment_intent_id=intent, shipment_id=shipment,
                                          amount=amount, points=0)
        done = await env.run(acts.capture_payment, capture)
        assert (done.amount, done.payment_intent_id) == (amount, intent)
        # The retry of a capture whose answer was lost gets the stored answer: one capture.
        await env.run(acts.capture_payment, capture)
    share = payments.ReleaseAuthorization(**ref("O-S1"), payment_intent_id=intent, amount=1500, tag="pick-1")
    assert (await env.run(acts.release_authorization_share, share)).detail == "released 1500"
    # A retry after a lost answer finds its tag on the intent: nothing released twice.
    assert "before" in (await env.run(acts.release_authorization_share, share)).detail
    voided = await env.run(acts.void_authorizations, payments.VoidAuthorizations(**ref("O-S1")))
    assert voided.acted and intent in voided.detail
    entries = [(e["action"], e["amount"], e["reference"], e["idempotency_key"], e["correlation_id"])
               for e in await api.ledger(order_id="O-S1")]
    assert entries == [
        ("payment.authorize", 10_000, "O-S1:authorize", "O-S1:authorize", "corr-O-S1"),
        ("payment.capture", 3000, "O-S1:capture:SH-1", "O-S1:capture:SH-1", "corr-O-S1"),
        ("payment.capture", 2000, "O-S1:capture:SH-2", "O-S1:capture:SH-2", "corr-O-S1"),
        ("payment.void", 1500, intent, "O-S1:auth-release:pick-1", "corr-O-S1"),
        ("payment.void", 3500, intent, f"O-S1:void:{intent}", "corr-O-S1"),
    ]
    assert metrics.outcomes and set(metrics.outcomes) == {("payments", "ok")}


async def test_a_share_larger_than_the_hold_releases_what_is_left(
    env: ActivityEnvironment, acts: PaymentActivities, api: Api
) -> None:
    intent = await authorize(env, acts, "O-S2", 1500)
    share = payments.ReleaseAuthorization(**ref("O-S2"), payment_intent_id=intent, amount=2000, tag="evt-2")
    assert (await env.run(acts.release_authorization_share, share)).detail == "released the remaining 1500"
    assert (await env.run(acts.release_authorization_share, share)).detail == "released 1500 before"
    assert [e["amount"] for e in await api.ledger(order_id="O-S2", action="payment.void")] == [1500]


@pytest.mark.parametrize(("token", "decline_code"), [("tok_decline", "generic_decline"),
                                                     ("tok_insufficient_funds", "insufficient_funds")])
async def test_a_declined_card_is_a_business_rejection_with_its_decline_code(
    env: ActivityEnvironment, acts: PaymentActivities, api: Api, metrics: RecordingMetrics, token: str,
    decline_code: str
) -> None:
    with pytest.raises(ApplicationError) as raised:
        await authorize(env, acts, "O-S3", 1000, token)
    error = vendor_error(raised.value)
    assert (error.kind, error.code, error.decline_code, error.http_status) == (
        ErrorKind.BUSINESS_REJECTION, "card_declined", decline_code, 402)
    assert raised.value.non_retryable
    assert not await api.ledger(order_id="O-S3")
    assert metrics.outcomes[-1] == ("payments", ErrorKind.BUSINESS_REJECTION)


async def test_capture_after_expiry_is_authorization_expired(
    env: ActivityEnvironment, acts: PaymentActivities, api: Api
) -> None:
    intent = await authorize(env, acts, "O-S4", 1000, "tok_expiring")
    await asyncio.sleep(2.1)  # the sandbox's short hold (1 s, whole seconds rounded up) lapses
    with pytest.raises(ApplicationError) as raised:
        await env.run(acts.capture_payment, payments.CapturePayment(
            **ref("O-S4"), payment_intent_id=intent, shipment_id="SH-1", amount=1000, points=0))
    error = vendor_error(raised.value)
    assert (error.kind, error.code) == (ErrorKind.BUSINESS_REJECTION, payments.AUTHORIZATION_EXPIRED)
    # The re-authorization of a tok_reauth_decline card declines; of tok_expiring it holds anew.
    again = await env.run(acts.authorize_payment, payments.AuthorizePayment(
        **ref("O-S4"), amount=1000, currency="EUR", method_token="tok_expiring", reauthorization=1,
        reauthorization_of=intent))
    assert again.id != intent
    assert [e["reference"] for e in await api.ledger(order_id="O-S4", action="payment.authorize")] == [
        "O-S4:authorize", "O-S4:reauthorize:1"]


async def test_refund_and_too_large_a_refund(env: ActivityEnvironment, acts: PaymentActivities, api: Api) -> None:
    intent = await authorize(env, acts, "O-S5", 2000)
    await env.run(acts.capture_payment, payments.CapturePayment(
        **ref("O-S5"), payment_intent_id=intent, shipment_id="SH-1", amount=2000, points=0))
    refund = payments.RefundPayment(**ref("O-S5"), payment_intent_id=intent, amount=800, reference="O-S5:refund:R1")
    done = await env.run(acts.refund_payment, refund)
    assert (done.amount, done.payment_intent_id, done.reference) == (800, intent, "O-S5:refund:R1")
    await env.run(acts.refund_payment, refund)  # replayed, not refunded twice
    with pytest.raises(ApplicationError) as raised:
        await env.run(acts.refund_payment, payments.RefundPayment(
            **ref("O-S5"), payment_intent_id=intent, amount=1500, reference="O-S5:refund:R2"))
    assert (vendor_error(raised.value).kind, vendor_error(raised.value).code) == (
        ErrorKind.BUSINESS_REJECTION, "amount_too_large")
    assert [(e["amount"], e["reference"]) for e in await api.ledger(order_id="O-S5", action="payment.refund")] == [
        (800, "O-S5:refund:R1")]


async def test_injected_outage_is_transient_and_counted(
    env: ActivityEnvironment, acts: PaymentActivities, api: Api, metrics: RecordingMetrics
) -> None:
    await api.put("/_sandbox/faults/payments", {"outage": True})
    with pytest.raises(ApplicationError) as raised:
        await authorize(env, acts, "O-S6", 1000)
    error = vendor_error(raised.value)
    assert (error.kind, error.http_status) == (ErrorKind.TRANSIENT, 503)
    assert not raised.value.non_retryable
    assert metrics.outcomes == [("payments", ErrorKind.TRANSIENT)]


async def test_a_wrong_error_shape_is_a_contract_violation(
    env: ActivityEnvironment, acts: PaymentActivities, api: Api
) -> None:
    await api.put("/_sandbox/stripe/defects", {"flat_errors": True})
    with pytest.raises(ApplicationError) as raised:
        await authorize(env, acts, "O-S7", 1000, "tok_decline")
    error = vendor_error(raised.value)
    assert (error.kind, error.code, error.http_status) == (ErrorKind.CONTRACT_VIOLATION, "malformed_error", 402)


async def test_reconciliation_reads_fail_loudly(served: str) -> None:
    settings = Settings(sandbox_url=served, payments_adapter="stripe")
    http = VendorClient(settings)
    try:
        with pytest.raises(ApplicationError, match="not supported") as raised:
            await adapter("payments", http, settings).movements_of("O-1", "corr")
        assert raised.value.non_retryable
        with pytest.raises(ApplicationError, match="not supported"):
            await adapter("payments", http, settings).movements_in(Period.model_validate(
                {"start": "2026-01-01T00:00:00Z", "end": "2026-01-02T00:00:00Z"}), "corr")
    finally:
        await http.aclose()
