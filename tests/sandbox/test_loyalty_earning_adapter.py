"""The loyalty adapter's earning activities against the sandbox engine (in process, over ASGI): the
points come from the engine at the member's tier rate, keys make retries harmless, tier moves are
reported both ways."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sandbox_testkit import Api
from temporalio.testing import ActivityEnvironment

from activities.contracts import loyalty
from activities.loyalty import LoyaltyActivities
from activities.vendor_http import VendorClient
from activities.vendors import vendors
from runtime.settings import Settings

REF = {"correlation_id": "corr-earn"}


@pytest.fixture
async def acts(served: str) -> AsyncIterator[LoyaltyActivities]:
    """The activities wired to the sandbox over real HTTP, as the worker's composition root wires them."""
    settings = Settings(sandbox_url=served)
    http = VendorClient(settings)
    try:
        yield LoyaltyActivities(vendors(http, settings).loyalty)
    finally:
        await http.aclose()


@pytest.fixture
def adapter() -> ActivityEnvironment:
    return ActivityEnvironment()


async def test_earn_points_at_the_tier_rate_and_report_a_tier_change(
    adapter: ActivityEnvironment, acts: LoyaltyActivities, api: Api
) -> None:
    await api.put("/_sandbox/members/M-near", {"available_points": 0, "tier": "silver", "lifetime_points": 49_000})
    inp = loyalty.EarnPoints(order_id="O-1", **REF, member_id="M-near", amount=99_999, currency="EUR")
    earned = await adapter.run(acts.earn_points, inp)
    assert (earned.points, earned.tier_before, earned.tier_after, earned.tier_changed) == (
        99_999 * 15 // 1000, "silver", "gold", True)
    # An activity retry sends the same key and body: the engine answers the stored result.
    assert await adapter.run(acts.earn_points, inp) == earned
    entries = await api.ledger(order_id="O-1")
    assert [(e["action"], e["points"], e["amount"], e["idempotency_key"], e["correlation_id"]) for e in entries] == [
        ("points.earn", 1_499, 99_999, "O-1:points-earn", "corr-earn")]


async def test_take_back_may_lower_the_tier_and_give_back_returns_redeemed_points(
    adapter: ActivityEnvironment, acts: LoyaltyActivities, api: Api
) -> None:
    await api.put("/_sandbox/members/M-2", {"available_points": 0, "tier": "base", "lifetime_points": 9_900})
    earned = await adapter.run(
        acts.earn_points, loyalty.EarnPoints(order_id="O-2", **REF, member_id="M-2", amount=20_000, currency="EUR"))
    assert (earned.points, earned.tier_after) == (200, "silver")
    taken = await adapter.run(
        acts.take_back_points, loyalty.TakeBackPoints(order_id="O-2", **REF, member_id="M-2", points=150, tag="R-1"))
    assert (taken.points, taken.tier_before, taken.tier_after) == (150, "silver", "base")
    nothing = await adapter.run(
        acts.take_back_points, loyalty.TakeBackPoints(order_id="O-2", **REF, member_id="M-2", points=0, tag="R-2"))
    assert (nothing.points, nothing.tier_before, nothing.tier_after) == (0, "base", "base")
    given = await adapter.run(
        acts.give_back_points, loyalty.GiveBackPoints(order_id="O-2", **REF, member_id="M-2", points=300, tag="R-1"))
    assert given.detail == "gave back 300 points"
    entries = await api.ledger(order_id="O-2")
    assert [(e["action"], e["points"], e["idempotency_key"]) for e in entries] == [
        ("points.earn", 200, "O-2:points-earn"),
        ("points.take_back", 150, "O-2:points-take-back:R-1"),
        ("points.give_back", 300, "O-2:points-give-back:R-1"),
    ]
    member = (await api.get("/loyalty/members/M-2")).json()
    assert (member["available_points"], member["lifetime_points"], member["tier"]) == (350, 9_950, "base")
