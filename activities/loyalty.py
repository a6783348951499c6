"""Loyalty engine (points blocks): the activities, over the LoyaltyEngine port."""

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
    earn_key,
    give_back_key,
    move_key,
    reserve_key,
    take_back_key,
)
from activities.ports.loyalty import BlockMove, LoyaltyEngine
from activities.vendor_http import attempt, attempted
from canonical.steps import Done, PointsEarned, PointsReservation, PointsTakenBack


class LoyaltyActivities:
    """Points at the loyalty engine: reserve, spend or release, earn, give back and take back."""

    def __init__(self, engine: LoyaltyEngine) -> None:
        self._engine = engine

    @activity.defn(name=RESERVE.name)
    async def reserve_points(self, inp: ReservePoints) -> PointsReservation:
        return attempted(await self._engine.reserve(inp, reserve_key(inp.order_id)))

    async def _move(self, inp: PointsMove, move: BlockMove) -> Done:
        block = await self._engine.block_of(inp, reserve_key(inp.order_id))
        if block is None:
            return Done(detail="no points block: nothing to undo", acted=False, attempt=attempt())
        if inp.points is None and block.open_points == 0:
            return Done(detail="nothing left open", acted=False, attempt=attempt())
        await self._engine.move_block(inp, block.block_id, move, inp.points,
                                      move_key(inp.order_id, move, inp.tag))
        moved = inp.points if inp.points is not None else block.open_points
        return Done(detail=f"{move} {moved} points", attempt=attempt())

    @activity.defn(name=RELEASE.name)
    async def release_points(self, inp: PointsMove) -> Done:
        return await self._move(inp, "release")

    @activity.defn(name=SPEND.name)
    async def spend_points(self, inp: PointsMove) -> Done:
        return await self._move(inp, "spend")

    @activity.defn(name=EARN.name)
    async def earn_points(self, inp: EarnPoints) -> PointsEarned:
        return attempted(await self._engine.earn(inp, earn_key(inp.order_id)))

    @activity.defn(name=TAKE_BACK.name)
    async def take_back_points(self, inp: TakeBackPoints) -> PointsTakenBack:
        if inp.points <= 0:  # nothing earned on what was refunded: no call, the tier stands
            tier = await self._engine.tier_of(inp, inp.member_id)
            return PointsTakenBack(member_id=inp.member_id, points=0, tier_before=tier, tier_after=tier,
                                   attempt=attempt())
        return attempted(await self._engine.take_back(inp, take_back_key(inp.order_id, inp.tag)))

    @activity.defn(name=GIVE_BACK.name)
    async def give_back_points(self, inp: GiveBackPoints) -> Done:
        if inp.points <= 0:
            return Done(detail="no points to give back", attempt=attempt())
        await self._engine.give_back(inp, give_back_key(inp.order_id, inp.tag))
        return Done(detail=f"gave back {inp.points} points", attempt=attempt())
