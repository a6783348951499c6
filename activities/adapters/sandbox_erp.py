"""The sandbox ERP's posting API (sales orders, invoices, credit memos): the ErpSystem port over HTTP."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from activities.contracts.erp import BookSalesOrder, PostCreditMemo, PostInvoice
from activities.ports.erp import BookedDocument
from activities.vendor_http import VendorClient, parse
from canonical.erp_postings import PostingDraft, PostingKind
from canonical.reconciliation import ErpDocumentFact, Period
from canonical.steps import LineQuantity, OrderCall

VENDOR = "erp"
REJECTIONS = {"validation_error", "document_cancelled"}


class _Document(BaseModel):
    document_number: str
    type: Literal["sales_order", "invoice", "credit_memo"]
    external_reference: str
    amount: int
    status: str
    posted_at: datetime | None = None

    def booked(self) -> BookedDocument:
        return BookedDocument(document_number=self.document_number, kind=self.type,
                              external_reference=self.external_reference, amount=self.amount,
                              posted_at=self.posted_at)


class _Documents(BaseModel):
    data: list[_Document]


class _PostedDocument(_Document):
    order_id: str
    currency: str
    posted_at: datetime

    def fact(self) -> ErpDocumentFact:
        return ErpDocumentFact(document_number=self.document_number, kind=self.type,
                               reference=self.external_reference, order_id=self.order_id, amount=self.amount,
                               currency=self.currency.upper(), status=self.status, posted_at=self.posted_at)


class SandboxErp:
    def __init__(self, http: VendorClient) -> None:
        self._http = http

    async def find_document(self, call: OrderCall, reference: str, kind: PostingKind | None = None,
                            ) -> BookedDocument | None:
        params = {"external_reference": reference, **({"type": kind} if kind else {})}
        body = await self._http.call(VENDOR, "GET", "/documents", params=params, correlation_id=call.correlation_id)
        docs = parse(VENDOR, _Documents, body).data
        return docs[0].booked() if docs else None

    async def _post(self, draft: PostingDraft, path: str, links: dict[str, str], call: OrderCall,
                    lines: list[LineQuantity]) -> BookedDocument:
        body = await self._http.call(
            VENDOR, "POST", path,
            json={"external_reference": draft.reference, "order_id": call.order_id, **links,
                  "amount": draft.amount, "currency": draft.currency, "lines": [ln.model_dump() for ln in lines]},
            idempotency_key=draft.reference, correlation_id=call.correlation_id, business_codes=REJECTIONS,
        )
        return parse(VENDOR, _Document, body).booked()

    async def book_sales_order(self, draft: PostingDraft, inp: BookSalesOrder) -> BookedDocument:
        return await self._post(draft, "/sales-orders", {}, inp, inp.lines)

    async def post_invoice(self, draft: PostingDraft, inp: PostInvoice) -> BookedDocument:
        return await self._post(draft, "/invoices", {"sales_order": inp.sales_order}, inp, inp.lines)

    async def post_credit_memo(self, draft: PostingDraft, inp: PostCreditMemo) -> BookedDocument:
        return await self._post(draft, "/credit-memos", {"invoice": inp.invoice}, inp, inp.lines)

    async def cancel_sales_order(self, call: OrderCall, document_number: str, key: str) -> None:
        await self._http.call(VENDOR, "POST", f"/sales-orders/{document_number}/cancel", json={},
                              idempotency_key=key, correlation_id=call.correlation_id)

    # ---- reconciliation's reads: documents posted in a period, or of one order ------------------------

    async def _documents(self, params: dict[str, str], correlation_id: str) -> list[ErpDocumentFact]:
        items = await self._http.read_all(VENDOR, "/documents", params, id_field="document_number",
                                          correlation_id=correlation_id)
        return [parse(VENDOR, _PostedDocument, item).fact() for item in items]

    async def documents_posted_in(self, period: Period, correlation_id: str) -> list[ErpDocumentFact]:
        params = {"posted_from": period.start.isoformat(), "posted_to": period.end.isoformat()}
        return await self._documents(params, correlation_id)

    async def documents_of(self, order_id: str, correlation_id: str) -> list[ErpDocumentFact]:
        return await self._documents({"order_id": order_id}, correlation_id)
