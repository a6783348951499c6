"""The ERP's port: documents booked under our external reference (sales order, invoice per shipment,
credit memo per refund), a sales order cancelled, and the documents reconciliation reads."""

from datetime import datetime
from typing import Protocol

from pydantic import BaseModel

from activities.contracts.erp import BookSalesOrder, PostCreditMemo, PostInvoice
from canonical.erp_postings import PostingDraft, PostingKind
from canonical.reconciliation import ErpDocumentFact, Period
from canonical.steps import OrderCall


class BookedDocument(BaseModel):
    """A document as the ERP booked it."""

    document_number: str
    kind: PostingKind
    external_reference: str
    amount: int
    posted_at: datetime | None = None
    """None when the ERP does not say (the posting record then takes the time it heard of it)."""


class ErpSystem(Protocol):
    """A post carries the draft's reference as its external reference and idempotency key, so a repeated post
    finds the document it booked instead of booking a second one."""

    async def find_document(self, call: OrderCall, reference: str, kind: PostingKind | None = None,
                            ) -> BookedDocument | None:
        """The document booked under `reference` (of that kind, if given), or None if none was."""
        ...

    async def book_sales_order(self, draft: PostingDraft, inp: BookSalesOrder) -> BookedDocument: ...

    async def post_invoice(self, draft: PostingDraft, inp: PostInvoice) -> BookedDocument: ...

    async def post_credit_memo(self, draft: PostingDraft, inp: PostCreditMemo) -> BookedDocument: ...

    async def cancel_sales_order(self, call: OrderCall, document_number: str, key: str) -> None: ...

    async def documents_posted_in(self, period: Period, correlation_id: str) -> list[ErpDocumentFact]: ...

    async def documents_of(self, order_id: str, correlation_id: str) -> list[ErpDocumentFact]: ...
