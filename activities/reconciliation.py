"""Reconciliation activities: find the orders a period touched, compare what each side knows about
them (canonical/reconciliation_rules.py), and record the run and its findings in the store.

Vendors are read through their adapters' readers (payments through its PaymentGateway port), the store
through its repositories. Every write is
idempotent (a run is created once, a finding is keyed by run, type and reference), so a retried
activity records nothing twice.
"""

import asyncio
from collections import defaultdict
from datetime import UTC, datetime

from temporalio import activity

from activities.contracts.reconciliation import (
    COMPARE_BATCH,
    COMPARE_PAGE,
    DISCOVER_ORDERS,
    FIND_STUCK,
    FINISH_RUN,
    RECORD_ORDERS,
    START_RUN,
    OrdersBatch,
    OrdersPage,
    PageChecked,
    PeriodScan,
    RunFinish,
    RunStart,
    StuckCheck,
)
from activities.ports.erp import ErpSystem
from activities.ports.fulfillment import FulfillmentNode
from activities.ports.payments import PaymentGateway
from activities.store_executor import StoreExecutor
from canonical.reconciliation import (
    DispatchFact,
    ErpDocumentFact,
    Finding,
    MoneyMovement,
    Period,
    PostingFact,
    ReconciliationOutcome,
)
from canonical.reconciliation_rules import compare_order, orphan_movements, stuck_postings
from store.postings import PostingRepository
from store.reconciliation import ReconciliationRepository

OrderFacts = tuple[str, list[MoneyMovement], list[ErpDocumentFact], list[DispatchFact]]

VENDOR_CONCURRENCY = 8
"""Orders whose facts are read at once: enough to overlap latency, few enough to be polite."""


def _now() -> datetime:
    return datetime.now(UTC)


def _correlation(run_id: str) -> str:
    return f"reconciliation:{run_id}"


class ReconciliationActivities:
    def __init__(self, store: StoreExecutor, *, payments: PaymentGateway, erp: ErpSystem,
                 fulfillment: FulfillmentNode) -> None:
        self._store = store
        self._payments = payments
        self._erp = erp
        self._fulfillment = fulfillment

    @activity.defn(name=START_RUN)
    async def start_run(self, inp: RunStart) -> None:
        at = _now()
        await self._store.write(lambda session: ReconciliationRepository(session).start_run(
            inp.run_id, trigger=inp.trigger, period=inp.period, stuck_after_s=inp.stuck_after_s, at=at))

    @activity.defn(name=RECORD_ORDERS)
    async def record_orders(self, inp: PeriodScan) -> int:
        """Discover the period's orders and record them with the run; returns how many it has. The list
        stays in the store, paged through by compare_page: a period's orders can outgrow any Temporal
        payload."""
        order_ids = await self._discover(inp)
        return await self._store.write(
            lambda session: ReconciliationRepository(session).add_run_orders(inp.run_id, order_ids))

    @activity.defn(name=COMPARE_PAGE)
    async def compare_page(self, inp: OrdersPage) -> PageChecked:
        """Compare the run's next page of orders; record the findings."""
        order_ids = await self._store.read(lambda session: ReconciliationRepository(session).run_orders(
            inp.run_id, after=inp.after_order_id, limit=inp.limit))
        if order_ids:
            await self._compare(inp.run_id, inp.period, order_ids)
        return PageChecked(checked=len(order_ids), last_order_id=order_ids[-1] if order_ids else None)

    @activity.defn(name=DISCOVER_ORDERS)
    async def discover_orders(self, inp: PeriodScan) -> list[str]:
        return await self._discover(inp)

    @activity.defn(name=COMPARE_BATCH)
    async def compare_batch(self, inp: OrdersBatch) -> int:
        return await self._compare(inp.run_id, inp.period, inp.order_ids)

    @activity.defn(name=FIND_STUCK)
    async def find_stuck(self, inp: StuckCheck) -> int:
        """Postings retrying for longer than the threshold right now, whatever the period."""
        now = _now()
        cutoff = datetime.fromtimestamp(now.timestamp() - inp.stuck_after_s, tz=UTC)
        retrying = await self._store.read(lambda session: PostingRepository(session).retrying_since_before(cutoff))
        return await self._record(inp.run_id, stuck_postings(retrying, now, inp.stuck_after_s))

    @activity.defn(name=FINISH_RUN)
    async def finish_run(self, inp: RunFinish) -> ReconciliationOutcome:
        at = _now()
        run = await self._store.write(lambda session: ReconciliationRepository(session).finish_run(
            inp.run_id, status=inp.status, orders_checked=inp.orders_checked, error=inp.error, at=at))
        return ReconciliationOutcome(run_id=run.run_id, status=inp.status, orders_checked=run.orders_checked,
                                     findings=run.findings_count, counts=dict(run.counts))

    async def _discover(self, inp: PeriodScan) -> list[str]:
        """Every order with money moved, a document posted or goods dispatched in the period."""
        corr = _correlation(inp.run_id)
        movements, documents, dispatches = await asyncio.gather(
            self._payments.movements_in(inp.period, corr), self._erp.documents_posted_in(inp.period, corr),
            self._fulfillment.dispatches_in(inp.period, corr))
        await self._record(inp.run_id, orphan_movements(movements, inp.period))
        order_ids = ({m.order_id for m in movements if m.order_id} | {d.order_id for d in documents}
                     | {d.order_id for d in dispatches})
        return sorted(order_ids)

    async def _compare(self, run_id: str, period: Period, order_ids: list[str]) -> int:
        """Compare everything each side knows about these orders; record the findings; return how many."""
        corr, gate = _correlation(run_id), asyncio.Semaphore(VENDOR_CONCURRENCY)

        async def facts_of(order_id: str) -> OrderFacts:
            async with gate:
                movements, documents, dispatches = await asyncio.gather(
                    self._payments.movements_of(order_id, corr), self._erp.documents_of(order_id, corr),
                    self._fulfillment.dispatches_of(order_id, corr))
            return order_id, movements, documents, dispatches

        vendor_facts = await asyncio.gather(*(facts_of(order_id) for order_id in order_ids))
        postings: dict[str, list[PostingFact]] = defaultdict(list)
        for fact in await self._store.read(lambda session: PostingRepository(session).facts_of_orders(order_ids)):
            postings[fact.order_id].append(fact)
        findings = [
            finding
            for order_id, movements, documents, dispatches in vendor_facts
            for finding in compare_order(order_id, period, movements, documents, dispatches, postings[order_id])
        ]
        return await self._record(run_id, findings)

    async def _record(self, run_id: str, findings: list[Finding]) -> int:
        at = _now()
        await self._store.write(lambda session: ReconciliationRepository(session).add_findings(run_id, findings, at))
        return len(findings)
