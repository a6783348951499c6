"""The loyalty engine's port: points blocked at checkout, spent or released later, earned on what was
paid, given back and taken back on returns."""

from typing import Literal, Protocol

from pydantic import BaseModel

from activities.contracts.loyalty import EarnPoints, GiveBackPoints, ReservePoints, TakeBackPoints
from canonical.steps import OrderCall, PointsEarned, PointsReservation, PointsTakenBack

BlockMove = Literal["release", "spend"]


class PointsBlock(BaseModel):
    """Points blocked for an order, and how many of them were spent or released since."""

    block_id: str
    member_id: str
    points: int
    spent: int
    released: int

    @property
    def open_points(self) -> int:
        return self.points - self.spent - self.released


class LoyaltyEngine(Protocol):
    """`key` is the call's idempotency key; for reserve, earn, take back and give back it is also the
    movement's reference at the engine."""

    async def reserve(self, inp: ReservePoints, key: str) -> PointsReservation: ...

    async def block_of(self, call: OrderCall, reference: str) -> PointsBlock | None:
        """The block reserved under `reference`, or None if none was."""
        ...

    async def move_block(self, call: OrderCall, block_id: str, move: BlockMove, points: int | None,
                         key: str) -> None:
        """Spend or release `points` of the block (None: all that is still open)."""
        ...

    async def earn(self, inp: EarnPoints, key: str) -> PointsEarned: ...

    async def take_back(self, inp: TakeBackPoints, key: str) -> PointsTakenBack: ...

    async def give_back(self, inp: GiveBackPoints, key: str) -> None: ...

    async def tier_of(self, call: OrderCall, member_id: str) -> str: ...
