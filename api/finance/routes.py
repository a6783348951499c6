"""/v1/erp-postings (finance:read): which ERP documents were posted for which orders, which are still
retrying and why; as JSON pages or a CSV export; and a daily summary.

Reads the store only. The list is ordered by when each posting first appeared (filtered on posting
time: by when it was posted) and paged by an opaque keyset cursor, so a page never repeats or skips
a row while new postings keep arriving.
"""

from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from api.finance.csv_export import CSV_MEDIA_TYPE, csv_chunks, prefers_csv
from api.finance.models import (
    CSV_COLUMNS,
    ErpPostingItem,
    ErpPostingPage,
    PostingSummary,
    SummaryGroup,
    csv_record,
    kind_totals,
)
from api.orders.search import decode_cursor, encode_cursor
from api.shared.auth import Principal, require_scope
from api.shared.problems import PROBLEM, ProblemError, ValidationProblem, validation_problem
from api.shared.store import store
from canonical.erp_postings import PostingKind, PostingStatus
from store.engine import Store
from store.models import ErpPosting
from store.postings import PageKey, PostingFilters, PostingRepository

router = APIRouter(prefix="/v1/erp-postings", tags=["finance"])

READ_PROBLEMS = {
    401: PROBLEM,
    403: PROBLEM,
    422: {"model": ValidationProblem, "content": {"application/problem+json": {}}},
    503: PROBLEM,
}
FinanceReader = Annotated[Principal, Depends(require_scope("finance:read"))]
Instant = AwareDatetime | date
"""A timestamp with its offset, or a day (UTC)."""

DEFAULT_LIMIT = 50
_CURSOR_PREFIX = b"pst:"


def _start_of(value: Instant) -> datetime:
    return value if isinstance(value, datetime) else datetime.combine(value, time(), tzinfo=UTC)


def _end_of(value: Instant) -> datetime:
    """posted_to is exclusive for a timestamp; a day means through the end of that day."""
    return (
        value
        if isinstance(value, datetime)
        else datetime.combine(value + timedelta(days=1), time(), tzinfo=UTC)
    )


def _cursor(row: ErpPosting) -> str:
    key = f"{row.id}" + (f"@{row.posted_at.isoformat()}" if row.posted_at is not None else "")
    return encode_cursor(_CURSOR_PREFIX + key.encode()) or ""


def _after(cursor: str | None, filters: PostingFilters) -> PageKey | None:
    """Where the previous page ended; a 422 for a cursor we did not issue, or issued for a list in the
    other order (by posting time or not, see PostingFilters)."""
    raw = decode_cursor(cursor)
    if raw is None:
        return None
    try:
        number, _, posted = raw.removeprefix(_CURSOR_PREFIX).decode().partition("@")
        if raw == raw.removeprefix(_CURSOR_PREFIX) or not number.isdigit():
            raise ValueError(raw)
        key = PageKey(int(number), datetime.fromisoformat(posted) if posted else None)
        if filters.by_posting_time and key.posted_at is None:
            raise ValueError(raw)
    except ValueError:
        raise validation_problem([{"loc": ("query", "cursor"), "msg": "not a cursor of this list"}]) from None
    return key


CSV_DESCRIPTION = (
    "A page (JSON) or, with `Accept: text/csv`, an export a spreadsheet reads: one row per posting, a "
    "header row, these columns:\n\n"
    + "\n".join(f"- `{name}`: {meaning}" for name, meaning in CSV_COLUMNS.items())
    + "\n\nTimes are UTC as `YYYY-MM-DD HH:MM:SS`; an empty cell is a null. In JSON, `amount` is in "
    "integer minor units."
)


class PostingQuery(BaseModel):
    """The list's filters and page, shared by the JSON list and the CSV export."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    order_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9._:-]{1,64}$")
    """Only this order's postings."""
    status: PostingStatus | None = None
    """Only postings in this status."""
    kind: PostingKind | None = None
    """Only postings of this kind."""
    posted_from: Instant | None = None
    """posted at or after (a day means its start, UTC)"""
    posted_to: Instant | None = None
    """posted before (a day means through its end, UTC)"""
    limit: int | None = Field(default=None, ge=1, le=500)
    """page size (JSON default 50); CSV without a limit exports every matching posting"""
    cursor: str | None = Field(default=None, max_length=200)
    """`next_cursor` of the previous page (CSV: its X-Next-Cursor header)."""


