"""Contract-check runs in the store: recorded once per run, read as the latest run per role and adapter."""

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from canonical.contract_checks import ContractCheckResult
from store.engine import insert_for
from store.models import ContractCheckRun


def record_contract_check(session: Session, result: ContractCheckResult) -> None:
    """Idempotent by run id: an activity that records twice (a retry after a lost answer) adds one row."""
    insert = insert_for(session, ContractCheckRun).values(
        run_id=result.run_id, role=result.role, adapter=result.adapter, base_url=result.base_url, mode=result.mode,
        started_at=result.started_at, finished_at=result.finished_at, checks=len(result.findings),
        failures=len(result.failures), findings=[f.model_dump() for f in result.findings])
    session.execute(insert.on_conflict_do_nothing(index_elements=["run_id"]))


def latest_contract_checks(session: Session) -> list[ContractCheckRun]:
    """The last run of every role and adapter that was ever checked, by role."""
    last = (select(ContractCheckRun.role, ContractCheckRun.adapter,
                   func.max(ContractCheckRun.finished_at).label("finished_at"))
            .group_by(ContractCheckRun.role, ContractCheckRun.adapter).subquery())
    query = (select(ContractCheckRun)
             .join(last, (ContractCheckRun.role == last.c.role) & (ContractCheckRun.adapter == last.c.adapter)
                   & (ContractCheckRun.finished_at == last.c.finished_at))
             .order_by(ContractCheckRun.role, ContractCheckRun.adapter))
    return list(session.scalars(query))
