"""The chaos run's invariant checks catch what they promise to catch, on small hand-made data: each rule
fails on broken books and passes on good ones."""

import copy
from dataclasses import replace
from typing import Any

from tools.chaos_checks import check_run
from tools.chaos_expect import largest_remainder, unit_costs
from tools.chaos_model import PlacedOrder, ReturnPlan, VendorState

OID = "O-1"
BODY: dict[str, Any] = {
    "order_id": OID,
    "channel": "web",
    "currency": "EUR",
    "customer": {"customer_id": "C-1", "loyalty_member_id": "M-1", "email": "a@example.com", "name": "A"},
    "shipping_address": {"line1": "x", "city": "y", "postal_code": "1", "country": "PT"},
    "lines": [
        {"sku": "A", "quantity": 2, "unit_price": 1000},
        {"sku": "B", "quantity": 1, "unit_price": 500},
    ],
    "payment": {"method_token": "tok_visa"},
    "points_to_redeem": 300,
}


def _order(status: str = "completed", scenario: str = "happy", **fields: Any) -> PlacedOrder:
    return PlacedOrder(scenario, copy.deepcopy(BODY), frozenset({status}), status=status, **fields)


def _entry(
    action: str,
    amount: int | None = None,
    reference: str | None = None,
    points: int | None = None,
    key: str | None = None,
    sku: str | None = None,
    quantity: int | None = None,
) -> dict[str, Any]:
    return {
        "action": action,
        "order_id": OID,
        "amount": amount,
        "points": points,
        "sku": sku,
        "quantity": quantity,
        "reference": reference,
        "idempotency_key": key,
    }


# Points 300 over values 2000 and 500: 240 and 60, so the units of A carry 120 each and B 60; amount
# due 880 + 880 + 440 = 2200. Earning 22 points on 2200 captured.
LEDGER = [
    _entry("points.block", points=300),
    _entry("payment.authorize", 2200),
    _entry("erp.sales_order", 2200, f"{OID}:sales-order"),
    _entry("payment.capture", 2200, f"{OID}:capture:S1"),
    _entry("erp.invoice", 2200, f"{OID}:invoice:S1"),
    _entry("points.spend", points=300),
    _entry("points.earn", 2200, f"{OID}:points-earn", points=22),
]
SHIPMENT = {"shipment_id": "S1", "lines": [{"sku": "A", "quantity": 2}, {"sku": "B", "quantity": 1}]}
VENDORS = VendorState(
    payment_intents=[{"id": "pi_1", "amount_capturable": 0, "metadata": {"order_id": OID}}],
    blocks=[{"block_id": "blk_1", "order_id": OID, "points": 300, "spent": 300, "released": 0}],
    reservations=[{"reservation_id": "res_1", "order_id": OID, "status": "closed"}],
    shipment_requests=[
        {"request_id": "shr_1", "order_id": OID, "status": "dispatched", "shipments": [SHIPMENT]}
    ],
    documents=[
        {
            "document_number": "SO-1",
            "type": "sales_order",
            "external_reference": f"{OID}:sales-order",
            "order_id": OID,
            "amount": 2200,
            "status": "open",
        },
        {
            "document_number": "INV-1",
            "type": "invoice",
            "external_reference": f"{OID}:invoice:S1",
            "order_id": OID,
            "amount": 2200,
            "status": "posted",
        },
    ],
)
STORE = [
    {
        "kind": "sales_order",
        "reference": f"{OID}:sales-order",
        "order_id": OID,
        "status": "posted",
        "erp_document_number": "SO-1",
        "amount": 2200,
        "last_error": None,
    },
    {
        "kind": "invoice",
        "reference": f"{OID}:invoice:S1",
        "order_id": OID,
        "status": "posted",
        "erp_document_number": "INV-1",
        "amount": 2200,
        "last_error": None,
    },
]


def _rules(
    order: PlacedOrder | None = None,
    ledger: list[dict[str, Any]] | None = None,
    vendors: VendorState | None = None,
    store: list[dict[str, Any]] | None = None,
) -> set[str]:
    """The rules violated; ledger entries get their seq from their position."""
    entries = [{**e, "seq": i + 1} for i, e in enumerate(LEDGER if ledger is None else ledger)]
    found = check_run([order or _order()], entries, vendors or VENDORS, STORE if store is None else store)
    return {v.rule for v in found}


# ---- a return of one unit of A, received resellable --------------------------------------------------


def _received(*lines: tuple[str, int, str], return_id: str = "R1") -> dict[str, Any]:
    return {
        "request_id": f"ret_{return_id}",
        "order_id": OID,
        "return_id": return_id,
        "status": "received",
        "lines": [{"sku": s, "quantity": q, "condition": c} for s, q, c in lines],
    }