CSV_RESPONSE = {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": CSV_DESCRIPTION}


@router.get(
    "",
    response_model=ErpPostingPage,
    summary="List ERP postings (JSON pages, or CSV with Accept: text/csv)",
    responses={
        200: CSV_RESPONSE,
        **READ_PROBLEMS,
    },
)
def list_erp_postings(
    request: Request,
    _: FinanceReader,
    query: Annotated[PostingQuery, Query()],
    # Not in the document: a generated client would parse the CSV as JSON. It asks export_erp_postings.
    accept: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Response | ErpPostingPage:
    filters = PostingFilters(
        order_id=query.order_id,
        status=query.status,
        kind=query.kind,
        posted_from=_start_of(query.posted_from) if query.posted_from is not None else None,
        posted_to=_end_of(query.posted_to) if query.posted_to is not None else None,
    )
    if filters.posted_from and filters.posted_to and filters.posted_from >= filters.posted_to:
        raise validation_problem([{"loc": ("query", "posted_to"), "msg": "must be after posted_from"}])
    after = _after(query.cursor, filters)
    db = store(request)
    if prefers_csv(accept) and query.limit is None:
        return StreamingResponse(
            _export(db, filters, after),
            media_type=CSV_MEDIA_TYPE,
            headers={"Content-Disposition": 'attachment; filename="erp-postings.csv"'},
        )
    size = query.limit or DEFAULT_LIMIT
    with db.reading() as session:
        repo = PostingRepository(session)
        rows = repo.page(filters, after=after, limit=size + 1)
        items = _items(repo, rows[:size])
    next_cursor = _cursor(rows[size - 1]) if len(rows) > size else None
    if prefers_csv(accept):
        headers = {"Content-Disposition": 'attachment; filename="erp-postings.csv"'}
        if next_cursor:
            headers["X-Next-Cursor"] = next_cursor
        body = "".join(csv_chunks(tuple(CSV_COLUMNS), (csv_record(item) for item in items)))
        return Response(body, media_type=CSV_MEDIA_TYPE, headers=headers)
    return ErpPostingPage(items=items, next_cursor=next_cursor)


@router.get(
    "/export.csv",
    response_class=Response,
    summary="Export ERP postings as CSV (what GET /v1/erp-postings answers to Accept: text/csv)",
    responses={200: CSV_RESPONSE, **READ_PROBLEMS},
)
def export_erp_postings(
    request: Request, principal: FinanceReader, query: Annotated[PostingQuery, Query()]
) -> Response:
    # Its own operation so that a generated client reads the answer as text: one media type per operation.
    answer = list_erp_postings(request, principal, query, accept=CSV_MEDIA_TYPE)
    assert isinstance(answer, Response)
    return answer


def _export(db: Store, filters: PostingFilters, after: PageKey | None) -> Iterator[str]:
    # Runs while the response streams (in the thread pool), with a session of its own.
    with db.reading() as session:
        repo = PostingRepository(session)
        batches = repo.batches(filters, after=after)
        records = (csv_record(item) for rows in batches for item in _items(repo, rows))
        yield from csv_chunks(tuple(CSV_COLUMNS), records)


def _items(repo: PostingRepository, rows: Sequence[ErpPosting]) -> list[ErpPostingItem]:
    """The rows as the API shows them, each with when its order was cancelled, if it was."""
    cancelled = repo.orders_cancelled_at({row.order_id for row in rows})
    return [ErpPostingItem.of(row, cancelled.get(row.order_id)) for row in rows]


@router.get(
    "/summary",
    operation_id="erp_posting_summary",
    response_model=PostingSummary,
    summary="Counts and amounts by kind and status for a day",
    description=(
        "The postings that arose on a UTC day (their `created_at`). `groups`: count and amount (integer "
        "minor units) per kind, status and currency. `totals`: per kind and currency, never across kinds "
        "(a sales order and its invoice are the same money at two stages; a credit memo gives money "
        "back): `amount` is what stands (booked or still to book, cancelled excluded), `posted_amount` "
        "what the ERP has booked, `cancelled_amount` what was withdrawn with a cancelled order."
    ),
    responses=READ_PROBLEMS,
)
def erp_postings_summary(
    request: Request,
    _: FinanceReader,
    day: Annotated[
        date | None, Query(alias="date", description="UTC day the postings arose on; default today")
    ] = None,
) -> PostingSummary:
    day = day or datetime.now(UTC).date()
    with store(request).reading() as session:
        rows = PostingRepository(session).summary(day)
    groups = [SummaryGroup.model_validate(row, from_attributes=True) for row in rows]
    return PostingSummary(date=day, groups=groups, totals=kind_totals(groups))


@router.get(
    "/{posting_id}",
    response_model=ErpPostingItem,
    summary="One ERP posting",
    responses={404: PROBLEM, **READ_PROBLEMS},
)
def get_erp_posting(
    request: Request,
    _: FinanceReader,
    posting_id: Annotated[str, Path(pattern=r"^[A-Za-z0-9_]{1,40}$")],
) -> ErpPostingItem:
    with store(request).reading() as session:
        repo = PostingRepository(session)
        row = repo.get(posting_id)
        if row is None:
            raise ProblemError(404, "not-found", f"No ERP posting {posting_id}")
        return _items(repo, [row])[0]
