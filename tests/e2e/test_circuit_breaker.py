"""A payments outage on the real local stack: the breaker opens, checkout fails fast with 503
vendor-unavailable and Retry-After, GET /v1/ops/vendors shows it, and once the outage is over a probe closes
it; every order placed around the outage ends decided, with the money on the sandbox ledger consistent."""

import asyncio
import time
from typing import Any

import pytest
from e2e_support import COMMERCE, OPS, Stack, order
from test_worker_metrics import scrape, value

from canonical.vendor_health import VENDORS
from deploy.stack import LocalStack

pytestmark = [pytest.mark.e2e]

FAST_S = 2.0
"""The issue's bound for the refusal; the accept timeout it replaces is 10 s."""


async def payments_health(stack: Stack) -> dict[str, Any]:
    response = await stack.api.get("/v1/ops/vendors", headers=OPS)
    assert response.status_code == 200, response.text
    return next(v for v in response.json()["vendors"] if v["vendor"] == "payments")


async def wait_circuit(stack: Stack, state: str, timeout: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    health: dict[str, Any] = {}
    while time.monotonic() < deadline:
        health = await payments_health(stack)
        if health["circuit"] == state:
            return health
        await asyncio.sleep(0.1)
    raise AssertionError(f"payments circuit never {state}; last: {health}")


async def refused_fast(stack: Stack, placed: list[str]) -> tuple[dict[str, Any], float, str]:
    """An order refused at once; orders that went through meanwhile (the breaker between two periods) are
    kept in `placed`, to be checked like the others."""
    for _ in range(5):
        body = order([("SKU-CB", 1, 1200)])
        started = time.monotonic()
        response = await stack.place(body)
        elapsed = time.monotonic() - started
        if response.status_code == 503 and response.json()["type"] == "vendor-unavailable":
            return body, elapsed, response.headers.get("retry-after", "")
        placed.append(body["order_id"])
    raise AssertionError("checkout never refused while the payments breaker was open")


async def place_until_decided(stack: Stack, body: dict[str, Any], timeout: float = 45.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = await stack.place(body)
        if response.status_code != 503:
            return response.status_code
        await asyncio.sleep(float(response.headers.get("retry-after", "1")))
    raise AssertionError(f"{body['order_id']} still refused after {timeout}s")


def assert_money_consistent(order_id: str, status: str, ledger: Any) -> None:
    authorized, captured = ledger.amount("payment.authorize"), ledger.amount("payment.capture")
    voided, refunded = ledger.amount("payment.void"), ledger.amount("payment.refund")
    assert authorized >= captured, order_id
    assert refunded <= captured, order_id
    if status == "completed":
        assert captured == authorized == 1200 and voided == 0, (order_id, ledger.entries)
    else:  # rejected at checkout: nothing kept
        assert captured == 0 and voided == authorized, (order_id, ledger.entries)
        assert ledger.points("points.release") == ledger.points("points.block"), order_id


async def test_payments_outage_opens_the_breaker_then_a_probe_closes_it(stack: Stack, local_stack: LocalStack) -> None:
    before = await scrape(local_stack)
    assert all(("o2c_vendor_circuit_state", frozenset({("vendor", v)})) in before for v in VENDORS), before.keys()
    (await stack.sandbox.put("/_sandbox/faults/payments", json={"outage": True})).raise_for_status()
    first = order([("SKU-CB", 1, 1200)])
    placed = [first["order_id"]]
    # Its authorization retries into the outage: the failures that open the breaker.
    first_answer = asyncio.create_task(stack.place(first))

    health = await wait_circuit(stack, "open")
    assert health["circuit_detail"]["live_workers"] >= 1
    assert all(w["state"] in ("open", "half_open") for w in health["circuit_detail"]["workers"])
    assert health["error_rate"] is not None and health["error_rate"] > 0  # the stack's earlier tests count too

    # On-call's page shows it too (the key as the Basic password, as a browser sends it).
    page = await stack.api.get("/ops", auth=("on-call", "ops-dev-key"))
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert 'data-vendor="payments">open<' in page.text or 'data-vendor="payments">partial<' in page.text

    during = await scrape(local_stack)
    assert value(during, "o2c_vendor_circuit_state", vendor="payments") in (1.0, 2.0)
    assert value(during, "o2c_vendor_calls_total", vendor="payments", outcome="transient") > value(
        before, "o2c_vendor_calls_total", vendor="payments", outcome="transient")

    refused, elapsed, retry_after = await refused_fast(stack, placed)
    assert elapsed < FAST_S, f"refusal took {elapsed:.2f}s"
    assert retry_after.isdigit() and int(retry_after) >= 1
    # Nothing was started for it.
    assert (await stack.api.get(f"/v1/orders/{refused['order_id']}", headers=COMMERCE)).status_code == 404

    (await stack.sandbox.delete("/_sandbox/faults")).raise_for_status()
    # The same order sent again once the vendor is back: it probes the breaker, which closes.
    assert await place_until_decided(stack, refused) == 201
    await wait_circuit(stack, "closed")
    assert 'data-vendor="payments">closed<' in (await stack.api.get("/ops", auth=("on-call", "ops-dev-key"))).text
    placed.append(refused["order_id"])
    assert (await first_answer).status_code in (201, 202, 503)

    for order_id in placed:
        view = await stack.wait_status(order_id, "completed", "rejected", timeout=90)
        assert_money_consistent(order_id, view["status"], await stack.ledger(order_id))
    assert (await stack.get(refused["order_id"]))["status"] == "completed"
    after = await scrape(local_stack)
    assert value(after, "o2c_vendor_circuit_state", vendor="payments") == 0.0
    # The first order's retries while the breaker was open were refused without a call.
    assert value(after, "o2c_vendor_calls_total", vendor="payments", outcome="circuit_open") > value(
        before, "o2c_vendor_calls_total", vendor="payments", outcome="circuit_open")
