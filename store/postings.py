"""ERP postings: the status writes of the ERP activities, and the reads finance makes.

Every write is one INSERT … ON CONFLICT (kind, reference) DO UPDATE statement, so concurrent or
repeated attempts of the same posting converge on one row without a read-modify-write race, on
PostgreSQL and SQLite alike. `posted` is final: a late write from a stale attempt (retrying,
failed, pending) never turns a posted row back, and a second `posted` keeps the first document.
"""

from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, case, func, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from canonical.erp_postings import PostingDraft, PostingKind, PostingStatus
from canonical.reconciliation import PostingFact
from store.models import ErpPosting, WebhookEvent

_table = ErpPosting.__table__


def _upsert(session: Session, values: dict[str, Any]) -> Any:
    """An INSERT of one posting in the dialect that can say ON CONFLICT."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(_table).values(**values)
    if dialect == "sqlite":
        return sqlite.insert(_table).values(**values)
    raise NotImplementedError(f"the store supports PostgreSQL and SQLite, not {dialect}")


def _new_row(draft: PostingDraft, status: PostingStatus, attempts: int, at: datetime) -> dict[str, Any]:
    return {
        "posting_id": draft.posting_id,
        "order_id": draft.order_id,
        "kind": draft.kind,
        "reference": draft.reference,
        "shipment_id": draft.shipment_id,
        "amount": draft.amount,
        "currency": draft.currency,
        "status": status,
        "attempts": attempts,
        "created_at": at,
        "updated_at": at,
        "status_since": at,
    }


def _more_attempts(stmt: Any) -> ColumnElement[int]:
    """Attempts only grow, whichever attempt writes last."""
    return case((stmt.excluded.attempts > _table.c.attempts, stmt.excluded.attempts), else_=_table.c.attempts)


def _since(stmt: Any, status: str) -> ColumnElement[datetime]:
    """status_since moves only when the status changes: 'retrying since' survives more retries."""
    return case((_table.c.status == status, _table.c.status_since), else_=stmt.excluded.status_since)


_NOT_POSTED = _table.c.status.not_in(("posted", "cancelled"))
"""Posted and cancelled are final: a late write of a stale attempt changes neither."""


class PostingRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # ---- writes (activities) -----------------------------------------------------------------

    def attempt_started(self, draft: PostingDraft, at: datetime) -> int:
        """A row exists from the first attempt on (pending); a retrying row stays retrying. Counts the
        attempt (an attempt re-run after a worker crash counts again) and returns how many there were."""
        stmt = _upsert(self.session, _new_row(draft, "pending", 1, at))
        stmt = stmt.on_conflict_do_update(
            index_elements=["kind", "reference"],
            set_={"attempts": _table.c.attempts + 1, "updated_at": stmt.excluded.updated_at}, where=_NOT_POSTED)
        self.session.execute(stmt)
        row = self.by_business_key(draft.kind, draft.reference)
        return row.attempts if row is not None else 1

    def posted(
        self, draft: PostingDraft, document_number: str, posted_at: datetime, attempt: int, at: datetime
    ) -> None:
        row = {
            **_new_row(draft, "posted", attempt, at),
            "erp_document_number": document_number,
            "posted_at": posted_at,
            "next_attempt_at": None,
        }
        copy = ("status", "erp_document_number", "posted_at", "next_attempt_at", "status_since")
        self._upsert_unless_posted(row, copy=copy)

    def cancelled(self, kind: PostingKind, reference: str, at: datetime) -> bool:
        """The document's order was cancelled: booked and then cancelled in the ERP, or never booked."""
        result = self.session.execute(
            update(ErpPosting)
            .where(ErpPosting.kind == kind, ErpPosting.reference == reference, ErpPosting.status != "cancelled")
            .values(status="cancelled", next_attempt_at=None, updated_at=at, status_since=at)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    def attempt_failed(
        self,
        draft: PostingDraft,
        *,
        attempt: int,
        error: str,
        will_retry: bool,
        next_attempt_at: datetime | None,
        at: datetime,
    ) -> None:
        """retrying when another attempt will come (next_attempt_at: when, if known), else failed."""
        status: PostingStatus = "retrying" if will_retry else "failed"
        row = {
            **_new_row(draft, status, attempt, at),
            "last_error": error,
            "next_attempt_at": next_attempt_at,
        }
        self._upsert_unless_posted(
            row,
            copy=("status", "last_error", "next_attempt_at"),
            status_since=lambda stmt: _since(stmt, status),
        )

    def _upsert_unless_posted(
        self,
        row: dict[str, Any],
        *,
        copy: Sequence[str],
        status_since: Callable[[Any], ColumnElement[datetime]] | None = None,
    ) -> None:
        """Insert the posting, or update the existing row unless it is posted: the `copy` columns take
        the new values, attempts only grow, and status_since as given."""
        stmt = _upsert(self.session, row)
        changes: dict[str, Any] = {name: stmt.excluded[name] for name in (*copy, "updated_at")}
        changes["attempts"] = _more_attempts(stmt)
        if status_since is not None:
            changes["status_since"] = status_since(stmt)
        stmt = stmt.on_conflict_do_update(
            index_elements=["kind", "reference"], set_=changes, where=_NOT_POSTED
        )
        self.session.execute(stmt)

    # ---- reads (API, reconciliation) ---------------------------------------------------------

    def get(self, posting_id: str) -> ErpPosting | None:
        return self.session.scalars(select(ErpPosting).where(ErpPosting.posting_id == posting_id)).first()

    def by_business_key(self, kind: PostingKind, reference: str) -> ErpPosting | None:
        return self.session.scalars(
            select(ErpPosting).where(ErpPosting.kind == kind, ErpPosting.reference == reference)
        ).first()

    def page(self, filters: "PostingFilters", *, after: "PageKey | None", limit: int) -> list[ErpPosting]:
        """One page in list order (see PostingFilters.by_posting_time), after the row `after` names."""
        query = filters.apply(select(ErpPosting))
        if filters.by_posting_time:
            if after is not None:
                if after.posted_at is None:
                    raise ValueError("a page key without posted_at cannot continue a list by posting time")
                query = query.where(tuple_(ErpPosting.posted_at, ErpPosting.id) > (after.posted_at, after.id))
            order: list[Any] = [ErpPosting.posted_at, ErpPosting.id]
        else:
            if after is not None:
                query = query.where(ErpPosting.id > after.id)
            # The equality-filtered column first changes nothing in the result (it is constant), but it
            # names the one index that yields the rows already in order, so the planner cannot take the
            # primary key and filter its way through a table whose matches all sit at the end.
            order = [*filters.equality_prefix(), ErpPosting.id]
        return list(self.session.scalars(query.order_by(*order).limit(limit)))

    def stream(
        self, filters: "PostingFilters", *, after: "PageKey | None" = None, batch: int = 1000
    ) -> Iterator[ErpPosting]:
        """Every matching row in list order, fetched in keyset batches."""
        for rows in self.batches(filters, after=after, batch=batch):
            yield from rows

    def batches(
        self, filters: "PostingFilters", *, after: "PageKey | None" = None, batch: int = 1000
    ) -> Iterator[list[ErpPosting]]:
        """Every matching row in list order, a keyset batch at a time (for CSV exports)."""
        while True:
            rows = self.page(filters, after=after, limit=batch)
            if rows:
                yield rows
            if len(rows) < batch:
                return
            after = PageKey.of(rows[-1])

    def summary(self, day: date) -> list["SummaryRow"]:
        """Counts and amounts by kind, status and currency of the postings that arose on `day` (UTC)."""
        start = datetime.combine(day, time(), tzinfo=UTC)
        query = (
            select(
                ErpPosting.kind,
                ErpPosting.status,
                ErpPosting.currency,
                func.count(),
                func.sum(ErpPosting.amount),
            )
            .where(ErpPosting.created_at >= start, ErpPosting.created_at < start + timedelta(days=1))
            .group_by(ErpPosting.kind, ErpPosting.status, ErpPosting.currency)
            .order_by(ErpPosting.kind, ErpPosting.status, ErpPosting.currency)
        )
        return [
            SummaryRow(k, s, c, int(n), int(total or 0)) for k, s, c, n, total in self.session.execute(query)
        ]

    def orders_cancelled_at(self, order_ids: Collection[str]) -> dict[str, datetime]:
        """When each of these orders was cancelled, from its order.cancelled event in the store's record of
        published events; orders that were not cancelled are absent."""
        if not order_ids:
            return {}
        query = (
            select(WebhookEvent.order_id, func.min(WebhookEvent.occurred_at))
            .where(WebhookEvent.order_id.in_(list(order_ids)), WebhookEvent.type == "order.cancelled")
            .group_by(WebhookEvent.order_id)
        )
        return {order_id: at for order_id, at in self.session.execute(query)}

    def facts_of_orders(self, order_ids: Sequence[str]) -> list[PostingFact]:
        if not order_ids:
            return []
        rows = self.session.scalars(select(ErpPosting).where(ErpPosting.order_id.in_(list(order_ids))))
        return [fact(row) for row in rows]

    def retrying_since_before(self, cutoff: datetime) -> list[PostingFact]:
        rows = self.session.scalars(
            select(ErpPosting)
            .where(ErpPosting.status == "retrying", ErpPosting.status_since < cutoff)
            .order_by(ErpPosting.id)
        )
        return [fact(row) for row in rows]


@dataclass(frozen=True)
class SummaryRow:
    kind: str
    status: str
    currency: str
    count: int
    amount: int


@dataclass(frozen=True)
class PageKey:
    """Where a page ended: the keyset cursor of the list."""

    id: int
    posted_at: datetime | None = None

    @classmethod
    def of(cls, row: ErpPosting) -> "PageKey":
        return cls(row.id, row.posted_at)


@dataclass(frozen=True)
class PostingFilters:
    """The filters of GET /v1/erp-postings; posted_from inclusive, posted_to exclusive.

    The list is in the order postings first appeared (id); filtered on posting time, it is in posting
    order (posted_at, id) instead, which is both what finance reads a day's postings in and what the
    posted_at index serves directly.
    """

    order_id: str | None = None
    status: PostingStatus | None = None
    kind: PostingKind | None = None
    posted_from: datetime | None = None
    posted_to: datetime | None = None

    @property
    def by_posting_time(self) -> bool:
        return self.posted_from is not None or self.posted_to is not None

    def equality_prefix(self) -> list[Any]:
        """The most selective equality-filtered column, whose (column, id) index serves the order."""
        for column, value in (
            (ErpPosting.order_id, self.order_id),
            (ErpPosting.status, self.status),
            (ErpPosting.kind, self.kind),
        ):
            if value is not None:
                return [column]
        return []

    def apply(self, query: Select[Any]) -> Select[Any]:
        if self.order_id is not None:
            query = query.where(ErpPosting.order_id == self.order_id)
        if self.status is not None:
            query = query.where(ErpPosting.status == self.status)
        if self.kind is not None:
            query = query.where(ErpPosting.kind == self.kind)
        if self.posted_from is not None:
            query = query.where(ErpPosting.posted_at >= self.posted_from)
        if self.posted_to is not None:
            query = query.where(ErpPosting.posted_at < self.posted_to)
        return query


def fact(row: ErpPosting) -> PostingFact:
    return PostingFact(
        kind=row.kind,
        reference=row.reference,
        order_id=row.order_id,
        amount=row.amount,
        currency=row.currency,
        status=row.status,
        attempts=row.attempts,
        last_error=row.last_error,
        status_since=row.status_since,
        erp_document_number=row.erp_document_number,
    )
