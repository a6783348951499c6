"""Revision 0005's tables on SQLite and PostgreSQL: an inbound dead letter is one row per webhook id
however often (and however concurrently) it arrives; a reconciliation run's orders page by order id."""

import threading
from datetime import UTC, datetime, timedelta

from canonical.reconciliation import Period
from store.dead_letters import DeadLetterRepository
from store.engine import Store
from store.reconciliation import ReconciliationRepository

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def keep(store: Store, webhook_id: str, at: datetime) -> int:
    with store.writing() as session:
        return DeadLetterRepository(session).record(
            source="fulfillment", webhook_id=webhook_id, event_type="shipment.lost", order_id="O-1",
            reason="unsupported_type", detail="unsupported event type", errors=[{"loc": ["body", "type"], "msg": "x"}],
            payload='{"type":"shipment.lost"}', at=at)


def test_a_dead_letter_redelivered_concurrently_is_one_row(store: Store) -> None:
    ids: list[int] = []
    threads = [threading.Thread(target=lambda n=n: ids.append(keep(store, "msg-1", T0 + timedelta(seconds=n))))
               for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    keep(store, "msg-2", T0)
    with store.reading() as session:
        rows = DeadLetterRepository(session).page("fulfillment", after_id=None, limit=10)
        first = rows[0]
        assert [(r.webhook_id, r.deliveries) for r in rows] == [("msg-1", 6), ("msg-2", 1)]
        assert set(ids) == {first.id} and first.received_at <= first.last_received_at
        assert first.errors == [{"loc": ["body", "type"], "msg": "x"}]
        assert DeadLetterRepository(session).page("fulfillment", after_id=first.id, limit=10)[0].webhook_id == "msg-2"


def test_run_orders_page_by_order_id_and_are_recorded_once(store: Store) -> None:
    period = Period(start=T0, end=T0 + timedelta(days=1))
    with store.writing() as session:
        repo = ReconciliationRepository(session)
        repo.start_run("run-1", trigger="manual", period=period, stuck_after_s=60, at=T0)
        assert repo.add_run_orders("run-1", [f"O-{n:03d}" for n in range(250)]) == 250
        assert repo.add_run_orders("run-1", ["O-000", "O-249"]) == 250  # an activity retried: same set
    pages: list[list[str]] = []
    after: str | None = None
    while True:
        with store.reading() as session:
            page = ReconciliationRepository(session).run_orders("run-1", after=after, limit=100)
        if not page:
            break
        pages.append(page)
        after = page[-1]
    assert [len(p) for p in pages] == [100, 100, 50]
    assert [o for p in pages for o in p] == [f"O-{n:03d}" for n in range(250)]
