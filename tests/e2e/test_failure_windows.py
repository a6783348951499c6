"""Clocks and retry windows run out: SLA, step, compensation and accept windows (short, on their own stack)."""

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest
from e2e_support import SUPPORT, Stack, make_stack, order

from deploy.stack import LocalStack

pytestmark = [pytest.mark.e2e]

WINDOW_S = 3


@pytest.fixture(scope="module")
def short_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    env = {
        "O2C_DISPATCH_SLA_S": str(WINDOW_S),
        "O2C_STEP_RETRY_WINDOW_S": str(WINDOW_S),
        "O2C_COMPENSATION_RETRY_WINDOW_S": str(WINDOW_S),
        "O2C_ACCEPT_RETRY_WINDOW_S": str(WINDOW_S),
        "O2C_REFUND_RETRY_WINDOW_S": str(WINDOW_S),
        # No breakers here: these windows (3 s) are shorter than a breaker's open time, and the tests place the
        # next order, or retry a compensation, right after an outage (test_circuit_breaker.py covers breakers).
        "O2C_BREAKER_FAILURES": "1000000",
    }
    with make_stack(tmp_path_factory.mktemp("short"), **env) as stack:
        yield stack


@pytest.fixture
async def short(short_stack: LocalStack) -> AsyncIterator[Stack]:
    clients = Stack(short_stack.api_url, short_stack.sandbox_url)
    yield clients
    await clients.sandbox.delete("/_sandbox/faults")
    await clients.sandbox.put("/_sandbox/erp/posting-window", json={"open": True})
    await clients.aclose()


async def _fault(stack: Stack, vendor: str, **settings: object) -> None:
    (await stack.sandbox.put(f"/_sandbox/faults/{vendor}", json=settings)).raise_for_status()


async def test_no_dispatch_within_the_sla_compensates_everything(short: Stack) -> None:
    body = order([("HOLD-SLA", 1, 2000)], points=100)
    assert (await short.place(body)).status_code == 201
    view = await short.wait_status(body["order_id"], "cancelled", timeout=30)
    assert "dispatch SLA" in view["status_reason"]
    ledger = await short.ledger(body["order_id"])
    assert len(ledger.of("fulfillment.cancel")) == 1
    assert ledger.amount("payment.void") == ledger.amount("payment.authorize") == 1900
    assert ledger.points("points.release") == 100
    assert ledger.quantity("inventory.release") == 1


async def test_payment_gateway_down_at_checkout_rejects_and_releases_points(short: Stack) -> None:
    await _fault(short, "payments", outage=True)
    body = order(points=200)
    response = await short.place(body)
    assert response.status_code == 503, response.text
    assert response.json()["type"].endswith("payment-unavailable")
    ledger = await short.ledger(body["order_id"])
    assert ledger.points("points.release") == ledger.points("points.block") == 200
    assert not ledger.of("payment.authorize")


async def test_step_failing_for_good_before_dispatch_compensates(short: Stack) -> None:
    body = order([("SKU-ERP", 1, 1500)])
    await short.sandbox.put("/_sandbox/erp/posting-window", json={"open": False})
    assert (await short.place(body)).status_code == 201
    view = await short.wait_status(body["order_id"], "cancelled", timeout=30)
    assert "book sales order" in view["status_reason"]
    step = next(s for s in view["steps"] if s["name"] == "book sales order")
    assert step["status"] == "failed" and "posting_window_closed" in step["error"]
    ledger = await short.ledger(body["order_id"])
    assert ledger.amount("payment.void") == 1500
    assert ledger.quantity("inventory.release") == 1
    assert not ledger.of("erp.sales_order")


async def test_running_step_shows_attempts_and_last_error(stack: Stack) -> None:
    """On the main stack, whose step window (60 s) outlasts the wait: the step keeps retrying meanwhile."""
    await stack.sandbox.put("/_sandbox/erp/posting-window", json={"open": False})
    body = order([("SKU-ATT", 1, 900)])
    assert (await stack.place(body)).status_code == 201

    def retried(view: dict) -> bool:
        step = next((s for s in view["steps"] if s["name"] == "book sales order"), None)
        return bool(step) and step["status"] == "running" and step["attempts"] >= 2

    view = await stack.wait_view(body["order_id"], retried, "book sales order running after a retry", timeout=30)
    step = next(s for s in view["steps"] if s["name"] == "book sales order")
    assert "posting_window_closed" in (step["error"] or "")
    await stack.sandbox.put("/_sandbox/erp/posting-window", json={"open": True})
    await stack.wait_status(body["order_id"], "completed", timeout=60)


