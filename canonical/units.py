"""Where every unit of an order went: shipped (with which shipment), released, or returned.

Units of a line are settled in order: the first dispatch or pick rejection that names a SKU takes its
first units, the next takes the following ones. So a unit's index fixes what it costs (the first units
of a line carry the remainder points, canonical/pricing.py) and a shipment's units fix what it is
captured for. Returns take the earliest shipped units not yet returned. Everything is kept as runs of
units, never one entry per unit, so a line of 100,000 units costs what a line of one does.

Earned points are spread over the shipped units by cumulative rounding: in a fixed order (line by line,
units by index), the first k units carry floor(E × due(first k) / due(all)) points. Each unit gets the
floor or the ceiling of its proportional share, any run's share is the difference of two floors, and
returning every unit, in any number of returns, takes back exactly E.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field

from canonical.pricing import PricedLine, PricedOrder
from canonical.steps import LineQuantity


class UnitError(ValueError):
    """The lines name a SKU the order does not hold, or more units than are open."""


@dataclass(frozen=True)
class UnitRun:
    sku: str
    start: int
    """Index of the run's first unit within its line."""
    count: int
    shipment_id: str | None
    """The shipment the units left with; None for units released (never shipped)."""


@dataclass(frozen=True)
class Taken:
    runs: list[UnitRun]
    amount: int
    """Amount due of the units: what a shipment is captured for, or what a release frees."""
    points: int
    """Redeemed points the units carry."""


@dataclass(frozen=True)
class ReturnedUnits:
    """Units of one line that left with one shipment and come back in one return."""

    shipment_id: str
    sku: str
    start: int
    count: int
    rank: int
    """Position of the first unit among the line's shipped units (for the earned-points spread)."""


@dataclass
class UnitLedger:
    priced: PricedOrder
    runs: list[UnitRun] = field(default_factory=list)
    returned: dict[str, int] = field(default_factory=dict)
    """Shipped units of each SKU already promised to returns."""

    def open_units(self, sku: str) -> int:
        line = self._line(sku)
        return line.quantity - sum(run.count for run in self.runs if run.sku == sku)

    def open_lines(self) -> list[LineQuantity]:
        return [LineQuantity(sku=ln.sku, quantity=self.open_units(ln.sku)) for ln in self.priced.lines
                if self.open_units(ln.sku) > 0]

    def settled(self) -> bool:
        return not self.open_lines()

    def shipped_any(self) -> bool:
        return any(run.shipment_id is not None for run in self.runs)

    def shipped(self, sku: str) -> int:
        return sum(run.count for run in self.runs if run.sku == sku and run.shipment_id is not None)

    def check(self, lines: Iterable[LineQuantity]) -> None:
        """Raises UnitError if the lines cannot be taken; changes nothing."""
        wanted = _per_sku(lines)
        for sku, quantity in wanted.items():
            if quantity > self.open_units(sku):
                raise UnitError(f"{sku}: {quantity} units, but only {self.open_units(sku)} are open")

    def take(self, lines: Iterable[LineQuantity], shipment_id: str | None) -> Taken:
        """The next open units of each line, shipped with `shipment_id` or released (None)."""
        lines = list(lines)
        self.check(lines)
        runs, amount, points = [], 0, 0
        for sku, quantity in _per_sku(lines).items():
            start = self._line(sku).quantity - self.open_units(sku)
            due, pts = self._line(sku).units(start, quantity)
            runs.append(UnitRun(sku, start, quantity, shipment_id))
            amount += due
            points += pts
        self.runs.extend(runs)
        return Taken(runs, amount, points)

    def due(self, sku: str, start: int, count: int) -> tuple[int, int]:
        """(amount due, redeemed points) of units [start, start+count) of a line."""
        return self._line(sku).units(start, count)

    # ---- returns -----------------------------------------------------------------------------

    def returnable(self, sku: str) -> int:
        return self.shipped(sku) - self.returned.get(sku, 0)

    def check_return(self, lines: Iterable[LineQuantity]) -> None:
        lines = list(lines)
        skus = [line.sku for line in lines]
        if len(skus) != len(set(skus)):
            raise UnitError("each sku may appear on one line of a return")
        for line in lines:
            self._line(line.sku)
            if line.quantity > self.returnable(line.sku):
                raise UnitError(f"{line.sku}: {line.quantity} returned but only {max(self.returnable(line.sku), 0)} "
                                "shipped and not yet returned")

    def take_return(self, lines: Iterable[LineQuantity]) -> list[ReturnedUnits]:
        """The earliest shipped units not yet returned, split by the shipment each left with."""
        lines = list(lines)
        self.check_return(lines)
        pieces: list[ReturnedUnits] = []
        for line in lines:
            first = self.returned.get(line.sku, 0)
            pieces.extend(self._shipped_ranks(line.sku, first, line.quantity))
            self.returned[line.sku] = first + line.quantity
        return pieces

    def earned_on(self, piece: ReturnedUnits, earned_total: int) -> int:
        """Points earned on these units under the cumulative-rounding spread of `earned_total`."""
        weight = self._shipped_due_total()
        if weight == 0 or earned_total == 0:
            return 0
        before = self._cumulative_due(piece.sku, piece.rank)
        after = self._cumulative_due(piece.sku, piece.rank + piece.count)
        return earned_total * after // weight - earned_total * before // weight

    # ---- internals ---------------------------------------------------------------------------

    def _line(self, sku: str) -> PricedLine:
        try:
            return self.priced.line(sku)
        except KeyError:
            raise UnitError(f"{sku} is not a line of this order") from None

    def _shipped_runs(self, sku: str) -> list[UnitRun]:
        return sorted((r for r in self.runs if r.sku == sku and r.shipment_id is not None), key=lambda r: r.start)

    def _shipped_ranks(self, sku: str, rank: int, count: int) -> list[ReturnedUnits]:
        """Shipped units of rank [rank, rank+count) of a line, one piece per run they fall in."""
        pieces, seen = [], 0
        for run in self._shipped_runs(sku):
            lo, hi = max(rank, seen), min(rank + count, seen + run.count)
            if lo < hi:
                assert run.shipment_id is not None
                pieces.append(ReturnedUnits(run.shipment_id, sku, run.start + lo - seen, hi - lo, lo))
            seen += run.count
        return pieces

    def _due_of_first_shipped(self, sku: str, count: int) -> int:
        total, left = 0, count
        for run in self._shipped_runs(sku):
            n = min(left, run.count)
            total += self.due(sku, run.start, n)[0]
            left -= n
            if left == 0:
                break
        return total

    def _cumulative_due(self, sku: str, rank: int) -> int:
        total = 0
        for line in self.priced.lines:
            if line.sku == sku:
                return total + self._due_of_first_shipped(sku, rank)
            total += self._due_of_first_shipped(line.sku, self.shipped(line.sku))
        raise UnitError(f"{sku} is not a line of this order")

    def _shipped_due_total(self) -> int:
        return sum(self._due_of_first_shipped(ln.sku, self.shipped(ln.sku)) for ln in self.priced.lines)


def _per_sku(lines: Iterable[LineQuantity]) -> dict[str, int]:
    """Quantities per SKU; a SKU named on two lines counts once with both quantities."""
    out: dict[str, int] = {}
    for line in lines:
        out[line.sku] = out.get(line.sku, 0) + line.quantity
    return out
