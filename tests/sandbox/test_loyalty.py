from __future__ import annotations

import pytest
from sandbox_testkit import Api


@pytest.mark.asyncio
async def test_unknown_member_starts_with_10000_points(api: Api) -> None:
    response = await api.get("/loyalty/members/m-new")
    assert response.status_code == 200
    assert response.json() == {
        "member_id": "m-new",
        "available_points": 10_000,
        "blocked_points": 0,
        "tier": "base",
        "lifetime_points": 0,
    }


@pytest.mark.asyncio
async def test_block_spend_release_lifecycle(api: Api) -> None:
    created = await api.post(
        "/loyalty/members/m1/blocks",
        {"points": 3000, "reference": "ord-1:points", "order_id": "ord-1"},
        headers={"X-Correlation-ID": "corr-1"},
    )
    assert created.status_code == 201
    block = created.json()
    assert block["points"] == 3000 and block["spent"] == 0 and block["released"] == 0
    assert block["status"] == "active" and block["member_id"] == "m1" and block["order_id"] == "ord-1"
    member = (await api.get("/loyalty/members/m1")).json()
    assert (member["available_points"], member["blocked_points"]) == (7000, 3000)

    found = (await api.get("/loyalty/blocks", reference="ord-1:points")).json()["data"]
    assert [b["block_id"] for b in found] == [block["block_id"]]
    assert (await api.get("/loyalty/blocks", reference="nope")).json() == {"data": []}

    spent = await api.post(f"/loyalty/blocks/{block['block_id']}/spend", {"points": 1000})
    assert spent.status_code == 200 and spent.json()["spent"] == 1000

    released = await api.post(f"/loyalty/blocks/{block['block_id']}/release", {"points": 500})
    assert released.json()["released"] == 500 and released.json()["status"] == "active"

    rest = await api.post(f"/loyalty/blocks/{block['block_id']}/release", {"points": None})
    assert rest.json()["released"] == 2000 and rest.json()["status"] == "closed"
    member = (await api.get("/loyalty/members/m1")).json()
    assert (member["available_points"], member["blocked_points"]) == (9000, 0)

    # Nothing open any more: a release-all moves nothing and writes no entry.
    again = await api.post(f"/loyalty/blocks/{block['block_id']}/release", {"points": None})
    assert again.status_code == 200

    entries = await api.ledger(order_id="ord-1")
    assert [(e["action"], e["points"]) for e in entries] == [
        ("points.block", 3000),
        ("points.spend", 1000),
        ("points.release", 500),
        ("points.release", 1500),
    ]
    assert entries[0]["correlation_id"] == "corr-1" and entries[0]["vendor"] == "loyalty"
    assert entries[0]["reference"] == "ord-1:points" and entries[0]["idempotency_key"]


@pytest.mark.asyncio
async def test_release_with_empty_body_releases_everything(api: Api) -> None:
    block = (
        await api.post("/loyalty/members/m1/blocks", {"points": 10, "reference": "r", "order_id": "o"})
    ).json()
    response = await api.client.post(
        f"/loyalty/blocks/{block['block_id']}/release", headers={"Idempotency-Key": "x"}
    )
    assert response.status_code == 200 and response.json()["released"] == 10


@pytest.mark.asyncio
async def test_insufficient_points(api: Api) -> None:
    await api.put("/_sandbox/members/m2", {"available_points": 100, "tier": "gold"})
    response = await api.post(
        "/loyalty/members/m2/blocks", {"points": 101, "reference": "r2", "order_id": "o2"}
    )
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["type"] == "business_error" and error["code"] == "insufficient_points"
    assert error["available_points"] == 100
    assert await api.ledger(order_id="o2") == []


@pytest.mark.asyncio
async def test_spend_more_than_open_is_block_exhausted(api: Api) -> None:
    block = (
        await api.post("/loyalty/members/m3/blocks", {"points": 50, "reference": "r3", "order_id": "o3"})
    ).json()
    response = await api.post(f"/loyalty/blocks/{block['block_id']}/spend", {"points": 51})
    assert response.status_code == 409 and response.json()["error"]["code"] == "block_exhausted"
    response = await api.post(f"/loyalty/blocks/{block['block_id']}/release", {"points": 51})
    assert response.status_code == 409 and response.json()["error"]["code"] == "block_exhausted"


