"""The reconciliation rules: pure functions from the facts of each side to findings.

Money movements and ERP documents are paired by their business reference (canonical/references.py):
a capture with the invoice of the same shipment, a refund with the credit memo of the same key.
A pair is judged when something of it happened inside the period; its partner may lie outside (an
invoice posted the day after the capture is still its invoice), which is why the facts of a whole
order are compared, not only the period's.
"""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from canonical.erp_postings import PostingKind
from canonical.identifiers import format_money
from canonical.reconciliation import (
    DispatchFact,
    ErpDocumentFact,
    Finding,
    FindingType,
    MoneyMovement,
    Period,
    PostingFact,
)
from canonical.references import Flow, credit_memo_reference, invoice_reference, settlement_key

_DOCUMENT_OF: dict[Flow, PostingKind] = {"charge": "invoice", "refund": "credit_memo"}
_FLOW_OF: dict[str, Flow] = {"invoice": "charge", "credit_memo": "refund"}
_WITHOUT_DOCUMENT = {
    "charge": FindingType.CAPTURE_WITHOUT_INVOICE,
    "refund": FindingType.REFUND_WITHOUT_CREDIT_MEMO,
}
_WITHOUT_MONEY = {
    "charge": FindingType.INVOICE_WITHOUT_CAPTURE,
    "refund": FindingType.CREDIT_MEMO_WITHOUT_REFUND,
}
_MONEY_WORD = {"charge": "capture", "refund": "refund"}


def _at(when: datetime) -> str:
    return when.strftime("%Y-%m-%d %H:%M:%SZ")


@dataclass
class _Pair:
    flow: Flow
    key: str
    movements: list[MoneyMovement] = field(default_factory=list)
    documents: list[ErpDocumentFact] = field(default_factory=list)

    def in_period(self, period: Period) -> bool:
        return any(period.contains(m.at) for m in self.movements) or any(
            period.contains(d.posted_at) for d in self.documents
        )


def _pairs(
    order_id: str, movements: Iterable[MoneyMovement], documents: Iterable[ErpDocumentFact]
) -> dict[tuple[Flow, str], _Pair]:
    pairs: dict[tuple[Flow, str], _Pair] = {}

    def pair(flow: Flow, reference: str, own_id: str) -> _Pair:
        parsed = settlement_key(order_id, reference)
        # A reference of another shape (typed by hand) can only stand alone.
        key = parsed[1] if parsed is not None and parsed[0] == flow else f"unmatched:{own_id}"
        return pairs.setdefault((flow, key), _Pair(flow, key))

    for m in movements:
        pair(m.flow, m.reference, m.source_id).movements.append(m)
    for d in documents:
        if d.kind in _FLOW_OF:
            pair(_FLOW_OF[d.kind], d.reference, d.document_number).documents.append(d)
    return pairs


def compare_order(
    order_id: str,
    period: Period,
    movements: Sequence[MoneyMovement],
    documents: Sequence[ErpDocumentFact],
    dispatches: Sequence[DispatchFact],
    postings: Sequence[PostingFact],
) -> list[Finding]:
    """Every finding about one order, from everything each side knows about it."""
    stored = {(p.kind, p.reference): p for p in postings}
    findings = _duplicates(order_id, period, documents, stored)
    pairs = _pairs(order_id, movements, documents)
    for pair in pairs.values():
        if pair.in_period(period):
            findings.extend(_judge(order_id, pair, stored))
    # An order paid entirely with points is booked at zero and its shipments are neither captured
    # nor invoiced: nothing is owed for them.
    sales_orders = [d for d in documents if d.kind == "sales_order"]
    owes_nothing = bool(sales_orders) and all(d.amount == 0 for d in sales_orders)
    for dispatch in dispatches:
        if period.contains(dispatch.dispatched_at) and not owes_nothing:
            findings.extend(_dispatch_paid(order_id, dispatch, pairs.get(("charge", dispatch.shipment_id))))
    return findings


def _duplicates(
    order_id: str,
    period: Period,
    documents: Sequence[ErpDocumentFact],
    stored: dict[tuple[str, str], PostingFact],
) -> list[Finding]:
    groups: dict[tuple[str, str], list[ErpDocumentFact]] = defaultdict(list)
    for d in documents:
        groups[(d.kind, d.reference)].append(d)
    findings = []
    for (kind, reference), docs in groups.items():
        if len(docs) < 2 or not any(period.contains(d.posted_at) for d in docs):
            continue
        posting = stored.get((kind, reference))
        numbers = ", ".join(f"{d.document_number} ({format_money(d.amount, d.currency)})" for d in docs)
        findings.append(
            Finding(
                type=FindingType.DUPLICATE_ERP_DOCUMENT,
                order_id=order_id,
                reference=reference,
                currency=docs[0].currency,
                erp_amount=sum(d.amount for d in docs),
                store_amount=posting.amount if posting else None,
                detail=f"{len(docs)} ERP {kind.replace('_', ' ')}s for one reference: {numbers}"
                + (
                    f"; o2c posted {posting.erp_document_number}"
                    if posting and posting.erp_document_number
                    else ""
                ),
            )
        )
    return findings


