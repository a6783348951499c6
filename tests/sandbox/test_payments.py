from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from sandbox_testkit import Api


def intent(
    amount: int = 10_000, token: str = "tok_visa", order_id: str = "ord-p", **metadata: Any
) -> dict[str, Any]:
    return {
        "amount": amount,
        "currency": "eur",
        "payment_method": token,
        "capture_method": "manual",
        "metadata": {"order_id": order_id, "reference": f"{order_id}:auth", **metadata},
    }


@pytest.mark.asyncio
async def test_authorize_multi_capture_and_final_capture_voids_rest(api: Api) -> None:
    created = await api.post("/payments/payment_intents", intent())
    assert created.status_code == 200
    pi = created.json()
    assert pi["id"].startswith("pi_") and pi["object"] == "payment_intent"
    assert (pi["status"], pi["amount_capturable"], pi["amount_received"]) == ("requires_capture", 10_000, 0)
    assert pi["capture_before"] > time.time() + 7 * 86400 - 5

    first = await api.post(
        f"/payments/payment_intents/{pi['id']}/capture",
        {"amount_to_capture": 3000, "final_capture": False, "metadata": {"reference": "ship-1"}},
    )
    assert first.status_code == 200
    assert (first.json()["amount_capturable"], first.json()["amount_received"]) == (7000, 3000)
    assert first.json()["status"] == "requires_capture"
    assert [c["reference"] for c in first.json()["captures"]] == ["ship-1"]

    final = await api.post(
        f"/payments/payment_intents/{pi['id']}/capture",
        {"amount_to_capture": 2000, "final_capture": True, "metadata": {"reference": "ship-2"}},
    )
    body = final.json()
    assert (body["status"], body["amount_capturable"], body["amount_received"]) == ("succeeded", 0, 5000)
    assert [c["amount"] for c in body["captures"]] == [3000, 2000]
    assert all(c["id"].startswith("cap_") for c in body["captures"])

    entries = await api.ledger(order_id="ord-p")
    assert [(e["action"], e["amount"], e["reference"]) for e in entries] == [
        ("payment.authorize", 10_000, "ord-p:auth"),
        ("payment.capture", 3000, "ship-1"),
        ("payment.capture", 2000, "ship-2"),
        ("payment.void", 5000, "ship-2"),
    ]

    again = await api.post(f"/payments/payment_intents/{pi['id']}/capture", {"amount_to_capture": 1})
    assert again.status_code == 400 and again.json()["error"]["code"] == "payment_intent_unexpected_state"


@pytest.mark.asyncio
async def test_capture_too_much_decrement_and_cancel(api: Api) -> None:
    pi = (await api.post("/payments/payment_intents", intent(order_id="ord-d"))).json()
    too_much = await api.post(f"/payments/payment_intents/{pi['id']}/capture", {"amount_to_capture": 10_001})
    assert too_much.status_code == 400
    assert too_much.json()["error"] == {
        "type": "invalid_request_error",
        "code": "amount_too_large",
        "message": too_much.json()["error"]["message"],
    }

    dec = await api.post(
        f"/payments/payment_intents/{pi['id']}/decrement_authorization", {"amount_to_decrement": 4000}
    )
    assert dec.status_code == 200 and dec.json()["amount_capturable"] == 6000
    dec_too_much = await api.post(
        f"/payments/payment_intents/{pi['id']}/decrement_authorization", {"amount_to_decrement": 6001}
    )
    assert dec_too_much.status_code == 400 and dec_too_much.json()["error"]["code"] == "amount_too_large"

    cancelled = await api.post(
        f"/payments/payment_intents/{pi['id']}/cancel", {"cancellation_reason": "requested_by_customer"}
    )
    body = cancelled.json()
    assert (body["status"], body["amount_capturable"], body["cancellation_reason"]) == (
        "canceled",
        0,
        "requested_by_customer",
    )
    # Nothing left to release: a no-op 200, no ledger entry.
    noop = await api.post(
        f"/payments/payment_intents/{pi['id']}/cancel", {"cancellation_reason": "duplicate"}
    )
    assert noop.status_code == 200 and noop.json()["cancellation_reason"] == "requested_by_customer"

    capture = await api.post(f"/payments/payment_intents/{pi['id']}/capture", {"amount_to_capture": 1})
    assert capture.status_code == 400 and capture.json()["error"]["code"] == "payment_intent_unexpected_state"

    entries = await api.ledger(order_id="ord-d", vendor="payments")
    assert [(e["action"], e["amount"]) for e in entries] == [
        ("payment.authorize", 10_000),
        ("payment.void", 4000),
        ("payment.void", 6000),
    ]


