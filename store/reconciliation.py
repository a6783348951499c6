"""Reconciliation runs and findings.

Written by the reconciliation activities, which may run more than once: a run is created once
(insert-if-missing), a finding is keyed by (run, type, reference), and the run's counts are computed
from its findings when it finishes rather than added up along the way.
"""

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, tuple_
from sqlalchemy.orm import Session

from canonical.reconciliation import Finding, Period, RunStatus
from store.engine import insert_for
from store.models import ReconciliationFinding, ReconciliationRun, ReconciliationRunOrder

RUN_ORDERS_PER_INSERT = 5000
"""Rows per INSERT: well within PostgreSQL's 65,535 bind parameters."""


class ReconciliationRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def start_run(
        self, run_id: str, *, trigger: str, period: Period, stuck_after_s: float, at: datetime
    ) -> None:
        stmt = insert_for(self.session, ReconciliationRun).values(
            run_id=run_id,
            trigger=trigger,
            status="running",
            period_start=period.start,
            period_end=period.end,
            stuck_after_s=stuck_after_s,
            started_at=at,
            orders_checked=0,
            findings_count=0,
            counts={},
        )
        self.session.execute(stmt.on_conflict_do_nothing(index_elements=["run_id"]))

    def add_run_orders(self, run_id: str, order_ids: Sequence[str]) -> int:
        """Record the orders a run found (again after a retry: nothing twice); returns how many it has."""
        unique = list(dict.fromkeys(order_ids))
        for first in range(0, len(unique), RUN_ORDERS_PER_INSERT):
            chunk = unique[first : first + RUN_ORDERS_PER_INSERT]
            stmt = insert_for(self.session, ReconciliationRunOrder).values(
                [{"run_id": run_id, "order_id": order_id} for order_id in chunk])
            self.session.execute(stmt.on_conflict_do_nothing(index_elements=["run_id", "order_id"]))
        count = self.session.scalar(select(func.count()).select_from(ReconciliationRunOrder)
                                    .where(ReconciliationRunOrder.run_id == run_id))
        return int(count or 0)

    def run_orders(self, run_id: str, *, after: str | None, limit: int) -> list[str]:
        """The run's next `limit` orders after `after`, by order id."""
        query = select(ReconciliationRunOrder.order_id).where(ReconciliationRunOrder.run_id == run_id)
        if after is not None:
            query = query.where(ReconciliationRunOrder.order_id > after)
        return list(self.session.scalars(query.order_by(ReconciliationRunOrder.order_id).limit(limit)))

    def add_findings(self, run_id: str, findings: Sequence[Finding], at: datetime) -> None:
        if not findings:
            return
        rows = [
            {
                "run_id": run_id,
                "type": f.type.value,
                "order_id": f.order_id,
                "reference": f.reference[:200],
                "currency": f.currency,
                "provider_amount": f.provider_amount,
                "erp_amount": f.erp_amount,
                "store_amount": f.store_amount,
                "detail": f.detail,
                "suggested_action": f.suggested_action,
                "created_at": at,
            }
            for f in findings
        ]
        stmt = insert_for(self.session, ReconciliationFinding).values(rows)
        self.session.execute(stmt.on_conflict_do_nothing(index_elements=["run_id", "type", "reference"]))

    def finish_run(
        self, run_id: str, *, status: RunStatus, orders_checked: int, error: str | None, at: datetime
    ) -> ReconciliationRun:
        run = self.session.get(ReconciliationRun, run_id, with_for_update=True)
        if run is None:
            raise LookupError(f"reconciliation run {run_id} was never started")
        counts = self.session.execute(
            select(ReconciliationFinding.type, func.count())
            .where(ReconciliationFinding.run_id == run_id)
            .group_by(ReconciliationFinding.type)
            .order_by(ReconciliationFinding.type)
        )
        run.status = status
        run.orders_checked = orders_checked
        run.counts = {str(kind): int(n) for kind, n in counts}
        run.findings_count = sum(run.counts.values())
        run.error = error
        run.finished_at = at
        return run

    def get_run(self, run_id: str) -> ReconciliationRun | None:
        return self.session.get(ReconciliationRun, run_id)

    def runs(
        self, *, status: str | None, before: tuple[datetime, str] | None, limit: int
    ) -> list[ReconciliationRun]:
        """Newest first; `before` is the (started_at, run_id) of the last run of the previous page."""
        query = select(ReconciliationRun)
        if status is not None:
            query = query.where(ReconciliationRun.status == status)
        if before is not None:
            query = query.where(tuple_(ReconciliationRun.started_at, ReconciliationRun.run_id) < before)
        query = query.order_by(ReconciliationRun.started_at.desc(), ReconciliationRun.run_id.desc()).limit(
            limit
        )
        return list(self.session.scalars(query))

    def findings(self, run_id: str, *, type: str | None = None) -> list[ReconciliationFinding]:
        query = select(ReconciliationFinding).where(ReconciliationFinding.run_id == run_id)
        if type is not None:
            query = query.where(ReconciliationFinding.type == type)
        return list(self.session.scalars(query.order_by(ReconciliationFinding.id)))
