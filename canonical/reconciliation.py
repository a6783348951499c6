"""Reconciliation: what a run checks, what it finds, and the facts it compares (design §5).

A run compares three sides for a period: the payment provider (captures and refunds), the ERP
(documents) and the store (o2c's own record of its postings), plus the fulfilment node's dispatches.
Every mismatch becomes a Finding with a type, the order, the amount each side holds and what to do.
"""

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal

from pydantic import AwareDatetime, BaseModel, Field, model_validator

from canonical.erp_postings import PostingKind, PostingStatus
from canonical.references import Flow


class FindingType(StrEnum):
    CAPTURE_WITHOUT_INVOICE = "capture_without_invoice"
    INVOICE_WITHOUT_CAPTURE = "invoice_without_capture"
    AMOUNT_MISMATCH = "amount_mismatch"
    DUPLICATE_ERP_DOCUMENT = "duplicate_erp_document"
    REFUND_WITHOUT_CREDIT_MEMO = "refund_without_credit_memo"
    CREDIT_MEMO_WITHOUT_REFUND = "credit_memo_without_refund"
    POSTING_STUCK_RETRYING = "posting_stuck_retrying"
    DISPATCHED_NOT_CAPTURED = "dispatched_not_captured"


SUGGESTED_ACTIONS: dict[FindingType, str] = {
    FindingType.CAPTURE_WITHOUT_INVOICE: "Post the invoice for this capture in the ERP, or refund the "
    "capture if no goods were delivered.",
    FindingType.INVOICE_WITHOUT_CAPTURE: "Check the payment: capture the amount from the customer, or "
    "reverse the invoice with a credit memo.",
    FindingType.AMOUNT_MISMATCH: "Correct the ERP document (credit memo or adjustment) so it equals what the "
    "payment provider moved.",
    FindingType.DUPLICATE_ERP_DOCUMENT: "Reverse the extra document(s) so one document remains for the "
    "reference.",
    FindingType.REFUND_WITHOUT_CREDIT_MEMO: "Post a credit memo for the refunded amount.",
    FindingType.CREDIT_MEMO_WITHOUT_REFUND: "Refund the customer, or reverse the credit memo.",
    FindingType.POSTING_STUCK_RETRYING: "Read last_error: reopen the ERP posting period or fix the document; "
    "o2c keeps retrying and posts it once the ERP accepts.",
    FindingType.DISPATCHED_NOT_CAPTURED: "Capture the shipment's amount (re-authorize if the authorization "
    "expired) or recover it from the customer; the order is in needs_attention.",
}


class Period(BaseModel):
    """[start, end): what happened at or after start and before end."""

    start: AwareDatetime
    end: AwareDatetime

    @model_validator(mode="after")
    def _ordered(self) -> "Period":
        if self.start >= self.end:
            raise ValueError("period start must be before its end")
        return self

    def contains(self, at: datetime) -> bool:
        return self.start <= at < self.end


class ReconciliationRequest(BaseModel):
    """Input of ReconciliationWorkflow; the schedule sends the same request every time."""

    trigger: Literal["schedule", "manual"]
    period: Period | None = None
    """None: the interval_s before (start of the run − lag_s), which is what a scheduled run checks."""
    interval_s: float = Field(gt=0)
    lag_s: float = Field(ge=0)
    stuck_after_s: float = Field(gt=0)

    def resolve(self, now: datetime) -> Period:
        if self.period is not None:
            return self.period
        end = now - timedelta(seconds=self.lag_s)
        return Period(start=end - timedelta(seconds=self.interval_s), end=end)


RunStatus = Literal["running", "completed", "failed"]


class ReconciliationOutcome(BaseModel):
    run_id: str
    status: RunStatus
    orders_checked: int
    findings: int
    counts: dict[str, int]


class Finding(BaseModel):
    type: FindingType
    order_id: str | None
    reference: str
    """What the finding is about: a business reference, or a vendor id when there is none."""
    currency: str | None = None
    provider_amount: int | None = None
    erp_amount: int | None = None
    store_amount: int | None = None
    detail: str

    @property
    def suggested_action(self) -> str:
        return SUGGESTED_ACTIONS[self.type]


# ---- the facts each side contributes -------------------------------------------------------


class MoneyMovement(BaseModel):
    """A capture or a refund as the payment provider reports it; amounts are always positive."""

    flow: Flow
    source_id: str
    order_id: str | None
    reference: str
    amount: int
    currency: str
    at: AwareDatetime


class ErpDocumentFact(BaseModel):
    document_number: str
    kind: PostingKind
    reference: str
    order_id: str
    amount: int
    currency: str
    status: str
    posted_at: AwareDatetime


class DispatchFact(BaseModel):
    order_id: str
    shipment_id: str
    units: int
    dispatched_at: AwareDatetime


class PostingFact(BaseModel):
    """o2c's own record of one ERP posting (store)."""

    kind: PostingKind
    reference: str
    order_id: str
    amount: int
    currency: str
    status: PostingStatus
    attempts: int
    last_error: str | None
    status_since: AwareDatetime
    erp_document_number: str | None
