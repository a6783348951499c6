"""The ERP contract suite: sales orders, invoices and credit memos booked under their business references,
found again, cancelled, and refused when invalid, through the ErpSystem port, with the references and keys the
activities send. Documents are small EUR amounts under order ids of the run.
"""

from activities.certification.framework import Check, expect, expect_kind, refused
from activities.certification.vendor_checks import Probe, SuiteContext, VendorErrorShape
from activities.contracts.erp import BookSalesOrder, PostCreditMemo, PostInvoice, sales_order_cancel_key
from activities.ports.erp import BookedDocument, ErpSystem
from canonical.erp_postings import PostingDraft
from canonical.errors import ErrorKind
from canonical.references import credit_memo_reference, invoice_reference, sales_order_reference
from canonical.steps import LineQuantity, OrderCall

AMOUNT = 10_000
CURRENCY = "EUR"
LINES = [LineQuantity(sku="CERT-A", quantity=2)]


class ErpSuite:
    def __init__(self, erp: ErpSystem, ctx: SuiteContext) -> None:
        self._erp = erp
        self._ctx = ctx

    def checks(self) -> list[Check]:
        return [
            Check("book_sales_order", self.book_sales_order),
            Check("post_invoice", self.post_invoice),
            Check("post_credit_memo", self.post_credit_memo),
            Check("cancel_sales_order", self.cancel_sales_order),
            Check("lookup.missing", self.missing_document, mutating=False),
            Check("idempotency.sales_order", self.idempotent_sales_order),
            Check("idempotency.invoice", self.idempotent_invoice),
            Check("rejection.validation_error", self.validation_error),
            Check("rejection.document_cancelled", self.document_cancelled),
            *self._ctx.vendor_checks(
                VendorErrorShape, "{error: {type, code, message}}",
                Probe(self._cancel_missing, "cancelling a sales order that does not exist"),
                Probe(self._missing_document, "looking up a document")),
        ]

    # -- helpers ----------------------------------------------------------------------------------

    def _sales_order(self, order: OrderCall, amount: int = AMOUNT) -> tuple[PostingDraft, BookSalesOrder]:
        draft = PostingDraft(kind="sales_order", reference=sales_order_reference(order.order_id),
                             order_id=order.order_id, amount=amount, currency=CURRENCY)
        return draft, BookSalesOrder(**order.model_dump(), amount=amount, currency=CURRENCY, lines=LINES)

    async def _booked(self) -> tuple[OrderCall, BookedDocument]:
        order = self._ctx.order()
        return order, await self._erp.book_sales_order(*self._sales_order(order))

    def _invoice(self, order: OrderCall, sales_order: str) -> tuple[PostingDraft, PostInvoice]:
        draft = PostingDraft(kind="invoice", reference=invoice_reference(order.order_id, "s1"), order_id=order.order_id,
                             amount=AMOUNT, currency=CURRENCY, shipment_id="s1")
        return draft, PostInvoice(**order.model_dump(), shipment_id="s1", sales_order=sales_order, amount=AMOUNT,
                                  currency=CURRENCY, lines=LINES)

    async def _missing_document(self) -> BookedDocument | None:
        order = self._ctx.order()
        return await self._erp.find_document(order, sales_order_reference(order.order_id), "sales_order")

    async def _cancel_missing(self) -> None:
        order = self._ctx.order()
        await self._erp.cancel_sales_order(order, f"SO-{order.order_id}-missing",
                                           sales_order_cancel_key(order.order_id))

    # -- happy paths ------------------------------------------------------------------------------

    async def book_sales_order(self) -> str:
        order, doc = await self._booked()
        reference = sales_order_reference(order.order_id)
        expect((doc.kind, doc.external_reference, doc.amount) == ("sales_order", reference, AMOUNT),
               f"booked a {doc.kind} under {doc.external_reference} for {doc.amount}, asked a sales_order under "
               f"{reference} for {AMOUNT}")
        found = await self._erp.find_document(order, reference, "sales_order")
        expect(found is not None and found.document_number == doc.document_number,
               f"found {found!r} under {reference}, booked {doc.document_number}")
        return f"booked sales order {doc.document_number} under {reference}, found again by it"

    async def post_invoice(self) -> str:
        order, sales_order = await self._booked()
        invoice = await self._erp.post_invoice(*self._invoice(order, sales_order.document_number))
        expect(invoice.kind == "invoice" and invoice.document_number != sales_order.document_number,
               f"posting an invoice gave {invoice.kind} {invoice.document_number}")
        return f"invoice {invoice.document_number} for sales order {sales_order.document_number}"

    async def post_credit_memo(self) -> str:
        """Also reconciliation's read: the order's documents are the three booked."""
        order, sales_order = await self._booked()
        invoice = await self._erp.post_invoice(*self._invoice(order, sales_order.document_number))
        reference = credit_memo_reference(order.order_id, "r1")
        draft = PostingDraft(kind="credit_memo", reference=reference, order_id=order.order_id, amount=2_000,
                             currency=CURRENCY)
        memo = await self._erp.post_credit_memo(draft, PostCreditMemo(
            **order.model_dump(), reference=reference, invoice=invoice.document_number, amount=2_000,
            currency=CURRENCY, lines=LINES))
        expect(memo.kind == "credit_memo" and memo.amount == 2_000,
               f"posting a credit memo of 2000 gave {memo.kind} {memo.document_number} of {memo.amount}")
        documents = await self._erp.documents_of(order.order_id, order.correlation_id)
        got = sorted(d.document_number for d in documents)
        want = sorted([sales_order.document_number, invoice.document_number, memo.document_number])
        expect(got == want, f"the order's documents read {got}, booked {want}")
        return f"credit memo {memo.document_number} against invoice {invoice.document_number}; the order reads " \
               f"its 3 documents"

    async def cancel_sales_order(self) -> str:
        order, doc = await self._booked()
        for _ in range(2):  # undo-if-done: the compensation may run twice
            await self._erp.cancel_sales_order(order, doc.document_number, sales_order_cancel_key(order.order_id))
        return f"cancelled {doc.document_number} (twice, the second a no-op)"

    async def missing_document(self) -> str:
        doc = await self._missing_document()
        expect(doc is None, f"a reference never booked under found {doc!r}")
        return "a reference never booked under finds no document (compensations then have nothing to undo)"

    # -- idempotency --------------------------------------------------------------------------------

    async def idempotent_sales_order(self) -> str:
        order = self._ctx.order()
        first = await self._erp.book_sales_order(*self._sales_order(order))
        again = await self._erp.book_sales_order(*self._sales_order(order))
        expect(again.document_number == first.document_number,
               f"the same reference twice booked two sales orders: {first.document_number} and "
               f"{again.document_number}")
        booked = [d.document_number for d in await self._erp.documents_of(order.order_id, order.correlation_id)]
        expect(booked == [first.document_number], f"the order's documents read {booked}")
        return f"the same reference twice gave one sales order ({first.document_number})"

    async def idempotent_invoice(self) -> str:
        order, sales_order = await self._booked()
        first = await self._erp.post_invoice(*self._invoice(order, sales_order.document_number))
        again = await self._erp.post_invoice(*self._invoice(order, sales_order.document_number))
        expect(again.document_number == first.document_number,
               f"the same reference twice posted two invoices: {first.document_number} and {again.document_number}")
        return f"the same reference twice gave one invoice ({first.document_number})"

    # -- business rejections ----------------------------------------------------------------------

    async def validation_error(self) -> str:
        """A negative amount: o2c's models refuse it first, so the draft is built unchecked to hear the ERP's
        own answer, the validation rejection the saga parks an order on."""
        order = self._ctx.order()
        draft, inp = self._sales_order(order)
        invalid = PostingDraft.model_construct(**{**draft.model_dump(), "amount": -1})
        error = await refused(self._erp.book_sales_order(invalid, inp), "booking a sales order of -1")
        expect_kind(error, ErrorKind.BUSINESS_REJECTION, "validation_error", "a document the ERP finds invalid")
        return f"a negative amount is the business rejection validation_error ({error.message})"

    async def document_cancelled(self) -> str:
        order, sales_order = await self._booked()
        await self._erp.cancel_sales_order(order, sales_order.document_number, sales_order_cancel_key(order.order_id))
        error = await refused(self._erp.post_invoice(*self._invoice(order, sales_order.document_number)),
                              f"invoicing the cancelled sales order {sales_order.document_number}")
        expect_kind(error, ErrorKind.BUSINESS_REJECTION, "document_cancelled", "invoicing a cancelled sales order")
        return "invoicing a cancelled sales order is the business rejection document_cancelled"