def _returned(plan: ReturnPlan, *receipt: dict[str, Any]) -> tuple[PlacedOrder, VendorState]:
    vendors = copy.deepcopy(VENDORS)
    vendors.return_requests = list(receipt)
    return _order(returns=[plan]), vendors


def _refund(
    amount: int, condition: str = "resellable", sid: str = "S1", rid: str = "R1"
) -> list[dict[str, Any]]:
    tail = f"{rid}:{sid}:{condition}"
    return [
        _entry("payment.refund", amount, f"{OID}:refund:{tail}"),
        _entry("erp.credit_memo", amount, f"{OID}:credit-memo:{tail}"),
    ]


def _points_back(
    given: int, taken: int, condition: str = "resellable", rid: str = "R1"
) -> list[dict[str, Any]]:
    out = [_entry("points.give_back", reference=f"{OID}:points-give-back:{rid}:{condition}", points=given)]
    if taken:
        out.append(
            _entry("points.take_back", reference=f"{OID}:points-take-back:{rid}:{condition}", points=taken)
        )
    return out


def _restock(sku: str, quantity: int, rid: str = "R1") -> dict[str, Any]:
    return _entry("inventory.restock", reference=f"{OID}:restock:{rid}", sku=sku, quantity=quantity)


def _received_entries(rid: str = "R1") -> list[dict[str, Any]]:
    return [
        _entry("fulfillment.return_request", reference=rid),
        _entry("fulfillment.return_received", reference=rid),
    ]


ONE_UNIT = ReturnPlan("R1", [{"sku": "A", "quantity": 1}], answer=202, status="completed")
# Unit 0 of A: due 880, 120 points redeemed; its share of the 22 earned points is 22 x 880 / 2200 = 8.8.
ONE_UNIT_LEDGER = [*LEDGER, *_received_entries(), *_refund(880), *_points_back(120, 8), _restock("A", 1)]


def _one_unit(
    ledger: list[dict[str, Any]] | None = None, *received: tuple[str, int, str], plan: ReturnPlan = ONE_UNIT
) -> set[str]:
    order, vendors = _returned(copy.deepcopy(plan), _received(*(received or [("A", 1, "resellable")])))
    return _rules(order=order, ledger=ONE_UNIT_LEDGER if ledger is None else ledger, vendors=vendors)


# ---- the oracle's own arithmetic ------------------------------------------------------------------


def test_points_spread_by_value_then_over_units_first_units_carrying_the_remainder() -> None:
    assert largest_remainder(10, [1, 1, 1]) == [4, 3, 3]  # a tie goes to the earlier line
    assert largest_remainder(7, [300, 100]) == [5, 2]
    costs = unit_costs({**BODY, "points_to_redeem": 301}, 1)
    assert costs.points == {"A": [121, 120], "B": [60]}
    assert costs.due("A", 0, 2) == 2000 - 241
    assert unit_costs({**BODY, "points_to_redeem": 300}, 2).due("B", 0, 1) == 500 - 60 * 2


# ---- the money of an order -------------------------------------------------------------------------


def test_a_clean_completed_order_passes() -> None:
    assert _rules() == set()


def test_a_second_capture_of_a_shipment_is_caught() -> None:
    ledger = [*LEDGER, _entry("payment.capture", 2200, f"{OID}:capture:S1")]
    assert {
        "one-capture-per-shipment",
        "captured=dispatched",
        "captured<=authorized",
        "invoices=captures",
    } <= _rules(ledger=ledger)


def test_a_capture_without_its_invoice_is_caught() -> None:
    ledger = [e for e in LEDGER if e["action"] != "erp.invoice"]
    assert "invoices=captures" in _rules(ledger=ledger)


def test_a_shipment_settled_outside_o2c_passes_only_where_support_may_settle_it() -> None:
    # Support marked the failed capture resolved: nothing captured, the sale still invoiced.
    ledger = [
        _entry("payment.void", 2200, "expired") if e["action"] == "payment.capture" else e for e in LEDGER
    ]
    assert _rules(order=_order(uncaptured_ok=True), ledger=ledger) == set()
    assert _rules(ledger=ledger) == {"captured=dispatched", "invoices=captures"}
    wrong = [
        _entry("erp.invoice", 2100, f"{OID}:invoice:S1") if e["action"] == "erp.invoice" else e
        for e in ledger
    ]
    assert _rules(order=_order(uncaptured_ok=True), ledger=wrong) == {"invoices=captures"}


