"""A fulfilment node that repeats, contradicts or outlives an order: every dispatch is applied once,
none is dropped, and goods that left are never released back to stock (issue 9)."""

import pytest
from e2e_support import SUPPORT, Stack, order

pytestmark = [pytest.mark.e2e]


@pytest.fixture
def stack(each_payments_adapter: Stack) -> Stack:
    """With each payments adapter: the sandbox's own dialect and Stripe's protocol."""
    return each_payments_adapter


async def _resolve(stack: Stack, order_id: str, action: str, note: str) -> dict:
    response = await stack.api.post(f"/v1/orders/{order_id}/resolve", json={"action": action, "note": note},
                                    headers=SUPPORT)
    assert response.status_code == 202, response.text
    return response.json()


async def _accepted_and_requested(stack: Stack, body: dict) -> str:
    assert (await stack.place(body)).status_code == 201
    await stack.wait_ledger(body["order_id"], "fulfillment.request")
    return str(body["order_id"])


async def test_a_repeated_shipment_id_with_the_same_lines_is_applied_once(stack: Stack) -> None:
    oid = await _accepted_and_requested(stack, order([("HOLD-D", 2, 1000)]))
    assert (await stack.dispatch(oid, "S1", [("HOLD-D", 1)])).status_code == 200
    await stack.wait_status(oid, "partially_shipped")
    await stack.wait_ledger(oid, "payment.capture")
    assert (await stack.dispatch(oid, "S1", [("HOLD-D", 1)])).status_code == 200  # a new webhook-id
    assert (await stack.dispatch(oid, "S2", [("HOLD-D", 1)])).status_code == 200
    view = await stack.wait_status(oid, "completed")
    ledger = await stack.ledger(oid)
    assert ledger.amount("payment.capture") == 2000
    assert sorted(ledger.references("payment.capture")) == [f"{oid}:capture:S1", f"{oid}:capture:S2"]
    assert ledger.amount("erp.invoice") == 2000
    assert [s["shipment_id"] for s in view["shipments"]] == ["S1", "S2"]


async def test_a_repeated_shipment_id_with_other_lines_parks_the_order(stack: Stack) -> None:
    oid = await _accepted_and_requested(stack, order([("HOLD-E", 2, 1000), ("HOLD-F", 1, 500)]))
    assert (await stack.dispatch(oid, "S1", [("HOLD-E", 2)])).status_code == 200
    await stack.wait_ledger(oid, "payment.capture")
    assert (await stack.dispatch(oid, "S1", [("HOLD-F", 1)])).status_code == 200
    view = await stack.wait_status(oid, "needs_attention")
    assert "S1" in view["status_reason"]
    ledger = await stack.ledger(oid)
    assert ledger.amount("payment.capture") == 2000  # nothing captured for the contradicting event


async def test_a_dispatch_after_a_completed_cancel_parks_the_order_with_the_money_at_risk(stack: Stack) -> None:
    oid = await _accepted_and_requested(stack, order([("HOLD-L", 1, 1500)]))
    cancel = await stack.api.post(f"/v1/orders/{oid}/cancel", json={"reason": "changed mind"}, headers=SUPPORT)
    assert cancel.status_code == 202, cancel.text
    await stack.wait_status(oid, "cancelled")
    assert (await stack.dispatch(oid, "S-LATE", [("HOLD-L", 1)])).status_code == 200
    view = await stack.wait_status(oid, "needs_attention")
    assert view["money_at_risk"] == 1500
    assert "S-LATE" in view["status_reason"]
    assert not (await stack.ledger(oid)).of("payment.capture")


async def test_a_parked_order_keeps_applying_dispatches_and_close_never_releases_shipped_stock(stack: Stack) -> None:
    body = order([("HOLD-P", 2, 1999), ("SPLIT-P", 1, 4550)], token="tok_reauth_decline")
    oid = await _accepted_and_requested(stack, body)
    await stack.wait_authorization_expired(oid)
    await stack.release_hold(oid)
    await stack.wait_status(oid, "needs_attention")
    # Both parcels left the warehouse (the ledger says so); the parked order must know both.
    parked = await stack.wait_view(oid, lambda v: v["status"] == "needs_attention" and len(v["shipments"]) == 2,
                                   "needs_attention with both shipments", timeout=20)
    assert len((await stack.ledger(oid)).of("fulfillment.dispatch")) == 2
    assert parked["money_at_risk"] == 2 * 1999 + 4550

    await _resolve(stack, oid, "refund_and_close", "customer will pay by bank transfer")
    closed = await stack.wait_status(oid, "cancelled")
    ledger = await stack.ledger(oid)
    assert not ledger.of("payment.capture")
    assert ledger.quantity("inventory.release") == 0, ledger.of("inventory.release")
    assert ledger.quantity("inventory.commit") == 3
    assert closed["money_at_risk"] == 0