@pytest.mark.asyncio
async def test_refunds(api: Api) -> None:
    pi = (await api.post("/payments/payment_intents", intent(order_id="ord-r"))).json()
    await api.post(
        f"/payments/payment_intents/{pi['id']}/capture", {"amount_to_capture": 8000, "final_capture": True}
    )
    refund = await api.post(
        "/payments/refunds",
        {"payment_intent": pi["id"], "amount": 5000, "metadata": {"order_id": "ord-r", "reference": "ret-1"}},
    )
    assert refund.status_code == 200
    body = refund.json()
    assert body["id"].startswith("re_") and body["object"] == "refund" and body["status"] == "succeeded"
    assert (body["amount"], body["payment_intent"]) == (5000, pi["id"])
    assert body["metadata"] == {"order_id": "ord-r", "reference": "ret-1"}

    too_much = await api.post("/payments/refunds", {"payment_intent": pi["id"], "amount": 3001})
    assert too_much.status_code == 400 and too_much.json()["error"]["code"] == "amount_too_large"
    missing = await api.post("/payments/refunds", {"payment_intent": "pi_nope", "amount": 1})
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "resource_missing"

    fetched = (await api.get(f"/payments/payment_intents/{pi['id']}")).json()
    assert (fetched["amount_received"], fetched["amount_refunded"]) == (8000, 5000)
    refunds = (await api.get("/payments/refunds", payment_intent=pi["id"])).json()["data"]
    assert [r["id"] for r in refunds] == [body["id"]]
    last = (await api.ledger(order_id="ord-r"))[-1]
    assert (last["action"], last["amount"], last["reference"]) == ("payment.refund", 5000, "ret-1")


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("token", "status", "code", "decline_code"),
    [
        ("tok_decline", 402, "card_declined", "generic_decline"),
        ("tok_insufficient_funds", 402, "card_declined", "insufficient_funds"),
        ("tok_unknown", 400, "invalid_payment_method", None),
    ],
)
async def test_failing_tokens(api: Api, token: str, status: int, code: str, decline_code: str | None) -> None:
    response = await api.post("/payments/payment_intents", intent(token=token, order_id=f"ord-{token}"))
    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == code and error.get("decline_code") == decline_code
    if status == 402:
        assert error["type"] == "card_error"
    assert await api.ledger(order_id=f"ord-{token}") == []
    assert (await api.get("/payments/payment_intents", order_id=f"ord-{token}")).json() == {"data": []}


@pytest.mark.asyncio
async def test_short_authorizations_expire_and_reauth_declines(api: Api) -> None:
    expiring = (
        await api.post("/payments/payment_intents", intent(token="tok_expiring", order_id="ord-x"))
    ).json()
    reauth = (
        await api.post("/payments/payment_intents", intent(token="tok_reauth_decline", order_id="ord-x"))
    ).json()
    partial = (
        await api.post("/payments/payment_intents", intent(token="tok_expiring", order_id="ord-x"))
    ).json()
    for pi in (expiring, reauth, partial):
        assert pi["capture_before"] <= time.time() + 2
    await api.post(
        f"/payments/payment_intents/{partial['id']}/capture",
        {"amount_to_capture": 1000, "final_capture": False},
    )

    declined = await api.post(
        "/payments/payment_intents",
        intent(token="tok_reauth_decline", order_id="ord-x", reauthorization_of=reauth["id"]),
    )
    assert declined.status_code == 402 and declined.json()["error"]["code"] == "card_declined"
    # The same flag on a good card is just a new authorization.
    approved = await api.post(
        "/payments/payment_intents",
        intent(token="tok_visa", order_id="ord-x", reauthorization_of=reauth["id"]),
    )
    assert approved.status_code == 200

    await asyncio.sleep(max(pi["capture_before"] for pi in (expiring, reauth, partial)) - time.time() + 0.05)

    capture = await api.post(
        f"/payments/payment_intents/{expiring['id']}/capture", {"amount_to_capture": 100}
    )
    assert capture.status_code == 400
    assert capture.json()["error"] == {
        "type": "invalid_request_error",
        "code": "charge_expired_for_capture",
        "message": capture.json()["error"]["message"],
    }
    # The lapse is told as an ISO 8601 time a person reads, not Unix seconds.
    expired_at = datetime.fromtimestamp(expiring["capture_before"], tz=UTC).isoformat(timespec="milliseconds")
    assert f"expired at {expired_at.replace('+00:00', 'Z')};" in capture.json()["error"]["message"]
    listed = {
        pi["id"]: pi for pi in (await api.get("/payments/payment_intents", order_id="ord-x")).json()["data"]
    }
    assert list(listed) == [expiring["id"], reauth["id"], partial["id"], approved.json()["id"]]
    for pi_id in (expiring["id"], reauth["id"]):
        assert listed[pi_id]["status"] == "canceled"
        assert listed[pi_id]["cancellation_reason"] == "expired"
        assert listed[pi_id]["amount_capturable"] == 0
    assert listed[partial["id"]]["status"] == "succeeded"
    assert listed[partial["id"]]["amount_received"] == 1000

    # Each lapse is booked once, however often it is observed.
    await api.get(f"/payments/payment_intents/{expiring['id']}")
    voids = await api.ledger(order_id="ord-x", action="payment.void")
    assert sorted(v["amount"] for v in voids) == [9000, 10_000, 10_000]
    assert {v["reference"] for v in voids} == {"expired"}
    assert {v["idempotency_key"] for v in voids} == {None}


@pytest.mark.asyncio
async def test_unknown_intent(api: Api) -> None:
    response = await api.get("/payments/payment_intents/pi_missing")
    assert response.status_code == 404 and response.json()["error"]["code"] == "resource_missing"
