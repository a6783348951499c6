"""/v1/reconciliation/runs (finance:read): start a reconciliation run now, list runs, read one run
with its findings.

A run is a ReconciliationWorkflow; it records itself in the store, which is what the reads show.
Between the start and the run's first activity the store does not know it yet; the workflow (its
memo) then answers, so a client that polls right after POST never sees a 404.
"""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from temporalio.client import WorkflowExecutionStatus

from api.auth import Principal, require_scope
from api.finance_models import FindingItem, RunDetail, RunItem, RunPage, run_links
from api.order_search import decode_cursor, encode_cursor
from api.problems import Problem, ProblemError, ValidationProblem, validation_problem
from api.store_access import store
from api.temporal_gateway import describe_or_none, temporal_client
from canonical.reconciliation import FindingType, Period, ReconciliationRequest, RunStatus
from canonical.settings import Settings
from store.reconciliation import ReconciliationRepository
from workflows.reconciliation import ReconciliationWorkflow

router = APIRouter(prefix="/v1/reconciliation/runs", tags=["finance"])

PROBLEM = {"model": Problem, "content": {"application/problem+json": {}}}
INVALID = {"model": ValidationProblem, "content": {"application/problem+json": {}}}
FinanceReader = Annotated[Principal, Depends(require_scope("finance:read"))]
RunIdPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9._:-]{1,128}$")]


class StartRun(BaseModel):
    model_config = ConfigDict(extra="forbid")

    period_start: AwareDatetime | None = None
    """Default: period_end minus O2C_RECONCILIATION_INTERVAL_S."""
    period_end: AwareDatetime | None = None
    """Default: now."""
    stuck_after_s: float | None = Field(default=None, gt=0, le=90 * 24 * 3600)
    """Report postings retrying for longer than this; default O2C_POSTING_STUCK_AFTER_S."""


def _settings(request: Request) -> Settings:
    return request.app.state.settings


def _period(body: StartRun, settings: Settings) -> Period:
    end = body.period_end or datetime.now(UTC)
    start = body.period_start or end - timedelta(seconds=settings.reconciliation_interval_s)
    if start >= end:
        raise validation_problem([{"loc": ("body", "period_end"), "msg": "must be after period_start"}])
    return Period(start=start, end=end)


@router.post(
    "",
    status_code=202,
    response_model=RunItem,
    summary="Start a reconciliation run now",
    responses={400: PROBLEM, 401: PROBLEM, 403: PROBLEM, 422: INVALID, 503: PROBLEM},
)
async def start_run(
    request: Request, _: FinanceReader, body: Annotated[StartRun | None, Body()] = None
) -> JSONResponse:
    settings = _settings(request)
    body = body or StartRun()
    period = _period(body, settings)
    started = datetime.now(UTC)
    run_id = f"reconciliation-manual-{started:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"
    request_ = ReconciliationRequest(
        trigger="manual",
        period=period,
        interval_s=settings.reconciliation_interval_s,
        lag_s=settings.reconciliation_lag_s,
        stuck_after_s=body.stuck_after_s or settings.posting_stuck_after_s,
    )
    client = await temporal_client(request)
    await client.start_workflow(
        ReconciliationWorkflow.run,
        request_,
        id=run_id,
        task_queue=settings.task_queue,
        memo={
            "trigger": "manual",
            "period_start": period.start.isoformat(),
            "period_end": period.end.isoformat(),
        },
    )
    item = _pending(
        run_id,
        "running",
        {"trigger": "manual", "period_start": period.start.isoformat(), "period_end": period.end.isoformat()},
        started,
    )
    return JSONResponse(item.model_dump(mode="json"), status_code=202, headers={"Location": item.links.self})


@router.get(
    "",
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
    # Not recorded yet (or never): ask Temporal whether such a run was started.
    client = await temporal_client(request)
    description = await describe_or_none(client.get_workflow_handle(run_id))
    if description is None or description.workflow_type != ReconciliationWorkflow.__name__:
        raise ProblemError(404, "not-found", f"No reconciliation run {run_id}")
    running = description.status in (WorkflowExecutionStatus.RUNNING, None)
    memo = await description.memo()
    pending = _pending(run_id, "running" if running else "failed", memo, description.start_time)
    return RunDetail(**pending.model_dump(), findings=[])


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