def test_an_authorization_left_open_is_caught() -> None:
    vendors = copy.deepcopy(VENDORS)
    vendors.payment_intents[0]["amount_capturable"] = 100
    ledger = [*LEDGER[:1], _entry("payment.authorize", 2300), *LEDGER[2:]]
    assert _rules(ledger=ledger, vendors=vendors) == {"open-authorization"}


def test_open_points_reservations_and_shipment_requests_are_caught() -> None:
    vendors = copy.deepcopy(VENDORS)
    vendors.blocks[0]["spent"] = 200
    vendors.reservations[0]["status"] = "reserved"
    vendors.shipment_requests[0]["status"] = "accepted"
    assert {"open-points", "open-reservation", "open-shipment-request"} <= _rules(vendors=vendors)


def test_refunds_beyond_captures_and_missing_credit_memos_are_caught() -> None:
    ledger = [*LEDGER, _entry("payment.refund", 2500, f"{OID}:refund:R1:S1:resellable")]
    assert {"refunds<=captures", "credit-memos=refunds", "refund=returned"} <= _rules(ledger=ledger)


def test_a_refund_and_close_refund_needs_supports_refund_and_close() -> None:
    ledger = [
        *LEDGER,
        *[
            _entry(a, 2200, f"{OID}:{w}:S1")
            for a, w in (("payment.refund", "refund"), ("erp.credit_memo", "credit-memo"))
        ],
    ]
    closed = _order(resolutions=["refund_and_close"])
    assert "refund=returned" not in _rules(order=closed, ledger=ledger)
    assert "refund=returned" in _rules(ledger=ledger)


def test_refunds_beyond_their_own_capture_are_caught_even_within_the_total() -> None:
    split = copy.deepcopy(VENDORS)
    split.shipment_requests[0]["shipments"] = [
        {"shipment_id": "S1", "lines": [{"sku": "A", "quantity": 2}]},
        {"shipment_id": "S2", "lines": [{"sku": "B", "quantity": 1}]},
    ]
    captures = [
        _entry("payment.capture", 1760, f"{OID}:capture:S1"),
        _entry("erp.invoice", 1760, f"{OID}:invoice:S1"),
        _entry("payment.capture", 440, f"{OID}:capture:S2"),
        _entry("erp.invoice", 440, f"{OID}:invoice:S2"),
    ]
    books = [e for e in LEDGER if e["action"] not in ("payment.capture", "erp.invoice")] + captures
    assert _rules(vendors=split, ledger=books) == set()
    # 880 refunded against S2, which captured 440: within the 2200 captured in all, over its own capture.
    broken = [*books, *_refund(880, sid="S2", rid="X")]
    assert "refund<=its-capture" in _rules(vendors=split, ledger=broken)
    assert "refunds<=captures" not in _rules(vendors=split, ledger=broken)


def test_points_spent_on_a_cancelled_or_rejected_order_are_caught() -> None:
    cancelled = [
        _entry("points.block", points=300),
        _entry("payment.authorize", 2200),
        _entry("payment.void", 2200),
        _entry("points.release", points=300),
    ]
    vendors = copy.deepcopy(VENDORS)
    vendors.blocks[0].update(spent=0, released=300)
    vendors.shipment_requests[0].update(status="cancelled", shipments=[])
    vendors.documents = []
    for status in ("cancelled", "rejected"):
        assert _rules(order=_order(status), ledger=cancelled, vendors=vendors, store=[]) == set()
        spent = [*cancelled[:3], _entry("points.spend", points=300)]
        vendors.blocks[0].update(spent=300, released=0)
        assert _rules(order=_order(status), ledger=spent, vendors=vendors, store=[]) == {"no-points-spent"}
        vendors.blocks[0].update(spent=0, released=300)


def test_a_cancelled_order_leaves_its_sales_order_open_only_once_goods_left() -> None:
    # Support refunded and closed an order whose goods shipped but could not be captured.
    closed = [
        _entry("points.block", points=300),
        _entry("payment.authorize", 2200),
        _entry("erp.sales_order", 2200, f"{OID}:sales-order"),
        _entry("payment.void", 2200, "expired"),
        _entry("points.release", points=300),
    ]
    vendors = copy.deepcopy(VENDORS)
    vendors.blocks[0].update(spent=0, released=300)
    vendors.documents = vendors.documents[:1]
    order = _order("cancelled", uncaptured_ok=True, resolutions=["refund_and_close"])
    assert _rules(order=order, ledger=closed, vendors=vendors, store=STORE[:1]) == set()
    vendors.shipment_requests[0].update(status="cancelled", shipments=[])
    assert _rules(order=order, ledger=closed, vendors=vendors, store=STORE[:1]) == {"open-sales-order"}


