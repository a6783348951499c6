"""Temporal's own Cancel on an order (the UI's "Request Cancellation", `temporal workflow cancel`):
before dispatch it is the operator cancel and undoes everything; after dispatch it never closes an
order with money open, it parks it for support (issue 9)."""

import pytest
from e2e_support import SUPPORT, Stack, order
from temporalio.client import Client, WorkflowExecutionStatus

pytestmark = [pytest.mark.e2e]


async def test_temporal_cancel_before_dispatch_compensates_everything(stack: Stack, temporal: Client) -> None:
    body = order([("HOLD-OC", 1, 2000)], points=100)
    oid = body["order_id"]
    assert (await stack.place(body)).status_code == 201
    await stack.wait_ledger(oid, "fulfillment.request")
    await temporal.get_workflow_handle(f"order-{oid}").cancel()
    view = await stack.wait_status(oid, "cancelled")
    assert "operator" in view["status_reason"]
    ledger = await stack.ledger(oid)
    assert ledger.amount("payment.void") == ledger.amount("payment.authorize") == 1900
    assert ledger.points("points.release") == 100 and not ledger.of("points.spend")
    assert ledger.quantity("inventory.release") == 1
    assert len(ledger.of("fulfillment.cancel")) == 1
    assert len(ledger.of("erp.sales_order_cancel")) == 1


async def test_temporal_cancel_after_dispatch_parks_the_order_and_it_stays_resolvable(
    stack: Stack, temporal: Client
) -> None:
    body = order([("HOLD-OD", 1, 3998)], token="tok_reauth_decline")
    oid = body["order_id"]
    assert (await stack.place(body)).status_code == 201
    await stack.wait_ledger(oid, "fulfillment.request")
    await stack.wait_authorization_expired(oid)
    await stack.release_hold(oid)
    await stack.wait_status(oid, "needs_attention")
    handle = temporal.get_workflow_handle(f"order-{oid}")
    await handle.cancel()
    parked = await stack.wait_view(
        oid, lambda v: "cancel requested after dispatch" in (v["status_reason"] or ""),
        "the cancel request noted on the parked order", timeout=20)
    assert parked["status"] == "needs_attention"
    assert parked["money_at_risk"] == 3998
    assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
    response = await stack.api.post(f"/v1/orders/{oid}/resolve",
                                    json={"action": "mark_resolved", "note": "paid by bank transfer"},
                                    headers=SUPPORT)
    assert response.status_code == 202, response.text
    await stack.wait_status(oid, "completed")
    assert not (await stack.ledger(oid)).of("inventory.release")
