"""Request body examples for the OpenAPI document, by operation id: what Swagger UI's "Try it out" fills in.

Each one is a request the API accepts (tests/e2e/test_request_examples.py posts every one of them against
the whole stack and expects a 2xx). Ids that must be new per request (an order's, a return's) are the ones
a client replaces; amounts are integer minor units.
"""

from typing import Any

Examples = dict[str, dict[str, Any]]

ORDER = {
    "order_id": "ORD-2026-000123",
    "channel": "web",
    "currency": "EUR",
    "customer": {"customer_id": "CUST-42", "loyalty_member_id": "LM-42", "email": "ana.lima@example.com",
                 "name": "Ana Lima"},
    "shipping_address": {"line1": "Rua Augusta 100", "city": "Lisboa", "postal_code": "1100-053", "country": "PT"},
    "lines": [{"sku": "SKU-1", "quantity": 2, "unit_price": 1999}, {"sku": "SKU-2", "quantity": 1, "unit_price": 4500}],
    "payment": {"method_token": "tok_visa"},
    "points_to_redeem": 0,
}

REQUEST_EXAMPLES: dict[str, Examples] = {
    "create_order": {
        "card": {"summary": "Two lines paid by card (EUR 39.98 + EUR 45.00)", "value": ORDER},
        "points": {"summary": "Part paid with 500 loyalty points", "value": {**ORDER, "points_to_redeem": 500}},
    },
    "cancel_order": {"customer": {"summary": "The customer withdrew",
                                  "value": {"reason": "Customer changed their mind"}}},
    "resolve_order": {
        "retry": {"summary": "Run the failed step again", "value": {
            "action": "retry", "note": "The customer updated their card; try the capture again"}},
        "mark_resolved": {"summary": "Fixed by hand", "value": {
            "action": "mark_resolved", "note": "Paid by bank transfer, seen on the statement of 2026-12-03"}},
    },
    "request_return": {"one_unit": {"summary": "Return one unit of SKU-1", "value": {
        "return_id": "RET-2026-000045", "lines": [{"sku": "SKU-1", "quantity": 1}], "reason": "Wrong size"}}},
    "resolve_return": {
        "refund": {"summary": "Refund damaged goods anyway", "value": {
            "action": "refund", "note": "Damaged in transit, not by the customer"}},
        "refuse": {"summary": "Refuse the refund", "value": {"action": "refuse", "note": "Scratched by the customer"}},
    },
    "start_reconciliation_run": {
        "default": {"summary": "The last interval, ending on the current minute", "value": {}},
        "period": {"summary": "A given hour", "value": {
            "period_start": "2026-12-01T09:00:00Z", "period_end": "2026-12-01T10:00:00Z"}},
    },
    "create_webhook_endpoint": {"erp": {"summary": "Order and refund events for an ERP connector", "value": {
        "url": "https://hooks.example.com/o2c", "event_types": ["order.completed", "refund.completed"]}}},
    "rotate_webhook_secret": {"grace": {"summary": "Keep the old secret signing for an hour",
                                        "value": {"grace_period_s": 3600}}},
}
