from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from sandbox_testkit import Api

AUTH: dict[str, Any] = {
    "amount": 1234,
    "currency": "eur",
    "payment_method": "tok_visa",
    "metadata": {"order_id": "oi", "reference": "oi:auth"},
}


@pytest.mark.asyncio
async def test_replay_returns_stored_response_and_adds_nothing(api: Api) -> None:
    first = await api.post("/payments/payment_intents", AUTH, key="k1", headers={"X-Correlation-ID": "c1"})
    # Same parameters in another key order and spacing are the same request.
    raw = (
        b'{ "metadata": {"reference": "oi:auth", "order_id": "oi"}, "payment_method": "tok_visa",'
        b' "currency": "eur",   "amount": 1234 }'
    )
    second = await api.client.post(
        "/payments/payment_intents",
        content=raw,
        headers={"Idempotency-Key": "k1", "content-type": "application/json"},
    )
    assert second.status_code == first.status_code == 200
    assert second.json() == first.json()
    assert second.headers["idempotent-replayed"] == "true"
    entries = await api.ledger(order_id="oi")
    assert len(entries) == 1
    assert (entries[0]["idempotency_key"], entries[0]["correlation_id"]) == ("k1", "c1")
    assert len((await api.get("/payments/payment_intents", order_id="oi")).json()["data"]) == 1


@pytest.mark.asyncio
async def test_same_key_other_parameters_or_endpoint_is_refused(api: Api) -> None:
    await api.post("/payments/payment_intents", AUTH, key="k2")
    other = await api.post("/payments/payment_intents", {**AUTH, "amount": 1}, key="k2")
    assert other.status_code == 400
    assert other.json()["error"]["type"] == "idempotency_error"
    assert other.json()["error"]["code"] == "idempotency_error"
    assert other.json()["error"]["message"]
    elsewhere = await api.post("/payments/refunds", {"payment_intent": "pi_x", "amount": 1}, key="k2")
    assert elsewhere.status_code == 400 and elsewhere.json()["error"]["code"] == "idempotency_error"
    assert len(await api.ledger()) == 1


@pytest.mark.asyncio
async def test_keys_are_scoped_per_vendor(api: Api) -> None:
    paid = await api.post("/payments/payment_intents", AUTH, key="shared")
    blocked = await api.post(
        "/loyalty/members/m/blocks", {"points": 1, "reference": "r", "order_id": "oi"}, key="shared"
    )
    assert paid.status_code == 200 and blocked.status_code == 201
    assert [e["vendor"] for e in await api.ledger()] == ["payments", "loyalty"]


@pytest.mark.asyncio
async def test_business_errors_are_replayed_but_not_transient_ones(api: Api) -> None:
    declined = await api.post(
        "/payments/payment_intents", {**AUTH, "payment_method": "tok_decline"}, key="kd"
    )
    replay = await api.post("/payments/payment_intents", {**AUTH, "payment_method": "tok_decline"}, key="kd")
    assert replay.status_code == 402 and replay.json() == declined.json()
    assert replay.headers["idempotent-replayed"] == "true"
    # An invalid body (422) never reaches the handler, so nothing is stored under the key.
    bad = await api.post("/payments/payment_intents", {**AUTH, "amount": -5}, key="kv")
    assert bad.status_code == 422
    assert (
        "idempotent-replayed"
        not in (await api.post("/payments/payment_intents", {**AUTH, "amount": -5}, key="kv")).headers
    )


@pytest.mark.asyncio
async def test_without_a_key_every_request_is_new(api: Api) -> None:
    for _ in range(2):
        response = await api.client.post("/payments/payment_intents", json=AUTH)
        assert response.status_code == 200
    assert len(await api.ledger(action="payment.authorize")) == 2


ONE_LINE = [{"sku": "A", "quantity": 1}]
CONCURRENT_CALLS: list[tuple[str, dict[str, Any], str]] = [
    ("/payments/payment_intents", AUTH, "payment.authorize"),
    ("/loyalty/members/mc/blocks", {"points": 10, "reference": "oc:pts", "order_id": "oi"}, "points.block"),
    (
        "/inventory/reservations",
        {"reference": "oc:res", "order_id": "oi", "lines": ONE_LINE},
        "inventory.reserve",
    ),
    (
        "/erp/sales-orders",
        {"external_reference": "oc:so", "order_id": "oi", "amount": 1, "currency": "EUR", "lines": []},
        "erp.sales_order",
    ),
    (
        "/fulfillment/shipment-requests",
        {"reference": "oc:f", "order_id": "oi", "node": "DC-1", "lines": ONE_LINE},
        "fulfillment.request",
    ),
]


@pytest.mark.asyncio
@pytest.mark.parametrize(("path", "body", "action"), CONCURRENT_CALLS)
async def test_twenty_concurrent_identical_requests_have_one_effect(
    api: Api, path: str, body: dict[str, Any], action: str
) -> None:
    responses = await asyncio.gather(*(api.post(path, body, key="same-key") for _ in range(20)))
    assert {r.status_code for r in responses} <= {200, 201}
    assert len({r.text for r in responses}) == 1
    assert [e["action"] for e in await api.ledger()] == [action]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def served(app: FastAPI) -> Iterator[str]:
    """The app behind a real uvicorn server in a thread, for real concurrent connections."""
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.mark.asyncio
async def test_concurrent_identical_requests_over_real_http(served: str) -> None:
    limits = httpx.Limits(max_connections=20)
    async with httpx.AsyncClient(base_url=served, limits=limits) as client:
        responses = await asyncio.gather(
            *(
                client.post("/payments/payment_intents", json=AUTH, headers={"Idempotency-Key": "real"})
                for _ in range(20)
            )
        )
        assert {r.status_code for r in responses} == {200}
        assert len({r.json()["id"] for r in responses}) == 1
        entries = (await client.get("/_sandbox/ledger")).json()["entries"]
        assert [e["action"] for e in entries] == ["payment.authorize"]
