"""Loyalty earning end to end: a completed order earns points on what was captured at the member's tier
rate (checked on the engine's ledger), and crossing a tier threshold sends `loyalty.tier_changed` with
the member, the old and the new tier, delivered to the marketing receiver."""

from collections.abc import AsyncIterator
from typing import Any

import pytest
from e2e_support import Stack, order
from webhook_support import all_delivered, delete_endpoint, marketing_endpoint, wait_deliveries

pytestmark = [pytest.mark.e2e]

LINES = [("SKU-1", 2, 1999)]  # 3998 captured: 39 points at x1.0, 59 at x1.5, 79 at x2.0


@pytest.fixture
async def marketing(stack: Stack) -> AsyncIterator[dict[str, Any]]:
    endpoint = await marketing_endpoint(stack, ["loyalty.points_earned", "loyalty.tier_changed"])
    yield endpoint
    await delete_endpoint(stack, endpoint["id"])


async def set_member(stack: Stack, member: str, tier: str, lifetime: int) -> None:
    response = await stack.sandbox.put(f"/_sandbox/members/{member}",
                                       json={"available_points": 0, "tier": tier, "lifetime_points": lifetime})
    response.raise_for_status()


async def complete(stack: Stack, member: str) -> tuple[str, dict[str, Any]]:
    body = order(LINES, member=member)
    assert (await stack.place(body)).status_code == 201
    view = await stack.wait_status(body["order_id"], "completed")
    return body["order_id"], view


@pytest.mark.parametrize(("tier", "lifetime", "multiplier_tenths"), [("base", 0, 10), ("silver", 20_000, 15),
                                                                     ("gold", 60_000, 20)])
async def test_points_earned_match_the_tier_rate(stack: Stack, tier: str, lifetime: int,
                                                 multiplier_tenths: int) -> None:
    member = f"M-earn-{tier}-{stack_unique()}"
    await set_member(stack, member, tier, lifetime)
    order_id, view = await complete(stack, member)
    ledger = await stack.ledger(order_id)
    captured = ledger.amount("payment.capture")
    expected = captured * multiplier_tenths // 1000
    assert captured == 3998
    assert [(e["points"], e["amount"]) for e in ledger.of("points.earn")] == [(expected, captured)]
    assert view["loyalty"]["earned"] == expected
    member_now = (await stack.sandbox.get(f"/loyalty/members/{member}")).json()
    assert (member_now["tier"], member_now["lifetime_points"]) == (tier, lifetime + expected)


async def test_crossing_a_threshold_sends_tier_changed_to_marketing(stack: Stack, marketing: dict[str, Any]) -> None:
    member = f"M-near-{stack_unique()}"
    await set_member(stack, member, "base", 9_990)  # 39 points away from silver's 10,000
    order_id, _ = await complete(stack, member)

    delivered = await wait_deliveries(stack, marketing["id"], order_id,
                                      all_delivered({"loyalty.points_earned", "loyalty.tier_changed"}))
    changed = next(d for d in delivered if d["event_type"] == "loyalty.tier_changed")
    assert {k: changed["payload"]["data"][k] for k in ("member_id", "old_tier", "new_tier")} == {
        "member_id": member, "old_tier": "base", "new_tier": "silver"}
    earned = next(d for d in delivered if d["event_type"] == "loyalty.points_earned")
    assert (earned["payload"]["data"]["member_id"], earned["payload"]["data"]["points"]) == (member, 39)
    # The sandbox marketing receiver verified and recorded it, once.
    entries = (await stack.sandbox.get("/_sandbox/ledger", params={"order_id": order_id,
                                                                   "action": "marketing.event"})).json()["entries"]
    assert sorted(e["reference"] for e in entries) == ["loyalty.points_earned", "loyalty.tier_changed"]
    assert {e["idempotency_key"] for e in entries} == {d["event_id"] for d in delivered}
    assert (await stack.sandbox.get(f"/loyalty/members/{member}")).json()["tier"] == "silver"


def stack_unique() -> str:
    import uuid

    return uuid.uuid4().hex[:8]