@pytest.mark.asyncio
async def test_unknown_block_and_bad_bodies(api: Api) -> None:
    missing = await api.post("/loyalty/blocks/blk_nope/spend", {"points": 1})
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "resource_missing"
    zero = await api.post("/loyalty/members/m/blocks", {"points": 0, "reference": "r", "order_id": "o"})
    assert zero.status_code == 422 and zero.json()["error"]["code"] == "validation_error"
    extra = await api.post(
        "/loyalty/members/m/blocks", {"points": 1, "reference": "r", "order_id": "o", "x": 1}
    )
    assert extra.status_code == 422


@pytest.mark.asyncio
async def test_duplicate_reference_is_refused(api: Api) -> None:
    first = await api.post("/loyalty/members/m/blocks", {"points": 1, "reference": "dup", "order_id": "o"})
    second = await api.post("/loyalty/members/m/blocks", {"points": 1, "reference": "dup", "order_id": "o"})
    assert second.status_code == 409
    assert second.json()["error"]["code"] == "duplicate_reference"
    assert second.json()["error"]["block_id"] == first.json()["block_id"]


@pytest.mark.asyncio
async def test_tier_ladder(api: Api) -> None:
    response = await api.get("/loyalty/tiers")
    assert response.status_code == 200
    assert response.json() == {"tiers": [
        {"name": "base", "threshold": 0, "multiplier": 1.0},
        {"name": "silver", "threshold": 10_000, "multiplier": 1.5},
        {"name": "gold", "threshold": 50_000, "multiplier": 2.0},
    ]}


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("tier", "lifetime", "amount", "points"),
    [
        ("base", 0, 3998, 39),  # one point per whole currency unit, rounded down
        ("silver", 10_000, 3998, 59),  # 3998 x 1.5 // 100
        ("gold", 50_000, 3998, 79),
        ("base", 0, 99, 0),
    ],
)
async def test_earning_is_computed_from_money_at_the_tier_rate(
    api: Api, tier: str, lifetime: int, amount: int, points: int
) -> None:
    await api.put("/_sandbox/members/me", {"available_points": 100, "tier": tier, "lifetime_points": lifetime})
    earned = await api.post(
        "/loyalty/members/me/earn", {"amount": amount, "currency": "EUR", "reference": "o1:earn", "order_id": "o1"}
    )
    assert earned.status_code == 200
    assert earned.json() == {
        "member_id": "me", "points_earned": points, "tier_before": tier, "tier_after": tier,
        "available_points": 100 + points, "lifetime_points": lifetime + points,
    }
    entries = await api.ledger(order_id="o1")
    if points:
        assert [(e["action"], e["points"], e["amount"], e["reference"]) for e in entries] == [
            ("points.earn", points, amount, "o1:earn")]
    else:
        assert entries == []  # nothing earned, no effect


@pytest.mark.asyncio
async def test_crossing_a_threshold_raises_the_tier_after_earning_at_the_old_rate(api: Api) -> None:
    await api.put("/_sandbox/members/near", {"available_points": 0, "tier": "base", "lifetime_points": 9_990})
    body = {"amount": 2_000, "currency": "EUR", "reference": "o2:earn", "order_id": "o2"}
    earned = await api.post("/loyalty/members/near/earn", body, key="o2:points-earn")
    assert earned.json() == {
        "member_id": "near", "points_earned": 20, "tier_before": "base", "tier_after": "silver",
        "available_points": 20, "lifetime_points": 10_010,
    }
    # Replayed with the same key: the stored answer, no second effect.
    again = await api.post("/loyalty/members/near/earn", body, key="o2:points-earn")
    assert again.json() == earned.json() and again.headers["idempotent-replayed"] == "true"
    member = (await api.get("/loyalty/members/near")).json()
    assert (member["tier"], member["lifetime_points"]) == ("silver", 10_010)
    assert len(await api.ledger(order_id="o2")) == 1


