"""The sandbox's Stripe router (`/stripe/v1`) speaks Stripe's wire protocol: form encoding, Bearer secret
keys, Stripe's error object and its idempotency rules; the payments faults and the deliberately broken
modes apply to it; its effects are the same ledger entries as `/payments`."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

KEY = "sk_test_router_a"
FORM = {"content-type": "application/x-www-form-urlencoded"}


def create_params(order_id: str = "O-R1", token: str = "tok_visa", amount: int = 1000) -> list[tuple[str, Any]]:
    return [
        ("amount", amount), ("currency", "eur"), ("confirm", "true"), ("capture_method", "manual"),
        ("payment_method_data[type]", "card"), ("payment_method_data[card][token]", token),
        ("payment_method_options[card][request_multicapture]", "if_available"),
        ("metadata[order_id]", order_id), ("metadata[reference]", f"{order_id}:authorize"),
        ("expand[0]", "latest_charge"),
    ]


async def post(client: httpx.AsyncClient, path: str, params: list[tuple[str, Any]], *, key: str | None = None,
               api_key: str = KEY) -> httpx.Response:
    headers = {**FORM, "Authorization": f"Bearer {api_key}", **({"Idempotency-Key": key} if key else {})}
    return await client.post(f"/stripe/v1{path}", content=urlencode(params), headers=headers)


async def ledger(client: httpx.AsyncClient, order_id: str) -> list[tuple[str, int, str]]:
    entries = (await client.get("/_sandbox/ledger", params={"order_id": order_id})).json()["entries"]
    return [(e["action"], e["amount"], e["reference"]) for e in entries]


async def test_a_confirmed_manual_intent_with_multicapture_and_its_latest_charge(client: httpx.AsyncClient) -> None:
    response = await post(client, "/payment_intents", create_params(), key="k-create")
    assert response.status_code == 200, response.text
    intent = response.json()
    assert (intent["object"], intent["status"], intent["amount_capturable"]) == ("payment_intent", "requires_capture",
                                                                                1000)
    card = intent["latest_charge"]["payment_method_details"]["card"]
    assert card["multicapture"] == {"status": "available"} and card["capture_before"] > intent["created"]
    pi = intent["id"]
    for n, amount in ((1, 300), (2, 200)):
        captured = await post(client, f"/payment_intents/{pi}/capture",
                              [("amount_to_capture", amount), ("final_capture", "false"),
                               ("metadata[reference]", f"O-R1:capture:S{n}")], key=f"k-cap-{n}")
        assert captured.status_code == 200, captured.text
    decremented = await post(client, f"/payment_intents/{pi}/decrement_authorization", [("amount", 900)], key="k-dec")
    assert (decremented.json()["amount"], decremented.json()["amount_capturable"]) == (900, 400)
    found = await client.get("/stripe/v1/payment_intents/search", params={"query": "metadata['order_id']:'O-R1'"},
                             headers={"Authorization": f"Bearer {KEY}"})
    assert found.json()["object"] == "search_result" and [i["id"] for i in found.json()["data"]] == [pi]
    canceled = await post(client, f"/payment_intents/{pi}/cancel", [("cancellation_reason", "abandoned")], key="k-c")
    assert (canceled.json()["status"], canceled.json()["amount_capturable"]) == ("succeeded", 0)
    refund = await post(client, "/refunds", [("payment_intent", pi), ("amount", 100),
                                             ("metadata[reference]", "O-R1:refund:1")], key="k-ref")
    assert (refund.json()["object"], refund.json()["charge"]) == ("refund", intent["latest_charge"]["id"])
    assert await ledger(client, "O-R1") == [
        ("payment.authorize", 1000, "O-R1:authorize"),
        ("payment.capture", 300, "O-R1:capture:S1"),
        ("payment.capture", 200, "O-R1:capture:S2"),
        ("payment.void", 100, pi),
        ("payment.void", 400, pi),
        ("payment.refund", 100, "O-R1:refund:1"),
    ]


async def test_same_key_same_parameters_replays_the_stored_answer(client: httpx.AsyncClient) -> None:
    first = await post(client, "/payment_intents", create_params("O-R2"), key="k-1")
    # The same parameters in another order are the same request.
    again = await post(client, "/payment_intents", list(reversed(create_params("O-R2"))), key="k-1")
    assert again.status_code == 200 and again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert "idempotent-replayed" not in first.headers
    assert len(await ledger(client, "O-R2")) == 1


async def test_same_key_other_parameters_is_an_idempotency_error(client: httpx.AsyncClient) -> None:
    await post(client, "/payment_intents", create_params("O-R3"), key="k-2")
    other = await post(client, "/payment_intents", create_params("O-R3", amount=999), key="k-2")
    assert other.status_code == 400
    assert other.json()["error"]["type"] == "idempotency_error"
    assert len(await ledger(client, "O-R3")) == 1


async def test_keys_are_scoped_per_api_key(client: httpx.AsyncClient) -> None:
    await post(client, "/payment_intents", create_params("O-R4"), key="k-3")
    other_account = await post(client, "/payment_intents", create_params("O-R4"), key="k-3", api_key="sk_test_other")
    assert other_account.status_code == 200 and "idempotent-replayed" not in other_account.headers
    assert len(await ledger(client, "O-R4")) == 2


async def test_a_decline_is_stored_and_replayed_in_stripes_shape(client: httpx.AsyncClient) -> None:
    declined = await post(client, "/payment_intents", create_params("O-R5", "tok_insufficient_funds"), key="k-4")
    assert declined.status_code == 402
    error = declined.json()["error"]
    assert (error["type"], error["code"], error["decline_code"]) == ("card_error", "card_declined",
                                                                     "insufficient_funds")
    replayed = await post(client, "/payment_intents", create_params("O-R5", "tok_insufficient_funds"), key="k-4")
    assert (replayed.status_code, replayed.headers["idempotent-replayed"]) == (402, "true")
    assert await ledger(client, "O-R5") == []


async def test_invalid_parameters_are_refused_and_not_stored(client: httpx.AsyncClient) -> None:
    unknown = await post(client, "/payment_intents", [*create_params("O-R6"), ("surprise", "1")], key="k-5")
    assert unknown.status_code == 400
    assert unknown.json()["error"] | {"message": ""} == {
        "type": "invalid_request_error", "code": "parameter_unknown", "param": "surprise", "message": ""}
    missing = await post(client, "/payment_intents", create_params("O-R6")[1:], key="k-5")
    assert (missing.json()["error"]["code"], missing.json()["error"]["param"]) == ("parameter_missing", "amount")
    # Validation failures are not stored: the key still works with good parameters.
    assert (await post(client, "/payment_intents", create_params("O-R6"), key="k-5")).status_code == 200


@pytest.mark.parametrize("authorization", [None, "Bearer sk_live_abc123", "Basic c2tfdGVzdF94Og==", "Bearer "])
async def test_only_secret_test_keys_get_in(client: httpx.AsyncClient, authorization: str | None) -> None:
    headers = {**FORM, **({"Authorization": authorization} if authorization else {})}
    response = await client.post("/stripe/v1/payment_intents", content=urlencode(create_params("O-R7")),
                                 headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "authentication_error"
    assert await ledger(client, "O-R7") == []


async def test_payments_faults_apply_to_the_stripe_router(client: httpx.AsyncClient) -> None:
    await client.put("/_sandbox/faults/payments", json={"outage": True})
    response = await post(client, "/payment_intents", create_params("O-R8"), key="k-6")
    assert response.status_code == 503 and response.json()["error"]["type"] == "api_error"
    await client.delete("/_sandbox/faults")
    assert (await post(client, "/payment_intents", create_params("O-R8"), key="k-6")).status_code == 200


async def test_the_deliberately_broken_modes(client: httpx.AsyncClient) -> None:
    await client.put("/_sandbox/stripe/defects", json={"ignore_idempotency": True, "flat_errors": True})
    declined = await post(client, "/payment_intents", create_params("O-R9", "tok_decline"), key="k-7")
    assert declined.status_code == 402
    assert declined.json() == {"message": "Your card was declined.", "status": 402}
    for _ in range(2):
        await post(client, "/payment_intents", create_params("O-R9"), key="k-8")
    assert len(await ledger(client, "O-R9")) == 2  # the key was ignored
    await client.delete("/_sandbox/stripe/defects")
    assert "error" in (await post(client, "/payment_intents", create_params("O-R9", "tok_decline"))).json()
    await client.put("/_sandbox/stripe/defects", json={"flat_errors": True})
    await client.post("/_sandbox/reset")
    assert (await client.get("/_sandbox/stripe/defects")).json() == {"ignore_idempotency": False,
                                                                      "flat_errors": False}
