"""Bloomreach end to end, on a stack of its own with O2C_MARKETING_ADAPTER=bloomreach (nothing else
configured): the loyalty engine's tier-change webhook (Open Loyalty's shape) and an order crossing a tier
threshold each end as exactly ONE Bloomreach customer event in the sandbox's Bloomreach receiver, through
the outbox and the sender; a redelivered webhook records nothing new; a forged one is refused and leaves
nothing behind; and a Bloomreach outage is ridden out by the outbox's retry schedule.

The stack runs the retry schedule in seconds (e2e_support.TEST_ENV: attempts at 0, 0.5, 1.5, 3.5, 7.5 s).
"""

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from e2e_support import Stack, order, stack_with
from sqlalchemy import select
from webhook_support import ADMIN

from deploy.stack import LocalStack
from runtime.settings import DEV_LOYALTY_WEBHOOK_AUTHORIZATION
from store.engine import Store
from store.models import WebhookEvent

pytestmark = [pytest.mark.e2e]

BLOOMREACH = "we_bloomreach"
AUTH = {"Authorization": DEV_LOYALTY_WEBHOOK_AUTHORIZATION}


@pytest.fixture(scope="module")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with stack_with(tmp_path_factory, "o2c_e2e_bloomreach", O2C_MARKETING_ADAPTER="bloomreach") as running:
        yield running


@pytest.fixture(scope="module")
async def stack(local_stack: LocalStack) -> AsyncIterator[Stack]:
    async with Stack(local_stack.api_url, local_stack.sandbox_url) as clients:
        yield clients


def tier_webhook(member: str, *, up: bool = True, level: str = "gold") -> dict[str, Any]:
    return {"eventName": "CustomerLevelChangedAutomatically", "storeCode": "DEFAULT",
            "createdAt": "2026-12-01T10:00:00+00:00",
            "data": {"customer": {"customerId": member, "email": "ana.lima@example.com"},
                     "level": {"levelId": f"lvl-{level}", "name": level.title()},
                     "levelMoveUp": up, "levelMoveDown": not up}}


async def bloomreach_events(stack: Stack, customer_id: str) -> list[dict[str, Any]]:
    response = await stack.sandbox.get("/_sandbox/bloomreach/events", params={"customer_id": customer_id})
    response.raise_for_status()
    events: list[dict[str, Any]] = response.json()["events"]
    return events