@pytest.mark.asyncio
async def test_earning_never_lowers_a_tier_and_leaves_tiers_outside_the_ladder_alone(api: Api) -> None:
    await api.put("/_sandbox/members/g", {"available_points": 0, "tier": "gold"})
    earned = await api.post(
        "/loyalty/members/g/earn", {"amount": 1_000, "currency": "EUR", "reference": "r", "order_id": "o"}
    )
    assert (earned.json()["tier_before"], earned.json()["tier_after"], earned.json()["points_earned"]) == (
        "gold", "gold", 20)
    await api.put("/_sandbox/members/p", {"available_points": 0, "tier": "platinum", "lifetime_points": 60_000})
    earned = await api.post(
        "/loyalty/members/p/earn", {"amount": 1_000, "currency": "EUR", "reference": "r2", "order_id": "o"}
    )
    assert (earned.json()["tier_after"], earned.json()["points_earned"]) == ("platinum", 10)


@pytest.mark.asyncio
async def test_take_back_lowers_lifetime_points_and_may_move_the_tier_down(api: Api) -> None:
    await api.put("/_sandbox/members/m9", {"available_points": 0, "tier": "base", "lifetime_points": 9_000})
    earned = await api.post(
        "/loyalty/members/m9/earn", {"amount": 200_000, "currency": "EUR", "reference": "o9:earn", "order_id": "o9"}
    )
    assert (earned.json()["points_earned"], earned.json()["tier_after"]) == (2_000, "silver")
    back = await api.post(
        "/loyalty/members/m9/give-back", {"points": 500, "reference": "o9:gb", "order_id": "o9"}
    )
    # Give-back returns redeemed points; they do not count towards the tier.
    assert back.json()["available_points"] == 2_500 and back.json()["lifetime_points"] == 11_000
    taken = await api.post(
        "/loyalty/members/m9/take-back", {"points": 1_500, "reference": "o9:tb", "order_id": "o9"}
    )
    assert taken.status_code == 200
    assert taken.json() == {
        "member_id": "m9", "points_taken_back": 1_500, "tier_before": "silver", "tier_after": "base",
        "available_points": 1_000, "lifetime_points": 9_500,
    }
    # A clawback may leave the balance negative (the points may already be spent).
    deeper = await api.post(
        "/loyalty/members/m9/take-back", {"points": 20_000, "reference": "o9:tb2", "order_id": "o9"}
    )
    assert (deeper.json()["available_points"], deeper.json()["lifetime_points"]) == (-19_000, 0)
    actions = [(e["action"], e["points"]) for e in await api.ledger(order_id="o9")]
    assert actions == [
        ("points.earn", 2_000), ("points.give_back", 500), ("points.take_back", 1_500), ("points.take_back", 20_000),
    ]


@pytest.mark.asyncio
async def test_earn_and_take_back_validate_their_bodies(api: Api) -> None:
    for body in (
        {"points": 10, "reference": "r", "order_id": "o"},  # earning takes money, not points
        {"amount": -1, "currency": "EUR", "reference": "r", "order_id": "o"},
        {"amount": 1, "currency": "euro", "reference": "r", "order_id": "o"},
    ):
        response = await api.post("/loyalty/members/m/earn", body)
        assert response.status_code == 422, body
    response = await api.post("/loyalty/members/m/take-back", {"points": 0, "reference": "r", "order_id": "o"})
    assert response.status_code == 422


@pytest.mark.asyncio
async def test_member_setup_keeps_lifetime_points_unless_given(api: Api) -> None:
    set_up = await api.put("/_sandbox/members/s", {"available_points": 5, "tier": "silver", "lifetime_points": 12_345})
    assert set_up.json()["lifetime_points"] == 12_345
    again = await api.put("/_sandbox/members/s", {"available_points": 7, "tier": "silver"})
    assert (again.json()["available_points"], again.json()["lifetime_points"]) == (7, 12_345)
    assert (await api.put("/_sandbox/members/s", {"available_points": 1, "lifetime_points": -1})).status_code == 422
