"""Loyalty engine (points blocks): adapter and activities."""

from pydantic import BaseModel
from temporalio import activity

from activities.contracts.loyalty import (
    EARN,
    GIVE_BACK,
    RELEASE,
    RESERVE,
    SPEND,
    TAKE_BACK,
    EarnPoints,
    GiveBackPoints,
    PointsMove,
    ReservePoints,
    TakeBackPoints,
)
from activities.vendor_http import VendorClient, attempt, parse
from canonical.steps import Done, OrderCall, PointsEarned, PointsReservation, PointsTakenBack

VENDOR = "loyalty"


class _Block(BaseModel):
    block_id: str
    member_id: str
    points: int
    spent: int
    released: int


class _Blocks(BaseModel):
    data: list[_Block]


def _reference(order_id: str) -> str:
    return f"{order_id}:points-reserve"


# ---- earning (on completion) and the return-time corrections --------------------------------------


class _TierMove(BaseModel):
    member_id: str
    tier_before: str
    tier_after: str


class _Member(BaseModel):
    tier: str


class _Earned(_TierMove):
    points_earned: int


class _TakenBack(_TierMove):
    points_taken_back: int


def _movement_body(inp: OrderCall, reference: str, **fields: object) -> dict[str, object]:
    return {**fields, "reference": reference, "order_id": inp.order_id}


class LoyaltyActivities:
    """Points at the loyalty engine: reserve, spend or release, earn, give back and take back."""

    def __init__(self, http: VendorClient) -> None:
        self._http = http

    async def _find_block(self, inp: OrderCall) -> _Block | None:
        body = await self._http.call(VENDOR, "GET", "/blocks", params={"reference": _reference(inp.order_id)},
                          correlation_id=inp.correlation_id)
        blocks = parse(VENDOR, _Blocks, body).data
        return blocks[0] if blocks else None

    @activity.defn(name=RESERVE.name)
    async def reserve_points(self, inp: ReservePoints) -> PointsReservation:
        body = await self._http.call(
            VENDOR, "POST", f"/members/{inp.member_id}/blocks",
            json={"points": inp.points, "reference": _reference(inp.order_id), "order_id": inp.order_id},
            idempotency_key=_reference(inp.order_id),
            correlation_id=inp.correlation_id,
            business_codes={"insufficient_points"},
        )
        block = parse(VENDOR, _Block, body)
        return PointsReservation(reservation_id=block.block_id, member_id=block.member_id, points=block.points,
                                 attempt=attempt())

    async def _move(self, inp: PointsMove, action: str) -> Done:
        block = await self._find_block(inp)
        if block is None:
            return Done(detail="no points block: nothing to undo", acted=False, attempt=attempt())
        open_points = block.points - block.spent - block.released
        if inp.points is None and open_points == 0:
            return Done(detail="nothing left open", acted=False, attempt=attempt())
        await self._http.call(
            VENDOR, "POST", f"/blocks/{block.block_id}/{action}",
            json={"points": inp.points},
            idempotency_key=f"{inp.order_id}:points-{action}:{inp.tag}",
            correlation_id=inp.correlation_id,
        )
        moved = inp.points if inp.points is not None else open_points
        return Done(detail=f"{action} {moved} points", attempt=attempt())

    @activity.defn(name=RELEASE.name)
    async def release_points(self, inp: PointsMove) -> Done:
        return await self._move(inp, "release")

    @activity.defn(name=SPEND.name)
    async def spend_points(self, inp: PointsMove) -> Done:
        return await self._move(inp, "spend")

    @activity.defn(name=EARN.name)
    async def earn_points(self, inp: EarnPoints) -> PointsEarned:
        key = f"{inp.order_id}:points-earn"
        body = await self._http.call(
            VENDOR, "POST", f"/members/{inp.member_id}/earn",
            json=_movement_body(inp, key, amount=inp.amount, currency=inp.currency),
            idempotency_key=key, correlation_id=inp.correlation_id,
        )
        earned = parse(VENDOR, _Earned, body)
        return PointsEarned(member_id=earned.member_id, points=earned.points_earned, tier_before=earned.tier_before,
                            tier_after=earned.tier_after, attempt=attempt())

    @activity.defn(name=TAKE_BACK.name)
    async def take_back_points(self, inp: TakeBackPoints) -> PointsTakenBack:
        key = f"{inp.order_id}:points-take-back:{inp.tag}"
        if inp.points <= 0:  # nothing earned on what was refunded: no call, the tier stands
            member = parse(VENDOR, _Member, await self._http.call(VENDOR, "GET", f"/members/{inp.member_id}",
                                                      correlation_id=inp.correlation_id))
            return PointsTakenBack(member_id=inp.member_id, points=0, tier_before=member.tier, tier_after=member.tier,
                                   attempt=attempt())
        body = await self._http.call(
            VENDOR, "POST", f"/members/{inp.member_id}/take-back",
            json=_movement_body(inp, key, points=inp.points), idempotency_key=key, correlation_id=inp.correlation_id,
        )
        taken = parse(VENDOR, _TakenBack, body)
        return PointsTakenBack(member_id=taken.member_id, points=taken.points_taken_back, tier_before=taken.tier_before,
                               tier_after=taken.tier_after, attempt=attempt())

    @activity.defn(name=GIVE_BACK.name)
    async def give_back_points(self, inp: GiveBackPoints) -> Done:
        key = f"{inp.order_id}:points-give-back:{inp.tag}"
        if inp.points <= 0:
            return Done(detail="no points to give back", attempt=attempt())
        await self._http.call(
            VENDOR, "POST", f"/members/{inp.member_id}/give-back",
            json=_movement_body(inp, key, points=inp.points), idempotency_key=key, correlation_id=inp.correlation_id,
        )
        return Done(detail=f"gave back {inp.points} points", attempt=attempt())
