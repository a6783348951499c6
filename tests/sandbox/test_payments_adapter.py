"""The payments adapter's hold release against the sandbox gateway (in process, over ASGI): a retry after a
lost answer is harmless (regression found by `o2c chaos`), and a share larger than the hold releases what
is left."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from sandbox_testkit import Api
from temporalio.testing import ActivityEnvironment

from activities import payments, vendor_http
from canonical.settings import Settings

REF = {"order_id": "O-REL", "correlation_id": "corr-rel"}


@pytest.fixture
async def adapter(app: FastAPI) -> AsyncIterator[ActivityEnvironment]:
    saved = vendor_http._client, vendor_http._settings
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sandbox")
    vendor_http._client, vendor_http._settings = client, Settings(sandbox_url="http://sandbox")
    try:
        yield ActivityEnvironment()
    finally:
        vendor_http._client, vendor_http._settings = saved
        await client.aclose()


async def _authorize(adapter: ActivityEnvironment, amount: int) -> str:
    auth = await adapter.run(
        payments.authorize_payment,
        payments.AuthorizePayment(**REF, amount=amount, currency="EUR", method_token="tok_visa"),
    )
    return auth.id


async def test_a_retried_release_whose_first_answer_was_lost_releases_once(
    adapter: ActivityEnvironment, api: Api
) -> None:
    intent = await _authorize(adapter, 3000)
    share = payments.ReleaseAuthorization(**REF, payment_intent_id=intent, amount=2000, tag="evt-1")
    await adapter.run(payments.release_authorization_share, share)
    # The retry now sees 1000 held, less than the share: it must send the same body, not min(2000, 1000),
    # or the gateway answers 400 idempotency_error and the order is parked.
    await adapter.run(payments.release_authorization_share, share)
    voids = [
        (e["amount"], e["idempotency_key"]) for e in await api.ledger(order_id="O-REL", action="payment.void")
    ]
    assert voids == [(2000, "O-REL:auth-release:evt-1")]


async def test_a_share_larger_than_the_hold_releases_what_is_left(
    adapter: ActivityEnvironment, api: Api
) -> None:
    intent = await _authorize(adapter, 1500)
    share = payments.ReleaseAuthorization(**REF, payment_intent_id=intent, amount=2000, tag="evt-2")
    done = await adapter.run(payments.release_authorization_share, share)
    assert "1500" in done.detail
    assert await adapter.run(payments.release_authorization_share, share)
    voids = [e["amount"] for e in await api.ledger(order_id="O-REL", action="payment.void")]
    assert voids == [1500]
