"""Returns pay out what the warehouse received, in the condition it was received, never more than
was captured, and each support decision covers only the units it was asked about (issue 9)."""

import pytest
from e2e_support import SUPPORT, Ledger, Stack, order

pytestmark = [pytest.mark.e2e]


@pytest.fixture
def stack(each_payments_adapter: Stack) -> Stack:
    """With each payments adapter: the sandbox's own dialect and Stripe's protocol."""
    return each_payments_adapter


async def _completed(stack: Stack, lines: list[tuple[str, int, int]], points: int = 0) -> str:
    body = order(lines, points=points)
    assert (await stack.place(body)).status_code == 201
    await stack.wait_status(body["order_id"], "completed")
    return str(body["order_id"])


async def _resolve_return(stack: Stack, order_id: str, return_id: str, action: str, note: str) -> None:
    response = await stack.api.post(f"/v1/orders/{order_id}/returns/{return_id}/resolve",
                                    json={"action": action, "note": note}, headers=SUPPORT)
    assert response.status_code == 202, response.text


def _refunds_within_captures(ledger: Ledger) -> None:
    assert ledger.amount("payment.refund") <= ledger.amount("payment.capture")
    assert ledger.amount("erp.credit_memo") == ledger.amount("payment.refund")


async def test_a_return_naming_a_sku_twice_is_refused_and_changes_nothing(stack: Stack) -> None:
    oid = await _completed(stack, [("SKU-A", 2, 1000), ("SKU-B", 2, 1000)])
    response = await stack.request_return(oid, "R1", [("SKU-A", 2), ("SKU-A", 2)])
    assert response.status_code == 422, response.text
    assert any(err["loc"][:2] == ["body", "lines"] for err in response.json()["errors"]), response.json()
    ledger = await stack.ledger(oid)
    assert not ledger.of("fulfillment.return_request") and not ledger.of("payment.refund")
    # The goods are still all returnable, each SKU once.
    assert (await stack.request_return(oid, "R2", [("SKU-A", 2), ("SKU-B", 2)])).status_code == 202
    await stack.wait_return(oid, "R2", "completed")
    ledger = await stack.ledger(oid)
    assert ledger.amount("payment.refund") == 4000
    assert ledger.quantity("inventory.restock") == 4
    _refunds_within_captures(ledger)


async def test_units_that_never_arrive_are_not_refunded_and_the_shortfall_shows(stack: Stack) -> None:
    oid = await _completed(stack, [("SKU-S", 3, 1000)])
    await stack.plan_receipt(oid, "R1", [("SKU-S", 2, "resellable")])
    assert (await stack.request_return(oid, "R1", [("SKU-S", 3)])).status_code == 202
    view = await stack.wait_return(oid, "R1", "completed")
    ledger = await stack.ledger(oid)
    assert ledger.amount("payment.refund") == 2000
    assert ledger.quantity("inventory.restock") == 2
    assert view["shortfall"] == [{"sku": "SKU-S", "quantity": 1}]
    _refunds_within_captures(ledger)


async def test_mixed_conditions_of_one_sku_refund_the_resellable_units_and_park_the_damaged(stack: Stack) -> None:
    oid = await _completed(stack, [("SKU-M", 3, 1000)])
    await stack.plan_receipt(oid, "R1", [("SKU-M", 2, "resellable"), ("SKU-M", 1, "damaged")])
    assert (await stack.request_return(oid, "R1", [("SKU-M", 3)])).status_code == 202
    parked = await stack.wait_return(oid, "R1", "needs_attention")
    assert "SKU-M" in parked["status_reason"]
    ledger = await stack.ledger(oid)
    assert ledger.amount("payment.refund") == 2000  # the damaged unit waits for support
    assert ledger.quantity("inventory.restock") == 2
    await _resolve_return(stack, oid, "R1", "refuse", "scratched by the customer")
    await stack.wait_return(oid, "R1", "completed")
    ledger = await stack.ledger(oid)
    assert ledger.amount("payment.refund") == 2000
    assert ledger.quantity("inventory.restock") == 2


async def test_more_received_than_requested_refunds_only_the_request(stack: Stack) -> None:
    oid = await _completed(stack, [("SKU-X", 3, 1000)])
    await stack.plan_receipt(oid, "R1", [("SKU-X", 3, "resellable")])
    assert (await stack.request_return(oid, "R1", [("SKU-X", 1)])).status_code == 202
    await stack.wait_return(oid, "R1", "completed")
    ledger = await stack.ledger(oid)
    assert ledger.amount("payment.refund") == 1000
    assert ledger.quantity("inventory.restock") == 1


async def test_a_receipt_that_arrives_before_its_return_is_registered_is_kept(stack: Stack) -> None:
    """A worker killed between asking the node and recording the return can see the warehouse's receipt
    first when the request is redelivered (found by `o2c chaos`): the receipt must wait for its return."""
    body = order([("HOLD-RR", 2, 1000)])
    oid = body["order_id"]
    assert (await stack.place(body)).status_code == 201
    await stack.wait_ledger(oid, "fulfillment.request")
    await stack.release_hold(oid)
    await stack.wait_status(oid, "completed")
    early = await stack.send_fulfillment_event("return.received", {
        "order_id": oid, "return_id": "R1", "lines": [{"sku": "HOLD-RR", "quantity": 2, "condition": "resellable"}]})
    assert early.status_code == 200, early.text
    # The return holds a HOLD- SKU: the sandbox's own warehouse never reports it.
    assert (await stack.request_return(oid, "R1", [("HOLD-RR", 2)])).status_code == 202
    await stack.wait_return(oid, "R1", "completed")
    ledger = await stack.ledger(oid)
    assert ledger.amount("payment.refund") == 2000
    assert ledger.quantity("inventory.restock") == 2
