"""Exact money allocation (design §4, "Money allocation").

Redeemed points are shared over the lines in proportion to line value, and within a line over its
units, both by the largest-remainder method, so every split adds up to the minor unit.

Within a line every unit weighs the same, so the split has a closed form: each unit carries
`base_points`, and the first `extra_point_units` units carry one point more (the largest-remainder
tie-break gives the remainders to the earliest units). A line is a few integers whatever its quantity,
so a large order stays a small workflow input.
"""

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from canonical.order import Order

MAX_SAFE_INTEGER = 2**53 - 1
"""The largest integer a JSON number keeps exactly in JavaScript clients; no amount may exceed it."""


class PricingError(ValueError):
    """The order cannot be priced; `field` names the request field at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class PricedLine(BaseModel):
    model_config = ConfigDict(frozen=True)

    sku: str
    quantity: int = Field(gt=0)
    unit_price: int
    base_points: int = Field(ge=0)
    """Points redeemed on every unit of the line."""
    extra_point_units: int = Field(ge=0)
    """How many of the first units carry one point more than `base_points` (fewer than `quantity`)."""

    point_value_minor: int

    @model_validator(mode="before")
    @classmethod
    def _from_points_per_unit(cls, data: Any) -> Any:
        # Workflow histories recorded before the closed form hold one entry per unit, spread by largest
        # remainder; that spread is exactly (total // quantity, total % quantity), so they replay unchanged.
        if isinstance(data, dict) and "unit_points" in data:
            data = dict(data)
            points = sum(data.pop("unit_points"))
            data["base_points"], data["extra_point_units"] = divmod(points, data["quantity"])
        return data

    @model_validator(mode="after")
    def _fewer_extras_than_units(self) -> "PricedLine":
        if self.extra_point_units >= self.quantity:
            raise ValueError("extra_point_units must be fewer than quantity")
        return self

    @property
    def value(self) -> int:
        return self.quantity * self.unit_price

    @property
    def points(self) -> int:
        return self.quantity * self.base_points + self.extra_point_units

    @property
    def amount_due(self) -> int:
        return self.value - self.points * self.point_value_minor

    def units(self, start: int, count: int) -> tuple[int, int]:
        """(amount due, points) of units [start, start+count) of this line."""
        if start < 0 or count < 0 or start + count > self.quantity:
            raise ValueError(f"units {start}..{start + count} outside line {self.sku} of {self.quantity}")
        extras = max(0, min(start + count, self.extra_point_units) - start)
        points = count * self.base_points + extras
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
    if order.total > MAX_SAFE_INTEGER:
        raise PricingError("lines", f"the order total {order.total} exceeds {MAX_SAFE_INTEGER} minor units "
                           "(2^53 - 1)")
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
        base, extra = divmod(pts, ln.quantity)
        if (base + (1 if extra else 0)) * point_value_minor > ln.unit_price:
            raise PricingError("points_to_redeem", f"points cannot be spread exactly over line {ln.sku}")
        lines.append(
            PricedLine(
                sku=ln.sku,
                quantity=ln.quantity,
                unit_price=ln.unit_price,
                base_points=base,
                extra_point_units=extra,
                point_value_minor=point_value_minor,
            )
        )
    return PricedOrder(currency=order.currency, point_value_minor=point_value_minor, lines=lines)
