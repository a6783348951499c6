"""Support finds orders in the Temporal UI by search attributes: the same visibility queries, against a
real dev server (its own stack, so "exactly these orders" is not disturbed by other tests' orders).

Visibility is eventually consistent: each listing is polled until it matches or a deadline passes.
"""

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from e2e_support import Stack, make_stack, new_order_id, order
from temporalio.api.enums.v1 import EventType, IndexedValueType
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.client import Client

from canonical.saga import workflow_id
from deploy.stack import LocalStack
from runtime.temporal import connect
from workflows.search_attributes import (
    ALL_KEYS,
    ATTENTION_REASON,
    CHANNEL,
    CURRENCY,
    CUSTOMER_ID,
    MONEY_AT_RISK,
    NEEDS_ATTENTION_REASON,
    ORDER_ID,
    ORDER_STATUS,
    ORDER_TOTAL,
)

pytestmark = [pytest.mark.e2e]


@dataclass
class Orders:
    attention: dict[str, Any]  # customer 1, parked in needs_attention
    completed: dict[str, Any]  # customer 1
    rejected: dict[str, Any]  # customer 2
    other_completed: dict[str, Any]  # customer 2


@pytest.fixture(scope="module")
def sa_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with make_stack(tmp_path_factory.mktemp("search-attributes")) as local:
        yield local


@pytest.fixture(scope="module")
async def sa_client(sa_stack: LocalStack) -> Client:
    return await connect(sa_stack.settings)


@pytest.fixture(scope="module")
async def orders(sa_stack: LocalStack) -> AsyncIterator[Orders]:
    clients = Stack(sa_stack.api_url, sa_stack.sandbox_url)
    first, second = new_order_id("CUS"), new_order_id("CUS")
    made = Orders(
        attention=order([("HOLD-SA", 2, 1250)], token="tok_reauth_decline", customer=first),
        completed=order([("SKU-SA", 1, 999)], customer=first),
        rejected=order(token="tok_decline", customer=second),
        other_completed=order(customer=second),
    )
    for body in (made.attention, made.completed, made.rejected, made.other_completed):
        await clients.place(body)
    attention = made.attention["order_id"]
    await clients.wait_ledger(attention, "fulfillment.request")
    await clients.wait_authorization_expired(attention)
    await clients.release_hold(attention)
    await clients.wait_status(attention, "needs_attention")
    await clients.wait_status(made.completed["order_id"], "completed")
    await clients.wait_status(made.other_completed["order_id"], "completed")
    await clients.wait_status(made.rejected["order_id"], "rejected")
    yield made
    await clients.aclose()


async def listed(client: Client, query: str, expected: set[str], timeout: float = 20.0) -> set[str]:
    """The OrderIds the query finds, once they equal `expected` or the deadline passes."""
    deadline = time.monotonic() + timeout
    while True:
        found = {e.typed_search_attributes.get(ORDER_ID) async for e in client.list_workflows(query)}
        if found == expected or time.monotonic() > deadline:
            return {f for f in found if f is not None}
        await asyncio.sleep(0.3)


def ids(*bodies: dict[str, Any]) -> set[str]:
    return {b["order_id"] for b in bodies}


async def test_listing_by_status_finds_exactly_the_orders_in_that_status(
    sa_client: Client, orders: Orders
) -> None:
    assert await listed(sa_client, "OrderStatus = 'needs_attention'", ids(orders.attention)) == ids(
        orders.attention
    )
    assert await listed(
        sa_client, "OrderStatus = 'completed'", ids(orders.completed, orders.other_completed)
    ) == ids(orders.completed, orders.other_completed)
    assert await listed(sa_client, "OrderStatus = 'rejected'", ids(orders.rejected)) == ids(orders.rejected)


async def test_listing_by_customer_finds_exactly_that_customers_orders(
    sa_client: Client, orders: Orders
) -> None:
    first = orders.attention["customer"]["customer_id"]
    second = orders.rejected["customer"]["customer_id"]
    assert await listed(sa_client, f"CustomerId = '{first}'", ids(orders.attention, orders.completed)) == ids(
        orders.attention, orders.completed
    )
    assert await listed(
        sa_client, f"CustomerId = '{second}'", ids(orders.rejected, orders.other_completed)
    ) == ids(orders.rejected, orders.other_completed)
    both = f"CustomerId = '{first}' AND OrderStatus = 'needs_attention'"
    assert await listed(sa_client, both, ids(orders.attention)) == ids(orders.attention)
    # The worklist's filters: the exact reason code, and money at risk.
    at_risk = f"CustomerId = '{first}' AND AttentionReason = 'capture_failed' AND MoneyAtRisk > 0"
    assert await listed(sa_client, at_risk, ids(orders.attention)) == ids(orders.attention)


