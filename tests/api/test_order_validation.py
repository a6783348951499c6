"""Bad orders are refused with a 4xx problem naming the field, and start nothing in Temporal
(the `http` fixture's client fails on any use and the fixture asserts it was never touched)."""

import copy
from typing import Any

import pytest

from .conftest import COMMERCE, FINANCE, assert_problem, valid_order


def with_line(**line: Any) -> dict[str, Any]:
    return valid_order(lines=[{"sku": "SKU-1", "quantity": 2, "unit_price": 1999, **line}])


def without(path: list[str]) -> dict[str, Any]:
    order = copy.deepcopy(valid_order())
    node = order
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return order


BAD_ORDERS = [
    ("negative money", with_line(unit_price=-1), ["body", "lines", 0, "unit_price"]),
    ("float money", with_line(unit_price=19.99), ["body", "lines", 0, "unit_price"]),
    ("float that looks whole", with_line(unit_price=1999.0), ["body", "lines", 0, "unit_price"]),
    ("money as a string", with_line(unit_price="1999"), ["body", "lines", 0, "unit_price"]),
    ("zero quantity", with_line(quantity=0), ["body", "lines", 0, "quantity"]),
    ("unknown field", valid_order(coupon="FREE"), ["body", "coupon"]),
    ("unknown nested field", with_line(discount=5), ["body", "lines", 0, "discount"]),
    ("bad currency", valid_order(currency="EURO"), ["body", "currency"]),
    ("unknown currency", valid_order(currency="XXX"), ["body", "currency"]),
    ("points worth more than the order", valid_order(points_to_redeem=4000), ["body", "points_to_redeem"]),
    ("negative points", valid_order(points_to_redeem=-5), ["body", "points_to_redeem"]),
    ("no lines", valid_order(lines=[]), ["body", "lines"]),
    ("oversize id", valid_order(order_id="A" * 65), ["body", "order_id"]),
    ("malformed id", valid_order(order_id="ORD 1/../2"), ["body", "order_id"]),
    ("malformed sku", with_line(sku="SKU'1"), ["body", "lines", 0, "sku"]),
    (
        "duplicate sku",
        valid_order(lines=[{"sku": "S", "quantity": 1, "unit_price": 1}] * 2),
        ["body", "lines"],
    ),
    (
        "bad email",
        valid_order(customer={"customer_id": "C-1", "email": "nope", "name": "A"}),
        ["body", "customer", "email"],
    ),
    (
        "bad country",
        valid_order(shipping_address={"line1": "a", "city": "b", "postal_code": "c", "country": "Portugal"}),
        ["body", "shipping_address", "country"],
    ),
    ("unknown channel", valid_order(channel="fax"), ["body", "channel"]),
    ("missing payment", without(["payment"]), ["body", "payment"]),
    ("body is a list", [valid_order()], ["body"]),
]


@pytest.mark.asyncio
@pytest.mark.parametrize(("case", "body", "loc"), BAD_ORDERS, ids=[c[0] for c in BAD_ORDERS])
async def test_bad_order_is_422_naming_the_field(http, case, body, loc):
    r = await http.post("/v1/orders", json=body, headers=COMMERCE)
    problem = assert_problem(r, 422, "validation-error")
    locs = [e["loc"] for e in problem["errors"]]
    assert loc in locs, f"{case}: {locs}"
    assert all(set(e) == {"loc", "msg"} and e["msg"] for e in problem["errors"])
    assert problem["instance"] == "/v1/orders"


@pytest.mark.asyncio
async def test_validation_errors_do_not_echo_personal_data(http):
    order = valid_order(customer={"customer_id": "C-1", "email": "ana.lima.at.example", "name": "Ana Lima"})
    r = await http.post("/v1/orders", json=order, headers=COMMERCE)
    assert_problem(r, 422, "validation-error")
    assert "ana.lima" not in r.text and "Ana Lima" not in r.text


@pytest.mark.asyncio
async def test_points_beyond_total_names_points_to_redeem(http):
    r = await http.post("/v1/orders", json=valid_order(points_to_redeem=3999), headers=COMMERCE)
    problem = assert_problem(r, 422, "validation-error")
    assert problem["errors"][0]["loc"] == ["body", "points_to_redeem"]
    assert "3998" in problem["errors"][0]["msg"]


@pytest.mark.asyncio
@pytest.mark.parametrize("raw", [b'{"order_id": "ORD-1",', b"not json", b'{"a": 1}}'])
async def test_malformed_json_is_400(http, raw):
    r = await http.post("/v1/orders", content=raw, headers={**COMMERCE, "content-type": "application/json"})
    problem = assert_problem(r, 400, "malformed-json")
    assert "JSON" in problem["detail"]


@pytest.mark.asyncio
async def test_empty_body_is_422(http):
    r = await http.post("/v1/orders", content=b"", headers={**COMMERCE, "content-type": "application/json"})
    problem = assert_problem(r, 422, "validation-error")
    assert problem["errors"][0]["loc"] == ["body"]


@pytest.mark.asyncio
async def test_missing_key_is_401_before_validation(http):
    r = await http.post("/v1/orders", json=valid_order(lines=[]))
    assert_problem(r, 401, "unauthorized")


@pytest.mark.asyncio
async def test_wrong_scope_is_403_before_validation(http):
    r = await http.post("/v1/orders", json=valid_order(lines=[]), headers=FINANCE)
    assert_problem(r, 403, "forbidden")


@pytest.mark.asyncio
@pytest.mark.parametrize("key", ["", "x" * 256, "key with spaces"])
async def test_bad_idempotency_key_is_422(http, key):
    r = await http.post("/v1/orders", json=valid_order(), headers={**COMMERCE, "Idempotency-Key": key})
    problem = assert_problem(r, 422, "validation-error")
    assert problem["errors"][0]["loc"] == ["header", "Idempotency-Key"]


@pytest.mark.asyncio
@pytest.mark.parametrize("order_id", ["A" * 65, "bad id", "x'y"])
async def test_bad_order_id_in_path_is_422(http, order_id):
    r = await http.get(f"/v1/orders/{order_id}", headers=COMMERCE)
    problem = assert_problem(r, 422, "validation-error")
    assert problem["errors"][0]["loc"] == ["path", "order_id"]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({}, ["body", "reason"]),
        ({"reason": ""}, ["body", "reason"]),
        ({"reason": "x", "force": True}, ["body", "force"]),
    ],
)
async def test_bad_cancel_body_is_422(http, body, loc):
    r = await http.post("/v1/orders/ORD-1/cancel", json=body, headers=COMMERCE)
    problem = assert_problem(r, 422, "validation-error")
    assert loc in [e["loc"] for e in problem["errors"]]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("query", "loc"),
    [
        ("status=lost", ["query", "status"]),
        ("customer_id=a'%20OR%20'1'='1", ["query", "customer_id"]),
        ("limit=0", ["query", "limit"]),
        ("limit=1000", ["query", "limit"]),
        ("cursor=%25%25%25", ["query", "cursor"]),
    ],
)
async def test_bad_list_query_is_422(http, query, loc):
    r = await http.get(f"/v1/orders?{query}", headers=COMMERCE)
    problem = assert_problem(r, 422, "validation-error")
    assert loc in [e["loc"] for e in problem["errors"]]
