"""The chaos run's invariant checks catch what they promise to catch, on small hand-made data."""

import copy
from typing import Any

from deploy.chaos_checks import PlacedOrder, VendorState, check_run

OID = "O-1"


def _order() -> PlacedOrder:
    body = {
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
    return PlacedOrder("happy", body, frozenset({"completed"}), status="completed")


def _entry(
    action: str,
    amount: int | None = None,
    reference: str | None = None,
    points: int | None = None,
    key: str | None = None,
) -> dict[str, Any]:
    return {
        "action": action,
        "order_id": OID,
        "amount": amount,
        "points": points,
        "reference": reference,
        "idempotency_key": key,
    }


# Points 300 over values 2000 and 500: 240 and 60, so amount due 1760 + 440 = 2200.
LEDGER = [
    _entry("points.block", points=300),
    _entry("payment.authorize", 2200),
    _entry("erp.sales_order", 2200, f"{OID}:sales-order"),
    _entry("payment.capture", 2200, f"{OID}:capture:S1"),
    _entry("erp.invoice", 2200, f"{OID}:invoice:S1"),
    _entry("points.spend", points=300),
]
VENDORS = VendorState(
    payment_intents=[{"id": "pi_1", "amount_capturable": 0, "metadata": {"order_id": OID}}],
    blocks=[{"block_id": "blk_1", "order_id": OID, "points": 300, "spent": 300, "released": 0}],
    reservations=[{"reservation_id": "res_1", "order_id": OID, "status": "closed"}],
    shipment_requests=[
        {
            "request_id": "shr_1",
            "order_id": OID,
            "status": "dispatched",
            "shipments": [
                {"shipment_id": "S1", "lines": [{"sku": "A", "quantity": 2}, {"sku": "B", "quantity": 1}]}
            ],
        }
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
    found = check_run(
        [order or _order()],
        LEDGER if ledger is None else ledger,
        vendors or VENDORS,
        STORE if store is None else store,
    )
    return {v.rule for v in found}


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


def test_store_and_erp_disagreeing_is_caught() -> None:
    assert "store=erp" in _rules(store=STORE[:1])
    wrong = copy.deepcopy(STORE)
    wrong[1]["amount"] = 2100
    assert "store=erp" in _rules(store=wrong)
    stuck = copy.deepcopy(STORE)
    stuck[1]["status"] = "retrying"
    assert "store=erp" in _rules(store=stuck)


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


def test_a_duplicated_marketing_event_is_caught() -> None:
    ledger = [*LEDGER, *[_entry("marketing.event", reference="order.accepted", key="evt-1")] * 2]
    assert "one-marketing-event" in _rules(ledger=ledger)
