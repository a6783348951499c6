"""One order's books as the oracle keeps them: what the vendors recorded for it, next to what its goods
cost by the oracle's own arithmetic (tools/chaos_expect.py).

Shipments are those the sandbox node dispatched plus any the chaos client reported itself as the node.
A line's units go to shipments in dispatch order, so the first shipment naming a SKU carries its first
units; a return takes the earliest shipped units not yet returned, per SKU, in the order returns were
requested.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tools.chaos_expect import UnitCosts, unit_costs
from tools.chaos_model import PlacedOrder


class DispatchError(ValueError):
    """The node shipped something the order does not hold."""


@dataclass
class OrderFacts:
    """What the vendors hold for one order."""

    entries: Sequence[Mapping[str, Any]] = ()
    intents: Sequence[Mapping[str, Any]] = ()
    blocks: Sequence[Mapping[str, Any]] = ()
    reservations: Sequence[Mapping[str, Any]] = ()
    requests: Sequence[Mapping[str, Any]] = ()
    documents: Sequence[Mapping[str, Any]] = ()
    return_requests: Sequence[Mapping[str, Any]] = ()


@dataclass(frozen=True)
class Piece:
    """Units [start, start+count) of a line that left with one shipment."""

    shipment_id: str
    sku: str
    start: int
    count: int


@dataclass
class Shipped:
    shipment_id: str
    pieces: list[Piece] = field(default_factory=list)
    due: int = 0
    points: int = 0


class Books:
    def __init__(self, placed: PlacedOrder, facts: OrderFacts, point_value: int) -> None:
        self.placed = placed
        self.facts = facts
        self.costs: UnitCosts = unit_costs(placed.body, point_value)
        self.shipments: dict[str, Shipped] = {}
        self._taken: Counter[str] = Counter()
        for shipment in self._dispatched():
            self._ship(shipment["shipment_id"], shipment["lines"])

    @property
    def order_id(self) -> str:
        return self.placed.order_id

    def ref(self, word: str, *parts: str) -> str:
        return ":".join([self.order_id, word, *parts])

    def of(self, action: str) -> list[Mapping[str, Any]]:
        return [e for e in self.facts.entries if e["action"] == action]

    def total(self, action: str, field_name: str = "amount") -> int:
        return sum(int(e.get(field_name) or 0) for e in self.of(action))

    def by_reference(self, action: str, field_name: str = "amount") -> Counter[str]:
        sums: Counter[str] = Counter()
        for entry in self.of(action):
            sums[str(entry.get("reference"))] += int(entry.get(field_name) or 0)
        return sums

    def pieces(self, sku: str, rank: int, count: int) -> list[Piece]:
        """Shipped units of rank [rank, rank+count) of a line, cut where they left with different
        shipments."""
        out, seen = [], 0
        for piece in (p for s in self.shipments.values() for p in s.pieces if p.sku == sku):
            lo, hi = max(rank, seen), min(rank + count, seen + piece.count)
            if lo < hi:
                out.append(Piece(piece.shipment_id, sku, piece.start + lo - seen, hi - lo))
            seen += piece.count
        return out

    def due(self, pieces: Sequence[Piece]) -> int:
        return sum(self.costs.due(p.sku, p.start, p.count) for p in pieces)

    def redeemed(self, pieces: Sequence[Piece]) -> int:
        return sum(self.costs.redeemed(p.sku, p.start, p.count) for p in pieces)

    def shipped_units(self) -> int:
        return sum(p.count for s in self.shipments.values() for p in s.pieces)

    def _dispatched(self) -> list[Mapping[str, Any]]:
        known = [s for request in self.facts.requests for s in request.get("shipments") or []]
        return known + list(self.placed.node_shipments)

    def _ship(self, shipment_id: str, lines: Sequence[Mapping[str, Any]]) -> None:
        if shipment_id in self.shipments:
            raise DispatchError(f"shipment {shipment_id} reported twice by the node")
        shipped = self.shipments[shipment_id] = Shipped(shipment_id)
        for line in lines:
            sku, count = line["sku"], int(line["quantity"])
            if sku not in self.costs.prices or self._taken[sku] + count > self.costs.quantity(sku):
                raise DispatchError(
                    f"shipment {shipment_id} carries {count} x {sku}, more than the order holds"
                )
            shipped.pieces.append(Piece(shipment_id, sku, self._taken[sku], count))
            self._taken[sku] += count
        shipped.due = self.due(shipped.pieces)
        shipped.points = self.redeemed(shipped.pieces)
