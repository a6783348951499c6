"""/v1/reconciliation/runs: start a reconciliation run (finance:reconcile), list runs and read one run
with its findings (finance:read).

A run is a ReconciliationWorkflow; it records itself in the store, which is what the reads show.
Between the start and the run's first activity the store does not know it yet; the workflow (its
memo) then answers, so a client that polls right after POST never sees a 404.

A run is work across three vendors, so starting one is bounded: its own scope, a period of at most
O2C_RECONCILIATION_MAX_PERIOD_S, and one run per period. The run id is derived from the period (whole
seconds; the default period ends on the current minute), so asking again for a period answers the run
that exists (200) instead of starting another.
"""

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from temporalio.client import WorkflowExecutionStatus
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from api.finance.models import FindingItem, RunDetail, RunItem, RunPage, run_links
from api.orders.search import decode_cursor, encode_cursor
from api.shared.auth import Principal, require_scope
from api.shared.problems import PROBLEM, ProblemError, ValidationProblem, validation_problem
from api.shared.store import store
from api.shared.temporal import describe_or_none, temporal_client
from canonical.reconciliation import FindingType, Period, ReconciliationRequest, RunStatus
from runtime.settings import Settings
from store.reconciliation import ReconciliationRepository
from workflows.reconciliation import ReconciliationWorkflow

router = APIRouter(prefix="/v1/reconciliation/runs", tags=["finance"])

INVALID = {"model": ValidationProblem, "content": {"application/problem+json": {}}}
FinanceReader = Annotated[Principal, Depends(require_scope("finance:read"))]
Reconciler = Annotated[Principal, Depends(require_scope("finance:reconcile"))]
RunIdPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9._:-]{1,128}$")]


class StartRun(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True, extra="forbid")

    period_start: AwareDatetime | None = None
    """Default: period_end minus O2C_RECONCILIATION_INTERVAL_S."""
    period_end: AwareDatetime | None = None
    """Default: now."""
    stuck_after_s: float | None = Field(default=None, gt=0, le=90 * 24 * 3600)
    """Report postings retrying for longer than this; default O2C_POSTING_STUCK_AFTER_S."""


def _settings(request: Request) -> Settings:
    return request.app.state.settings


def _period(body: StartRun, settings: Settings) -> Period:
    end = (body.period_end or datetime.now(UTC).replace(second=0)).replace(microsecond=0)
    start = body.period_start or end - timedelta(seconds=settings.reconciliation_interval_s)
    start = start.replace(microsecond=0)
    if start >= end:
        raise validation_problem([{"loc": ("body", "period_end"), "msg": "must be after period_start"}])
    longest = timedelta(seconds=settings.reconciliation_max_period_s)
    if end - start > longest:
        raise validation_problem([{"loc": ("body", "period_start"),
                                   "msg": f"a run checks at most {_duration(longest)}; split the period"}])
    return Period(start=start, end=end)


def _duration(span: timedelta) -> str:
    return f"{span.days} days" if span.days and not span.seconds else f"{int(span.total_seconds())} s"


def manual_run_id(period: Period) -> str:
    """One run per period: the same period always names the same run."""
    return f"reconciliation-manual-{period.start:%Y%m%dT%H%M%SZ}-{period.end:%Y%m%dT%H%M%SZ}"


@router.post(
    "",
    operation_id="start_reconciliation_run",
    status_code=202,
    response_model=RunItem,
    summary="Start a reconciliation run now (or get the period's run if there is one)",
    responses={200: {"model": RunItem, "description": "The period already has a run: this one"},
               400: PROBLEM, 401: PROBLEM, 403: PROBLEM, 422: INVALID, 503: PROBLEM},
)
async def start_run(
    request: Request, _: Reconciler, body: Annotated[StartRun | None, Body()] = None
) -> JSONResponse:
    settings = _settings(request)
    body = body or StartRun()
    period = _period(body, settings)
    started = datetime.now(UTC)
    run_id = manual_run_id(period)
    existing = await _stored_run(request, run_id, None)
    if existing is not None:
        return _run_answer(RunItem(**existing.model_dump(exclude={"findings"})), 200)
    request_ = ReconciliationRequest(
        trigger="manual",
        period=period,
        interval_s=settings.reconciliation_interval_s,
        lag_s=settings.reconciliation_lag_s,
        stuck_after_s=body.stuck_after_s or settings.posting_stuck_after_s,
    )
    memo = {"trigger": "manual", "period_start": period.start.isoformat(),
            "period_end": period.end.isoformat()}
    client = await temporal_client(request)
    try:
        await client.start_workflow(
            ReconciliationWorkflow.run,
            request_,
            id=run_id,
            task_queue=settings.task_queue,
            # Running or closed, a run of this period exists: it is the answer (also after a lost race).
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            memo=memo,
        )
    except WorkflowAlreadyStartedError:
        return _run_answer(await _temporal_run(request, run_id), 200)
    return _run_answer(_pending(run_id, "running", memo, started), 202)


