from __future__ import annotations

from typing import Any

import pytest
from sandbox_testkit import Api


def doc(ref: str, order_id: str = "o1", amount: int = 5000, **extra: Any) -> dict[str, Any]:
    return {
        "external_reference": ref,
        "order_id": order_id,
        "amount": amount,
        "currency": "EUR",
        "lines": [{"sku": "A", "quantity": 1}],
        **extra,
    }


@pytest.mark.asyncio
async def test_documents_are_numbered_and_deduplicated_by_reference(api: Api) -> None:
    so = await api.post("/erp/sales-orders", doc("o1:so"))
    assert so.status_code == 201
    body = so.json()
    assert (
        body["document_number"] == "SO-000001" and body["type"] == "sales_order" and body["status"] == "open"
    )
    assert body["posted_at"] and body["lines"] == [{"sku": "A", "quantity": 1}]

    # Another key, same reference: the existing document, never a second one.
    again = await api.post("/erp/sales-orders", doc("o1:so", amount=1))
    assert again.status_code == 200 and again.json() == body

    inv = await api.post("/erp/invoices", doc("o1:inv-1", amount=3000, sales_order="SO-000001"))
    assert inv.status_code == 201
    assert (inv.json()["document_number"], inv.json()["status"], inv.json()["sales_order"]) == (
        "INV-000001",
        "posted",
        "SO-000001",
    )
    inv2 = await api.post("/erp/invoices", doc("o1:inv-2", amount=2000, sales_order="SO-000001"))
    assert inv2.json()["document_number"] == "INV-000002"
    cm = await api.post("/erp/credit-memos", doc("o1:cm-1", amount=1000, invoice="INV-000001"))
    assert cm.status_code == 201 and cm.json()["document_number"] == "CM-000001"

    listed = (await api.get("/erp/documents", order_id="o1")).json()["data"]
    assert [d["document_number"] for d in listed] == ["SO-000001", "INV-000001", "INV-000002", "CM-000001"]
    by_type = (await api.get("/erp/documents", order_id="o1", type="invoice")).json()["data"]
    assert [d["document_number"] for d in by_type] == ["INV-000001", "INV-000002"]
    by_ref = (await api.get("/erp/documents", external_reference="o1:cm-1")).json()["data"]
    assert [d["type"] for d in by_ref] == ["credit_memo"]

    entries = await api.ledger(order_id="o1")
    assert [(e["action"], e["amount"], e["reference"]) for e in entries] == [
        ("erp.sales_order", 5000, "o1:so"),
        ("erp.invoice", 3000, "o1:inv-1"),
        ("erp.invoice", 2000, "o1:inv-2"),
        ("erp.credit_memo", 1000, "o1:cm-1"),
    ]


@pytest.mark.asyncio
async def test_cancel_sales_order(api: Api) -> None:
    so = (await api.post("/erp/sales-orders", doc("o2:so", order_id="o2"))).json()
    cancelled = await api.post(f"/erp/sales-orders/{so['document_number']}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    repeat = await api.post(f"/erp/sales-orders/{so['document_number']}/cancel")
    assert repeat.status_code == 200 and repeat.json()["status"] == "cancelled"
    assert [e["action"] for e in await api.ledger(order_id="o2")] == [
        "erp.sales_order",
        "erp.sales_order_cancel",
    ]

    invoice = await api.post("/erp/invoices", doc("o2:inv", order_id="o2", sales_order=so["document_number"]))
    assert invoice.status_code == 409 and invoice.json()["error"]["code"] == "document_cancelled"
    missing = await api.post("/erp/sales-orders/SO-999999/cancel")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "resource_missing"


@pytest.mark.asyncio
async def test_validation_and_unknown_references(api: Api) -> None:
    negative = await api.post("/erp/sales-orders", doc("o3:so", amount=-1))
    assert negative.status_code == 422
    assert negative.json()["error"]["type"] == "validation_error"
    assert negative.json()["error"]["code"] == "validation_error" and negative.json()["error"]["message"]
    missing_field = await api.post("/erp/invoices", doc("o3:inv"))
    assert missing_field.status_code == 422
    unknown_so = await api.post("/erp/invoices", doc("o3:inv", sales_order="SO-424242"))
    assert unknown_so.status_code == 404
    unknown_inv = await api.post("/erp/credit-memos", doc("o3:cm", invoice="INV-424242"))
    assert unknown_inv.status_code == 404


@pytest.mark.asyncio
async def test_posting_window(api: Api) -> None:
    closed = await api.put("/_sandbox/erp/posting-window", {"open": False})
    assert closed.json() == {"open": False}
    response = await api.post("/erp/sales-orders", doc("o4:so", order_id="o4"), key="erp-key-1")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "2"
    assert response.json()["error"]["type"] == "api_error"
    assert response.json()["error"]["code"] == "posting_window_closed"
    # Reads still work while posting is closed.
    assert (await api.get("/erp/documents")).status_code == 200
    assert await api.ledger(order_id="o4") == []

    await api.put("/_sandbox/erp/posting-window", {"open": True})
    # The 503 was not stored: the same key now posts.
    retried = await api.post("/erp/sales-orders", doc("o4:so", order_id="o4"), key="erp-key-1")
    assert retried.status_code == 201