def _judge(order_id: str, pair: _Pair, stored: dict[tuple[str, str], PostingFact]) -> list[Finding]:
    kind = _DOCUMENT_OF[pair.flow]
    money = sum(m.amount for m in pair.movements) if pair.movements else None
    document = min(pair.documents, key=lambda d: d.posted_at) if pair.documents else None
    reference = document.reference if document else _document_reference(order_id, pair)
    posting = stored.get((kind, reference))
    store_amount = posting.amount if posting else None
    currency = document.currency if document else pair.movements[0].currency
    word = _MONEY_WORD[pair.flow]
    if document is None:
        assert money is not None
        if money == 0:
            return []
        note = f"; o2c's posting is {posting.status} ({posting.last_error})" if posting else ""
        return [
            Finding(
                type=_WITHOUT_DOCUMENT[pair.flow],
                order_id=order_id,
                reference=pair.movements[0].reference,
                currency=currency,
                provider_amount=money,
                store_amount=store_amount,
                detail=f"{word} of {format_money(money, currency)} at {_at(pair.movements[0].at)} has no ERP "
                f"{kind.replace('_', ' ')} {reference}{note}",
            )
        ]
    if money is None:
        if document.amount == 0:  # a shipment paid with points: invoiced at zero, nothing captured
            return []
        return [
            Finding(
                type=_WITHOUT_MONEY[pair.flow],
                order_id=order_id,
                reference=document.reference,
                currency=currency,
                erp_amount=document.amount,
                store_amount=store_amount,
                detail=f"ERP {kind.replace('_', ' ')} {document.document_number} of "
                f"{format_money(document.amount, currency)} has no {word} at the payment provider",
            )
        ]
    currencies = {m.currency for m in pair.movements} | {document.currency}
    if money == document.amount and (store_amount is None or store_amount == money) and len(currencies) == 1:
        return []
    return [
        Finding(
            type=FindingType.AMOUNT_MISMATCH,
            order_id=order_id,
            reference=document.reference,
            currency=currency,
            provider_amount=money,
            erp_amount=document.amount,
            store_amount=store_amount,
            detail=f"{word} {'/'.join(sorted(currencies))} {money} vs ERP {document.document_number} "
            f"{document.amount}" + (f" vs o2c {store_amount}" if store_amount is not None else ""),
        )
    ]


def _document_reference(order_id: str, pair: _Pair) -> str:
    if pair.key.startswith("unmatched:"):
        return pair.key
    make = invoice_reference if pair.flow == "charge" else credit_memo_reference
    return make(order_id, pair.key)


def _dispatch_paid(order_id: str, dispatch: DispatchFact, pair: _Pair | None) -> list[Finding]:
    if pair is not None and pair.movements:
        return []
    if pair is not None and pair.documents and all(d.amount == 0 for d in pair.documents):
        return []  # paid with points: nothing to capture
    invoiced = pair.documents[0] if pair is not None and pair.documents else None
    return [
        Finding(
            type=FindingType.DISPATCHED_NOT_CAPTURED,
            order_id=order_id,
            reference=dispatch.shipment_id,
            currency=invoiced.currency if invoiced else None,
            provider_amount=0,
            erp_amount=invoiced.amount if invoiced else None,
            detail=f"shipment {dispatch.shipment_id} ({dispatch.units} units) dispatched at "
            f"{_at(dispatch.dispatched_at)} was never captured",
        )
    ]


def stuck_postings(postings: Iterable[PostingFact], now: datetime, stuck_after_s: float) -> list[Finding]:
    cutoff = now - timedelta(seconds=stuck_after_s)
    return [
        Finding(
            type=FindingType.POSTING_STUCK_RETRYING,
            order_id=p.order_id,
            reference=p.reference,
            currency=p.currency,
            store_amount=p.amount,
            detail=f"{p.kind.replace('_', ' ')} retrying since {_at(p.status_since)} after {p.attempts} "
            f"attempts; last error: {p.last_error or 'none recorded'}",
        )
        for p in postings
        if p.status == "retrying" and p.status_since < cutoff
    ]


def orphan_movements(movements: Iterable[MoneyMovement], period: Period) -> list[Finding]:
    """Money the provider moved for no order at all: nothing in the ERP can be its document."""
    return [
        Finding(
            type=_WITHOUT_DOCUMENT[m.flow],
            order_id=None,
            reference=m.reference,
            currency=m.currency,
            provider_amount=m.amount,
            detail=f"{_MONEY_WORD[m.flow]} {m.source_id} of {format_money(m.amount, m.currency)} at "
            f"{_at(m.at)} names no order",
        )
        for m in movements
        if m.order_id is None and period.contains(m.at)
    ]
