"""Every saga path ends in the right status and the sandbox ledger agrees (issue: the order saga), with
each payments adapter: the sandbox's own dialect and Stripe's protocol (O2C_PAYMENTS_ADAPTER=stripe)."""

import pytest
from e2e_support import SUPPORT, Stack, order

pytestmark = [pytest.mark.e2e]


@pytest.fixture
def stack(each_payments_adapter: Stack) -> Stack:
    return each_payments_adapter


async def test_happy_path_captures_amount_due_and_spends_points(stack: Stack) -> None:
    body = order([("SKU-1", 2, 1999), ("SKU-2", 1, 500)], points=500)
    response = await stack.place(body, headers={"X-Correlation-ID": f"corr-{body['order_id']}"})
    assert response.status_code == 201, response.text
    assert response.headers["X-Correlation-ID"] == f"corr-{body['order_id']}"
    accepted = response.json()
    amount_due = 2 * 1999 + 500 - 500
    assert accepted["status"] == "accepted"
    assert accepted["amount_due"] == amount_due
    assert accepted["authorization"]["amount"] == amount_due
    assert accepted["loyalty"]["points"] == 500
    assert accepted["workflow_id"] == f"order-{body['order_id']}"

    view = await stack.wait_status(body["order_id"], "completed")
    ledger = await stack.ledger(body["order_id"])
    assert ledger.amount("payment.authorize") == amount_due
    assert ledger.amount("payment.capture") == amount_due
    assert ledger.amount("erp.invoice") == ledger.amount("payment.capture")
    assert ledger.amount("payment.void") == 0
    assert ledger.points("points.block") == 500
    assert ledger.points("points.spend") == 500
    assert ledger.points("points.release") == 0
    assert ledger.quantity("inventory.commit") == 3
    assert ledger.quantity("inventory.release") == 0
    assert len(ledger.of("erp.sales_order")) == 1
    assert view["loyalty"]["spent"] == 500
    # The caller's correlation id followed the order into every vendor call.
    assert {e["correlation_id"] for e in ledger.entries} == {f"corr-{body['order_id']}"}
    assert [s["status"] for s in view["steps"]] == ["succeeded"] * len(view["steps"])


async def test_declined_card_releases_points_and_leaves_nothing_authorized(stack: Stack) -> None:
    body = order(points=300, token="tok_decline")
    response = await stack.place(body)
    assert response.status_code == 402, response.text
    problem = response.json()
    assert response.headers["content-type"].startswith("application/problem+json")
    assert problem["type"].endswith("payment-declined")
    assert problem["decline_code"]
    ledger = await stack.ledger(body["order_id"])
    assert ledger.points("points.block") == 300
    assert ledger.points("points.release") == 300
    assert not ledger.of("payment.authorize")
    view = await stack.wait_status(body["order_id"], "rejected")
    assert view["status_reason"]


async def test_insufficient_points_authorizes_nothing(stack: Stack) -> None:
    body = order(points=500)
    member = body["customer"]["loyalty_member_id"]
    member_state = {"available_points": 100, "tier": "base"}
    (await stack.sandbox.put(f"/_sandbox/members/{member}", json=member_state)).raise_for_status()
    response = await stack.place(body)
    assert response.status_code == 409, response.text
    assert response.json()["type"].endswith("insufficient-points")
    ledger = await stack.ledger(body["order_id"])
    assert not ledger.of("points.block")
    assert not ledger.of("payment.authorize")


async def test_out_of_stock_voids_the_authorization_and_releases_points(stack: Stack) -> None:
    body = order([("OOS-1", 1, 2500)], points=100)
    response = await stack.place(body)
    assert response.status_code == 201, response.text
    view = await stack.wait_status(body["order_id"], "cancelled")
    assert "out_of_stock" in view["status_reason"]
    ledger = await stack.ledger(body["order_id"])
    assert ledger.amount("payment.authorize") == 2400
    assert ledger.amount("payment.void") == 2400
    assert ledger.points("points.release") == ledger.points("points.block") == 100
    assert not ledger.of("inventory.reserve")
    assert not ledger.of("payment.capture")


async def test_cancel_before_dispatch_undoes_everything(stack: Stack) -> None:
    body = order([("HOLD-1", 1, 4000)], points=200)
    assert (await stack.place(body)).status_code == 201
    await stack.wait_ledger(body["order_id"], "fulfillment.request")
    response = await stack.api.post(f"/v1/orders/{body['order_id']}/cancel", json={"reason": "customer changed mind"},
                                    headers=SUPPORT)
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "cancelling"
    view = await stack.wait_status(body["order_id"], "cancelled")
    assert "customer changed mind" in view["status_reason"]
    ledger = await stack.ledger(body["order_id"])
    assert len(ledger.of("fulfillment.cancel")) == 1
    assert len(ledger.of("erp.sales_order_cancel")) == 1
    assert ledger.quantity("inventory.release") == 1
    assert ledger.amount("payment.void") == ledger.amount("payment.authorize") == 3800
    assert ledger.points("points.release") == 200
    assert not ledger.of("fulfillment.dispatch")
    assert all(c["status"] == "succeeded" for c in view["compensations"])


