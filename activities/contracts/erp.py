"""ERP postings: the sales order at acceptance, an invoice per captured shipment, a credit memo per
refund. Documents are keyed by an external reference, so a repeated post finds the same document."""

from canonical.operations import Operation
from canonical.steps import Done, ErpDocument, LineQuantity, OrderCall


class BookSalesOrder(OrderCall):
    amount: int
    currency: str
    lines: list[LineQuantity]


class PostInvoice(OrderCall):
    shipment_id: str
    sales_order: str
    amount: int
    currency: str
    lines: list[LineQuantity]


class PostCreditMemo(OrderCall):
    reference: str
    """Business key of the refund the memo books, e.g. `{order_id}:credit-memo:{return_id}:{shipment_id}:…`."""
    invoice: str
    amount: int
    currency: str
    lines: list[LineQuantity]


BOOK_SALES_ORDER = Operation("book_sales_order", BookSalesOrder, ErpDocument)
CANCEL_SALES_ORDER = Operation("cancel_sales_order", OrderCall, Done)
POST_INVOICE = Operation("post_invoice", PostInvoice, ErpDocument)
POST_CREDIT_MEMO = Operation("post_credit_memo", PostCreditMemo, ErpDocument)


def sales_order_cancel_key(order_id: str) -> str:
    """The cancel's idempotency key; the documents' own keys are their references (canonical/references.py)."""
    return f"{order_id}:sales-order-cancel"
