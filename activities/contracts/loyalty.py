"""Loyalty engine: reserve (block) points at checkout, spend or release them, earn on what was paid,
give back and take back on returns."""

from canonical.operations import Operation
from canonical.steps import Done, OrderCall, PointsEarned, PointsReservation, PointsTakenBack


class ReservePoints(OrderCall):
    member_id: str
    points: int


class PointsMove(OrderCall):
    """Spend or release points of the order's block. `points=None` releases all that is still open."""

    points: int | None
    tag: str
    """Distinguishes separate moves of one order in the idempotency key (e.g. an event id)."""


class EarnPoints(OrderCall):
    """Earn on the money actually captured; the engine applies the member's tier rate."""

    member_id: str
    amount: int
    currency: str


class TakeBackPoints(OrderCall):
    """Take back points earned on refunded money (the tier may move down)."""

    member_id: str
    points: int
    tag: str
    """Distinguishes separate take-backs of one order in the idempotency key (e.g. the return id)."""


class GiveBackPoints(OrderCall):
    """Give back points redeemed on returned goods."""

    member_id: str
    points: int
    tag: str


RESERVE = Operation("reserve_points", ReservePoints, PointsReservation)
RELEASE = Operation("release_points", PointsMove, Done)
SPEND = Operation("spend_points", PointsMove, Done)
EARN = Operation("earn_points", EarnPoints, PointsEarned)
TAKE_BACK = Operation("take_back_points", TakeBackPoints, PointsTakenBack)
GIVE_BACK = Operation("give_back_points", GiveBackPoints, Done)


# The business keys sent as idempotency keys (the reserve key is also the block's reference at the engine).

def reserve_key(order_id: str) -> str:
    return f"{order_id}:points-reserve"


def move_key(order_id: str, move: str, tag: str) -> str:
    """`move` is `spend` or `release`."""
    return f"{order_id}:points-{move}:{tag}"


def earn_key(order_id: str) -> str:
    return f"{order_id}:points-earn"


def take_back_key(order_id: str, tag: str) -> str:
    return f"{order_id}:points-take-back:{tag}"


def give_back_key(order_id: str, tag: str) -> str:
    return f"{order_id}:points-give-back:{tag}"