async def test_cancel_after_dispatch_is_refused(stack: Stack) -> None:
    body = order()
    assert (await stack.place(body)).status_code == 201
    await stack.wait_status(body["order_id"], "shipped", "partially_shipped", "completed")
    response = await stack.api.post(f"/v1/orders/{body['order_id']}/cancel", json={"reason": "too late"},
                                    headers=SUPPORT)
    assert response.status_code == 409, response.text
    assert response.json()["type"].endswith("not-cancellable")
    await stack.wait_status(body["order_id"], "completed")
    ledger = await stack.ledger(body["order_id"])
    assert not ledger.of("fulfillment.cancel")
    assert ledger.amount("payment.capture") == 2 * 1999


async def test_split_shipment_captures_and_invoices_each_shipment_once(stack: Stack) -> None:
    body = order([("SPLIT-A", 1, 1000), ("SPLIT-B", 2, 1500), ("SKU-9", 1, 701)], points=333)
    assert (await stack.place(body)).status_code == 201
    view = await stack.wait_status(body["order_id"], "completed")
    amount_due = 1000 + 3000 + 701 - 333
    ledger = await stack.ledger(body["order_id"])
    assert len(view["shipments"]) == 3
    captures = ledger.references("payment.capture")
    invoices = ledger.references("erp.invoice")
    assert len(captures) == 3 and set(captures.values()) == {1}
    assert len(invoices) == 3 and set(invoices.values()) == {1}
    assert ledger.amount("payment.capture") == amount_due
    assert ledger.amount("erp.invoice") == amount_due
    assert ledger.points("points.spend") == 333


async def test_pick_rejected_line_is_released_and_the_rest_captured(stack: Stack) -> None:
    body = order([("SKU-1", 1, 3000), ("PICKFAIL-1", 1, 1000)], points=400)
    assert (await stack.place(body)).status_code == 201
    view = await stack.wait_status(body["order_id"], "completed")
    ledger = await stack.ledger(body["order_id"])
    # 400 points over 3000/1000 of value: 300 on the shipped line, 100 on the rejected one.
    assert ledger.amount("payment.capture") == 3000 - 300
    assert ledger.amount("payment.void") == 1000 - 100
    assert ledger.amount("erp.invoice") == 2700
    assert ledger.points("points.spend") == 300
    assert ledger.points("points.release") == 100
    assert [e["sku"] for e in ledger.of("inventory.release")] == ["PICKFAIL-1"]
    assert view["released_lines"] == [{"sku": "PICKFAIL-1", "quantity": 1}]


async def test_expired_authorization_is_reauthorized_then_captured(stack: Stack) -> None:
    body = order([("HOLD-EXP", 1, 5000)], token="tok_expiring")
    assert (await stack.place(body)).status_code == 201
    await stack.wait_ledger(body["order_id"], "fulfillment.request")
    await stack.wait_authorization_expired(body["order_id"])
    await stack.release_hold(body["order_id"])
    view = await stack.wait_status(body["order_id"], "completed")
    ledger = await stack.ledger(body["order_id"])
    authorizations = ledger.of("payment.authorize")
    assert len(authorizations) == 2
    captures = ledger.of("payment.capture")
    assert len(captures) == 1 and captures[0]["amount"] == 5000
    assert ledger.amount("erp.invoice") == 5000
    assert any(s["name"].startswith("re-authorize") for s in view["steps"])


async def test_declined_reauthorization_after_dispatch_needs_attention(stack: Stack) -> None:
    body = order([("HOLD-RD", 2, 1250)], token="tok_reauth_decline")
    assert (await stack.place(body)).status_code == 201
    await stack.wait_ledger(body["order_id"], "fulfillment.request")
    await stack.wait_authorization_expired(body["order_id"])
    await stack.release_hold(body["order_id"])
    view = await stack.wait_status(body["order_id"], "needs_attention")
    assert "re-authorization" in view["status_reason"]
    assert view["money_at_risk"] == 2500
    ledger = await stack.ledger(body["order_id"])
    assert not ledger.of("payment.capture")
    assert len(ledger.of("fulfillment.dispatch")) == 1
