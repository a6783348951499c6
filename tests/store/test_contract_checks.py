"""Contract-check runs in the store, on SQLite and PostgreSQL: a run recorded twice is one row; the latest run
per role and adapter is what the ops page and the gauges read; the ops page names the failing checks."""

from datetime import UTC, datetime, timedelta

from api.ops.page import contract_check_rows
from canonical.contract_checks import CheckFinding, ContractCheckResult
from store.contract_checks import latest_contract_checks, record_contract_check
from store.engine import Store

NOW = datetime.now(UTC).replace(microsecond=0)


def run(run_id: str, role: str, adapter: str, minutes_ago: int, *failing: str) -> ContractCheckResult:
    findings = [CheckFinding(check=c, passed=c not in failing, reason=f"{c} reason", seconds=0.1)
                for c in ("authorize", "idempotency.authorize", "error_shape")]
    at = NOW - timedelta(minutes=minutes_ago)
    return ContractCheckResult(role=role, adapter=adapter, base_url="http://vendor.example", mode="full",
                               run_id=run_id, started_at=at - timedelta(seconds=20), finished_at=at, findings=findings)


def test_latest_run_per_role_and_adapter(store: Store) -> None:
    with store.writing() as session:
        record_contract_check(session, run("r1", "payments", "stripe", 60, "error_shape", "idempotency.authorize"))
        record_contract_check(session, run("r2", "payments", "stripe", 5))
        record_contract_check(session, run("r2", "payments", "stripe", 5, "authorize"))  # a retried record
        record_contract_check(session, run("r3", "payments", "sandbox", 30, "error_shape"))
    with store.reading() as session:
        latest = latest_contract_checks(session)
        rows = contract_check_rows(latest)
    assert [(r.role, r.adapter, r.run_id, r.failures, r.checks) for r in latest] == [
        ("payments", "sandbox", "r3", 1, 3), ("payments", "stripe", "r2", 0, 3)]
    assert "failing" in rows[0] and "error_shape: error_shape reason" in rows[0] and "2/3" in rows[0]
    assert "passing" in rows[1] and "3/3" in rows[1]
