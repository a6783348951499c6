"""Outbound webhooks with the background loop running (app lifespan) and a real HTTP receiver."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sandbox_testkit import Api, Receiver

from sandbox.settings import SandboxSettings

AppFactory = Callable[[SandboxSettings], FastAPI]
ClientFactory = Callable[[FastAPI], httpx.AsyncClient]
Running = Callable[[FastAPI], AbstractAsyncContextManager[None]]
Eventually = Callable[..., Awaitable[None]]


def shipment(order_id: str, *skus: str) -> dict[str, Any]:
    return {
        "reference": f"{order_id}:ship",
        "order_id": order_id,
        "node": "DC-1",
        "lines": [{"sku": sku, "quantity": 1} for sku in skus],
        "ship_to": {},
    }


@pytest.mark.asyncio
async def test_events_are_signed_retried_and_delivered_in_order(
    settings: SandboxSettings,
    make_app: AppFactory,
    new_client: ClientFactory,
    running: Running,
    receiver: Receiver,
    eventually: Eventually,
) -> None:
    app = make_app(settings.model_copy(update={"webhook_url": receiver.url}))
    async with running(app), new_client(app) as client:
        api = Api(client)
        await api.post("/fulfillment/shipment-requests", shipment("w1", "PICKFAIL-X", "A", "SPLIT-B"))
        await api.post(
            "/fulfillment/returns",
            {
                "reference": "w1:ret",
                "order_id": "w1",
                "return_id": "ret-1",
                "lines": [{"sku": "DAMAGED-A", "quantity": 1}],
            },
        )
        await api.post("/fulfillment/shipment-requests", shipment("w2", "C"))

        async def all_delivered() -> bool:
            outbox = await api.outbox()
            return len(outbox) == 5 and all(e["status"] == "delivered" for e in outbox)

        await eventually(all_delivered)
        outbox = await api.outbox()

    by_order: dict[str, list[str]] = {}
    for delivery in receiver.accepted:
        by_order.setdefault(delivery.body["data"]["order_id"], []).append(delivery.body["type"])
    assert by_order == {
        "w1": ["shipment.pick_rejected", "shipment.dispatched", "shipment.dispatched", "return.received"],
        "w2": ["shipment.dispatched"],
    }
    assert receiver.bad_signatures == 0
    # Every event failed once (500) and was redelivered under the same webhook-id.
    accepted_ids = [d.webhook_id for d in receiver.accepted]
    assert len(set(accepted_ids)) == 5
    assert sorted(d.webhook_id for d in receiver.attempts) == sorted(accepted_ids * 2)
    assert {e["webhook_id"] for e in outbox} == set(accepted_ids)
    assert all(e["attempts"] == 2 for e in outbox)
    for delivery in receiver.accepted:
        assert set(delivery.body) == {"type", "timestamp", "data"}
    w1 = [d for d in receiver.accepted if d.body["data"]["order_id"] == "w1"]
    assert [d.webhook_id for d in w1] == [e["webhook_id"] for e in outbox if e["order_id"] == "w1"]
    assert w1[-1].body["data"]["lines"] == [{"sku": "DAMAGED-A", "quantity": 1, "condition": "damaged"}]


@pytest.mark.asyncio
async def test_client_errors_drop_the_event_and_the_stream_moves_on(
    settings: SandboxSettings,
    make_app: AppFactory,
    new_client: ClientFactory,
    running: Running,
    receiver: Receiver,
    eventually: Eventually,
) -> None:
    receiver.fail_first = 0
    statuses = {"shipment.pick_rejected": [400], "shipment.dispatched": [429, 408]}

    def status_for(body: dict[str, Any]) -> int | None:
        queue = statuses.get(body["type"], [])
        return queue.pop(0) if queue else None

    receiver.status_for = status_for
    app = make_app(settings.model_copy(update={"webhook_url": receiver.url}))
    async with running(app), new_client(app) as client:
        api = Api(client)
        await api.post("/fulfillment/shipment-requests", shipment("w3", "PICKFAIL-X", "A"))

        async def settled() -> bool:
            outbox = await api.outbox()
            return len(outbox) == 2 and all(e["status"] != "pending" for e in outbox)

        await eventually(settled)
        outbox = await api.outbox()
    assert [(e["type"], e["status"]) for e in outbox] == [
        ("shipment.pick_rejected", "failed"),
        ("shipment.dispatched", "delivered"),
    ]
    assert outbox[0]["attempts"] == 1 and "400" in outbox[0]["last_error"]
    # 429 and 408 are "try again later", not "never".
    assert outbox[1]["attempts"] == 3
    assert [d.body["type"] for d in receiver.accepted] == ["shipment.dispatched"]


@pytest.mark.asyncio
async def test_backoff_starts_at_half_a_second(
    settings: SandboxSettings,
    make_app: AppFactory,
    new_client: ClientFactory,
    running: Running,
    receiver: Receiver,
    eventually: Eventually,
) -> None:
    defaults = SandboxSettings()
    assert (defaults.webhook_backoff_initial_s, defaults.webhook_backoff_max_s) == (0.5, 30.0)
    app = make_app(
        settings.model_copy(
            update={
                "webhook_url": receiver.url,
                "webhook_backoff_initial_s": 0.5,
                "webhook_backoff_max_s": 30.0,
            }
        )
    )
    async with running(app), new_client(app) as client:
        await Api(client).post("/fulfillment/shipment-requests", shipment("w4", "A"))

        async def delivered() -> bool:
            return len(receiver.accepted) == 1

        await eventually(delivered)
    first, second = receiver.attempts
    assert first.webhook_id == second.webhook_id
    assert 0.45 <= second.at - first.at < 1.5


@pytest.mark.asyncio
async def test_delivery_resumes_after_a_restart(
    settings: SandboxSettings,
    make_app: AppFactory,
    new_client: ClientFactory,
    running: Running,
    receiver: Receiver,
    eventually: Eventually,
) -> None:
    # First life: the orchestrator is down (nothing listens), so the event stays pending.
    first = make_app(settings)
    async with running(first), new_client(first) as client:
        api = Api(client)
        await api.post("/fulfillment/shipment-requests", shipment("w5", "A"))

        async def tried() -> bool:
            outbox = await api.outbox()
            return bool(outbox) and outbox[0]["attempts"] >= 1

        await eventually(tried)
        pending = await api.outbox()
        # Second request: accepted but its dispatch delay has not run yet when we stop.
        await api.post("/fulfillment/shipment-requests", shipment("w6", "HOLD-A"))
    assert pending[0]["status"] == "pending"

    second = make_app(settings.model_copy(update={"webhook_url": receiver.url}))
    async with running(second), new_client(second) as client:
        api = Api(client)
        await client.post("/_sandbox/fulfillment/release", json={"order_id": "w6"})

        async def both_delivered() -> bool:
            return {d.body["data"]["order_id"] for d in receiver.accepted} == {"w5", "w6"}

        await eventually(both_delivered)
    assert [d.webhook_id for d in receiver.accepted if d.body["data"]["order_id"] == "w5"] == [
        pending[0]["webhook_id"]
    ]


@pytest.mark.asyncio
async def test_scheduled_dispatch_survives_a_restart(
    settings: SandboxSettings,
    make_app: AppFactory,
    new_client: ClientFactory,
    running: Running,
    receiver: Receiver,
    eventually: Eventually,
) -> None:
    # Accepted while no background loop runs (as if the process died right after answering).
    first = make_app(settings.model_copy(update={"dispatch_delay_s": 0.2}))
    async with new_client(first) as client:
        await Api(client).post("/fulfillment/shipment-requests", shipment("w7", "A"))
    first.state.runtime.db.close()

    second = make_app(settings.model_copy(update={"webhook_url": receiver.url}))
    async with running(second), new_client(second) as client:

        async def delivered() -> bool:
            return [d.body["type"] for d in receiver.accepted] == ["shipment.dispatched"]

        await eventually(delivered)
        ledger = (await client.get("/_sandbox/ledger", params={"order_id": "w7"})).json()["entries"]
    assert [e["action"] for e in ledger] == ["fulfillment.request", "fulfillment.dispatch"]
