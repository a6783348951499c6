"""The sandbox loyalty engine's wire format (points blocks): the LoyaltyEngine port over HTTP."""

from pydantic import BaseModel

from activities.contracts.loyalty import EarnPoints, GiveBackPoints, ReservePoints, TakeBackPoints
from activities.ports.loyalty import BlockMove, PointsBlock
from activities.vendor_http import VendorClient, parse
from canonical.steps import OrderCall, PointsEarned, PointsReservation, PointsTakenBack

VENDOR = "loyalty"


class _Blocks(BaseModel):
    data: list[PointsBlock]  # the sandbox's block is the port's


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


class SandboxLoyalty:
    def __init__(self, http: VendorClient) -> None:
        self._http = http

    async def reserve(self, inp: ReservePoints, key: str) -> PointsReservation:
        body = await self._http.call(
            VENDOR, "POST", f"/members/{inp.member_id}/blocks",
            json=_movement_body(inp, key, points=inp.points), idempotency_key=key,
            correlation_id=inp.correlation_id, business_codes={"insufficient_points"},
        )
        block = parse(VENDOR, PointsBlock, body)
        return PointsReservation(reservation_id=block.block_id, member_id=block.member_id, points=block.points)

    async def block_of(self, call: OrderCall, reference: str) -> PointsBlock | None:
        body = await self._http.call(VENDOR, "GET", "/blocks", params={"reference": reference},
                                     correlation_id=call.correlation_id)
        blocks = parse(VENDOR, _Blocks, body).data
        return blocks[0] if blocks else None

    async def move_block(self, call: OrderCall, block_id: str, move: BlockMove, points: int | None,
                         key: str) -> None:
        await self._http.call(VENDOR, "POST", f"/blocks/{block_id}/{move}", json={"points": points},
                              idempotency_key=key, correlation_id=call.correlation_id)

    async def earn(self, inp: EarnPoints, key: str) -> PointsEarned:
        body = await self._http.call(
            VENDOR, "POST", f"/members/{inp.member_id}/earn",
            json=_movement_body(inp, key, amount=inp.amount, currency=inp.currency),
            idempotency_key=key, correlation_id=inp.correlation_id,
        )
        earned = parse(VENDOR, _Earned, body)
        return PointsEarned(member_id=earned.member_id, points=earned.points_earned, tier_before=earned.tier_before,
                            tier_after=earned.tier_after)

    async def take_back(self, inp: TakeBackPoints, key: str) -> PointsTakenBack:
        body = await self._http.call(
            VENDOR, "POST", f"/members/{inp.member_id}/take-back",
            json=_movement_body(inp, key, points=inp.points), idempotency_key=key, correlation_id=inp.correlation_id,
        )
        taken = parse(VENDOR, _TakenBack, body)
        return PointsTakenBack(member_id=taken.member_id, points=taken.points_taken_back,
                               tier_before=taken.tier_before, tier_after=taken.tier_after)

    async def give_back(self, inp: GiveBackPoints, key: str) -> None:
        await self._http.call(
            VENDOR, "POST", f"/members/{inp.member_id}/give-back",
            json=_movement_body(inp, key, points=inp.points), idempotency_key=key, correlation_id=inp.correlation_id,
        )

    async def tier_of(self, call: OrderCall, member_id: str) -> str:
        body = await self._http.call(VENDOR, "GET", f"/members/{member_id}", correlation_id=call.correlation_id)
        return parse(VENDOR, _Member, body).tier
