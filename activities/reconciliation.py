"""Reconciliation activities: find the orders a period touched, compare what each side knows about
them, and record the run and its findings in the store.

Vendors are read through their adapters (payments_balance, erp_search, fulfillment_dispatches), the
store through its repositories. Every write is idempotent (a run is created once, a finding is keyed
by run, type and reference), so a retried activity records nothing twice.
"""

import asyncio
from collections import defaultdict
from datetime import UTC, datetime

from pydantic import BaseModel
from temporalio import activity

from activities import erp_search, fulfillment_dispatches, payments_balance, store_access
from activities.reconciliation_rules import compare_order, orphan_movements, stuck_postings
from canonical.reconciliation import (
    DispatchFact,
    ErpDocumentFact,
    Finding,
    MoneyMovement,
    Period,
    PostingFact,
    ReconciliationOutcome,
    RunStatus,
)
from store.postings import PostingRepository
from store.reconciliation import ReconciliationRepository

OrderFacts = tuple[str, list[MoneyMovement], list[ErpDocumentFact], list[DispatchFact]]

VENDOR_CONCURRENCY = 8
"""Orders whose facts are read at once: enough to overlap latency, few enough to be polite."""


class RunStart(BaseModel):
    run_id: str
    trigger: str
    period: Period
    stuck_after_s: float


class PeriodScan(BaseModel):
    run_id: str
    period: Period


class OrdersBatch(BaseModel):
    run_id: str
    period: Period
    order_ids: list[str]


class OrdersPage(BaseModel):
    run_id: str
    period: Period
    after_order_id: str | None
    """The last order of the previous page; None for the first page."""
    limit: int


class PageChecked(BaseModel):
    checked: int
    last_order_id: str | None
    """None when the page was empty: every order of the run was compared."""


class StuckCheck(BaseModel):
    run_id: str
    stuck_after_s: float


class RunFinish(BaseModel):
    run_id: str
    status: RunStatus
    orders_checked: int
    error: str | None = None


def _now() -> datetime:
    return datetime.now(UTC)


def _correlation(run_id: str) -> str:
    return f"reconciliation:{run_id}"


async def _record(run_id: str, findings: list[Finding]) -> int:
    at = _now()
    await store_access.write(
        lambda session: ReconciliationRepository(session).add_findings(run_id, findings, at)
    )
    return len(findings)


@activity.defn
async def start_reconciliation_run(inp: RunStart) -> None:
    at = _now()
    await store_access.write(
        lambda session: ReconciliationRepository(session).start_run(
            inp.run_id, trigger=inp.trigger, period=inp.period, stuck_after_s=inp.stuck_after_s, at=at
        )
    )


async def _discover(inp: PeriodScan) -> list[str]:
    """Every order with money moved, a document posted or goods dispatched in the period."""
    corr = _correlation(inp.run_id)
    movements, documents, dispatches = await asyncio.gather(
        payments_balance.movements_in(inp.period, corr),
        erp_search.documents_posted_in(inp.period, corr),
        fulfillment_dispatches.dispatches_in(inp.period, corr),
    )
    await _record(inp.run_id, orphan_movements(movements, inp.period))
    order_ids = (
        {m.order_id for m in movements if m.order_id}
        | {d.order_id for d in documents}
        | {d.order_id for d in dispatches}
    )
    return sorted(order_ids)


@activity.defn
async def record_reconciliation_orders(inp: PeriodScan) -> int:
    """Discover the period's orders and record them with the run; returns how many it has. The list
    stays in the store, paged through by reconcile_order_page: a period's orders can outgrow any
    Temporal payload."""
    order_ids = await _discover(inp)
    return await store_access.write(
        lambda session: ReconciliationRepository(session).add_run_orders(inp.run_id, order_ids))


@activity.defn
async def reconcile_order_page(inp: OrdersPage) -> PageChecked:
    """Compare the run's next page of orders; record the findings."""
    order_ids = await store_access.read(lambda session: ReconciliationRepository(session).run_orders(
        inp.run_id, after=inp.after_order_id, limit=inp.limit))
    if order_ids:
        await _compare(inp.run_id, inp.period, order_ids)
    return PageChecked(checked=len(order_ids), last_order_id=order_ids[-1] if order_ids else None)


# Runs started before paged discovery (workflows/reconciliation.py, PAGED_DISCOVERY) still call these two.
@activity.defn
async def discover_reconciliation_orders(inp: PeriodScan) -> list[str]:
    return await _discover(inp)


@activity.defn
async def reconcile_orders(inp: OrdersBatch) -> int:
    return await _compare(inp.run_id, inp.period, inp.order_ids)


async def _compare(run_id: str, period: Period, order_ids: list[str]) -> int:
    """Compare everything each side knows about these orders; record the findings; return how many."""
    corr = _correlation(run_id)
    gate = asyncio.Semaphore(VENDOR_CONCURRENCY)

    async def facts_of(order_id: str) -> OrderFacts:
        async with gate:
            movements, documents, dispatches = await asyncio.gather(
                payments_balance.movements_of(order_id, corr),
                erp_search.documents_of(order_id, corr),
                fulfillment_dispatches.dispatches_of(order_id, corr),
            )
        return order_id, movements, documents, dispatches

    vendor_facts = await asyncio.gather(*(facts_of(order_id) for order_id in order_ids))
    postings: dict[str, list[PostingFact]] = defaultdict(list)
    for fact in await store_access.read(
        lambda session: PostingRepository(session).facts_of_orders(order_ids)
    ):
        postings[fact.order_id].append(fact)
    findings = [
        finding
        for order_id, movements, documents, dispatches in vendor_facts
        for finding in compare_order(
            order_id, period, movements, documents, dispatches, postings[order_id]
        )
    ]
    return await _record(run_id, findings)


@activity.defn
async def find_stuck_postings(inp: StuckCheck) -> int:
    """Postings retrying for longer than the threshold right now, whatever the period."""
    now = _now()
    cutoff = now.timestamp() - inp.stuck_after_s
    retrying = await store_access.read(
        lambda session: PostingRepository(session).retrying_since_before(
            datetime.fromtimestamp(cutoff, tz=UTC)
        )
    )
    return await _record(inp.run_id, stuck_postings(retrying, now, inp.stuck_after_s))


@activity.defn
async def finish_reconciliation_run(inp: RunFinish) -> ReconciliationOutcome:
    at = _now()
    run = await store_access.write(
        lambda session: ReconciliationRepository(session).finish_run(
            inp.run_id, status=inp.status, orders_checked=inp.orders_checked, error=inp.error, at=at
        )
    )
    return ReconciliationOutcome(
        run_id=run.run_id,
        status=inp.status,
        orders_checked=run.orders_checked,
        findings=run.findings_count,
        counts=dict(run.counts),
    )


ACTIVITIES = [
    start_reconciliation_run,
    record_reconciliation_orders,
    reconcile_order_page,
    discover_reconciliation_orders,
    reconcile_orders,
    find_stuck_postings,
    finish_reconciliation_run,
]
