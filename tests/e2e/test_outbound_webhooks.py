"""Outbound webhooks end to end: canonical events of real orders reach registered endpoints, signed per
Standard Webhooks with each endpoint's secret; a receiver that is down for a while gets each event
once when it is back; 410 disables the endpoint; an exhausted delivery is kept as failed with the last
answer and a manual retry delivers it; and no endpoint, however dead, slows an order down.

The stack runs the retry schedule in seconds (e2e_support.TEST_ENV: attempts at 0, 0.5, 1.5, 3.5 and
7.5 s); no test asserts a duration. Every test deletes the endpoints it made, so other tests' orders are
not delivered to them.
"""

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial
from typing import Any

import pytest
from e2e_support import Stack, order
from standardwebhooks import Webhook
from webhook_support import (
    Receiver,
    all_delivered,
    create_endpoint,
    delete_endpoint,
    deliveries,
    endpoint_view,
    marketing_endpoint,
    marketing_events,
    marketing_ledger,
    wait_deliveries,
)

pytestmark = [pytest.mark.e2e]

SCHEDULE_ATTEMPTS = 5  # len(O2C_WEBHOOK_RETRY_SCHEDULE_S) in TEST_ENV
ORDER_EVENTS = {"order.accepted", "order.allocated", "shipment.dispatched", "payment.captured", "erp.posted",
                "loyalty.points_earned", "order.completed"}
ADMIN = {"Authorization": "Bearer admin-dev-key"}

Endpoints = Callable[..., Awaitable[dict[str, Any]]]


@pytest.fixture
async def endpoints(stack: Stack) -> AsyncIterator[Endpoints]:
    """Registers endpoints (`marketing=True`: the sandbox receiver); deletes them after the test."""
    made: list[str] = []

    async def make(url: str | None = None, event_types: list[str] | None = None) -> dict[str, Any]:
        endpoint = await (marketing_endpoint(stack, event_types) if url is None
                          else create_endpoint(stack, url, event_types))
        made.append(endpoint["id"])
        return endpoint

    yield make
    for endpoint_id in made:
        await delete_endpoint(stack, endpoint_id)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = await Receiver().start()
    yield r
    await r.stop()


async def completed_order(stack: Stack, **kwargs: Any) -> str:
    """Place a happy order, wait until it completes; its id."""
    body = order(**kwargs)
    response = await stack.place(body)
    assert response.status_code == 201, response.text
    await stack.wait_status(body["order_id"], "completed")
    return str(body["order_id"])


async def test_events_are_signed_per_endpoint_and_delivered_once(stack: Stack, endpoints: Endpoints,
                                                                 receiver: Receiver) -> None:
    marketing = await endpoints()
    mine = await endpoints(receiver.url)
    order_id = await completed_order(stack)

    delivered = await wait_deliveries(stack, mine["id"], order_id, all_delivered(ORDER_EVENTS))
    assert all(d["attempts"] == 1 and d["last_status_code"] == 200 for d in delivered)
    # Signed with this endpoint's own secret, verified by the reference library; webhook-id = event id.
    received = receiver.of_order(order_id)
    assert len(received) == len(delivered)
    for request in received:
        event = Webhook(mine["secret"]).verify(request.body, request.headers)
        assert request.headers["webhook-id"] == event["id"]
        assert event["order_id"] == order_id and event["data"]["order_id"] == order_id
        assert event["timestamp"] == event["occurred_at"] and event["correlation_id"]
        with pytest.raises(Exception, match="signature"):
            Webhook(marketing["secret"]).verify(request.body, request.headers)
    assert {json.loads(r.body)["type"] for r in received} >= ORDER_EVENTS
    completed = next(json.loads(r.body) for r in received if json.loads(r.body)["type"] == "order.completed")
    assert completed["data"]["captured"] == 3998 and completed["data"]["currency"] == "EUR"

    # The sandbox marketing receiver verified its copies (it records only verified events), once each.
    to_marketing = await wait_deliveries(stack, marketing["id"], order_id, all_delivered(ORDER_EVENTS))
    recorded = await marketing_events(stack, order_id)
    assert recorded == {d["event_id"]: 1 for d in to_marketing}
    assert {d["event_id"] for d in to_marketing} == {d["event_id"] for d in delivered}


async def test_a_receiver_down_for_a_while_gets_each_event_once_when_back(stack: Stack,
                                                                         endpoints: Endpoints) -> None:
    marketing = await endpoints()
    (await stack.sandbox.put("/_sandbox/faults/marketing", json={"outage": True})).raise_for_status()
    body = order()
    order_id = body["order_id"]
    assert (await stack.place(body)).status_code == 201
    await wait_deliveries(stack, marketing["id"], order_id,
                          lambda items: any(d["attempts"] >= 2 and d["last_status_code"] == 503 for d in items))
    assert await marketing_events(stack, order_id) == {}

    # Back, but every answer is lost (the receiver records the event, then answers 500): the retries
    # that follow must not record anything twice.
    (await stack.sandbox.put("/_sandbox/faults/marketing", json={"after_effect_error_rate": 1.0})).raise_for_status()
    await stack.wait_status(order_id, "completed")
    await wait_deliveries(stack, marketing["id"], order_id,
                          lambda items: any(d["attempts"] >= 3 and d["last_status_code"] == 500 for d in items))
    (await stack.sandbox.delete("/_sandbox/faults")).raise_for_status()

    delivered = await wait_deliveries(stack, marketing["id"], order_id, all_delivered(ORDER_EVENTS))
    first = next(d for d in delivered if d["event_type"] == "order.accepted")
    assert first["attempts"] >= 3
    assert await marketing_events(stack, order_id) == {d["event_id"]: 1 for d in delivered}
    # One receiver gets an order's events in the order they happened, even across retries.
    recorded = [e["idempotency_key"] for e in await marketing_ledger(stack, order_id)]
    emitted = [d["event_id"] for d in delivered]  # listed in the order the order emitted them
    assert list(dict.fromkeys(recorded)) == emitted