def test_a_completed_order_has_one_sales_order_and_a_rejected_one_none() -> None:
    without = [e for e in LEDGER if e["action"] != "erp.sales_order"]
    assert "one-sales-order" in _rules(ledger=without, store=STORE[1:])
    assert "one-sales-order" in _rules(ledger=[*LEDGER, LEDGER[2]])
    rejected = [_entry("payment.authorize", 2200), _entry("payment.void", 2200)]
    vendors = copy.deepcopy(VENDORS)
    vendors.blocks, vendors.shipment_requests, vendors.documents = [], [], []
    assert _rules(order=_order("rejected"), ledger=rejected, vendors=vendors, store=[]) == set()
    booked = [*rejected, _entry("erp.sales_order", 2200, f"{OID}:sales-order")]
    assert "one-sales-order" in _rules(order=_order("rejected"), ledger=booked, vendors=vendors, store=[])


def test_a_node_shipping_more_than_the_order_holds_is_caught() -> None:
    assert _rules(
        order=_order(node_shipments=[{"shipment_id": "S9", "lines": [{"sku": "A", "quantity": 1}]}])
    ) == {"dispatch"}


# ---- returns -------------------------------------------------------------------------------------


def test_a_return_refunded_for_what_was_received_passes() -> None:
    assert _one_unit() == set()


def test_a_refund_before_the_warehouse_received_the_return_is_caught() -> None:
    early = [
        *LEDGER,
        _entry("fulfillment.return_request", reference="R1"),
        *_refund(880),
        _entry("fulfillment.return_received", reference="R1"),
        *_points_back(120, 8),
        _restock("A", 1),
    ]
    assert _one_unit(early) == {"refund-after-receipt"}
    never = [e for e in ONE_UNIT_LEDGER if e["action"] != "fulfillment.return_received"]
    assert "refund-after-receipt" in _one_unit(never)


def test_a_return_unfinished_expired_or_waiting_without_damaged_goods_is_caught() -> None:
    for status in ("expired", "requested", "received", "needs_attention", None):
        plan = replace(ONE_UNIT, status=status)
        assert "return-ended" in _one_unit(plan=plan), status


def test_a_return_may_wait_only_on_damaged_goods_left_undecided() -> None:
    ledger = [*LEDGER, *_received_entries()]
    waiting = replace(ONE_UNIT, status="needs_attention", status_reason="damaged goods")
    assert _one_unit(ledger, ("A", 1, "damaged"), plan=waiting) == set()
    # The same damaged unit, but the return completed with nobody deciding: the decision was skipped.
    assert _one_unit(ledger, ("A", 1, "damaged")) == {"return-ended"}
    # Support was going to decide (refund) but the return never asked.
    planned = replace(waiting, decision="refund")
    assert _one_unit(ledger, ("A", 1, "damaged"), plan=planned) == {"return-ended"}


def test_damaged_goods_are_refunded_only_when_support_refunds_them() -> None:
    refunded = [*LEDGER, *_received_entries(), *_refund(880, "damaged"), *_points_back(120, 8, "damaged")]
    decided = replace(ONE_UNIT, decided="refund", decision="refund")
    assert _one_unit(refunded, ("A", 1, "damaged"), plan=decided) == set()
    refused = replace(ONE_UNIT, decided="refuse", decision="refuse")
    assert _one_unit([*LEDGER, *_received_entries()], ("A", 1, "damaged"), plan=refused) == set()
    assert {"refund=received", "points-back"} <= _one_unit(refunded, ("A", 1, "damaged"), plan=refused)


def test_refunding_the_request_instead_of_what_was_received_is_caught() -> None:
    # Two units asked for, one received: refunding both is the regression.
    plan = replace(ONE_UNIT, lines=[{"sku": "A", "quantity": 2}])
    assert _one_unit(plan=plan) == set()
    both = [*LEDGER, *_received_entries(), *_refund(1760), *_points_back(240, 17), _restock("A", 1)]
    assert {"refund=received", "points-back"} <= _one_unit(both, plan=plan)


def test_restock_other_than_the_resellable_units_received_is_caught() -> None:
    more = [*ONE_UNIT_LEDGER[:-1], _restock("A", 2)]
    assert _one_unit(more) == {"restock=received"}
    none = ONE_UNIT_LEDGER[:-1]
    assert _one_unit(none) == {"restock=received"}
    # Two received resellable, one asked for: only what was asked is restocked.
    assert _one_unit(ONE_UNIT_LEDGER, ("A", 2, "resellable")) == set()
    assert _one_unit(more, ("A", 2, "resellable")) == {"restock=received"}


