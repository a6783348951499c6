"""Exact money allocation (design §4, "Money allocation").

Redeemed points are shared over the lines in proportion to line value, and within a line over its
units, both by the largest-remainder method, so every split adds up to the minor unit.
"""

from pydantic import BaseModel, ConfigDict

from canonical.order import Order


class PricingError(ValueError):
    """The order cannot be priced; `field` names the request field at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class PricedLine(BaseModel):
    model_config = ConfigDict(frozen=True)

    sku: str
    quantity: int
    unit_price: int
    unit_points: list[int]
    """Points redeemed on each unit, first units carrying the remainders."""

    point_value_minor: int

    @property
    def value(self) -> int:
        return self.quantity * self.unit_price

    @property
    def points(self) -> int:
        return sum(self.unit_points)

    @property
    def amount_due(self) -> int:
        return self.value - self.points * self.point_value_minor

    def units(self, start: int, count: int) -> tuple[int, int]:
        """(amount due, points) of units [start, start+count) of this line."""
        if start < 0 or count < 0 or start + count > self.quantity:
            raise ValueError(f"units {start}..{start + count} outside line {self.sku} of {self.quantity}")
        points = sum(self.unit_points[start : start + count])
        return count * self.unit_price - points * self.point_value_minor, points


class PricedOrder(BaseModel):
    model_config = ConfigDict(frozen=True)

    currency: str
    point_value_minor: int
    lines: list[PricedLine]

    @property
    def total(self) -> int:
        return sum(line.value for line in self.lines)

    @property
    def points(self) -> int:
        return sum(line.points for line in self.lines)

    @property
    def amount_due(self) -> int:
        return sum(line.amount_due for line in self.lines)

    def line(self, sku: str) -> PricedLine:
        for line in self.lines:
            if line.sku == sku:
                return line
        raise KeyError(sku)


def largest_remainder(total: int, weights: list[int]) -> list[int]:
    """Split `total` in proportion to `weights`; shares are integers summing exactly to `total`.

    Ties in the remainders go to the earlier position, so the split is deterministic.
    """
    weight_sum = sum(weights)
    if total == 0 or weight_sum == 0:
        if total:
            raise ValueError("cannot split a non-zero total over zero weights")
        return [0] * len(weights)
    floors = [total * w // weight_sum for w in weights]
    remainders = [total * w % weight_sum for w in weights]
    left = total - sum(floors)
    order = sorted(range(len(weights)), key=lambda i: (-remainders[i], i))
    for i in order[:left]:
        floors[i] += 1
    return floors


def price(order: Order, point_value_minor: int) -> PricedOrder:
    points_value = order.points_to_redeem * point_value_minor
    if points_value > order.total:
        raise PricingError(
            "points_to_redeem",
            f"{order.points_to_redeem} points are worth {points_value} minor units, "
            f"more than the order total {order.total}",
        )
    line_points = largest_remainder(order.points_to_redeem, [ln.quantity * ln.unit_price for ln in order.lines])
    lines = []
    for ln, pts in zip(order.lines, line_points, strict=True):
        unit_points = largest_remainder(pts, [1] * ln.quantity)
        if any(p * point_value_minor > ln.unit_price for p in unit_points):
            raise PricingError("points_to_redeem", f"points cannot be spread exactly over line {ln.sku}")
        lines.append(
            PricedLine(
                sku=ln.sku,
                quantity=ln.quantity,
                unit_price=ln.unit_price,
                unit_points=unit_points,
                point_value_minor=point_value_minor,
            )
        )
    return PricedOrder(currency=order.currency, point_value_minor=point_value_minor, lines=lines)
