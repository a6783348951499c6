"""The backlog read behind the worker's gauges: unposted ERP postings and undelivered webhook deliveries
by status, and the oldest unposted posting, on SQLite and PostgreSQL."""

from datetime import UTC, datetime, timedelta

from canonical.erp_postings import PostingDraft
from canonical.events import BusinessEvent
from canonical.webhooks import delivery_id
from store.backlog import Backlog, backlog_of, read_backlog
from store.engine import Store
from store.postings import PostingRepository
from store.webhooks import WebhookRepository

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def draft(n: int) -> PostingDraft:
    return PostingDraft(kind="invoice", reference=f"O-{n}:invoice:S1", order_id=f"O-{n}", amount=1000 + n,
                        currency="EUR", shipment_id="S1")  # type: ignore[arg-type]


def event(n: int) -> BusinessEvent:
    return BusinessEvent(type="order.completed", id=f"00000000-0000-0000-0000-{n:012d}", occurred_at=T0,  # type: ignore[arg-type]
                         order_id=f"O-{n}", correlation_id="corr-1", data={"customer_id": "C-1"})


def test_an_empty_store_has_no_backlog(store: Store) -> None:
    assert read_backlog(store.engine) == Backlog(
        erp_postings_pending=0, erp_postings_retrying=0, erp_oldest_unposted_at=None,
        webhook_deliveries_pending=0, webhook_deliveries_failed=0)


def test_postings_count_by_waiting_status_and_the_oldest_is_the_earliest_created(store: Store) -> None:
    with store.writing() as session:
        repo = PostingRepository(session)
        # Booked, failed and cancelled postings wait for nothing, however old.
        repo.attempt_started(draft(1), T0 - timedelta(days=3))
        repo.posted(draft(1), "INV-1", T0, 1, T0)
        repo.attempt_started(draft(2), T0 - timedelta(days=2))
        repo.attempt_failed(draft(2), attempt=1, error="no", will_retry=False, next_attempt_at=None, at=T0)
        repo.attempt_started(draft(3), T0 - timedelta(days=1))
        repo.cancelled("invoice", draft(3).reference, T0)
        # Inserted first but created later: the oldest is by created_at, not by insertion order.
        repo.attempt_started(draft(4), T0 + timedelta(hours=2))
        repo.attempt_started(draft(5), T0 + timedelta(hours=1))
        repo.attempt_failed(draft(5), attempt=1, error="503", will_retry=True, next_attempt_at=None,
                            at=T0 + timedelta(hours=3))
        repo.attempt_started(draft(6), T0 + timedelta(hours=4))
        repo.attempt_failed(draft(6), attempt=1, error="503", will_retry=True, next_attempt_at=None,
                            at=T0 + timedelta(hours=4))

    backlog = read_backlog(store.engine)

    assert (backlog.erp_postings_pending, backlog.erp_postings_retrying) == (1, 2)
    assert backlog.erp_oldest_unposted_at == T0 + timedelta(hours=1)
    assert backlog.erp_oldest_unposted_at.tzinfo is not None
    assert (backlog.webhook_deliveries_pending, backlog.webhook_deliveries_failed) == (0, 0)
    with store.reading() as session:  # the worker's way: in a session of its store executor
        assert backlog_of(session) == backlog


def test_deliveries_count_pending_and_failed_but_not_delivered(store: Store) -> None:
    with store.writing() as session:
        repo = WebhookRepository(session)
        repo.create_endpoint(endpoint_id="ep_a", url="https://example.test/hook", event_types=["order.completed"],
                             sealed_secret="sealed:v1:test:c2VjcmV0", at=T0)
        repo.record_events([event(n) for n in range(1, 6)], T0)
        repo.record_attempt(delivery_id("ep_a", event(1).id), status="delivered", status_code=200, response="ok",
                            error=None, at=T0, next_attempt_at=None)
        repo.fail(delivery_id("ep_a", event(2).id), "gone", T0)
        repo.record_attempt(delivery_id("ep_a", event(3).id), status="pending", status_code=503, response="",
                            error="503", at=T0, next_attempt_at=T0 + timedelta(minutes=1))

    backlog = read_backlog(store.engine)

    assert (backlog.webhook_deliveries_pending, backlog.webhook_deliveries_failed) == (3, 1)
    assert (backlog.erp_postings_pending, backlog.erp_postings_retrying, backlog.erp_oldest_unposted_at) == (
        0, 0, None)