def test_points_given_back_and_taken_back_must_follow_the_refunded_units() -> None:
    ok = [*LEDGER, *_received_entries(), *_refund(880), _restock("A", 1)]
    assert _one_unit([*ok, *_points_back(120, 9)]) == set()  # 8.8: the ceiling is within the share
    assert _one_unit([*ok, *_points_back(119, 8)]) == {"points-back"}
    assert _one_unit([*ok, *_points_back(120, 10)]) == {"points-back"}
    assert _one_unit([*ok, *_points_back(120, 7)]) == {"points-back"}


def test_every_unit_returned_takes_back_exactly_the_earned_points() -> None:
    plan = replace(ONE_UNIT, lines=[{"sku": "A", "quantity": 2}, {"sku": "B", "quantity": 1}])
    received = [("A", 2, "resellable"), ("B", 1, "resellable")]
    base = [*LEDGER, *_received_entries(), *_refund(2200), _restock("A", 2), _restock("B", 1)]
    assert _one_unit([*base, *_points_back(300, 22)], *received, plan=plan) == set()
    # 21 is within the floor/ceiling of each line's share (17..18 + 4..5), but not all 22 earned.
    assert _one_unit([*base, *_points_back(300, 21)], *received, plan=plan) == {"points-back"}


def test_a_return_naming_a_sku_twice_must_be_refused_and_change_nothing() -> None:
    refused = ReturnPlan("R0", [{"sku": "A", "quantity": 1}] * 2, must_refuse=True, answer=422)
    order = _order(returns=[refused, copy.deepcopy(ONE_UNIT)])
    vendors = copy.deepcopy(VENDORS)
    vendors.return_requests = [_received(("A", 1, "resellable"))]
    assert _rules(order=order, ledger=ONE_UNIT_LEDGER, vendors=vendors) == set()
    order.returns[0].answer = 202  # accepted, it is then also checked as a return that took units
    assert "refused-return" in _rules(order=order, ledger=ONE_UNIT_LEDGER, vendors=vendors)
    order.returns[0].answer = 422
    touched = [*ONE_UNIT_LEDGER, _entry("fulfillment.return_request", reference="R0")]
    assert _rules(order=order, ledger=touched, vendors=vendors) == {"refused-return"}


# ---- settling, steering, and across orders ---------------------------------------------------------


def test_store_and_erp_disagreeing_is_caught() -> None:
    assert "store=erp" in _rules(store=STORE[:1])
    wrong = copy.deepcopy(STORE)
    wrong[1]["amount"] = 2100
    assert "store=erp" in _rules(store=wrong)
    stuck = copy.deepcopy(STORE)
    stuck[1]["status"] = "retrying"
    assert "store=erp" in _rules(store=stuck)


def test_a_cancelled_sales_order_row_must_match_a_cancelled_or_missing_document() -> None:
    vendors = copy.deepcopy(VENDORS)
    store = copy.deepcopy(STORE)
    store[0]["status"] = "cancelled"
    assert "store=erp" in _rules(store=store, vendors=vendors)  # the ERP still has it open
    vendors.documents[0]["status"] = "cancelled"
    assert "store=erp" not in _rules(store=store, vendors=vendors)
    vendors.documents = vendors.documents[1:]  # never booked
    assert "store=erp" not in _rules(store=store, vendors=vendors)
    store[1]["status"] = "cancelled"  # only sales orders are cancelled
    assert "store=erp" in _rules(store=store, vendors=vendors)


def test_two_erp_documents_for_one_reference_are_caught() -> None:
    vendors = copy.deepcopy(VENDORS)
    vendors.documents.append({**vendors.documents[1], "document_number": "INV-2"})
    assert "one-erp-document" in _rules(vendors=vendors)


def test_unsettled_or_unexplained_orders_and_wrong_outcomes_are_caught() -> None:
    order = _order()
    order.status = "shipped"
    assert "settled" in _rules(order=order)
    order.status, order.status_reason = "needs_attention", None
    assert {"settled", "outcome"} <= _rules(order=order)
    order.status = "cancelled"
    assert "outcome" in _rules(order=order)


def test_what_the_client_saw_broken_while_steering_is_reported() -> None:
    assert _rules(order=_order(problems=["a duplicate dispatch answered 500"])) == {"client"}


def test_a_duplicated_marketing_event_is_caught() -> None:
    ledger = [*LEDGER, *[_entry("marketing.event", reference="order.accepted", key="evt-1")] * 2]
    assert "one-marketing-event" in _rules(ledger=ledger)
