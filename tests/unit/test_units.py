"""The unit ledger: shipments and releases take the next units of a line, returns the earliest shipped
ones, and every split of money and points adds up exactly."""

import pytest

from canonical.order import Order
from canonical.pricing import price
from canonical.steps import LineQuantity
from canonical.units import UnitError, UnitLedger


def _order(lines: list[tuple[str, int, int]], points: int = 0) -> Order:
    return Order.model_validate({
        "order_id": "O-1", "channel": "web", "currency": "EUR",
        "customer": {"customer_id": "C", "loyalty_member_id": "M", "email": "a@example.com", "name": "A"},
        "shipping_address": {"line1": "x", "city": "y", "postal_code": "1", "country": "PT"},
        "lines": [{"sku": s, "quantity": q, "unit_price": p} for s, q, p in lines],
        "payment": {"method_token": "tok_visa"}, "points_to_redeem": points,
    })


def _ledger(lines: list[tuple[str, int, int]], points: int = 0) -> UnitLedger:
    return UnitLedger(price(_order(lines, points), 1))


def lq(sku: str, quantity: int) -> LineQuantity:
    return LineQuantity(sku=sku, quantity=quantity)


def test_shipments_take_the_next_units_and_their_amounts_add_up_to_the_order() -> None:
    ledger = _ledger([("A", 3, 1000), ("B", 2, 999)], points=1001)
    first = ledger.take([lq("A", 1)], "S1")
    second = ledger.take([lq("A", 2), lq("B", 1)], "S2")
    released = ledger.take([lq("B", 1)], None)
    assert ledger.settled()
    assert first.amount + second.amount + released.amount == ledger.priced.amount_due
    assert first.points + second.points + released.points == 1001
    assert [(r.sku, r.start, r.count) for r in second.runs] == [("A", 1, 2), ("B", 0, 1)]


def test_taking_more_than_is_open_or_an_unknown_sku_changes_nothing() -> None:
    ledger = _ledger([("A", 2, 1000)])
    ledger.take([lq("A", 1)], "S1")
    with pytest.raises(UnitError):
        ledger.take([lq("A", 2)], "S2")
    with pytest.raises(UnitError):
        ledger.take([lq("Z", 1)], "S2")
    with pytest.raises(UnitError):  # the same SKU twice counts once, with both quantities
        ledger.take([lq("A", 1), lq("A", 1)], "S2")
    assert ledger.open_lines() == [lq("A", 1)]


def test_returns_take_the_earliest_shipped_units_per_shipment_and_never_twice() -> None:
    ledger = _ledger([("A", 4, 1000)])
    ledger.take([lq("A", 1)], "S1")
    ledger.take([lq("A", 1)], None)
    ledger.take([lq("A", 2)], "S2")
    pieces = ledger.take_return([lq("A", 2)])
    assert [(p.shipment_id, p.start, p.count, p.rank) for p in pieces] == [("S1", 0, 1, 0), ("S2", 2, 1, 1)]
    with pytest.raises(UnitError):
        ledger.take_return([lq("A", 2)])
    with pytest.raises(UnitError):
        ledger.check_return([lq("A", 1), lq("A", 1)])
    assert [(p.shipment_id, p.start) for p in ledger.take_return([lq("A", 1)])] == [("S2", 3)]


def test_earned_points_over_every_return_add_up_to_what_was_earned() -> None:
    ledger = _ledger([("A", 7, 333), ("B", 3, 1001), ("C", 1, 5)], points=977)
    ledger.take([lq("A", 3), lq("C", 1)], "S1")
    ledger.take([lq("B", 1)], None)
    ledger.take([lq("A", 4), lq("B", 2)], "S2")
    earned = 41
    pieces = [*ledger.take_return([lq("A", 2)]), *ledger.take_return([lq("B", 2), lq("C", 1)]),
              *ledger.take_return([lq("A", 5)])]
    shares = [ledger.earned_on(p, earned) for p in pieces]
    assert sum(shares) == earned
    weight = sum(ledger.due(p.sku, p.start, p.count)[0] for p in pieces)
    for piece, share in zip(pieces, shares, strict=True):
        due = ledger.due(piece.sku, piece.start, piece.count)[0]
        assert abs(share - earned * due / weight) < piece.count + 1


def test_a_huge_line_costs_no_more_than_a_small_one() -> None:
    ledger = _ledger([("A", 100_000, 7), ("B", 100_000, 3)], points=123_457)
    taken = ledger.take([lq("A", 99_999), lq("B", 100_000)], "S1")
    rest = ledger.take([lq("A", 1)], "S2")
    assert taken.amount + rest.amount == ledger.priced.amount_due
    assert len(ledger.runs) == 3
    pieces = ledger.take_return([lq("A", 100_000)])
    assert sum(ledger.earned_on(p, 10_000) for p in pieces) <= 10_000
