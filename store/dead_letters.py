"""Inbound dead letters: signed events that could not be applied, kept for support (revision 0005).

One row per (source, webhook-id): the sender retrying the same event adds a delivery to it, never a
second row, however often the API is called at once.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import case, select
from sqlalchemy.orm import Session

from store.engine import insert_for
from store.models import InboundDeadLetter


class DeadLetterRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def record(self, *, source: str, webhook_id: str, event_type: str | None, order_id: str | None,
               reason: str, detail: str, errors: list[dict[str, Any]], payload: str, at: datetime) -> int:
        """Keep the event, or count one more delivery of it; returns its id."""
        table = InboundDeadLetter.__table__
        stmt = insert_for(self.session, InboundDeadLetter).values(
            source=source, webhook_id=webhook_id, event_type=event_type, order_id=order_id, reason=reason,
            detail=detail, errors=errors, payload=payload, deliveries=1, received_at=at, last_received_at=at,
        ).on_conflict_do_update(
            index_elements=["source", "webhook_id"],
            # Concurrent redeliveries commit in any order: the window only ever widens.
            set_={"deliveries": table.c.deliveries + 1,
                  "received_at": case((table.c.received_at > at, at), else_=table.c.received_at),
                  "last_received_at": case((table.c.last_received_at < at, at), else_=table.c.last_received_at)},
        ).returning(table.c.id)
        return int(self.session.execute(stmt).scalar_one())

    def page(self, source: str, *, after_id: int | None, limit: int) -> list[InboundDeadLetter]:
        query = select(InboundDeadLetter).where(InboundDeadLetter.source == source)
        if after_id is not None:
            query = query.where(InboundDeadLetter.id > after_id)
        return list(self.session.scalars(query.order_by(InboundDeadLetter.id).limit(limit)))
