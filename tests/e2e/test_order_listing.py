"""GET /v1/orders finds orders through Temporal visibility, by customer and by status."""

import asyncio
import time

import pytest
from e2e_support import COMMERCE, Stack, new_order_id, order

pytestmark = [pytest.mark.e2e]


async def _list(stack: Stack, **params: str) -> list[dict]:
    items: list[dict] = []
    cursor = None
    while True:
        query = {**params, "limit": "2", **({"cursor": cursor} if cursor else {})}
        response = await stack.api.get("/v1/orders", params=query, headers=COMMERCE)
        assert response.status_code == 200, response.text
        page = response.json()
        items += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return items


async def test_list_by_customer_and_status_pages_through_exactly_the_right_orders(stack: Stack) -> None:
    customer = new_order_id("CUST")
    completed = [order(customer=customer) for _ in range(3)]
    declined = order(customer=customer, token="tok_decline")
    other = order()
    for body in [*completed, declined, other]:
        await stack.place(body)
    for body in completed:
        await stack.wait_status(body["order_id"], "completed")

    want_all = {b["order_id"] for b in [*completed, declined]}
    want_completed = {b["order_id"] for b in completed}
    deadline = time.monotonic() + 20
    while True:  # visibility is eventually consistent
        everyone = {i["order_id"] for i in await _list(stack, customer_id=customer)}
        done = {i["order_id"] for i in await _list(stack, customer_id=customer, status="completed")}
        if (everyone, done) == (want_all, want_completed) or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.5)
    assert everyone == want_all
    assert done == want_completed


async def test_list_with_an_unknown_status_is_a_problem(stack: Stack) -> None:
    response = await stack.api.get("/v1/orders", params={"status": "lost"}, headers=COMMERCE)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
