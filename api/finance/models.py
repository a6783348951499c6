"""Response bodies of the finance endpoints (design §5): ERP postings and reconciliation runs."""

from datetime import date, datetime

from pydantic import BaseModel

from canonical.erp_postings import PostingKind, PostingStatus
from canonical.reconciliation import FindingType, RunStatus
from store.models import ErpPosting, ReconciliationFinding, ReconciliationRun


class ErpPostingItem(BaseModel):
    posting_id: str
    order_id: str
    kind: PostingKind
    reference: str
    """The business key the ERP knows the document by (its external reference)."""
    shipment_id: str | None
    amount: int
    currency: str
    status: PostingStatus
    erp_document_number: str | None
    attempts: int
    last_error: str | None
    next_attempt_at: datetime | None
    """When a retrying posting will be tried again (estimated from the retry policy)."""
    created_at: datetime
    updated_at: datetime
    posted_at: datetime | None

    @classmethod
    def of(cls, row: ErpPosting) -> "ErpPostingItem":
        return cls.model_validate(row, from_attributes=True)


CSV_COLUMNS = tuple(ErpPostingItem.model_fields)


class ErpPostingPage(BaseModel):
    items: list[ErpPostingItem]
    next_cursor: str | None
    """Pass as `cursor` to get the next page; null on the last page."""


class SummaryGroup(BaseModel):
    kind: PostingKind
    status: PostingStatus
    currency: str
    count: int
    amount: int


class CurrencyTotal(BaseModel):
    currency: str
    count: int
    amount: int


class PostingSummary(BaseModel):
    date: date
    """The UTC day the postings arose on (their created_at)."""
    groups: list[SummaryGroup]
    totals: list[CurrencyTotal]


class RunLinks(BaseModel):
    self: str


class FindingItem(BaseModel):
    type: FindingType
    order_id: str | None
    reference: str
    currency: str | None
    provider_amount: int | None
    erp_amount: int | None
    store_amount: int | None
    detail: str
    suggested_action: str

    @classmethod
    def of(cls, row: ReconciliationFinding) -> "FindingItem":
        return cls.model_validate(row, from_attributes=True)


class RunItem(BaseModel):
    run_id: str
    trigger: str
    status: RunStatus
    period_start: datetime | None
    """Null only for a scheduled run in its first moments, before it has recorded its period."""
    period_end: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    orders_checked: int
    findings_count: int
    counts: dict[str, int]
    """Findings per type."""
    error: str | None
    links: RunLinks

    @classmethod
    def of(cls, row: ReconciliationRun) -> "RunItem":
        return cls(
            **{name: getattr(row, name) for name in cls.model_fields if name != "links"},
            links=run_links(row.run_id),
        )


class RunDetail(RunItem):
    findings: list[FindingItem]


class RunPage(BaseModel):
    items: list[RunItem]
    next_cursor: str | None


def run_links(run_id: str) -> RunLinks:
    return RunLinks(self=f"/v1/reconciliation/runs/{run_id}")