def _run_answer(item: RunItem, status: int) -> JSONResponse:
    return JSONResponse(item.model_dump(mode="json"), status_code=status,
                        headers={"Location": item.links.self})


@router.get(
    "",
    operation_id="list_reconciliation_runs",
    response_model=RunPage,
    summary="Reconciliation runs, newest first",
    responses={401: PROBLEM, 403: PROBLEM, 422: INVALID, 503: PROBLEM},
)
def list_runs(
    request: Request,
    _: FinanceReader,
    status: RunStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
) -> RunPage:
    before = _before(cursor)
    with store(request).reading() as session:
        rows = ReconciliationRepository(session).runs(status=status, before=before, limit=limit + 1)
        items = [RunItem.of(row) for row in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = encode_cursor(f"{last.started_at.isoformat()}|{last.run_id}".encode())
    return RunPage(items=items, next_cursor=next_cursor)


def _before(cursor: str | None) -> tuple[datetime, str] | None:
    raw = decode_cursor(cursor)
    if raw is None:
        return None
    try:
        started, _, run_id = raw.decode().partition("|")
        at = datetime.fromisoformat(started)
        if at.tzinfo is None or not run_id:
            raise ValueError(started)
    except ValueError:
        raise validation_problem(
            [{"loc": ("query", "cursor"), "msg": "not a cursor returned by this API"}]
        ) from None
    return at, run_id


@router.get(
    "/{run_id}",
    operation_id="get_reconciliation_run",
    response_model=RunDetail,
    summary="One run: status, period, counts and findings",
    responses={404: PROBLEM, 401: PROBLEM, 403: PROBLEM, 422: INVALID, 503: PROBLEM},
)
async def get_run(
    request: Request,
    _: FinanceReader,
    run_id: RunIdPath,
    type: Annotated[FindingType | None, Query(description="only findings of this type")] = None,
) -> RunDetail:
    detail = await _stored_run(request, run_id, type)
    if detail is not None:
        return detail
    return RunDetail(**(await _temporal_run(request, run_id)).model_dump(), findings=[])


async def _temporal_run(request: Request, run_id: str) -> RunItem:
    """A run the store does not know (yet, or ever), as Temporal knows it; 404 if it was never started."""
    client = await temporal_client(request)
    description = await describe_or_none(client.get_workflow_handle(run_id))
    if description is None or description.workflow_type != ReconciliationWorkflow.__name__:
        raise ProblemError(404, "not-found", f"No reconciliation run {run_id}")
    running = description.status in (WorkflowExecutionStatus.RUNNING, None)
    memo = await description.memo()
    return _pending(run_id, "running" if running else "failed", memo, description.start_time)


async def _stored_run(request: Request, run_id: str, type: FindingType | None) -> RunDetail | None:
    def read() -> RunDetail | None:
        with store(request).reading() as session:
            repo = ReconciliationRepository(session)
            run = repo.get_run(run_id)
            if run is None:
                return None
            findings = [FindingItem.of(f) for f in repo.findings(run_id, type=type.value if type else None)]
            return RunDetail(**RunItem.of(run).model_dump(), findings=findings)

    return await run_in_threadpool(read)


def _pending(run_id: str, status: RunStatus, memo: dict[str, Any], started: datetime | None) -> RunItem:
    return RunItem(
        run_id=run_id,
        trigger=str(memo.get("trigger", "schedule")),
        status=status,
        period_start=memo.get("period_start"),
        period_end=memo.get("period_end"),
        started_at=started,
        finished_at=None,
        orders_checked=0,
        findings_count=0,
        counts={},
        error=None,
        links=run_links(run_id),
    )