async def wait_events(stack: Stack, customer_id: str, count: int, timeout: float = 30.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    events: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        events = await bloomreach_events(stack, customer_id)
        if len(events) >= count:
            return events
        await asyncio.sleep(0.2)
    raise AssertionError(f"{customer_id}: {len(events)} Bloomreach events, expected {count}")


async def delivery_of(stack: Stack, event_id: str) -> dict[str, Any] | None:
    response = await stack.api.get(f"/v1/webhook-endpoints/{BLOOMREACH}/deliveries", headers=ADMIN,
                                   params={"limit": 200})
    response.raise_for_status()
    return next((d for d in response.json()["items"] if d["event_id"] == event_id), None)


async def marketing_entries(stack: Stack, event_id: str) -> list[dict[str, Any]]:
    response = await stack.sandbox.get("/_sandbox/ledger", params={"action": "marketing.event"})
    response.raise_for_status()
    return [e for e in response.json()["entries"] if e["idempotency_key"] == event_id]


async def test_an_open_loyalty_tier_change_is_one_bloomreach_event_even_when_sent_twice(stack: Stack) -> None:
    member = f"M-ol-{uuid.uuid4().hex[:8]}"
    first = await stack.api.post("/v1/webhooks/loyalty", json=tier_webhook(member), headers=AUTH)
    again = await stack.api.post("/v1/webhooks/loyalty", json=tier_webhook(member), headers=AUTH)
    assert first.status_code == again.status_code == 200, first.text
    event_id = first.json()["event_id"]
    assert again.json()["event_id"] == event_id

    (tracked,) = await wait_events(stack, member, 1)
    body = tracked["body"]
    assert body["customer_ids"] == {"registered": member}
    assert body["event_type"] == "loyalty_tier_changed"
    assert {k: body["properties"][k] for k in ("tier_id", "tier_name", "levelMove", "event_id")} == {
        "tier_id": "lvl-gold", "tier_name": "Gold", "levelMove": "up", "event_id": event_id}
    delivery = await delivery_of(stack, event_id)
    assert delivery is not None and (delivery["status"], delivery["last_status_code"]) == ("delivered", 200)
    await asyncio.sleep(1.5)  # room for a second delivery, were there one
    assert len(await bloomreach_events(stack, member)) == 1
    assert len(await marketing_entries(stack, event_id)) == 1


async def test_a_forged_tier_change_is_refused_and_leaves_nothing(stack: Stack, local_stack: LocalStack) -> None:
    member = f"M-forged-{uuid.uuid4().hex[:8]}"
    forged = await stack.api.post("/v1/webhooks/loyalty", json=tier_webhook(member),
                                  headers={"Authorization": "Bearer forged-token"})
    assert forged.status_code == 401
    assert forged.headers["content-type"] == "application/problem+json"
    await asyncio.sleep(1.5)  # what a delivery would have needed
    assert await bloomreach_events(stack, member) == []
    store = Store(local_stack.settings.store_url())
    try:
        with store.reading() as session:
            events = [e.event_id for e in session.scalars(select(WebhookEvent).where(WebhookEvent.order_id == ""))
                      if e.payload["data"].get("member_id") == member]
    finally:
        store.dispose()
    assert events == []


async def test_an_order_crossing_a_tier_threshold_reaches_bloomreach_once(stack: Stack) -> None:
    body = order([("SKU-1", 2, 1999)], member=f"M-near-{uuid.uuid4().hex[:8]}")
    member, customer = body["customer"]["loyalty_member_id"], body["customer"]["customer_id"]
    set_member = await stack.sandbox.put(f"/_sandbox/members/{member}",
                                         json={"available_points": 0, "tier": "base", "lifetime_points": 9_990})
    set_member.raise_for_status()
    assert (await stack.place(body)).status_code == 201
    await stack.wait_status(body["order_id"], "completed")

    def tier_events(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [e["body"] for e in events if e["body"]["event_type"] == "loyalty_tier_changed"]

    deadline = time.monotonic() + 30
    while not tier_events(await bloomreach_events(stack, customer)) and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    await asyncio.sleep(1.0)
    (changed,) = tier_events(await bloomreach_events(stack, customer))
    assert changed["customer_ids"] == {"registered": customer}
    props = changed["properties"]
    assert (props["tier_name"], props["levelMove"], props["member_id"], props["order_id"]) == (
        "silver", "up", member, body["order_id"])
    entries = await marketing_entries(stack, props["event_id"])
    assert [(e["reference"], e["order_id"]) for e in entries] == [("loyalty_tier_changed", body["order_id"])]


async def test_a_bloomreach_outage_is_retried_and_delivered_once_it_recovers(stack: Stack) -> None:
    member = f"M-outage-{uuid.uuid4().hex[:8]}"
    (await stack.sandbox.put("/_sandbox/faults/marketing", json={"outage": True})).raise_for_status()
    sent = await stack.api.post("/v1/webhooks/loyalty", json=tier_webhook(member, up=False, level="silver"),
                                headers=AUTH)
    assert sent.status_code == 200, sent.text
    event_id = sent.json()["event_id"]
    deadline = time.monotonic() + 10
    delivery = await delivery_of(stack, event_id)
    while (delivery is None or delivery["attempts"] < 2) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        delivery = await delivery_of(stack, event_id)
    assert delivery is not None and delivery["status"] == "pending", delivery
    assert delivery["attempts"] >= 2 and delivery["last_status_code"] == 503
    assert await bloomreach_events(stack, member) == []

    (await stack.sandbox.delete("/_sandbox/faults")).raise_for_status()
    (tracked,) = await wait_events(stack, member, 1)
    assert tracked["body"]["properties"]["levelMove"] == "down"
    delivered = await delivery_of(stack, event_id)
    assert delivered is not None and delivered["status"] == "delivered" and delivered["attempts"] >= 3
    assert len(await marketing_entries(stack, event_id)) == 1
