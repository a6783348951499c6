"""Reconciliation runs and findings in the store: idempotent writes, counts, newest-first pages."""

from datetime import UTC, datetime, timedelta

import pytest

from canonical.reconciliation import Finding, FindingType, Period
from store.engine import Store
from store.reconciliation import ReconciliationRepository

T0 = datetime(2025, 3, 1, 2, 0, tzinfo=UTC)
PERIOD = Period(start=T0 - timedelta(days=1), end=T0)


def finding(kind: FindingType, ref: str, order_id: str | None = "O-1") -> Finding:
    return Finding(
        type=kind,
        order_id=order_id,
        reference=ref,
        currency="EUR",
        provider_amount=100,
        erp_amount=None,
        detail=f"{kind} {ref}",
    )


def test_a_retried_activity_records_nothing_twice(store: Store) -> None:
    findings = [
        finding(FindingType.CAPTURE_WITHOUT_INVOICE, "O-1:capture:S1"),
        finding(FindingType.DISPATCHED_NOT_CAPTURED, "shp_1"),
        finding(FindingType.CAPTURE_WITHOUT_INVOICE, "pi_x", order_id=None),
    ]
    for _ in range(2):  # the same activity, run twice
        with store.writing() as session:
            repo = ReconciliationRepository(session)
            repo.start_run("run-1", trigger="schedule", period=PERIOD, stuck_after_s=3600, at=T0)
            repo.add_findings("run-1", findings, T0)
    with store.writing() as session:
        run = ReconciliationRepository(session).finish_run(
            "run-1", status="completed", orders_checked=2, error=None, at=T0 + timedelta(seconds=5)
        )
    assert (run.status, run.findings_count, run.orders_checked) == ("completed", 3, 2)
    assert run.counts == {"capture_without_invoice": 2, "dispatched_not_captured": 1}
    with store.reading() as session:
        repo = ReconciliationRepository(session)
        stored = repo.get_run("run-1")
        rows = repo.findings("run-1")
        only = repo.findings("run-1", type="dispatched_not_captured")
    assert (
        stored is not None
        and stored.period_start == PERIOD.start
        and stored.finished_at == T0 + timedelta(seconds=5)
    )
    assert [r.reference for r in rows] == ["O-1:capture:S1", "shp_1", "pi_x"]
    assert rows[0].suggested_action and rows[2].order_id is None
    assert [r.reference for r in only] == ["shp_1"]


def test_finishing_an_unknown_run_is_an_error(store: Store) -> None:
    with pytest.raises(LookupError), store.writing() as session:
        ReconciliationRepository(session).finish_run(
            "nope", status="failed", orders_checked=0, error="x", at=T0
        )


def test_runs_newest_first_with_a_keyset_cursor(store: Store) -> None:
    with store.writing() as session:
        repo = ReconciliationRepository(session)
        for n in range(5):
            # Two runs share a start time: the run id breaks the tie.
            repo.start_run(
                f"run-{n}",
                trigger="manual",
                period=PERIOD,
                stuck_after_s=60,
                at=T0 + timedelta(minutes=n // 2 * 2),
            )
        repo.finish_run("run-3", status="failed", orders_checked=0, error="erp down", at=T0)
    seen: list[str] = []
    before = None
    while True:
        with store.reading() as session:
            page = ReconciliationRepository(session).runs(status=None, before=before, limit=2)
        seen += [r.run_id for r in page]
        if len(page) < 2:
            break
        before = (page[-1].started_at, page[-1].run_id)
    assert seen == ["run-4", "run-3", "run-2", "run-1", "run-0"]
    with store.reading() as session:
        failed = ReconciliationRepository(session).runs(status="failed", before=None, limit=10)
    assert [r.run_id for r in failed] == ["run-3"]