async def test_410_disables_the_endpoint(stack: Stack, endpoints: Endpoints, receiver: Receiver) -> None:
    receiver.status, receiver.answer = 410, b'{"error":"unsubscribed"}'
    gone = await endpoints(receiver.url, ["order.accepted", "order.completed"])
    order_id = await completed_order(stack)

    [first, *rest] = await wait_deliveries(
        stack, gone["id"], order_id, lambda items: bool(items) and all(d["status"] == "failed" for d in items))
    assert (first["event_type"], first["attempts"], first["last_status_code"], first["last_response"]) == (
        "order.accepted", 1, 410, '{"error":"unsubscribed"}')
    view = await endpoint_view(stack, gone["id"])
    assert view["status"] == "disabled" and "410" in view["disabled_reason"]
    # Nothing is sent to it any more: order.completed came after the 410 and was never attempted.
    assert all(d["attempts"] == 0 for d in rest)
    assert len(receiver.of_order(order_id)) == 1
    retry = await stack.api.post(f"/v1/webhook-endpoints/{gone['id']}/deliveries/{first['delivery_id']}/retry",
                                 headers=ADMIN)
    assert retry.status_code == 409 and retry.json()["type"] == "endpoint-disabled"


async def test_an_exhausted_delivery_is_kept_failed_and_a_manual_retry_delivers_it(stack: Stack,
                                                                                   endpoints: Endpoints) -> None:
    marketing = await endpoints(None, ["order.completed"])
    (await stack.sandbox.put("/_sandbox/faults/marketing", json={"outage": True})).raise_for_status()
    order_id = await completed_order(stack)

    [failed] = await wait_deliveries(stack, marketing["id"], order_id,
                                     lambda items: len(items) == 1 and items[0]["status"] == "failed", timeout=30)
    assert (failed["attempts"], failed["runs"], failed["last_status_code"]) == (SCHEDULE_ATTEMPTS, 1, 503)
    assert "service_unavailable" in failed["last_response"] and failed["last_error"] == "http_error"
    listed = (await stack.api.get(f"/v1/webhook-endpoints/{marketing['id']}/deliveries", headers=ADMIN,
                                  params={"status": "failed", "order_id": order_id})).json()["items"]
    assert [d["delivery_id"] for d in listed] == [failed["delivery_id"]]

    (await stack.sandbox.delete("/_sandbox/faults")).raise_for_status()
    retry = await stack.api.post(
        f"/v1/webhook-endpoints/{marketing['id']}/deliveries/{failed['delivery_id']}/retry", headers=ADMIN)
    assert retry.status_code == 202, retry.text

    [delivered] = await wait_deliveries(stack, marketing["id"], order_id, all_delivered({"order.completed"}))
    assert (delivered["attempts"], delivered["runs"], delivered["last_status_code"]) == (
        SCHEDULE_ATTEMPTS + 1, 2, 200)
    assert await marketing_events(stack, order_id) == {failed["event_id"]: 1}


async def test_an_order_completes_normally_while_every_endpoint_is_down(stack: Stack, endpoints: Endpoints,
                                                                        receiver: Receiver) -> None:
    marketing = await endpoints()
    url = receiver.url
    await receiver.stop()  # nothing listens there any more: connection refused
    refused = await endpoints(url)
    (await stack.sandbox.put("/_sandbox/faults/marketing", json={"outage": True})).raise_for_status()

    order_id = await completed_order(stack)

    # The order did not wait for its events: it finished while their deliveries were still retrying.
    for endpoint in (marketing, refused):
        items = await deliveries(stack, endpoint["id"], order_id)
        assert items and all(d["status"] == "pending" for d in items), items
        assert all(d["attempts"] < SCHEDULE_ATTEMPTS for d in items)
    view = await stack.get(order_id)
    assert view["status"] == "completed" and len(view["captures"]) == 1
    ledger = await stack.ledger(order_id)
    assert ledger.amount("payment.capture") == 3998 and len(ledger.of("erp.invoice")) == 1
    refused_items = await deliveries(stack, refused["id"], order_id)
    assert any(d["last_error"] == "unreachable" for d in refused_items)


async def test_the_local_stack_registers_the_marketing_receiver_once(stack: Stack, local_stack: Any) -> None:
    """What `o2c run` does after start: register the sandbox receiver and hand it the secret, idempotently."""
    from deploy.marketing import ensure_marketing_webhook

    register = partial(ensure_marketing_webhook, local_stack.api_url, local_stack.sandbox_url, local_stack.settings)
    first = await asyncio.to_thread(register)
    second = await asyncio.to_thread(register)
    listed = (await stack.api.get("/v1/webhook-endpoints", headers=ADMIN)).json()["items"]
    receiver = f"{local_stack.sandbox_url}/marketing/events"
    [endpoint] = [e for e in listed if e["url"] == receiver]
    try:
        assert "registered for" in first and "already registered" in second and endpoint["id"] in second
        assert set(endpoint["event_types"]) >= ORDER_EVENTS
        order_id = await completed_order(stack)
        delivered = await wait_deliveries(stack, endpoint["id"], order_id, all_delivered(ORDER_EVENTS))
        assert await marketing_events(stack, order_id) == {d["event_id"]: 1 for d in delivered}
    finally:
        await delete_endpoint(stack, endpoint["id"])
