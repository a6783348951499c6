"""Money allocation is exact to the minor unit (design §4)."""

import pytest

from canonical.order import Order
from canonical.pricing import (
    MAX_SAFE_INTEGER,
    PricedLine,
    PricedOrder,
    PricingError,
    largest_remainder,
    price,
)


def _order(lines: list[tuple[str, int, int]], points: int = 0) -> Order:
    return Order.model_validate({
        "order_id": "ORD-1", "channel": "web", "currency": "EUR",
        "customer": {"customer_id": "C-1", "loyalty_member_id": "M-1", "email": "ana@example.com", "name": "Ana"},
        "shipping_address": {"line1": "Rua A 1", "city": "Lisboa", "postal_code": "1000-001", "country": "PT"},
        "lines": [{"sku": s, "quantity": q, "unit_price": p} for s, q, p in lines],
        "payment": {"method_token": "tok_visa"},
        "points_to_redeem": points,
    })


@pytest.mark.parametrize(
    ("total", "weights", "expected"),
    [
        (10, [1, 1, 1], [4, 3, 3]),
        (100, [3998, 1500], [73, 27]),
        (0, [5, 5], [0, 0]),
        (7, [0, 1], [0, 7]),
        (2, [1, 1, 1], [1, 1, 0]),
    ],
)
def test_largest_remainder_sums_exactly(total: int, weights: list[int], expected: list[int]) -> None:
    shares = largest_remainder(total, weights)
    assert shares == expected
    assert sum(shares) == total


def test_points_spread_over_lines_and_units_add_up() -> None:
    priced = price(_order([("SKU-1", 2, 1999), ("SKU-2", 3, 333)], points=500), point_value_minor=1)
    assert priced.total == 2 * 1999 + 3 * 333
    assert priced.points == 500
    assert priced.amount_due == priced.total - 500
    for line in priced.lines:
        per_unit = [line.units(i, 1)[1] for i in range(line.quantity)]
        assert sum(per_unit) == line.points
        assert max(per_unit) - min(per_unit) <= 1
    # Units taken in any split add back up to the line.
    line = priced.line("SKU-2")
    first = line.units(0, 1)
    rest = line.units(1, 2)
    assert first[0] + rest[0] == line.amount_due
    assert first[1] + rest[1] == line.points


def test_points_worth_more_than_the_order_are_refused() -> None:
    with pytest.raises(PricingError) as err:
        price(_order([("SKU-1", 1, 100)], points=101), point_value_minor=1)
    assert err.value.field == "points_to_redeem"


def test_point_value_scales_the_discount() -> None:
    priced = price(_order([("SKU-1", 1, 1000)], points=50), point_value_minor=10)
    assert priced.amount_due == 500


def test_units_outside_the_line_are_refused() -> None:
    line = price(_order([("SKU-1", 2, 100)]), 1).line("SKU-1")
    with pytest.raises(ValueError):
        line.units(1, 2)


@pytest.mark.parametrize(("quantity", "points"), [(1, 0), (1, 7), (3, 10), (7, 20), (10, 9), (100_000, 123_457)])
def test_units_carry_exactly_the_largest_remainder_spread(quantity: int, points: int) -> None:
    """The closed form gives each unit what the per-unit largest-remainder split gave it."""
    line = price(_order([("SKU-1", quantity, 10**6)], points=points), 1).line("SKU-1")
    if quantity <= 1000:
        assert [line.units(i, 1)[1] for i in range(quantity)] == largest_remainder(points, [1] * quantity)
    for start, count in [(0, quantity), (0, 1), (quantity - 1, 1), (quantity // 3, quantity // 2)]:
        amount, pts = line.units(start, count)
        expected = sum(points // quantity + (1 if i < points % quantity else 0) for i in range(start, start + count))
        assert (amount, pts) == (count * 10**6 - expected, expected)


def test_a_large_order_is_priced_in_closed_form() -> None:
    """20 lines of 100,000 units: one entry per unit made a 4 MB workflow input (issue 10)."""
    lines = [(f"SKU-{n}", 100_000, 100 + n) for n in range(20)]
    priced = price(_order(lines, points=1_234_567), point_value_minor=1)
    assert priced.points == 1_234_567
    assert len(priced.model_dump_json()) < 5_000
    assert sum(line.units(0, line.quantity)[1] for line in priced.lines) == 1_234_567


def test_inputs_recorded_with_one_entry_per_unit_still_load() -> None:
    """Workflow histories recorded before the closed form carry `unit_points`; they must still replay."""
    old = {"sku": "SKU-1", "quantity": 3, "unit_price": 100, "unit_points": [4, 3, 3], "point_value_minor": 1}
    line = PricedLine.model_validate(old)
    assert [line.units(i, 1) for i in range(3)] == [(96, 4), (97, 3), (97, 3)]
    order = PricedOrder.model_validate({"currency": "EUR", "point_value_minor": 1, "lines": [old]})
    assert (order.total, order.points, order.amount_due) == (300, 10, 290)


def test_a_total_beyond_what_javascript_holds_exactly_is_refused() -> None:
    assert MAX_SAFE_INTEGER == 2**53 - 1
    with pytest.raises(PricingError) as err:
        price(_order([(f"SKU-{n}", 100_000, 10**12) for n in range(91)]), 1)
    assert err.value.field == "lines"
    assert price(_order([("SKU-1", 9_007, 10**12)]), 1).total < MAX_SAFE_INTEGER
