from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import httpx
import pytest
from fastapi import FastAPI
from sandbox_testkit import Api

from sandbox.settings import SandboxSettings

AUTH = {
    "amount": 500,
    "currency": "eur",
    "payment_method": "tok_visa",
    "metadata": {"order_id": "of", "reference": "r"},
}


async def injected(api: Api, vendor: str) -> dict[str, int]:
    counters: dict[str, int] = (await api.get("/_sandbox/faults")).json()["injected"][vendor]
    return counters


@pytest.mark.asyncio
async def test_error_fault_fails_before_processing(api: Api) -> None:
    put = await api.put("/_sandbox/faults/payments", {"error_rate": 1.0})
    assert put.status_code == 200
    response = await api.post("/payments/payment_intents", AUTH, key="k-err")
    assert response.status_code == 500
    assert (
        response.json()["error"]["type"] == "api_error"
        and response.json()["error"]["code"] == "injected_fault"
    )
    assert await api.ledger() == []
    assert (await injected(api, "payments"))["error"] == 1
    # Other vendors and the control surface are untouched.
    assert (await api.get("/loyalty/members/m")).status_code == 200
    assert (await api.get("/_sandbox/healthz")).json() == {"ok": True}

    cleared = await api.client.delete("/_sandbox/faults")
    assert cleared.status_code == 200
    retry = await api.post("/payments/payment_intents", AUTH, key="k-err")
    assert retry.status_code == 200
    assert len(await api.ledger(action="payment.authorize")) == 1


@pytest.mark.asyncio
async def test_outage_is_503_for_every_route_of_the_vendor(api: Api) -> None:
    await api.put("/_sandbox/faults/loyalty", {"outage": True})
    assert (await api.get("/loyalty/members/m")).status_code == 503
    blocked = await api.post("/loyalty/members/m/blocks", {"points": 1, "reference": "r", "order_id": "o"})
    assert blocked.status_code == 503
    assert (await injected(api, "loyalty"))["outage"] == 2
    assert await api.ledger() == []
    # /_sandbox is never faulted, even with every vendor down.
    for vendor in ("payments", "inventory", "fulfillment", "erp", "marketing"):
        await api.put(f"/_sandbox/faults/{vendor}", {"outage": True})
    assert (await api.get("/_sandbox/ledger")).status_code == 200
    assert (await api.client.post("/marketing/events", content=b"{}")).status_code == 503


@pytest.mark.asyncio
async def test_after_effect_error_keeps_the_effect_and_the_stored_response(api: Api) -> None:
    await api.put("/_sandbox/faults/payments", {"after_effect_error_rate": 1.0})
    response = await api.post("/payments/payment_intents", AUTH, key="k-after")
    assert response.status_code == 500 and response.json()["error"]["code"] == "injected_fault"
    entries = await api.ledger(action="payment.authorize")
    assert len(entries) == 1
    assert (await injected(api, "payments"))["after_effect"] == 1

    await api.client.delete("/_sandbox/faults")
    replay = await api.post("/payments/payment_intents", AUTH, key="k-after")
    assert replay.status_code == 200 and replay.headers["idempotent-replayed"] == "true"
    listed = (await api.get("/payments/payment_intents", order_id="of")).json()["data"]
    assert [pi["id"] for pi in listed] == [replay.json()["id"]]
    assert len(await api.ledger(action="payment.authorize")) == 1


@pytest.mark.asyncio
async def test_timeout_fault_processes_then_holds(api: Api) -> None:
    await api.put("/_sandbox/faults/inventory", {"timeout_rate": 1.0})
    started = time.monotonic()
    response = await api.post(
        "/inventory/reservations",
        {"reference": "r", "order_id": "ot", "lines": [{"sku": "A", "quantity": 1}]},
    )
    assert time.monotonic() - started >= 0.05
    assert response.status_code == 201
    assert [e["action"] for e in await api.ledger(order_id="ot")] == ["inventory.reserve"]
    assert (await injected(api, "inventory"))["timeout"] == 1


@pytest.mark.asyncio
async def test_timeout_fault_looks_like_a_timeout_to_the_client(
    settings: SandboxSettings,
    make_app: Callable[[SandboxSettings], FastAPI],
    new_client: Callable[[FastAPI], httpx.AsyncClient],
) -> None:
    app = make_app(settings.model_copy(update={"timeout_hang_s": 5.0}))
    async with new_client(app) as client:
        await client.put("/_sandbox/faults/erp", json={"timeout_rate": 1.0})
        body = {"external_reference": "x", "order_id": "oh", "amount": 1, "currency": "EUR", "lines": []}
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(client.post("/erp/sales-orders", json=body), timeout=0.3)
        # The client gave up, yet the document exists.
        entries = (await client.get("/_sandbox/ledger", params={"order_id": "oh"})).json()["entries"]
        assert [e["action"] for e in entries] == ["erp.sales_order"]


