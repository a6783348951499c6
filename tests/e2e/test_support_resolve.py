"""Support resolves needs_attention orders; each option does what it says, per the sandbox ledger."""

import pytest
from e2e_support import SUPPORT, Stack, order

pytestmark = [pytest.mark.e2e]


async def resolve(stack: Stack, order_id: str, action: str, note: str, status: int = 202) -> dict:
    response = await stack.api.post(f"/v1/orders/{order_id}/resolve", json={"action": action, "note": note},
                                    headers=SUPPORT)
    assert response.status_code == status, response.text
    return response.json()


async def _invoice_rejected_after_capture(stack: Stack, body: dict) -> dict:
    """Someone cancels the sales order in the ERP before dispatch: the capture succeeds, the invoice is
    rejected for good, and the order parks with money captured."""
    assert (await stack.place(body)).status_code == 201
    ledger = await stack.wait_ledger(body["order_id"], "fulfillment.request")
    [sales_order] = (await stack.sandbox.get("/erp/documents", params={"order_id": body["order_id"]})).json()["data"]
    (await stack.sandbox.post(f"/erp/sales-orders/{sales_order['document_number']}/cancel", json={})).raise_for_status()
    assert ledger.of("erp.sales_order")
    await stack.release_hold(body["order_id"])
    return await stack.wait_status(body["order_id"], "needs_attention")


async def test_refund_and_close_refunds_exactly_what_was_captured(stack: Stack) -> None:
    body = order([("HOLD-RC", 2, 1500)], points=300)
    parked = await _invoice_rejected_after_capture(stack, body)
    assert "invoice" in parked["status_reason"]

    answer = await resolve(stack, body["order_id"], "refund_and_close", "ERP refuses the invoice; refund the customer")
    assert answer["status"] in ("cancelling", "cancelled")  # where the action leads, not the needs_attention it left
    view = await stack.wait_status(body["order_id"], "cancelled")
    ledger = await stack.ledger(body["order_id"])
    assert ledger.amount("payment.capture") == 2700
    assert ledger.amount("payment.refund") == 2700
    assert not ledger.of("erp.credit_memo")  # no invoice was booked, so there is nothing to credit
    assert ledger.points("points.release") == 300 and not ledger.of("points.spend")
    assert "refunded EUR 27.00" in view["status_reason"]
    assert [a["action"] for a in view["support_actions"]] == ["refund_and_close"]
    assert view["support_actions"][0]["actor"] == "support"  # the key's name, never the key
    assert "closed by support" in view["status_reason"]


async def test_mark_resolved_skips_the_failed_capture_and_completes(stack: Stack) -> None:
    body = order([("HOLD-MR", 1, 4200)], token="tok_reauth_decline")
    assert (await stack.place(body)).status_code == 201
    await stack.wait_ledger(body["order_id"], "fulfillment.request")
    await stack.wait_authorization_expired(body["order_id"])
    await stack.release_hold(body["order_id"])
    parked = await stack.wait_status(body["order_id"], "needs_attention")
    assert parked["money_at_risk"] == 4200
    assert f'POST /v1/orders/{body["order_id"]}/resolve' in parked["next_action"]

    answer = await resolve(stack, body["order_id"], "mark_resolved", "customer paid by bank transfer")
    assert answer["status"] in ("shipped", "completed"), answer  # moved on, not the needs_attention it left
    view = await stack.wait_status(body["order_id"], "completed")
    ledger = await stack.ledger(body["order_id"])
    assert not ledger.of("payment.capture")
    assert ledger.amount("erp.invoice") == 4200  # the sale is still booked
    assert view["money_at_risk"] == 0
    # Closed: nothing of the park is left to mislead (its record is in support_actions).
    assert (view["attention"], view["status_reason"], view["next_action"]) == (None, None, None)
    assert view["support_actions"][0]["note"] == "customer paid by bank transfer"


async def test_retry_runs_the_failed_step_again(stack: Stack) -> None:
    body = order([("HOLD-RT", 1, 1000)], token="tok_reauth_decline")
    assert (await stack.place(body)).status_code == 201
    await stack.wait_ledger(body["order_id"], "fulfillment.request")
    await stack.wait_authorization_expired(body["order_id"])
    await stack.release_hold(body["order_id"])
    await stack.wait_status(body["order_id"], "needs_attention")

    await resolve(stack, body["order_id"], "retry", "customer says the card works again")
    # The sandbox declines every re-authorization of this card, so the retry parks the order again.
    view = await stack.wait_status(body["order_id"], "needs_attention")
    reauths = [s for s in view["steps"] if s["name"].startswith("re-authorize")]
    assert len(reauths) == 2, view["steps"]
    assert all(s["status"] == "failed" and s["attempts"] >= 1 for s in reauths), reauths
    assert len(view["support_actions"]) == 1


async def test_resolve_is_refused_unless_the_order_needs_attention(stack: Stack) -> None:
    body = order()
    assert (await stack.place(body)).status_code == 201
    await stack.wait_status(body["order_id"], "completed")
    problem = await resolve(stack, body["order_id"], "retry", "nothing to do", status=409)
    assert problem["type"].endswith("not-resolvable")


async def test_resolve_needs_the_support_scope(stack: Stack) -> None:
    response = await stack.api.post("/v1/orders/ANY/resolve", json={"action": "retry", "note": "x"},
                                    headers={"Authorization": "Bearer commerce-dev-key"})
    assert response.status_code == 403
