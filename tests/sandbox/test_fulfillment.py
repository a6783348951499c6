"""Fulfilment without the background loop: tests drive the due work by hand and read the outbox."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from fastapi import FastAPI
from sandbox_testkit import Api


def request(order_id: str, *skus: str, quantity: int = 1) -> dict[str, Any]:
    return {
        "reference": f"{order_id}:ship",
        "order_id": order_id,
        "node": "DC-1",
        "lines": [{"sku": sku, "quantity": quantity} for sku in skus],
        "ship_to": {"name": "Ada", "country": "DE"},
    }


async def work(app: FastAPI) -> int:
    await asyncio.sleep(app.state.runtime.settings.dispatch_delay_s + 0.01)
    done: int = app.state.worker.process_due_work()
    return done


@pytest.mark.asyncio
async def test_dispatch_with_split_and_pick_failure(app: FastAPI, api: Api) -> None:
    created = await api.post(
        "/fulfillment/shipment-requests", request("o1", "A", "SPLIT-B", "C", "PICKFAIL-D", "SPLIT-E")
    )
    assert created.status_code == 201
    doc = created.json()
    assert doc["status"] == "accepted" and doc["request_id"].startswith("shr_")
    assert [line["sku"] for line in doc["lines"]] == ["A", "SPLIT-B", "C", "PICKFAIL-D", "SPLIT-E"]
    # Not before the dispatch delay.
    assert app.state.worker.process_due_work() == 0

    assert await work(app) == 1
    found = (await api.get("/fulfillment/shipment-requests", reference="o1:ship")).json()["data"]
    assert found[0]["status"] == "dispatched"
    shipments = found[0]["shipments"]
    assert [[line["sku"] for line in s["lines"]] for s in shipments] == [["A", "C"], ["SPLIT-B"], ["SPLIT-E"]]

    events = await api.outbox(order_id="o1")
    assert [e["type"] for e in events] == [
        "shipment.pick_rejected",
        "shipment.dispatched",
        "shipment.dispatched",
        "shipment.dispatched",
    ]
    rejected = events[0]["payload"]
    assert rejected["data"] == {
        "order_id": "o1",
        "request_id": doc["request_id"],
        "lines": [{"sku": "PICKFAIL-D", "quantity": 1}],
        "reason": "pick_failed",
    }
    dispatched = events[1]["payload"]["data"]
    assert set(dispatched) == {"order_id", "request_id", "shipment_id", "lines", "carrier", "tracking_number"}
    assert dispatched["shipment_id"] == shipments[0]["shipment_id"]
    assert len({e["webhook_id"] for e in events}) == 4

    entries = await api.ledger(order_id="o1")
    assert [e["action"] for e in entries] == ["fulfillment.request"] + ["fulfillment.dispatch"] * 3
    assert [e["reference"] for e in entries[1:]] == [s["shipment_id"] for s in shipments]

    late_cancel = await api.post(f"/fulfillment/shipment-requests/{doc['request_id']}/cancel")
    assert late_cancel.status_code == 409
    assert late_cancel.json()["error"] == {
        "type": "business_error",
        "code": "already_dispatched",
        "message": late_cancel.json()["error"]["message"],
    }
    # Processed requests are not worked twice.
    assert app.state.worker.process_due_work() == 0


@pytest.mark.asyncio
async def test_everything_pick_rejected(app: FastAPI, api: Api) -> None:
    doc = (await api.post("/fulfillment/shipment-requests", request("o2", "PICKFAIL-A"))).json()
    await work(app)
    assert (await api.get(f"/fulfillment/shipment-requests/{doc['request_id']}")).json()[
        "status"
    ] == "rejected"
    assert [e["type"] for e in await api.outbox("o2")] == ["shipment.pick_rejected"]
    assert [e["action"] for e in await api.ledger(order_id="o2")] == ["fulfillment.request"]


@pytest.mark.asyncio
async def test_hold_then_cancel(app: FastAPI, api: Api) -> None:
    doc = (await api.post("/fulfillment/shipment-requests", request("o3", "HOLD-A", "B"))).json()
    assert doc["on_hold"] is True
    assert await work(app) == 0
    first = await api.post(
        f"/fulfillment/shipment-requests/{doc['request_id']}/cancel", {"reason": "customer"}
    )
    assert first.status_code == 200 and first.json()["status"] == "cancelled"
    repeat = await api.post(f"/fulfillment/shipment-requests/{doc['request_id']}/cancel")
    assert repeat.status_code == 200 and repeat.json()["status"] == "cancelled"
    # A release after the cancel ships nothing.
    await api.client.post("/_sandbox/fulfillment/release", json={"order_id": "o3"})
    assert await work(app) == 0
    assert await api.outbox("o3") == []
    assert [e["action"] for e in await api.ledger(order_id="o3")] == [
        "fulfillment.request",
        "fulfillment.cancel",
    ]


@pytest.mark.asyncio
async def test_hold_until_released(app: FastAPI, api: Api) -> None:
    await api.post("/fulfillment/shipment-requests", request("o4", "HOLD-A"))
    other = (await api.post("/fulfillment/shipment-requests", request("o5", "HOLD-A"))).json()
    assert await work(app) == 0
    released = await api.client.post("/_sandbox/fulfillment/release", json={"order_id": "o4"})
    assert released.json() == {"order_id": "o4", "released": 1}
    assert app.state.worker.process_due_work() == 1
    assert [e["type"] for e in await api.outbox("o4")] == ["shipment.dispatched"]
    assert (await api.get(f"/fulfillment/shipment-requests/{other['request_id']}")).json()[
        "status"
    ] == "accepted"


@pytest.mark.asyncio
async def test_returns_report_condition(app: FastAPI, api: Api) -> None:
    created = await api.post(
        "/fulfillment/returns",
        {
            "reference": "o6:ret-1",
            "order_id": "o6",
            "return_id": "ret-1",
            "lines": [{"sku": "A", "quantity": 1}, {"sku": "DAMAGED-B", "quantity": 2}],
        },
    )
    assert created.status_code == 201 and created.json()["status"] == "accepted"
    await work(app)
    events = await api.outbox("o6")
    assert [e["type"] for e in events] == ["return.received"]
    assert events[0]["payload"]["data"] == {
        "order_id": "o6",
        "return_id": "ret-1",
        "lines": [
            {"sku": "A", "quantity": 1, "condition": "resellable"},
            {"sku": "DAMAGED-B", "quantity": 2, "condition": "damaged"},
        ],
    }
    assert (await api.get("/fulfillment/returns", reference="o6:ret-1")).json()["data"][0][
        "status"
    ] == "received"
    assert [e["action"] for e in await api.ledger(order_id="o6")] == [
        "fulfillment.return_request",
        "fulfillment.return_received",
    ]


@pytest.mark.asyncio
async def test_cancel_unknown_and_validation(api: Api) -> None:
    missing = await api.post("/fulfillment/shipment-requests/shr_nope/cancel")
    assert missing.status_code == 404
    empty = await api.post("/fulfillment/shipment-requests", {**request("o7", "A"), "lines": []})
    assert empty.status_code == 422


@pytest.mark.asyncio
async def test_a_broken_request_does_not_stall_the_others(app: FastAPI, api: Api) -> None:
    broken = (await api.post("/fulfillment/shipment-requests", request("o8", "A"))).json()
    with app.state.runtime.db.transaction() as conn:
        conn.execute("UPDATE shipment_requests SET doc = '{}' WHERE request_id = ?", (broken["request_id"],))
    await api.post("/fulfillment/shipment-requests", request("o9", "A"))
    assert await work(app) == 1
    assert [e["type"] for e in await api.outbox("o9")] == ["shipment.dispatched"]
    with app.state.runtime.db.transaction() as conn:
        row = conn.execute(
            "SELECT status, due_at FROM shipment_requests WHERE request_id = ?", (broken["request_id"],)
        ).fetchone()
    assert row["status"] == "accepted" and row["due_at"] is not None