@pytest.mark.asyncio
async def test_latency_and_fault_settings_roundtrip(api: Api) -> None:
    await api.put("/_sandbox/faults/erp", {"latency_ms": 30, "error_rate": 0.0})
    assert (await api.get("/erp/documents")).status_code == 200
    snapshot = (await api.get("/_sandbox/faults")).json()
    assert snapshot["faults"]["erp"] == {
        "error_rate": 0.0,
        "timeout_rate": 0.0,
        "latency_ms": 30,
        "outage": False,
        "after_effect_error_rate": 0.0,
    }
    assert set(snapshot["injected"]) == {
        "loyalty",
        "payments",
        "inventory",
        "fulfillment",
        "erp",
        "marketing",
    }
    assert snapshot["injected"]["erp"] == {"error": 0, "timeout": 0, "outage": 0, "after_effect": 0}
    assert (await api.put("/_sandbox/faults/bank", {"outage": True})).status_code == 404
    assert (await api.put("/_sandbox/faults/erp", {"error_rate": 2})).status_code == 422
    assert (await api.put("/_sandbox/faults/erp", {"bogus": 1})).status_code == 422


@pytest.mark.asyncio
async def test_ledger_filters(api: Api) -> None:
    await api.post("/loyalty/members/m/blocks", {"points": 1, "reference": "r1", "order_id": "a"})
    await api.post("/payments/payment_intents", AUTH)
    await api.post("/loyalty/members/m/blocks", {"points": 1, "reference": "r2", "order_id": "b"})
    everything = await api.ledger()
    assert [e["seq"] for e in everything] == sorted(e["seq"] for e in everything)
    assert set(everything[0]) == {
        "seq", "at", "vendor", "action", "order_id", "amount", "points", "quantity", "sku", "reference",
        "idempotency_key", "correlation_id",
    }  # fmt: skip
    assert everything[0]["at"].endswith("Z")
    assert [e["order_id"] for e in await api.ledger(vendor="loyalty")] == ["a", "b"]
    assert [e["action"] for e in await api.ledger(action="payment.authorize")] == ["payment.authorize"]
    assert [e["order_id"] for e in await api.ledger(after_seq=everything[0]["seq"])] == ["of", "b"]


@pytest.mark.asyncio
async def test_reset_clears_everything(api: Api) -> None:
    await api.put("/_sandbox/members/m", {"available_points": 5, "tier": "gold"})
    await api.put("/_sandbox/stock/S", {"node": "DC-1", "quantity": 0})
    await api.put("/_sandbox/faults/payments", {"outage": True})
    await api.put("/_sandbox/erp/posting-window", {"open": False})
    await api.post("/loyalty/members/m/blocks", {"points": 5, "reference": "r", "order_id": "o"}, key="same")
    await api.post(
        "/fulfillment/shipment-requests",
        {"reference": "r", "order_id": "o", "node": "DC-1", "lines": [{"sku": "A", "quantity": 1}]},
    )
    before = await api.ledger()

    assert (await api.client.post("/_sandbox/reset")).json() == {"ok": True}

    assert await api.ledger() == []
    assert await api.outbox() == []
    member = (await api.get("/loyalty/members/m")).json()
    assert (member["available_points"], member["tier"]) == (10_000, "base")
    assert (await api.get("/inventory/stock/S")).json()["nodes"]["DC-1"] == 1_000_000
    assert (await api.get("/payments/payment_intents")).status_code == 200
    assert (await api.get("/_sandbox/faults")).json()["injected"]["payments"]["outage"] == 0
    so = {"external_reference": "x", "order_id": "o", "amount": 1, "currency": "EUR", "lines": []}
    assert (await api.post("/erp/sales-orders", so)).status_code == 201
    # Stored idempotent responses are gone too: the same key is a new request.
    again = await api.post(
        "/loyalty/members/m/blocks", {"points": 5, "reference": "r", "order_id": "o"}, key="same"
    )
    assert again.status_code == 201 and "idempotent-replayed" not in again.headers
    # Sequence numbers keep growing so a poller using after_seq never sees one twice.
    assert (await api.ledger())[0]["seq"] > before[-1]["seq"]


@pytest.mark.asyncio
async def test_control_validation(api: Api) -> None:
    assert (await api.put("/_sandbox/stock/A", {"node": "DC-7", "quantity": 1})).status_code == 422
    assert (await api.put("/_sandbox/members/m", {"available_points": -1, "tier": "x"})).status_code == 422
    assert (await api.put("/_sandbox/marketing/secret", {"secret": "nope"})).status_code == 422
    assert (await api.client.post("/_sandbox/fulfillment/release", json={"order_id": "none"})).json()[
        "released"
    ] == 0