async def test_compensation_failing_for_good_needs_attention(short: Stack) -> None:
    body = order([("HOLD-COMP", 1, 3000)])
    assert (await short.place(body)).status_code == 201
    await short.wait_ledger(body["order_id"], "fulfillment.request")
    await _fault(short, "payments", outage=True)
    response = await short.api.post(f"/v1/orders/{body['order_id']}/cancel", json={"reason": "changed mind"},
                                    headers=SUPPORT)
    assert response.status_code == 202
    view = await short.wait_status(body["order_id"], "needs_attention", timeout=30)
    assert "void authorization" in view["status_reason"]
    failed = [c for c in view["compensations"] if c["status"] == "failed"]
    assert [c["name"] for c in failed] == ["void authorization"]
    ledger = await short.ledger(body["order_id"])
    # Everything else was still undone; the open authorization is what support must chase.
    assert len(ledger.of("fulfillment.cancel")) == 1
    assert ledger.quantity("inventory.release") == 1
    assert not ledger.of("payment.void")


async def test_support_retry_reruns_a_failed_compensation(short: Stack) -> None:
    body = order([("HOLD-RETRY", 1, 2200)])
    assert (await short.place(body)).status_code == 201
    await short.wait_ledger(body["order_id"], "fulfillment.request")
    await _fault(short, "payments", outage=True)
    await short.api.post(f"/v1/orders/{body['order_id']}/cancel", json={"reason": "changed mind"}, headers=SUPPORT)
    await short.wait_status(body["order_id"], "needs_attention", timeout=30)
    await short.sandbox.delete("/_sandbox/faults")

    response = await short.api.post(f"/v1/orders/{body['order_id']}/resolve",
                                    json={"action": "retry", "note": "gateway is back"}, headers=SUPPORT)
    assert response.status_code == 202, response.text
    view = await short.wait_status(body["order_id"], "cancelled", timeout=30)
    ledger = await short.ledger(body["order_id"])
    assert ledger.amount("payment.void") == 2200
    assert all(c["status"] == "succeeded" for c in view["compensations"])


async def test_refund_failing_at_the_gateway_needs_attention_then_retries(short: Stack) -> None:
    body = order([("SKU-RFF", 1, 1800)])
    assert (await short.place(body)).status_code == 201
    await short.wait_status(body["order_id"], "completed", timeout=30)
    await _fault(short, "payments", outage=True)
    assert (await short.request_return(body["order_id"], "R1", [("SKU-RFF", 1)])).status_code == 202
    parked = await short.wait_return(body["order_id"], "R1", "needs_attention")
    assert "refund" in parked["status_reason"]
    assert not (await short.ledger(body["order_id"])).of("payment.refund")
    await short.sandbox.delete("/_sandbox/faults")
    response = await short.api.post(f"/v1/orders/{body['order_id']}/returns/R1/resolve",
                                    json={"action": "refund", "note": "gateway back, retry"}, headers=SUPPORT)
    assert response.status_code == 202, response.text
    await short.wait_return(body["order_id"], "R1", "completed")
    ledger = await short.ledger(body["order_id"])
    assert ledger.amount("payment.refund") == ledger.amount("erp.credit_memo") == 1800


async def test_a_decision_on_a_failed_refund_does_not_decide_the_damaged_goods(short: Stack) -> None:
    body = order([("SKU-G", 1, 1000), ("DAMAGED-G", 1, 500)])
    oid = body["order_id"]
    assert (await short.place(body)).status_code == 201
    await short.wait_status(oid, "completed")
    await _fault(short, "payments", outage=True)
    assert (await short.request_return(oid, "R1", [("SKU-G", 1), ("DAMAGED-G", 1)])).status_code == 202
    parked = await short.wait_return(oid, "R1", "needs_attention")
    assert "refund" in parked["status_reason"]
    (await short.sandbox.delete("/_sandbox/faults")).raise_for_status()
    response = await short.api.post(f"/v1/orders/{oid}/returns/R1/resolve",
                                    json={"action": "refund", "note": "gateway is back"}, headers=SUPPORT)
    assert response.status_code == 202, response.text
    # The resellable unit is refunded; the damaged one now waits for its own decision.
    damaged = await _wait_return_reason(short, oid, "R1", "DAMAGED-G")
    assert damaged["status"] == "needs_attention"
    ledger = await short.ledger(oid)
    assert ledger.amount("payment.refund") == 1000


async def _wait_return_reason(stack: Stack, oid: str, rid: str, text: str, timeout: float = 30.0) -> dict:
    deadline = asyncio.get_running_loop().time() + timeout
    view: dict = {}
    while asyncio.get_running_loop().time() < deadline:
        response = await stack.api.get(f"/v1/orders/{oid}/returns/{rid}", headers=SUPPORT)
        if response.status_code == 200:
            view = response.json()
            if text in (view.get("status_reason") or "") or view["status"] == "completed":
                return view
        await asyncio.sleep(0.2)
    raise AssertionError(f"return {rid} of {oid} never mentioned {text}; last view: {view}")
