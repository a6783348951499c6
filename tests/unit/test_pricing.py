"""Money allocation is exact to the minor unit (design §4)."""

import pytest

from canonical.order import Order
from canonical.pricing import PricingError, largest_remainder, price


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
        assert len(line.unit_points) == line.quantity
        assert sum(line.unit_points) == line.points
        assert max(line.unit_points) - min(line.unit_points) <= 1
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
