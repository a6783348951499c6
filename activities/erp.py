"""ERP posting API (sales orders, invoices, credit memos): adapter and activities.

Documents are keyed by an external reference, so a repeated post finds the existing document
instead of booking a second one. Every posting's status is recorded in the store as it goes
(activities/posting_record.py), which is what finance reads through /v1/erp-postings.
"""

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel
from temporalio import activity

from activities.contracts.erp import (
    BOOK_SALES_ORDER,
    CANCEL_SALES_ORDER,
    POST_CREDIT_MEMO,
    POST_INVOICE,
    BookSalesOrder,
    PostCreditMemo,
    PostInvoice,
)
from activities.posting_record import post_recorded
from activities.store_executor import StoreExecutor
from activities.vendor_http import VendorClient, attempt, parse
from canonical.erp_postings import PostingDraft, PostingKind
from canonical.reconciliation import ErpDocumentFact, Period
from canonical.references import invoice_reference, sales_order_reference
from canonical.steps import Done, ErpDocument, LineQuantity, OrderCall
from store.postings import PostingRepository

VENDOR = "erp"
REJECTIONS = {"validation_error", "document_cancelled"}


class _Document(BaseModel):
    document_number: str
    type: Literal["sales_order", "invoice", "credit_memo"]
    external_reference: str
    amount: int
    status: str
    posted_at: datetime | None = None


class _Documents(BaseModel):
    data: list[_Document]


def _now() -> datetime:
    return datetime.now(UTC)


def _document(doc: _Document, shipment_id: str | None = None) -> ErpDocument:
    return ErpDocument(kind=doc.type, document_number=doc.document_number, external_reference=doc.external_reference,
                       amount=doc.amount, shipment_id=shipment_id, attempt=attempt())


class ErpActivities:
    """ERP postings, each recorded in the store as it goes (posting_record.py)."""

    def __init__(self, http: VendorClient, store: StoreExecutor) -> None:
        self._http = http
        self._store = store

    async def _find(self, kind: PostingKind, reference: str, correlation_id: str) -> _Document | None:
        body = await self._http.call(VENDOR, "GET", "/documents",
                                     params={"external_reference": reference, "type": kind},
                                     correlation_id=correlation_id)
        docs = parse(VENDOR, _Documents, body).data
        return docs[0] if docs else None

    async def _post(self, draft: PostingDraft, path: str, links: dict[str, str], inp: OrderCall,
                    lines: list[LineQuantity]) -> _Document:
        """Post one document (the external reference is also the idempotency key), recorded in the store."""

        async def post() -> _Document:
            body = await self._http.call(
                VENDOR, "POST", path,
                json={"external_reference": draft.reference, "order_id": inp.order_id, **links,
                      "amount": draft.amount, "currency": draft.currency,
                      "lines": [ln.model_dump() for ln in lines]},
                idempotency_key=draft.reference, correlation_id=inp.correlation_id, business_codes=REJECTIONS,
            )
            return parse(VENDOR, _Document, body)

        return await post_recorded(draft, self._store, post=post,
                                   find=lambda: self._find(draft.kind, draft.reference, inp.correlation_id))

    @activity.defn(name=BOOK_SALES_ORDER.name)
    async def book_sales_order(self, inp: BookSalesOrder) -> ErpDocument:
        draft = PostingDraft(kind="sales_order", reference=sales_order_reference(inp.order_id),
                             order_id=inp.order_id, amount=inp.amount, currency=inp.currency)
        return _document(await self._post(draft, "/sales-orders", {}, inp, inp.lines))

    @activity.defn(name=CANCEL_SALES_ORDER.name)
    async def cancel_sales_order(self, inp: OrderCall) -> Done:
        ref = sales_order_reference(inp.order_id)
        body = await self._http.call(VENDOR, "GET", "/documents", params={"external_reference": ref},
                          correlation_id=inp.correlation_id)
        docs = parse(VENDOR, _Documents, body).data
        if docs:
            await self._http.call(VENDOR, "POST", f"/sales-orders/{docs[0].document_number}/cancel", json={},
                                  idempotency_key=f"{inp.order_id}:sales-order-cancel",
                                  correlation_id=inp.correlation_id)
        # Finance sees the sales order cancelled, also one whose booking was still being retried.
        await self._store.write(lambda session: PostingRepository(session).cancelled("sales_order", ref, _now()))
        if not docs:
            return Done(detail="no sales order: nothing to undo", acted=False, attempt=attempt())
        return Done(detail=f"cancelled {docs[0].document_number}", attempt=attempt())

    @activity.defn(name=POST_INVOICE.name)
    async def post_invoice(self, inp: PostInvoice) -> ErpDocument:
        draft = PostingDraft(kind="invoice", reference=invoice_reference(inp.order_id, inp.shipment_id),
                             order_id=inp.order_id, amount=inp.amount, currency=inp.currency,
                             shipment_id=inp.shipment_id)
        doc = await self._post(draft, "/invoices", {"sales_order": inp.sales_order}, inp, inp.lines)
        return _document(doc, inp.shipment_id)

    @activity.defn(name=POST_CREDIT_MEMO.name)
    async def post_credit_memo(self, inp: PostCreditMemo) -> ErpDocument:
        draft = PostingDraft(kind="credit_memo", reference=inp.reference, order_id=inp.order_id,
                             amount=inp.amount, currency=inp.currency)
        return _document(await self._post(draft, "/credit-memos", {"invoice": inp.invoice}, inp, inp.lines))


# ---- reconciliation's reads: documents posted in a period, or of one order ---------------------------


class _PostedDocument(BaseModel):
    document_number: str
    type: Literal["sales_order", "invoice", "credit_memo"]
    external_reference: str
    order_id: str
    amount: int
    currency: str
    status: str
    posted_at: datetime


def _fact(doc: _PostedDocument) -> ErpDocumentFact:
    return ErpDocumentFact(document_number=doc.document_number, kind=doc.type, reference=doc.external_reference,
                           order_id=doc.order_id, amount=doc.amount, currency=doc.currency.upper(),
                           status=doc.status, posted_at=doc.posted_at)


async def _documents(http: VendorClient, params: dict[str, str], correlation_id: str) -> list[ErpDocumentFact]:
    items = await http.read_all(VENDOR, "/documents", params, id_field="document_number", correlation_id=correlation_id)
    return [_fact(parse(VENDOR, _PostedDocument, item)) for item in items]


async def documents_posted_in(http: VendorClient, period: Period, correlation_id: str) -> list[ErpDocumentFact]:
    params = {"posted_from": period.start.isoformat(), "posted_to": period.end.isoformat()}
    return await _documents(http, params, correlation_id)


async def documents_of(http: VendorClient, order_id: str, correlation_id: str) -> list[ErpDocumentFact]:
    return await _documents(http, {"order_id": order_id}, correlation_id)
