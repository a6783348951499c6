"""What reconciliation reads from the vendors (balance transactions, document search, dispatches) and
the control endpoints that plant mismatches without o2c."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sandbox_testkit import Api


async def captured(api: Api, order_id: str, *amounts: int) -> str:
    pi = (
        await api.post(
            "/payments/payment_intents",
            {
                "amount": sum(amounts) + 100,
                "currency": "eur",
                "payment_method": "tok_visa",
                "metadata": {"order_id": order_id, "reference": f"{order_id}:authorize"},
            },
        )
    ).json()
    for n, amount in enumerate(amounts):
        r = await api.post(
            f"/payments/payment_intents/{pi['id']}/capture",
            {
                "amount_to_capture": amount,
                "final_capture": False,
                "metadata": {"reference": f"{order_id}:capture:S{n}"},
            },
        )
        assert r.status_code == 200, r.text
    return str(pi["id"])


async def paged_ids(api: Api, path: str, id_field: str, limit: int) -> list[str]:
    """Every id of a Stripe-style list, read page by page (limit, starting_after, has_more)."""
    ids: list[str] = []
    after = None
    while True:
        page = (await api.get(path, limit=limit, starting_after=after)).json()
        ids += [item[id_field] for item in page["data"]]
        if not page["has_more"]:
            return ids
        after = page["data"][-1][id_field]


@pytest.mark.asyncio
async def test_balance_transactions_list_captures_and_refunds_like_stripe(api: Api) -> None:
    pi = await captured(api, "bt-1", 1500, 500)
    await captured(api, "bt-2", 700)
    refund = await api.post(
        "/payments/refunds",
        {
            "payment_intent": pi,
            "amount": 300,
            "metadata": {"order_id": "bt-1", "reference": "bt-1:refund:S0"},
        },
    )
    assert refund.status_code == 200

    r = await api.get("/payments/balance_transactions", order_id="bt-1")
    body = r.json()
    assert body["object"] == "list" and body["has_more"] is False
    got = sorted((t["type"], t["amount"], t["metadata"]["reference"]) for t in body["data"])
    assert got == [
        ("charge", 500, "bt-1:capture:S1"),
        ("charge", 1500, "bt-1:capture:S0"),
        ("refund", -300, "bt-1:refund:S0"),
    ]
    txn = body["data"][0]
    assert txn["id"].startswith("txn_") and txn["object"] == "balance_transaction"
    assert txn["payment_intent"] == pi and txn["metadata"]["order_id"] == "bt-1" and txn["currency"] == "eur"

    everything = (await api.get("/payments/balance_transactions", limit=100)).json()["data"]
    assert len(everything) == 4
    # Newest first, paged by starting_after until has_more is false.
    assert await paged_ids(api, "/payments/balance_transactions", "id", 1) == [t["id"] for t in everything]
    now = int(time.time())
    assert (await api.client.get("/payments/balance_transactions", params={"created[gte]": now + 10})).json()[
        "data"
    ] == []
    assert (
        len(
            (
                await api.client.get(
                    "/payments/balance_transactions",
                    params={"created[gte]": now - 60, "created[lt]": now + 60, "type": "refund"},
                )
            ).json()["data"]
        )
        == 1
    )
    assert (await api.get("/payments/balance_transactions", starting_after="txn_nope")).status_code == 404


def document(ref: str, order_id: str, amount: int, **links: Any) -> dict[str, Any]:
    return {"external_reference": ref, "order_id": order_id, "amount": amount, "currency": "EUR", **links}


@pytest.mark.asyncio
async def test_document_search_by_time_and_pages(api: Api) -> None:
    so = (await api.post("/erp/sales-orders", document("d-1:sales-order", "d-1", 900))).json()
    for n in range(3):
        await api.post(
            "/erp/invoices", document(f"d-1:invoice:S{n}", "d-1", 300, sales_order=so["document_number"])
        )
    everything = (await api.get("/erp/documents")).json()
    assert len(everything["data"]) == 4 and everything["has_more"] is False

    pages = await paged_ids(api, "/erp/documents", "document_number", 3)
    assert pages == [d["document_number"] for d in everything["data"]]

    posted_at = everything["data"][1]["posted_at"]
    later = (await api.get("/erp/documents", posted_from="2999-01-01T00:00:00Z")).json()["data"]
    assert later == []
    window = (
        await api.get(
            "/erp/documents", posted_from="2000-01-01T00:00:00Z", posted_to=posted_at, type="sales_order"
        )
    ).json()["data"]
    assert [d["type"] for d in window] == ["sales_order"]


@pytest.mark.asyncio
async def test_a_hand_made_document_shares_the_reference_of_an_api_posting(api: Api) -> None:
    so = (await api.post("/erp/sales-orders", document("m-1:sales-order", "m-1", 900))).json()
    inv = (
        await api.post(
            "/erp/invoices", document("m-1:invoice:S1", "m-1", 900, sales_order=so["document_number"])
        )
    ).json()
    manual = await api.client.post(
        "/_sandbox/erp/documents",
        json={
            "type": "invoice",
            "external_reference": "m-1:invoice:S1",
            "order_id": "m-1",
            "amount": 900,
            "currency": "EUR",
        },
    )
    assert manual.status_code == 201 and manual.json()["source"] == "manual"
    assert manual.json()["document_number"] != inv["document_number"]

    same_ref = (await api.get("/erp/documents", external_reference="m-1:invoice:S1")).json()["data"]
    assert [d["document_number"] for d in same_ref] == [
        inv["document_number"],
        manual.json()["document_number"],
    ]
    # The API still deduplicates its own postings: the original comes back.
    again = await api.post(
        "/erp/invoices", document("m-1:invoice:S1", "m-1", 900, sales_order=so["document_number"])
    )
    assert again.status_code == 200 and again.json()["document_number"] == inv["document_number"]
    assert len([e for e in await api.ledger(order_id="m-1") if e["action"] == "erp.invoice"]) == 2


@pytest.mark.asyncio
async def test_a_shipment_dispatched_without_o2c(api: Api) -> None:
    r = await api.client.post(
        "/_sandbox/fulfillment/shipments",
        json={"order_id": "f-1", "lines": [{"sku": "SKU-1", "quantity": 2}], "shipment_id": "shp_manual"},
    )
    assert r.status_code == 201
    now = time.time()
    listed = (await api.get("/fulfillment/shipment-requests", order_id="f-1")).json()["data"]
    assert [s["shipment_id"] for s in listed[0]["shipments"]] == ["shp_manual"]
    assert listed[0]["status"] == "dispatched"
    assert (await api.get("/fulfillment/shipment-requests", dispatched_from=now + 5)).json()["data"] == []
    assert (
        len(
            (
                await api.get(
                    "/fulfillment/shipment-requests", dispatched_from=now - 5, dispatched_to=now + 5
                )
            ).json()["data"]
        )
        == 1
    )
    entries = [e for e in await api.ledger(order_id="f-1") if e["action"] == "fulfillment.dispatch"]
    assert [(e["reference"], e["quantity"]) for e in entries] == [("shp_manual", 2)]
