"""The loyalty contract suite: points blocked, spent, released, earned, taken back and given back, through the
LoyaltyEngine port, with the keys the activities send.

Every check uses a member of its own (`m{run_id}-{n}`), which the engine must know or create with a balance
(the sandbox opens unknown members with 10,000 points), so one check's movements never change another's.
"""

from activities.certification.framework import Check, CheckFailed, expect, expect_kind, refused
from activities.certification.vendor_checks import Probe, SuiteContext, VendorErrorShape
from activities.contracts.loyalty import (
    EarnPoints,
    GiveBackPoints,
    ReservePoints,
    TakeBackPoints,
    earn_key,
    give_back_key,
    move_key,
    reserve_key,
    take_back_key,
)
from activities.ports.loyalty import BlockMove, LoyaltyEngine, PointsBlock
from canonical.errors import ErrorKind
from canonical.steps import OrderCall, PointsEarned, PointsReservation

POINTS = 500
EARN_ON = 10_000
"""Minor units paid (100.00 EUR) that points are earned on."""
CURRENCY = "EUR"
MORE_THAN_ANYONE_HAS = 1_000_000_000


class LoyaltySuite:
    def __init__(self, engine: LoyaltyEngine, ctx: SuiteContext) -> None:
        self._engine = engine
        self._ctx = ctx

    def checks(self) -> list[Check]:
        return [
            Check("reserve", self.reserve),
            Check("spend", self.spend),
            Check("release", self.release),
            Check("earn", self.earn),
            Check("take_back", self.take_back),
            Check("give_back", self.give_back),
            Check("lookup.missing", self.missing_block, mutating=False),
            Check("idempotency.reserve", self.idempotent_reserve),
            Check("idempotency.spend", self.idempotent_spend),
            Check("rejection.insufficient_points", self.insufficient_points),
            *self._ctx.vendor_checks(
                VendorErrorShape, "{error: {type, code, message}}",
                Probe(self._spend_missing, "spending from a block that does not exist"),
                Probe(self._missing_block, "looking up a block")),
        ]

    # -- helpers ----------------------------------------------------------------------------------

    def _reserve_input(self, order: OrderCall, points: int) -> ReservePoints:
        return ReservePoints(**order.model_dump(), member_id=self._ctx.unique("m"), points=points)

    async def _reserved(self, points: int = POINTS) -> tuple[OrderCall, PointsReservation]:
        order = self._ctx.order()
        reservation = await self._engine.reserve(self._reserve_input(order, points), reserve_key(order.order_id))
        return order, reservation

    async def _block(self, order: OrderCall) -> PointsBlock:
        block = await self._engine.block_of(order, reserve_key(order.order_id))
        if block is None:
            raise CheckFailed(f"no block found under the reference {reserve_key(order.order_id)}")
        return block

    async def _move(self, order: OrderCall, reservation: PointsReservation, move: BlockMove,
                    points: int | None) -> PointsBlock:
        await self._engine.move_block(order, reservation.reservation_id, move, points,
                                      move_key(order.order_id, move, "cert"))
        return await self._block(order)

    async def _earned(self) -> tuple[OrderCall, PointsEarned]:
        order = self._ctx.order()
        member = self._ctx.unique("m")
        earned = await self._engine.earn(EarnPoints(**order.model_dump(), member_id=member, amount=EARN_ON,
                                                    currency=CURRENCY), earn_key(order.order_id))
        expect(earned.points > 0 and earned.member_id == member,
               f"earned {earned.points} points for {earned.member_id} on {EARN_ON} {CURRENCY} paid by {member}")
        return order, earned

    async def _missing_block(self) -> PointsBlock | None:
        order = self._ctx.order()
        return await self._engine.block_of(order, reserve_key(order.order_id))

    async def _spend_missing(self) -> None:
        order = self._ctx.order()
        await self._engine.move_block(order, f"blk_{order.order_id}_missing", "spend", 1,
                                      move_key(order.order_id, "spend", "cert"))

    # -- happy paths ------------------------------------------------------------------------------

    async def reserve(self) -> str:
        order, reservation = await self._reserved()
        expect(reservation.points == POINTS, f"reserved {reservation.points} points for {POINTS}")
        block = await self._block(order)
        expect(block.block_id == reservation.reservation_id and block.open_points == POINTS,
               f"the block found is {block.block_id} with {block.open_points} open, reserved "
               f"{reservation.reservation_id} with {POINTS}")
        return f"blocked {POINTS} points ({reservation.reservation_id}), found again by its reference"

    async def spend(self) -> str:
        order, reservation = await self._reserved()
        block = await self._move(order, reservation, "spend", 200)
        expect((block.spent, block.open_points) == (200, POINTS - 200),
               f"after spending 200 of {POINTS}: spent {block.spent}, open {block.open_points}")
        return f"spent 200 of a {POINTS}-point block, {POINTS - 200} still open"

    async def release(self) -> str:
        order, reservation = await self._reserved()
        block = await self._move(order, reservation, "release", None)
        expect((block.released, block.open_points) == (POINTS, 0),
               f"after releasing everything open: released {block.released}, open {block.open_points}")
        return f"released all {POINTS} points of the block"

    async def earn(self) -> str:
        order, earned = await self._earned()
        tier = await self._engine.tier_of(order, earned.member_id)
        expect(tier == earned.tier_after, f"the member's tier reads {tier!r}, the earn said {earned.tier_after!r}")
        return f"earned {earned.points} points on {EARN_ON} {CURRENCY}, tier {earned.tier_before} → {tier}"

    async def take_back(self) -> str:
        order, earned = await self._earned()
        taken = await self._engine.take_back(
            TakeBackPoints(**order.model_dump(), member_id=earned.member_id, points=earned.points, tag="cert"),
            take_back_key(order.order_id, "cert"))
        expect(taken.points == earned.points, f"took back {taken.points} of the {earned.points} earned")
        return f"took back the {taken.points} points earned, tier {taken.tier_before} → {taken.tier_after}"

    async def give_back(self) -> str:
        order, reservation = await self._reserved()
        await self._move(order, reservation, "spend", POINTS)
        await self._engine.give_back(
            GiveBackPoints(**order.model_dump(), member_id=reservation.member_id, points=POINTS, tag="cert"),
            give_back_key(order.order_id, "cert"))
        return f"gave back the {POINTS} points spent"

    async def missing_block(self) -> str:
        block = await self._missing_block()
        expect(block is None, f"a reference never reserved under found block {block!r}")
        return "a reference never reserved under finds no block (compensations then have nothing to undo)"

    # -- idempotency --------------------------------------------------------------------------------

    async def idempotent_reserve(self) -> str:
        order = self._ctx.order()
        inp = self._reserve_input(order, POINTS)
        first = await self._engine.reserve(inp, reserve_key(order.order_id))
        again = await self._engine.reserve(inp, reserve_key(order.order_id))
        expect(again.reservation_id == first.reservation_id,
               f"the same key twice made two blocks: {first.reservation_id} and {again.reservation_id}")
        block = await self._block(order)
        expect(block.points == POINTS, f"the block holds {block.points} points after reserving {POINTS} twice")
        return f"the same key twice gave one block of {POINTS} points ({first.reservation_id})"

    async def idempotent_spend(self) -> str:
        order, reservation = await self._reserved()
        await self._move(order, reservation, "spend", 200)
        block = await self._move(order, reservation, "spend", 200)
        expect(block.spent == 200, f"spending 200 twice under one key spent {block.spent}")
        return "spending 200 twice under one key spent 200 once"

    # -- business rejections ----------------------------------------------------------------------

    async def insufficient_points(self) -> str:
        order = self._ctx.order()
        error = await refused(self._engine.reserve(self._reserve_input(order, MORE_THAN_ANYONE_HAS),
                                                   reserve_key(order.order_id)),
                              f"reserving {MORE_THAN_ANYONE_HAS} points")
        expect_kind(error, ErrorKind.BUSINESS_REJECTION, "insufficient_points", "reserving more than the member has")
        return f"reserving more than the member has is the business rejection insufficient_points ({error.message})"
