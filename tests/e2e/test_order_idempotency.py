"""Replays, conflicts and concurrent duplicates of one order (issue: the order saga)."""

import asyncio
import copy

import pytest
from e2e_support import Stack, order
from temporalio.client import Client

from api.orders import accept
from canonical.order import Order

pytestmark = [pytest.mark.e2e]


async def test_same_order_again_gives_the_same_body_and_one_authorization(stack: Stack) -> None:
    body = order(points=100)
    first = await stack.place(body)
    second = await stack.place(body)
    assert first.status_code == 201, first.text
    assert second.status_code == 200, second.text
    assert second.content == first.content
    await stack.wait_status(body["order_id"], "completed")
    third = await stack.place(body)  # replay after the workflow closed
    assert third.status_code == 200, third.text
    assert third.json() == first.json()
    ledger = await stack.ledger(body["order_id"])
    assert len(ledger.of("payment.authorize")) == 1
    assert len(ledger.of("points.block")) == 1


async def test_same_id_with_another_body_conflicts(stack: Stack) -> None:
    body = order()
    assert (await stack.place(body)).status_code == 201
    other = copy.deepcopy(body)
    other["lines"][0]["quantity"] = 3
    response = await stack.place(other)
    assert response.status_code == 409, response.text
    assert response.json()["type"].endswith("order-id-conflict")
    ledger = await stack.ledger(body["order_id"])
    assert len(ledger.of("payment.authorize")) == 1
    assert ledger.amount("payment.authorize") == 2 * 1999


async def test_twenty_concurrent_posts_make_one_authorization(stack: Stack) -> None:
    body = order([("SKU-C", 1, 1234)])
    responses = await asyncio.gather(*(stack.place(body) for _ in range(20)))
    # Under load a caller may hear 202 (decision still being taken); never two creations, never an error.
    codes = [r.status_code for r in responses]
    assert set(codes) <= {200, 201, 202} and codes.count(201) <= 1, [r.text for r in responses]
    replay = await stack.place(body)
    assert replay.status_code in (200, 201), replay.text
    decided = [r for r in [*responses, replay] if r.status_code in (200, 201)]
    assert len({r.json()["authorization"]["id"] for r in decided}) == 1
    ledger = await stack.ledger(body["order_id"])
    assert len(ledger.of("payment.authorize")) == 1
    await stack.wait_status(body["order_id"], "completed")


async def test_an_update_lost_by_a_restarting_server_reads_as_received_not_as_closed(
    stack: Stack, temporal: Client
) -> None:
    # After a Temporal restart, polling an update the server forgot answers NOT_FOUND, as for a closed
    # workflow; reading a running order's result then would hang the request for the order's lifetime.
    body = order()
    first = await stack.place(body)
    assert first.status_code == 201, first.text
    fp = accept.fingerprint(Order.model_validate(body), None)
    assert await asyncio.wait_for(accept.closed_order_decision(temporal, body["order_id"], fp), 10) is None
    await stack.wait_status(body["order_id"], "completed")
