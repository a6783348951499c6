"""ERP postings (sales orders, invoices, credit memos): the activities, over the ErpSystem port.

Documents are keyed by an external reference, so a repeated post finds the existing document
instead of booking a second one. Every posting's status is recorded in the store as it goes
(activities/posting_record.py), which is what finance reads through /v1/erp-postings.
"""

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from temporalio import activity

from activities.contracts.erp import (
    BOOK_SALES_ORDER,
    CANCEL_SALES_ORDER,
    POST_CREDIT_MEMO,
    POST_INVOICE,
    BookSalesOrder,
    PostCreditMemo,
    PostInvoice,
    sales_order_cancel_key,
)
from activities.ports.erp import BookedDocument, ErpSystem
from activities.posting_record import post_recorded
from activities.store_executor import StoreExecutor
from activities.vendor_http import attempt
from canonical.erp_postings import PostingDraft
from canonical.references import invoice_reference, sales_order_reference
from canonical.steps import Done, ErpDocument, OrderCall
from store.postings import PostingRepository


def _now() -> datetime:
    return datetime.now(UTC)


def _document(doc: BookedDocument, shipment_id: str | None = None) -> ErpDocument:
    return ErpDocument(kind=doc.kind, document_number=doc.document_number, external_reference=doc.external_reference,
                       amount=doc.amount, shipment_id=shipment_id, attempt=attempt())


class ErpActivities:
    """ERP postings, each recorded in the store as it goes (posting_record.py)."""

    def __init__(self, erp: ErpSystem, store: StoreExecutor) -> None:
        self._erp = erp
        self._store = store

    async def _post(self, draft: PostingDraft, inp: OrderCall,
                    post: Callable[[], Awaitable[BookedDocument]]) -> BookedDocument:
        """Post one document (the external reference is also the idempotency key), recorded in the store."""
        return await post_recorded(draft, self._store, post=post,
                                   find=lambda: self._erp.find_document(inp, draft.reference, draft.kind))

    @activity.defn(name=BOOK_SALES_ORDER.name)
    async def book_sales_order(self, inp: BookSalesOrder) -> ErpDocument:
        draft = PostingDraft(kind="sales_order", reference=sales_order_reference(inp.order_id),
                             order_id=inp.order_id, amount=inp.amount, currency=inp.currency)
        return _document(await self._post(draft, inp, lambda: self._erp.book_sales_order(draft, inp)))

    @activity.defn(name=CANCEL_SALES_ORDER.name)
    async def cancel_sales_order(self, inp: OrderCall) -> Done:
        ref = sales_order_reference(inp.order_id)
        doc = await self._erp.find_document(inp, ref)
        if doc is not None:
            await self._erp.cancel_sales_order(inp, doc.document_number, sales_order_cancel_key(inp.order_id))
        # Finance sees the sales order cancelled, also one whose booking was still being retried.
        await self._store.write(lambda session: PostingRepository(session).cancelled("sales_order", ref, _now()))
        if doc is None:
            return Done(detail="no sales order: nothing to undo", acted=False, attempt=attempt())
        return Done(detail=f"cancelled {doc.document_number}", attempt=attempt())

    @activity.defn(name=POST_INVOICE.name)
    async def post_invoice(self, inp: PostInvoice) -> ErpDocument:
        draft = PostingDraft(kind="invoice", reference=invoice_reference(inp.order_id, inp.shipment_id),
                             order_id=inp.order_id, amount=inp.amount, currency=inp.currency,
                             shipment_id=inp.shipment_id)
        doc = await self._post(draft, inp, lambda: self._erp.post_invoice(draft, inp))
        return _document(doc, inp.shipment_id)

    @activity.defn(name=POST_CREDIT_MEMO.name)
    async def post_credit_memo(self, inp: PostCreditMemo) -> ErpDocument:
        draft = PostingDraft(kind="credit_memo", reference=inp.reference, order_id=inp.order_id,
                             amount=inp.amount, currency=inp.currency)
        return _document(await self._post(draft, inp, lambda: self._erp.post_credit_memo(draft, inp)))