async def test_listing_by_order_id_finds_that_order_only(sa_client: Client, orders: Orders) -> None:
    for body in (orders.attention, orders.completed, orders.rejected):
        assert await listed(sa_client, f"OrderId = '{body['order_id']}'", ids(body)) == ids(body)
    assert await listed(sa_client, "OrderId = 'NO-SUCH-ORDER'", set(), timeout=1) == set()


async def test_every_attribute_is_set_and_the_reason_says_why(sa_client: Client, orders: Orders) -> None:
    body = orders.attention
    desc = await sa_client.get_workflow_handle(workflow_id(body["order_id"])).describe()
    attrs = desc.typed_search_attributes
    assert attrs.get(ORDER_ID) == body["order_id"]
    assert attrs.get(CUSTOMER_ID) == body["customer"]["customer_id"]
    assert attrs.get(ORDER_STATUS) == "needs_attention"
    assert (attrs.get(CHANNEL), attrs.get(CURRENCY), attrs.get(ORDER_TOTAL)) == ("web", "EUR", 2500)
    reason = attrs.get(NEEDS_ATTENTION_REASON)
    # A code from a fixed list in the clear attribute; the words (vendor messages) stay in the encrypted view.
    assert reason == attrs.get(ATTENTION_REASON) == "capture_failed"
    assert attrs.get(MONEY_AT_RISK) == 2500  # both units were dispatched and none is captured
    # Search attributes are indexed in clear: they must carry no personal data.
    assert not any(
        secret in str(pair.value) for pair in attrs for secret in ("Ana", "example.com", "Rua", "tok_")
    )


async def test_upserts_happen_at_milestones_only(sa_client: Client, orders: Orders) -> None:
    """What an order costs in upserts on Temporal Cloud (README "Support"): one per milestone; the
    reason code rides along with the status when the order parks in needs_attention."""

    async def upserted(body: dict[str, Any]) -> list[dict[str, Any]]:
        history = await sa_client.get_workflow_handle(workflow_id(body["order_id"])).fetch_history()
        events = [
            e
            for e in history.events
            if e.event_type == EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES
        ]
        fields = [
            e.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields
            for e in events
        ]
        return [{name: value.data.decode() for name, value in f.items()} for f in fields]

    # Published where the order waits, so a run of steps in one workflow task costs one upsert: a
    # straight-through order upserts twice (waiting for the node, completed).
    assert await upserted(orders.completed) == [
        {"OrderStatus": f'"{status}"'} for status in ("allocated", "completed")
    ]
    assert await upserted(orders.rejected) == [{"OrderStatus": '"rejected"'}]
    attention = await upserted(orders.attention)
    assert attention == [{"OrderStatus": '"allocated"'},
                         {"OrderStatus": '"needs_attention"', "NeedsAttentionReason": '"capture_failed"',
                          "AttentionReason": '"capture_failed"', "MoneyAtRisk": "2500"}]


async def test_the_stack_registers_the_nine_attributes_with_their_types(
    sa_client: Client, sa_stack: LocalStack
) -> None:
    response = await sa_client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=sa_stack.settings.temporal_namespace)
    )
    registered = {name: IndexedValueType.Name(kind) for name, kind in response.custom_attributes.items()}
    assert {name: registered.get(name) for name in EXPECTED_TYPES} == EXPECTED_TYPES
    assert {
        key.name: f"INDEXED_VALUE_TYPE_{key.indexed_value_type.name}" for key in ALL_KEYS
    } == EXPECTED_TYPES


EXPECTED_TYPES = {
    "OrderId": "INDEXED_VALUE_TYPE_KEYWORD",
    "CustomerId": "INDEXED_VALUE_TYPE_KEYWORD",
    "OrderStatus": "INDEXED_VALUE_TYPE_KEYWORD",
    "Channel": "INDEXED_VALUE_TYPE_KEYWORD",
    "OrderTotal": "INDEXED_VALUE_TYPE_INT",
    "Currency": "INDEXED_VALUE_TYPE_KEYWORD",
    "NeedsAttentionReason": "INDEXED_VALUE_TYPE_TEXT",
    "AttentionReason": "INDEXED_VALUE_TYPE_KEYWORD",
    "MoneyAtRisk": "INDEXED_VALUE_TYPE_INT",
}
