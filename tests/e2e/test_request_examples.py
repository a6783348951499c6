"""Every request body example of /openapi.json is a request the API accepts (issue 14): each is posted,
as the stack serves it, against the real stack and answers 2xx.

An example cannot know the ids of the stack it is tried on, so the test does what a developer trying it
out does: it replaces what must be new or real and keeps the rest. An order example gets a fresh
`order_id` for each post (an order id is its idempotency key), a return example a fresh `return_id`, and
a webhook endpoint example the one receiver address the test stack allows (O2C_WEBHOOK_ALLOWED_HOSTS);
the orders the examples act on are made for them (a completed order for the returns, a held one for the
cancel, a parked one for the support resolve).
"""

import uuid
from typing import Any

import httpx
import pytest
from e2e_support import COMMERCE, FINANCE, RECEIVER_PORT, SUPPORT, Stack, new_order_id, order

pytestmark = [pytest.mark.e2e]

ADMIN = {"Authorization": "Bearer admin-dev-key"}
TRIED = {"create_order", "cancel_order", "resolve_order", "request_return", "resolve_return",
         "start_reconciliation_run", "create_webhook_endpoint", "rotate_webhook_secret"}


def _examples(doc: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for operations in doc["paths"].values():
        for operation in operations.values():
            body = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
            if body.get("examples"):
                found[operation["operationId"]] = [example["value"] for example in body["examples"].values()]
    return found


def _fresh(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


async def _post(stack: Stack, path: str, body: dict[str, Any], headers: dict[str, str]) -> httpx.Response:
    response = await stack.api.post(path, json=body, headers=headers)
    assert 200 <= response.status_code < 300, f"POST {path} {body}: {response.status_code} {response.text}"
    return response


@pytest.fixture(scope="module")
async def examples(stack: Stack) -> dict[str, list[dict[str, Any]]]:
    found = _examples((await stack.api.get("/openapi.json")).json())
    # A new example is tried here or this fails: every example in the document is tried.
    assert set(found) == TRIED, f"examples without a try here, or tries without an example: {set(found) ^ TRIED}"
    return found


async def test_order_examples_are_accepted_and_returns_on_them_too(
        stack: Stack, examples: dict[str, list[dict[str, Any]]]) -> None:
    order_ids = []
    for example in examples["create_order"]:
        order_id = new_order_id("EX")
        placed = await _post(stack, "/v1/orders", {**example, "order_id": order_id}, COMMERCE)
        assert placed.json()["order_id"] == order_id
        order_ids.append(order_id)
    order_id = order_ids[0]
    await stack.wait_status(order_id, "completed")
    # One return per decision example; the warehouse finds the goods damaged, so support decides.
    for decision in examples["resolve_return"]:
        for example in examples["request_return"]:
            return_id = _fresh("RET")
            lines = [(line["sku"], line["quantity"], "damaged") for line in example["lines"]]
            await stack.plan_receipt(order_id, return_id, lines)
            await _post(stack, f"/v1/orders/{order_id}/returns", {**example, "return_id": return_id}, COMMERCE)
            await stack.wait_return(order_id, return_id, "needs_attention")
            await _post(stack, f"/v1/orders/{order_id}/returns/{return_id}/resolve", decision, SUPPORT)


async def test_cancel_example_cancels_an_order_before_dispatch(
        stack: Stack, examples: dict[str, list[dict[str, Any]]]) -> None:
    for example in examples["cancel_order"]:
        held = order([("HOLD-EX", 1, 2500)])  # the node holds it: not dispatched while the cancel arrives
        assert (await stack.place(held)).status_code == 201
        await _post(stack, f"/v1/orders/{held['order_id']}/cancel", example, COMMERCE)
        await stack.wait_status(held["order_id"], "cancelled")


async def test_resolve_examples_resolve_parked_orders(
        stack: Stack, examples: dict[str, list[dict[str, Any]]]) -> None:
    for example in examples["resolve_order"]:
        parked = await stack.place_parked("HOLD-EX-PARK", 1800)
        await _post(stack, f"/v1/orders/{parked['order_id']}/resolve", example, SUPPORT)


async def test_reconciliation_run_examples_start_runs(
        stack: Stack, examples: dict[str, list[dict[str, Any]]]) -> None:
    for example in examples["start_reconciliation_run"]:
        started = await _post(stack, "/v1/reconciliation/runs", example, FINANCE)
        assert (await stack.api.get(started.headers["location"], headers=FINANCE)).status_code == 200


async def test_webhook_endpoint_examples_register_and_rotate(
        stack: Stack, examples: dict[str, list[dict[str, Any]]]) -> None:
    for example in examples["create_webhook_endpoint"]:
        allowed = {**example, "url": f"http://127.0.0.1:{RECEIVER_PORT}/examples"}
        endpoint = (await _post(stack, "/v1/webhook-endpoints", allowed, ADMIN)).json()
        try:
            for rotation in examples["rotate_webhook_secret"]:
                await _post(stack, f"/v1/webhook-endpoints/{endpoint['id']}/rotate-secret", rotation, ADMIN)
        finally:
            await stack.api.delete(f"/v1/webhook-endpoints/{endpoint['id']}", headers=ADMIN)
