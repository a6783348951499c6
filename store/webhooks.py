"""Outbound webhooks: endpoints, the events published and their deliveries.

Written by activities that may run more than once: an event is recorded once (insert-if-missing), a
delivery is keyed by (endpoint, event), and every state change is one conditional UPDATE, so
concurrent or repeated writes converge on PostgreSQL and SQLite alike. `delivered` is final: a
late write of a stale attempt never turns a delivered row back.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, aliased

from canonical.events import BusinessEvent
from canonical.webhooks import DeliveryStatus, delivery_id, webhook_payload
from store.engine import insert_for
from store.models import WebhookDelivery, WebhookEndpoint, WebhookEvent


@dataclass(frozen=True)
class Claim:
    """A due delivery this worker now holds: which run it is in and how many attempts that run made."""

    delivery_id: str
    endpoint_id: str
    run: int
    run_attempts: int


class WebhookRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # ---- endpoints (API) ---------------------------------------------------------------------

    def create_endpoint(self, *, endpoint_id: str, url: str, event_types: Sequence[str], sealed_secret: str,
                        at: datetime) -> WebhookEndpoint:
        """`sealed_secret`: the signing secret as store/secret_box.py seals it for this endpoint id."""
        endpoint = WebhookEndpoint(id=endpoint_id, url=url, event_types=list(event_types),
                                   secret_sealed=sealed_secret, status="active", created_at=at)
        self.session.add(endpoint)
        self.session.flush()
        return endpoint

    def rotate_secret(self, endpoint_id: str, *, sealed_secret: str,
                      previous_until: datetime) -> WebhookEndpoint | None:
        """The new secret signs from now on; the current one keeps signing too until `previous_until`.
        Under the row lock, so two rotations at once leave one previous secret, not a lost one."""
        endpoint = self.session.get(WebhookEndpoint, endpoint_id, with_for_update=True)
        if endpoint is None:
            return None
        endpoint.previous_secret_sealed = endpoint.secret_sealed
        endpoint.previous_secret_expires_at = previous_until
        endpoint.secret_sealed = sealed_secret
        self.session.flush()
        return endpoint

    def ensure_builtin_endpoint(self, *, endpoint_id: str, kind: str, url: str, event_types: Sequence[str],
                                sealed_secret: str, at: datetime) -> str:
        """A destination o2c keeps itself (e.g. Bloomreach): made once, and made active again with the current
        URL and event types at every start, whoever else starts at the same time. Returns what it did."""
        inserted = self.session.execute(
            insert_for(self.session, WebhookEndpoint)
            .values(id=endpoint_id, kind=kind, url=url, event_types=list(event_types),
                    secret_sealed=sealed_secret, status="active", created_at=at)
            .on_conflict_do_nothing(index_elements=["id"])
            .returning(WebhookEndpoint.__table__.c.id)
        ).scalar()
        if inserted is not None:
            return "registered"
        endpoint = self.session.get(WebhookEndpoint, endpoint_id, with_for_update=True)
        if endpoint is None:  # deleted between the two statements: the next start makes it again
            return "deleted meanwhile"
        endpoint.url, endpoint.event_types, endpoint.status = url, list(event_types), "active"
        endpoint.disabled_reason = endpoint.disabled_at = None
        self.session.flush()
        return "already registered"

    def endpoint(self, endpoint_id: str) -> WebhookEndpoint | None:
        return self.session.get(WebhookEndpoint, endpoint_id)

    def endpoints(self) -> list[WebhookEndpoint]:
        return list(self.session.scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.created_at,
                                                                          WebhookEndpoint.id)))

    def delete_endpoint(self, endpoint_id: str) -> bool:
        """Deletes the endpoint and its deliveries; a delivery still running stops at its next attempt."""
        # Deliveries explicitly, rather than by the foreign key's cascade alone (SQLite needs a pragma).
        self.session.execute(WebhookDelivery.__table__.delete().where(WebhookDelivery.endpoint_id == endpoint_id))
        deleted = self.session.execute(WebhookEndpoint.__table__.delete().where(WebhookEndpoint.id == endpoint_id))
        return bool(deleted.rowcount)

    def disable_endpoint(self, endpoint_id: str, reason: str, at: datetime) -> int:
        """Disable (e.g. the receiver answered 410 Gone); its pending deliveries fail with the reason.
        Returns how many deliveries were failed."""
        self.session.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.status == "active")
            .values(status="disabled", disabled_reason=reason, disabled_at=at)
        )
        failed = self.session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.endpoint_id == endpoint_id, WebhookDelivery.status == "pending")
            .values(status="failed", last_error=reason, next_attempt_at=None, updated_at=at)
        )
        return int(failed.rowcount or 0)  # type: ignore[attr-defined]

    # ---- publishing (activities) -------------------------------------------------------------

    def record_events(self, events: Sequence[BusinessEvent], at: datetime) -> int:
        """Record each event once and one delivery per active endpoint subscribed to its type, in three
        statements however many events there are (they are on every order's hot path). Returns how many
        deliveries the events have (a repeated call counts the same ones)."""
        if not events:
            return 0
        payloads = {event.id: webhook_payload(event) for event in events}
        self.session.execute(
            insert_for(self.session, WebhookEvent)
            .values([
                {"event_id": event.id, "type": event.type, "order_id": event.order_id,
                 "correlation_id": event.correlation_id, "occurred_at": event.occurred_at,
                 "payload": payloads[event.id], "recorded_at": at}
                for event in events
            ])
            .on_conflict_do_nothing(index_elements=["event_id"])
        )
        active = [e for e in self.endpoints() if e.status == "active"]
        rows = [
            {
                "delivery_id": delivery_id(e.id, event.id), "endpoint_id": e.id, "event_id": event.id,
                "event_type": event.type, "order_id": event.order_id, "payload": payloads[event.id],
                "status": "pending", "attempts": 0, "runs": 1, "next_attempt_at": at, "created_at": at,
                "updated_at": at,
            }
            for event in events for e in active if event.type in e.event_types
        ]
        if rows:
            self.session.execute(
                insert_for(self.session, WebhookDelivery).values(rows)
                .on_conflict_do_nothing(index_elements=["endpoint_id", "event_id"])
            )
        return len(rows)

    def record_event(self, event: BusinessEvent, at: datetime) -> list[WebhookDelivery]:
        """`record_events` for one event, returning its deliveries."""
        self.record_events([event], at)
        return list(self.session.scalars(
            select(WebhookDelivery).where(WebhookDelivery.event_id == event.id).order_by(WebhookDelivery.id)
        ))

    def delivery(self, delivery_id: str) -> WebhookDelivery | None:
        return self.session.scalars(select(WebhookDelivery).where(WebhookDelivery.delivery_id == delivery_id)).first()

    def record_attempt(self, delivery_id: str, *, status: DeliveryStatus, status_code: int | None,
                       response: str | None, error: str | None, at: datetime,
                       next_attempt_at: datetime | None) -> bool:
        """One attempt's outcome; False if the row is gone or already delivered (nothing changed)."""
        values: dict[str, Any] = {
            "status": status, "attempts": WebhookDelivery.attempts + 1,
            "run_attempts": WebhookDelivery.run_attempts + 1, "last_status_code": status_code,
            "last_response": response, "last_error": error, "last_attempt_at": at,
            "next_attempt_at": next_attempt_at if status == "pending" else None, "updated_at": at,
        }
        if status == "delivered":
            values["delivered_at"] = at
        result = self.session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.delivery_id == delivery_id, WebhookDelivery.status != "delivered")
            .values(**values)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    def claim_due(self, now: datetime, lease_until: datetime, limit: int,
                  room: Callable[[str], int] = lambda endpoint_id: 1 << 30) -> list[Claim]:
        """Deliveries due now, oldest first, at most one per (endpoint, order) and only once every earlier
        pending delivery of that order to that endpoint is done, so each receiver gets an order's events
        in order; no more per endpoint than `room(endpoint_id)`. Each is claimed by moving its next attempt
        to `lease_until`, one conditional UPDATE per row: of several workers only one claims a row, and a
        worker that dies mid-attempt leaves it due again when the lease ends."""
        earlier = aliased(WebhookDelivery)
        blocked = (
            select(earlier.id)
            .where(earlier.endpoint_id == WebhookDelivery.endpoint_id, earlier.order_id == WebhookDelivery.order_id,
                   earlier.status == "pending", earlier.id < WebhookDelivery.id)
            .exists()
        )
        due = self.session.execute(
            select(WebhookDelivery.delivery_id, WebhookDelivery.endpoint_id, WebhookDelivery.runs,
                   WebhookDelivery.run_attempts)
            .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now, ~blocked)
            .order_by(WebhookDelivery.id)
            .limit(limit * 4)
        ).all()
        claimed: list[Claim] = []
        for row in due:
            if sum(c.endpoint_id == row.endpoint_id for c in claimed) >= room(row.endpoint_id):
                continue
            result = self.session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.delivery_id == row.delivery_id, WebhookDelivery.status == "pending",
                       WebhookDelivery.next_attempt_at <= now)
                .values(next_attempt_at=lease_until)
            )
            if result.rowcount:  # type: ignore[attr-defined]
                claimed.append(Claim(row.delivery_id, row.endpoint_id, row.runs, row.run_attempts))
            if len(claimed) == limit:
                break
        return claimed

    def fail(self, delivery_id: str, reason: str, at: datetime) -> bool:
        """Give up on a pending delivery without an attempt (e.g. its endpoint was disabled meanwhile)."""
        result = self.session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.delivery_id == delivery_id, WebhookDelivery.status == "pending")
            .values(status="failed", last_error=reason, next_attempt_at=None, updated_at=at)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    def start_manual_retry(self, delivery_id: str, at: datetime) -> int | None:
        """A failed delivery goes back to pending for a fresh run; returns that run's number, or None
        when the delivery is not failed (pending: a run is on it; delivered: nothing to do)."""
        result = self.session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.delivery_id == delivery_id, WebhookDelivery.status == "failed")
            .values(status="pending", runs=WebhookDelivery.runs + 1, run_attempts=0, next_attempt_at=at, updated_at=at)
        )
        if not result.rowcount:  # type: ignore[attr-defined]
            return None
        runs = self.session.scalar(select(WebhookDelivery.runs).where(WebhookDelivery.delivery_id == delivery_id))
        return int(runs) if runs is not None else None

    # ---- reads (API) -------------------------------------------------------------------------

    def deliveries(self, endpoint_id: str, *, status: DeliveryStatus | None = None, order_id: str | None = None,
                   after_id: int | None = None, limit: int = 50) -> list[WebhookDelivery]:
        query = select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id)
        if status is not None:
            query = query.where(WebhookDelivery.status == status)
        if order_id is not None:
            query = query.where(WebhookDelivery.order_id == order_id)
        if after_id is not None:
            query = query.where(WebhookDelivery.id > after_id)
        return list(self.session.scalars(query.order_by(WebhookDelivery.id).limit(limit)))

    def events_of_order(self, order_id: str) -> list[WebhookEvent]:
        return list(self.session.scalars(
            select(WebhookEvent).where(WebhookEvent.order_id == order_id).order_by(WebhookEvent.occurred_at)
        ))
