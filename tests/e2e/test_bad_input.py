"""Bad input gets a problem+json naming the field at fault and starts nothing (issue: the order saga)."""

import json
from collections.abc import Callable
from typing import Any

import pytest
from e2e_support import COMMERCE, Stack, new_order_id, order
from temporalio.client import Client
from temporalio.service import RPCError

pytestmark = [pytest.mark.e2e]

Mutation = Callable[[dict[str, Any]], None]


def _set(path: list[Any], value: Any) -> Mutation:
    def mutate(body: dict[str, Any]) -> None:
        target = body
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return mutate


CASES: list[tuple[str, Mutation, str]] = [
    ("negative money", _set(["lines", 0, "unit_price"], -1), "unit_price"),
    ("float money", _set(["lines", 0, "unit_price"], 19.99), "unit_price"),
    ("zero quantity", _set(["lines", 0, "quantity"], 0), "quantity"),
    ("unknown field", _set(["gift_wrap"], True), "gift_wrap"),
    ("bad currency", _set(["currency"], "EURO"), "currency"),
    ("points worth more than the order", _set(["points_to_redeem"], 10_000_000), "points_to_redeem"),
    ("no lines", _set(["lines"], []), "lines"),
    ("oversize id", _set(["order_id"], "X" * 65), "order_id"),
    ("malformed id", _set(["order_id"], "ORD 1/2"), "order_id"),
    ("string money", _set(["lines", 0, "unit_price"], "1999"), "unit_price"),
    ("bad email", _set(["customer", "email"], "not-an-email"), "email"),
    ("negative points", _set(["points_to_redeem"], -5), "points_to_redeem"),
]


async def _nothing_started(stack: Stack, temporal: Client, *order_ids: object) -> None:
    """Neither id the request could have been taken under (before and after the mutation) has a
    workflow or a single vendor effect."""
    for order_id in {str(i) for i in order_ids if isinstance(i, str | int)}:
        with pytest.raises(RPCError):
            await temporal.get_workflow_handle(f"order-{order_id}").describe()
        assert (await stack.ledger(order_id)).entries == []


@pytest.mark.parametrize(("name", "mutate", "field"), CASES, ids=[c[0] for c in CASES])
async def test_invalid_order_is_a_problem_naming_the_field(
    stack: Stack, temporal: Client, name: str, mutate: Mutation, field: str
) -> None:
    body = order()
    original_id = body["order_id"]
    mutate(body)
    response = await stack.place(body)
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert field in json.dumps(problem.get("errors", [])) or field in problem.get("detail", "")
    await _nothing_started(stack, temporal, original_id, body.get("order_id"))


async def test_malformed_json_is_a_problem(stack: Stack, temporal: Client) -> None:
    oid = new_order_id()
    response = await stack.api.post("/v1/orders", content=b'{"order_id": "' + oid.encode() + b'", ',
                                    headers={**COMMERCE, "content-type": "application/json"})
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    await _nothing_started(stack, temporal, oid)


@pytest.mark.parametrize(("headers", "status"), [({}, 401), ({"Authorization": "Bearer nope"}, 401),
                                                  ({"Authorization": "Bearer finance-dev-key"}, 403)])
async def test_missing_or_wrong_key_starts_nothing(stack: Stack, temporal: Client, headers: dict[str, str],
                                                   status: int) -> None:
    body = order()
    response = await stack.api.post("/v1/orders", json=body, headers=headers)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    await _nothing_started(stack, temporal, body["order_id"])
