"""Response bodies of the finance endpoints (design §5): ERP postings and reconciliation runs."""

from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict

from canonical.erp_postings import POSTING_KINDS, PostingKind, PostingStatus
from canonical.identifiers import major_units
from canonical.reconciliation import FindingType, RunStatus
from store.models import ErpPosting, ReconciliationFinding, ReconciliationRun


class ErpPostingItem(BaseModel):
    """One ERP document o2c posts for an order: its sales order, an invoice per captured shipment, a
    credit memo per refund. One row per business reference, however often the posting was tried."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    posting_id: str
    """Stable id of the posting (derived from kind and reference)."""
    order_id: str
    """The order the document is for."""
    kind: PostingKind
    """sales_order, invoice or credit_memo: the same money at different stages, never to be added up."""
    reference: str
    """The business key the ERP knows the document by (its external reference)."""
    shipment_id: str | None
    """The shipment an invoice or credit memo is for; null for a sales order."""
    amount: int
    """Integer minor units of `currency` (cents for EUR, yen for JPY): 116052 EUR is 1160.52 EUR."""
    currency: str
    """ISO 4217 code."""
    status: PostingStatus
    """pending, retrying (another attempt will come), failed, posted (booked in the ERP), or cancelled
    (a sales order of an order cancelled before dispatch: cancelled in the ERP, or never booked there)."""
    erp_document_number: str | None
    """The ERP's document number once booked; kept after a cancellation."""
    attempts: int
    """Times the posting was tried."""
    last_error: str | None
    """The ERP's last refusal or failure, while retrying or failed."""
    next_attempt_at: datetime | None
    """When a retrying posting will be tried again (estimated from the retry policy)."""
    created_at: datetime
    """When the first attempt started (UTC): the day the summary counts the posting on."""
    updated_at: datetime
    """When the row last changed (UTC)."""
    posted_at: datetime | None
    """When the ERP booked the document."""
    cancelled_at: datetime | None
    """When the posting became cancelled; null unless status is cancelled."""
    order_cancelled_at: datetime | None
    """When the order was cancelled, on every posting of a cancelled order. A sales order of an order
    closed after dispatch stays posted (the goods left; refunds are credit memos): this says why."""

    @classmethod
    def of(cls, row: ErpPosting, order_cancelled_at: datetime | None = None) -> "ErpPostingItem":
        return cls(
            **{name: getattr(row, name) for name in cls.model_fields if name not in _DERIVED},
            cancelled_at=row.status_since if row.status == "cancelled" else None,
            order_cancelled_at=order_cancelled_at,
        )


_DERIVED = ("cancelled_at", "order_cancelled_at")
"""Fields of ErpPostingItem that are not columns of the store's row."""

CSV_COLUMNS: dict[str, str] = {
    "posting_id": "stable id of the posting",
    "order_id": "the order",
    "kind": "sales_order, invoice or credit_memo (never add amounts across kinds)",
    "reference": "the document's external reference in the ERP",
    "shipment_id": "the shipment of an invoice or credit memo; empty for a sales order",
    "amount": "decimal amount in the currency's major unit: 1160.52 (EUR), 116052 (JPY); '.' decimal point, "
              "no thousands separator",
    "currency": "ISO 4217 code of amount and amount_minor",
    "amount_minor": "the same amount as an integer count of minor units (cents): 116052",
    "status": "pending, retrying, failed, posted or cancelled",
    "erp_document_number": "the ERP's document number once booked",
    "attempts": "posting attempts so far",
    "last_error": "the last attempt's error",
    "next_attempt_at_utc": "when a retrying posting is tried again",
    "created_at_utc": "when the posting first appeared (the summary's day)",
    "updated_at_utc": "last change",
    "posted_at_utc": "when the ERP booked the document",
    "cancelled_at_utc": "when the posting was cancelled (status cancelled)",
    "order_cancelled_at_utc": "when its order was cancelled, also if the document stays posted",
}
"""The CSV export's columns and what each holds. Times are UTC as YYYY-MM-DD HH:MM:SS; empty cells are
nulls."""


def csv_record(item: ErpPostingItem) -> dict[str, Any]:
    """A posting as CSV cells: the decimal amount as a number (not text); times under names that say UTC
    (csv_export writes them in UTC)."""
    record: dict[str, Any] = item.model_dump()
    record["amount"] = Decimal(major_units(item.amount, item.currency))
    record["amount_minor"] = item.amount
    record.update({f"{name}_utc": value for name, value in record.items() if name.endswith("_at")})
    return record


