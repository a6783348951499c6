"""ERP (`/erp`), modelled on an SAP/NetSuite-style posting API.

Documents are keyed by (type, external_reference): posting the same reference again returns the
existing document, whatever the Idempotency-Key, which is how ERPs protect the books from
duplicate postings by integrations that lost a response.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import Field

from sandbox.bodies import Body

from .context import CallContext, Result, Tx, get_runtime, vendor_call
from .db import kv_get, next_counter, where
from .errors import VendorError, business, not_found
from .util import dumps, iso, loads

VENDOR = "erp"
POSTING_WINDOW_KEY = "erp.posting_window_open"
RETRY_AFTER_S = "2"
DocType = Literal["sales_order", "invoice", "credit_memo"]
PREFIXES: dict[str, str] = {"sales_order": "SO", "invoice": "INV", "credit_memo": "CM"}


async def posting_window_open(request: Request) -> None:
    if request.method != "POST":
        return
    with get_runtime(request).db.transaction() as conn:
        is_open = kv_get(conn, POSTING_WINDOW_KEY) != "false"
    if not is_open:
        raise VendorError(
            503,
            "api_error",
            "posting_window_closed",
            "The posting period is closed; retry later.",
            headers={"Retry-After": RETRY_AFTER_S},
        )


# The window check runs before idempotency so a 503 is never stored and the retry goes through.
router = APIRouter(prefix="/erp", tags=["erp"], dependencies=[Depends(posting_window_open)])
call = vendor_call(VENDOR)
# Annotated, so FastAPI injects it without a call in a default argument.
Ctx = Annotated[CallContext, Depends(call)]


class SalesOrderCreate(Body):
    external_reference: str = Field(min_length=1)
    order_id: str = Field(min_length=1)
    amount: int = Field(ge=0)
    currency: str = Field(min_length=3, max_length=3)
    lines: list[dict[str, Any]] = Field(default_factory=list)


class InvoiceCreate(SalesOrderCreate):
    sales_order: str = Field(min_length=1)


class CreditMemoCreate(SalesOrderCreate):
    invoice: str = Field(min_length=1)


class CancelBody(Body):
    reason: str | None = None


def _find(conn: sqlite3.Connection, doc_type: str, external_reference: str) -> dict[str, Any] | None:
    row = conn.execute(
        "SELECT doc FROM erp_documents WHERE type = ? AND external_reference = ?",
        (doc_type, external_reference),
    ).fetchone()
    return None if row is None else dict(loads(row["doc"]))


def _by_number(conn: sqlite3.Connection, number: str, doc_type: str | None = None) -> dict[str, Any]:
    row = conn.execute("SELECT doc FROM erp_documents WHERE document_number = ?", (number,)).fetchone()
    doc = None if row is None else dict(loads(row["doc"]))
    if doc is None or (doc_type is not None and doc["type"] != doc_type):
        raise not_found((doc_type or "document").replace("_", " "), number)
    return doc


def _post(tx: Tx, doc_type: str, body: SalesOrderCreate, links: dict[str, str]) -> Result:
    existing = _find(tx.conn, doc_type, body.external_reference)
    if existing is not None:
        return Result(existing, 200)
    if "sales_order" in links:
        sales_order = _by_number(tx.conn, links["sales_order"], "sales_order")
        if sales_order["status"] == "cancelled":
            raise business("document_cancelled", f"Sales order {sales_order['document_number']} is cancelled")
    if "invoice" in links:
        _by_number(tx.conn, links["invoice"], "invoice")
    number = f"{PREFIXES[doc_type]}-{next_counter(tx.conn, 'erp.' + doc_type):06d}"
    doc: dict[str, Any] = {
        "document_number": number,
        "type": doc_type,
        "external_reference": body.external_reference,
        "order_id": body.order_id,
        "amount": body.amount,
        "currency": body.currency,
        "status": "open" if doc_type == "sales_order" else "posted",
        "posted_at": iso(tx.now),
        "lines": body.lines,
        **links,
    }
    tx.conn.execute(
        "INSERT INTO erp_documents(document_number, type, external_reference, order_id, doc)"
        " VALUES (?,?,?,?,?)",
        (number, doc_type, body.external_reference, body.order_id, dumps(doc)),
    )
    tx.ledger(
        f"erp.{doc_type}", order_id=body.order_id, amount=body.amount, reference=body.external_reference
    )
    return Result(doc, 201)


@router.post("/sales-orders", status_code=201)
async def create_sales_order(ctx: Ctx, body: SalesOrderCreate) -> JSONResponse:
    return ctx.run(lambda tx: _post(tx, "sales_order", body, {}))


@router.post("/invoices", status_code=201)
async def create_invoice(ctx: Ctx, body: InvoiceCreate) -> JSONResponse:
    return ctx.run(lambda tx: _post(tx, "invoice", body, {"sales_order": body.sales_order}))


@router.post("/credit-memos", status_code=201)
async def create_credit_memo(ctx: Ctx, body: CreditMemoCreate) -> JSONResponse:
    return ctx.run(lambda tx: _post(tx, "credit_memo", body, {"invoice": body.invoice}))


@router.post("/sales-orders/{document_number}/cancel")
async def cancel_sales_order(ctx: Ctx, document_number: str, body: CancelBody | None = None) -> JSONResponse:
    def effect(tx: Tx) -> Result:
        doc = _by_number(tx.conn, document_number, "sales_order")
        if doc["status"] == "cancelled":
            return Result(doc)
        doc["status"] = "cancelled"
        doc["cancelled_at"] = iso(tx.now)
        tx.conn.execute(
            "UPDATE erp_documents SET doc = ? WHERE document_number = ?", (dumps(doc), document_number)
        )
        tx.ledger(
            "erp.sales_order_cancel",
            order_id=doc["order_id"],
            amount=doc["amount"],
            reference=doc["external_reference"],
        )
        return Result(doc)

    return ctx.run(effect)


@router.get("/documents")
async def list_documents(
    ctx: Ctx,
    external_reference: str | None = None,
    order_id: str | None = None,
    type: DocType | None = None,
    posted_from: datetime | None = None,
    posted_to: datetime | None = None,
    limit: Annotated[int | None, Query(ge=1, le=1000)] = None,
    starting_after: str | None = None,
) -> JSONResponse:
    """Document search: filters, a posting-time range ([posted_from, posted_to)), and paging by
    `limit` + `starting_after` (a document number) with `has_more`, as at the payment provider."""

    def effect(tx: Tx) -> Result:
        clause, params = where({"order_id": order_id, "type": type})
        conditions = [clause.removeprefix(" WHERE ")] if clause else []
        if external_reference is not None:
            # The document's own reference: documents keyed in by hand share it (see _sandbox).
            conditions.append("json_extract(doc, '$.external_reference') = ?")
            params.append(external_reference)
        for bound, op in ((posted_from, ">="), (posted_to, "<")):
            if bound is not None:
                conditions.append(f"json_extract(doc, '$.posted_at') {op} ?")
                params.append(iso(_aware(bound).timestamp()))
        if starting_after is not None:
            conditions.append("seq > ?")
            params.append(_by_number_row(tx.conn, starting_after)["seq"])
        sql = "SELECT doc FROM erp_documents" + (" WHERE " + " AND ".join(conditions) if conditions else "")
        sql += " ORDER BY seq" + (f" LIMIT {limit + 1}" if limit is not None else "")
        docs = [loads(r["doc"]) for r in tx.conn.execute(sql, params).fetchall()]
        has_more = limit is not None and len(docs) > limit
        return Result({"data": docs[:limit] if limit is not None else docs, "has_more": has_more})

    return ctx.run(effect)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _by_number_row(conn: sqlite3.Connection, number: str) -> sqlite3.Row:
    row = conn.execute("SELECT seq FROM erp_documents WHERE document_number = ?", (number,)).fetchone()
    if row is None:
        raise not_found("document", number)
    return row


@router.get("/documents/{document_number}")
async def get_document(ctx: Ctx, document_number: str) -> JSONResponse:
    return ctx.run(lambda tx: Result(_by_number(tx.conn, document_number)))
