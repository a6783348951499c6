"""The ERP's document search, for reconciliation: documents posted in a period, or of one order."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from activities.vendor_http import parse
from activities.vendor_lists import read_all
from canonical.reconciliation import ErpDocumentFact, Period

VENDOR = "erp"


class _Document(BaseModel):
    document_number: str
    type: Literal["sales_order", "invoice", "credit_memo"]
    external_reference: str
    order_id: str
    amount: int
    currency: str
    status: str
    posted_at: datetime


def _fact(doc: _Document) -> ErpDocumentFact:
    return ErpDocumentFact(
        document_number=doc.document_number,
        kind=doc.type,
        reference=doc.external_reference,
        order_id=doc.order_id,
        amount=doc.amount,
        currency=doc.currency.upper(),
        status=doc.status,
        posted_at=doc.posted_at,
    )


async def _documents(params: dict[str, str], correlation_id: str) -> list[ErpDocumentFact]:
    items = await read_all(
        VENDOR, "/documents", params, id_field="document_number", correlation_id=correlation_id
    )
    return [_fact(parse(VENDOR, _Document, item)) for item in items]


async def documents_posted_in(period: Period, correlation_id: str) -> list[ErpDocumentFact]:
    params = {"posted_from": period.start.isoformat(), "posted_to": period.end.isoformat()}
    return await _documents(params, correlation_id)


async def documents_of(order_id: str, correlation_id: str) -> list[ErpDocumentFact]:
    return await _documents({"order_id": order_id}, correlation_id)