class ErpPostingPage(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    items: list[ErpPostingItem]
    """Postings, oldest first."""
    next_cursor: str | None
    """Pass as `cursor` to get the next page; null on the last page."""


class SummaryGroup(BaseModel):
    """The postings of one kind, status and currency that arose on the day."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    kind: PostingKind
    """Document kind."""
    status: PostingStatus
    """Posting status."""
    currency: str
    """ISO 4217 currency code of `amount`."""
    count: int
    """How many postings."""
    amount: int
    """Their sum, in integer minor units of `currency`."""


class KindTotal(BaseModel):
    """One kind of document in one currency, all statuses together. Totals are per kind and never
    across kinds: a sales order and its invoice are the same money at two stages, and a credit memo
    gives money back, so a sum over kinds would count a sale twice."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    kind: PostingKind
    """Document kind: totals never add up different kinds."""
    currency: str
    """ISO 4217 currency code of the amounts."""
    count: int
    """Postings of this kind that stand: every status except cancelled."""
    amount: int
    """Their sum in integer minor units of `currency`: booked in the ERP or still to be booked."""
    posted_count: int
    """Of `count`, those booked in the ERP (status posted)."""
    posted_amount: int
    """Of `amount`, what is booked in the ERP; `amount - posted_amount` is pending, retrying or failed."""
    cancelled_count: int
    """Postings withdrawn with their order (status cancelled); not part of `count`."""
    cancelled_amount: int
    """Their sum in minor units; not part of `amount`."""


def kind_totals(groups: Iterable[SummaryGroup]) -> list[KindTotal]:
    """The groups summed over status, per kind and currency: never across kinds."""
    totals: dict[tuple[str, str], KindTotal] = {}
    for g in groups:
        total = totals.setdefault((g.kind, g.currency), KindTotal(
            kind=g.kind, currency=g.currency, count=0, amount=0, posted_count=0, posted_amount=0,
            cancelled_count=0, cancelled_amount=0))
        if g.status == "cancelled":
            total.cancelled_count += g.count
            total.cancelled_amount += g.amount
            continue
        total.count += g.count
        total.amount += g.amount
        if g.status == "posted":
            total.posted_count += g.count
            total.posted_amount += g.amount
    return sorted(totals.values(), key=lambda t: (POSTING_KINDS.index(t.kind), t.currency))


class PostingSummary(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    date: date
    """The UTC day the postings arose on (their created_at)."""
    groups: list[SummaryGroup]
    """Counts and amounts by kind, status and currency."""
    totals: list[KindTotal]
    """Per kind and currency (sales orders, then invoices, then credit memos); never across kinds."""


class RunLinks(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    self: str
    """This run in the API."""


class FindingItem(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    type: FindingType
    """What does not agree."""
    order_id: str | None
    """The order concerned, when known."""
    reference: str
    """The business reference compared (payment, ERP document...)."""
    currency: str | None
    """ISO 4217 currency code of the amounts."""
    provider_amount: int | None
    """What the payment provider shows, in integer minor units."""
    erp_amount: int | None
    """What the ERP shows, in integer minor units."""
    store_amount: int | None
    """What o2c recorded, in integer minor units."""
    detail: str
    """What differs, for humans."""
    suggested_action: str
    """What finance or support should do about it."""

    @classmethod
    def of(cls, row: ReconciliationFinding) -> "FindingItem":
        return cls.model_validate(row, from_attributes=True)


class RunItem(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    run_id: str
    """The run's id (its workflow id)."""
    trigger: str
    """`schedule` or `manual`."""
    status: RunStatus
    """Where the run stands."""
    period_start: datetime | None
    """Null only for a scheduled run in its first moments, before it has recorded its period."""
    period_end: datetime | None
    """End of the period checked (exclusive, UTC)."""
    started_at: datetime | None
    """When the run started (UTC)."""
    finished_at: datetime | None
    """When it finished (UTC); null while running."""
    orders_checked: int
    """Orders compared across the vendors."""
    findings_count: int
    """Findings recorded."""
    counts: dict[str, int]
    """Findings per type."""
    error: str | None
    """Why the run failed, if it did."""
    links: RunLinks
    """Where to read the run."""

    @classmethod
    def of(cls, row: ReconciliationRun) -> "RunItem":
        return cls(
            **{name: getattr(row, name) for name in cls.model_fields if name != "links"},
            links=run_links(row.run_id),
        )


class RunDetail(RunItem):
    findings: list[FindingItem]
    """What does not agree, one finding per difference."""


class RunPage(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    items: list[RunItem]
    """Runs, newest first."""
    next_cursor: str | None
    """Pass as `cursor` to get the next page; null on the last page."""


def run_links(run_id: str) -> RunLinks:
    return RunLinks(self=f"/v1/reconciliation/runs/{run_id}")
