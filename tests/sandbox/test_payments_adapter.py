"""The payments adapter's hold release against the sandbox gateway (in process, over ASGI): a retry after a
lost answer is harmless (regression found by `o2c chaos`), and a share larger than the hold releases what
is left."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sandbox_testkit import Api
from temporalio.testing import ActivityEnvironment

from activities.adapters.sandbox_payments import SandboxPayments
from activities.contracts import payments
from activities.payments import PaymentActivities
from activities.vendor_http import VendorClient
from runtime.settings import Settings

REF = {"order_id": "O-REL", "correlation_id": "corr-rel"}


@pytest.fixture
async def acts(served: str) -> AsyncIterator[PaymentActivities]:
    """The activities wired to the sandbox over real HTTP, as the worker's composition root wires them."""
    http = VendorClient(Settings(sandbox_url=served))
    try:
        yield PaymentActivities(SandboxPayments(http))
    finally:
        await http.aclose()


@pytest.fixture
def adapter() -> ActivityEnvironment:
    return ActivityEnvironment()


async def _authorize(adapter: ActivityEnvironment, acts: PaymentActivities, amount: int) -> str:
    auth = await adapter.run(
        acts.authorize_payment,
        payments.AuthorizePayment(**REF, amount=amount, currency="EUR", method_token="tok_visa"),
    )
    return auth.id


async def test_a_retried_release_whose_first_answer_was_lost_releases_once(
    adapter: ActivityEnvironment, acts: PaymentActivities, api: Api
) -> None:
    intent = await _authorize(adapter, acts, 3000)
    share = payments.ReleaseAuthorization(**REF, payment_intent_id=intent, amount=2000, tag="evt-1")
    await adapter.run(acts.release_authorization_share, share)
    # The retry now sees 1000 held, less than the share: it must send the same body, not min(2000, 1000),
    # or the gateway answers 400 idempotency_error and the order is parked.
    await adapter.run(acts.release_authorization_share, share)
    voids = [
        (e["amount"], e["idempotency_key"]) for e in await api.ledger(order_id="O-REL", action="payment.void")
    ]
    assert voids == [(2000, "O-REL:auth-release:evt-1")]


async def test_a_share_larger_than_the_hold_releases_what_is_left(
    adapter: ActivityEnvironment, acts: PaymentActivities, api: Api
) -> None:
    intent = await _authorize(adapter, acts, 1500)
    share = payments.ReleaseAuthorization(**REF, payment_intent_id=intent, amount=2000, tag="evt-2")
    done = await adapter.run(acts.release_authorization_share, share)
    assert "1500" in done.detail
    assert await adapter.run(acts.release_authorization_share, share)
    voids = [e["amount"] for e in await api.ledger(order_id="O-REL", action="payment.void")]
    assert voids == [1500]
