"""The oracle's own arithmetic and reference reading, from the order body and plain strings alone.

Written apart from the product (canonical/pricing.py, canonical/units.py, canonical/references.py) on
purpose: a wrong split or a renamed reference there shows up as a mismatch here instead of being reused.

Redeemed points are spread over the lines in proportion to line value by the largest-remainder method,
ties going to the earlier line; a line's points then over its units: each carries points // quantity,
and the first points % quantity units one more. A unit's amount due is its price minus its points times
the point value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


def largest_remainder(total: int, weights: list[int]) -> list[int]:
    whole = sum(weights)
    if total == 0 or whole == 0:
        return [0] * len(weights)
    shares = [total * w // whole for w in weights]
    by_remainder = sorted(range(len(weights)), key=lambda i: (-(total * weights[i] % whole), i))
    for i in by_remainder[: total - sum(shares)]:
        shares[i] += 1
    return shares


@dataclass(frozen=True)
class UnitCosts:
    """Price and redeemed points of every unit of an order, by SKU and unit index."""

    prices: dict[str, int]
    points: dict[str, list[int]]
    point_value: int

    def quantity(self, sku: str) -> int:
        return len(self.points[sku])

    def redeemed(self, sku: str, start: int, count: int) -> int:
        return sum(self.points[sku][start : start + count])

    def due(self, sku: str, start: int, count: int) -> int:
        return count * self.prices[sku] - self.redeemed(sku, start, count) * self.point_value


def unit_costs(body: Mapping[str, Any], point_value: int) -> UnitCosts:
    lines = body["lines"]
    per_line = largest_remainder(
        int(body.get("points_to_redeem") or 0), [int(ln["quantity"]) * int(ln["unit_price"]) for ln in lines]
    )
    points: dict[str, list[int]] = {}
    for line, line_points in zip(lines, per_line, strict=True):
        quantity = int(line["quantity"])
        each, extra = divmod(line_points, quantity)
        points[line["sku"]] = [each + 1 if i < extra else each for i in range(quantity)]
    return UnitCosts({ln["sku"]: int(ln["unit_price"]) for ln in lines}, points, point_value)


def redeemable(body: Mapping[str, Any], point_value: int) -> bool:
    """The points fit the order: worth no more than the total, and no unit carries more than its price."""
    costs = unit_costs(body, point_value)
    total = sum(int(ln["quantity"]) * int(ln["unit_price"]) for ln in body["lines"])
    if int(body.get("points_to_redeem") or 0) * point_value > total:
        return False
    return all(p * point_value <= costs.prices[sku] for sku, pts in costs.points.items() for p in pts)


# ---- references: plain strings, read here with our own code ------------------------------------------


def reference_tail(order_id: str, reference: str | None, word: str) -> list[str] | None:
    """The parts after `{order_id}:{word}:`, or None for another kind of reference (chaos ids hold no
    colon)."""
    prefix = f"{order_id}:{word}:"
    if not reference or not reference.startswith(prefix):
        return None
    return reference[len(prefix) :].split(":")


@dataclass(frozen=True)
class RefundRef:
    shipment_id: str
    return_id: str | None = None
    """None for support's refund-and-close (`{order_id}:refund:{shipment_id}`)."""
    condition: str | None = None


def refund_ref(order_id: str, reference: str | None, word: str = "refund") -> RefundRef | None:
    """`{order_id}:refund:{return_id}:{shipment_id}:{condition}` or `{order_id}:refund:{shipment_id}`
    (the same shapes with `credit-memo` for credit memos); None for anything else."""
    tail = reference_tail(order_id, reference, word)
    if tail is None:
        return None
    if len(tail) == 1:
        return RefundRef(tail[0])
    if len(tail) == 3:
        return RefundRef(tail[1], tail[0], tail[2])
    return None
