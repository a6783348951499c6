"""Returns: refunds only after the warehouse accepted the goods, against the right captures, with
credit memos, points following the money, and restock only for resellable goods."""

import pytest
from e2e_support import SUPPORT, Ledger, Stack, order

pytestmark = [pytest.mark.e2e]


@pytest.fixture
def stack(each_payments_adapter: Stack) -> Stack:
    """With each payments adapter: the sandbox's own dialect and Stripe's protocol."""
    return each_payments_adapter


async def _completed(stack: Stack, lines: list[tuple[str, int, int]], points: int = 0) -> tuple[dict, Ledger]:
    body = order(lines, points=points)
    assert (await stack.place(body)).status_code == 201
    await stack.wait_status(body["order_id"], "completed")
    return body, await stack.ledger(body["order_id"])


def _assert_money_closes(ledger: Ledger) -> None:
    assert ledger.amount("payment.refund") <= ledger.amount("payment.capture")
    assert ledger.amount("erp.credit_memo") == ledger.amount("payment.refund")


async def test_full_return_refunds_everything_and_gives_points_back(stack: Stack) -> None:
    body, before = await _completed(stack, [("SKU-RF", 2, 1500)], points=300)
    earned = before.points("points.earn")
    assert earned > 0
    oid = body["order_id"]
    response = await stack.request_return(oid, "R1", [("SKU-RF", 2)])
    assert response.status_code == 202, response.text
    view = await stack.wait_return(oid, "R1", "completed")
    ledger = await stack.ledger(oid)
    assert ledger.amount("payment.refund") == ledger.amount("payment.capture") == 2700
    assert ledger.points("points.give_back") == 300
    assert ledger.points("points.take_back") == earned
    assert ledger.quantity("inventory.restock") == 2
    _assert_money_closes(ledger)
    assert view["points_given_back"] == 300 and view["points_taken_back"] == earned
    # The warehouse received the goods before any money moved back.
    received = ledger.of("fulfillment.return_received")[0]["seq"]
    assert all(e["seq"] > received for e in ledger.of("payment.refund"))
    assert [r["return_id"] for r in (await stack.get(oid))["returns"]] == ["R1"]


async def test_two_partial_returns_then_an_over_return(stack: Stack) -> None:
    body, before = await _completed(stack, [("SKU-P1", 3, 1000), ("SPLIT-P2", 1, 999)], points=301)
    oid = body["order_id"]
    earned = before.points("points.earn")
    assert (await stack.request_return(oid, "R1", [("SKU-P1", 1)])).status_code == 202
    first = await stack.wait_return(oid, "R1", "completed")
    assert (await stack.request_return(oid, "R2", [("SKU-P1", 2), ("SPLIT-P2", 1)])).status_code == 202
    second = await stack.wait_return(oid, "R2", "completed")
    over = await stack.request_return(oid, "R3", [("SKU-P1", 1)])
    assert over.status_code == 409 and over.json()["type"].endswith("over-return")
    ledger = await stack.ledger(oid)
    # Everything came back in two returns: exactly what was paid, redeemed and earned.
    assert ledger.amount("payment.refund") == ledger.amount("payment.capture") == 3999 - 301
    assert ledger.points("points.give_back") == 301
    assert ledger.points("points.take_back") == earned
    assert first["refunds"][0]["amount"] + sum(r["amount"] for r in second["refunds"]) == 3698
    # SPLIT-P2 left in its own shipment: its refund goes against that shipment's capture.
    assert len(second["refunds"]) == 2
    _assert_money_closes(ledger)


async def test_damaged_goods_wait_for_support_and_are_not_restocked(stack: Stack) -> None:
    body, _ = await _completed(stack, [("DAMAGED-D1", 1, 2000), ("SKU-D2", 1, 500)])
    oid = body["order_id"]
    assert (await stack.request_return(oid, "R1", [("DAMAGED-D1", 1), ("SKU-D2", 1)])).status_code == 202
    parked = await stack.wait_return(oid, "R1", "needs_attention")
    assert "DAMAGED-D1" in parked["status_reason"]
    ledger = await stack.ledger(oid)
    assert ledger.amount("payment.refund") == 500  # the resellable line only, so far
    response = await stack.api.post(f"/v1/orders/{oid}/returns/R1/resolve",
                                    json={"action": "refund", "note": "courier damage, our fault"}, headers=SUPPORT)
    assert response.status_code == 202, response.text
    done = await stack.wait_return(oid, "R1", "completed")
    ledger = await stack.ledger(oid)
    assert ledger.amount("payment.refund") == 2500
    assert [e["sku"] for e in ledger.of("inventory.restock")] == ["SKU-D2"]
    assert [d["action"] for d in done["decisions"]] == ["refund"] and done["decisions"][0]["actor"]
    _assert_money_closes(ledger)


async def test_refused_damaged_goods_are_not_refunded(stack: Stack) -> None:
    body, _ = await _completed(stack, [("DAMAGED-X", 1, 1200)])
    oid = body["order_id"]
    assert (await stack.request_return(oid, "R1", [("DAMAGED-X", 1)])).status_code == 202
    await stack.wait_return(oid, "R1", "needs_attention")
    response = await stack.api.post(f"/v1/orders/{oid}/returns/R1/resolve",
                                    json={"action": "refuse", "note": "customer damage"}, headers=SUPPORT)
    assert response.status_code == 202
    done = await stack.wait_return(oid, "R1", "completed")
    assert "refused" in done["status_reason"]
    ledger = await stack.ledger(oid)
    assert not ledger.of("payment.refund") and not ledger.of("inventory.restock")


async def test_return_before_shipment_is_refused(stack: Stack) -> None:
    body = order([("HOLD-RB", 1, 1000)])
    assert (await stack.place(body)).status_code == 201
    await stack.wait_ledger(body["order_id"], "fulfillment.request")
    response = await stack.request_return(body["order_id"], "R1", [("HOLD-RB", 1)])
    assert response.status_code == 409 and response.json()["type"].endswith("not-returnable")
    await stack.api.post(f"/v1/orders/{body['order_id']}/cancel", json={"reason": "cleanup"}, headers=SUPPORT)


async def test_more_than_shipped_is_refused_and_bad_returns_are_validated(stack: Stack) -> None:
    body, _ = await _completed(stack, [("SKU-O", 1, 800), ("PICKFAIL-O", 1, 800)])
    oid = body["order_id"]
    over = await stack.request_return(oid, "R1", [("SKU-O", 2)])
    assert over.status_code == 409 and over.json()["type"].endswith("over-return")
    rejected_line = await stack.request_return(oid, "R2", [("PICKFAIL-O", 1)])
    assert rejected_line.status_code == 409
    invalid = await stack.request_return(oid, "R3", [("SKU-O", 0)])
    assert invalid.status_code == 422
    assert not (await stack.ledger(oid)).of("fulfillment.return_request")
