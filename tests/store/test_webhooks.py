"""The webhook repository: fan-out to subscribed endpoints once per (endpoint, event), attempt outcomes,
delivered is final, 410 disables, manual retries number their runs, deletion, paging; on SQLite and
PostgreSQL."""

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from canonical.events import BusinessEvent
from canonical.webhooks import delivery_id
from store import migrate
from store.engine import Store
from store.webhooks import WebhookRepository

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    migrate.upgrade(database_url)
    s = Store(database_url, pool_size=10)
    yield s
    s.dispose()


def event(n: int = 1, type: str = "order.completed", order_id: str = "O-1") -> BusinessEvent:
    return BusinessEvent(type=type, id=f"00000000-0000-0000-0000-{n:012d}", occurred_at=T0, order_id=order_id,  # type: ignore[arg-type]
                         correlation_id="corr-1", data={"customer_id": "C-1", "captured": 1999})


def endpoint(store: Store, ep_id: str, types: list[str], url: str = "https://example.test/hook") -> None:
    with store.writing() as session:
        WebhookRepository(session).create_endpoint(endpoint_id=ep_id, url=url, event_types=types,
                                                   sealed_secret="sealed:v1:test:c2VjcmV0", at=T0)


def test_an_event_fans_out_once_to_each_active_subscribed_endpoint(store: Store) -> None:
    endpoint(store, "ep_a", ["order.completed", "loyalty.tier_changed"])
    endpoint(store, "ep_b", ["order.completed"])
    endpoint(store, "ep_other", ["order.accepted"])
    endpoint(store, "ep_off", ["order.completed"])
    with store.writing() as session:
        WebhookRepository(session).disable_endpoint("ep_off", "gone", T0)

    for _ in range(2):  # the activity may run twice: same rows
        with store.writing() as session:
            rows = WebhookRepository(session).record_event(event(), T0)
            got = [(r.endpoint_id, r.delivery_id, r.status, r.attempts, r.runs) for r in rows]
        assert got == [
            ("ep_a", delivery_id("ep_a", event().id), "pending", 0, 1),
            ("ep_b", delivery_id("ep_b", event().id), "pending", 0, 1),
        ]
    with store.reading() as session:
        repo = WebhookRepository(session)
        row = repo.delivery(delivery_id("ep_a", event().id))
        assert row is not None
        assert row.payload["data"] == {"order_id": "O-1", "customer_id": "C-1", "captured": 1999}
        assert row.payload["id"] == event().id and row.payload["timestamp"] == row.payload["occurred_at"]
        assert (row.event_type, row.order_id, row.created_at) == ("order.completed", "O-1", T0)
        assert [e.event_id for e in repo.events_of_order("O-1")] == [event().id]


def test_a_batch_of_events_fans_out_like_each_event_alone(store: Store) -> None:
    endpoint(store, "ep_a", ["order.accepted", "order.completed"])
    endpoint(store, "ep_b", ["order.completed"])
    batch = [event(1, "order.accepted"), event(2, "order.completed"), event(3, "shipment.dispatched")]
    for _ in range(2):  # the activity may run twice: same rows, same count
        with store.writing() as session:
            assert WebhookRepository(session).record_events(batch, T0) == 3
    with store.reading() as session:
        repo = WebhookRepository(session)
        assert [e.event_id for e in repo.events_of_order("O-1")] == [e.id for e in batch]
        for ep_id, ev in (("ep_a", batch[0]), ("ep_a", batch[1]), ("ep_b", batch[1])):
            row = repo.delivery(delivery_id(ep_id, ev.id))
            assert row is not None and (row.event_type, row.status) == (ev.type, "pending"), ep_id
        assert repo.delivery(delivery_id("ep_b", batch[0].id)) is None
        assert repo.delivery(delivery_id("ep_a", batch[2].id)) is None
    with store.writing() as session:
        assert WebhookRepository(session).record_events([], T0) == 0


def test_attempts_then_delivered_which_is_final(store: Store) -> None:
    endpoint(store, "ep_a", ["order.completed"])
    with store.writing() as session:
        [row] = WebhookRepository(session).record_event(event(), T0)
        did = row.delivery_id
    with store.writing() as session:
        assert WebhookRepository(session).record_attempt(
            did, status="pending", status_code=503, response="down", error="HTTP 503", at=T0,
            next_attempt_at=T0 + timedelta(seconds=5))
    with store.writing() as session:
        assert WebhookRepository(session).record_attempt(
            did, status="delivered", status_code=200, response="ok", error=None, at=T0 + timedelta(seconds=5),
            next_attempt_at=None)
    with store.writing() as session:  # a stale attempt's late write changes nothing
        assert not WebhookRepository(session).record_attempt(
            did, status="failed", status_code=500, response="late", error="HTTP 500", at=T0, next_attempt_at=None)
    with store.reading() as session:
        row = WebhookRepository(session).delivery(did)
    assert row is not None
    assert (row.status, row.attempts, row.last_status_code, row.last_response, row.last_error) == (
        "delivered", 2, 200, "ok", None)
    assert (row.delivered_at, row.next_attempt_at) == (T0 + timedelta(seconds=5), None)


def test_disabling_fails_pending_deliveries_and_stops_new_ones(store: Store) -> None:
    endpoint(store, "ep_a", ["order.completed"])
    with store.writing() as session:
        repo = WebhookRepository(session)
        first = repo.record_event(event(1), T0)[0].delivery_id
        second = repo.record_event(event(2), T0)[0].delivery_id
        repo.record_attempt(second, status="delivered", status_code=204, response="", error=None, at=T0,
                            next_attempt_at=None)
    with store.writing() as session:
        assert WebhookRepository(session).disable_endpoint("ep_a", "receiver answered 410 Gone", T0) == 1
    with store.writing() as session:
        repo = WebhookRepository(session)
        assert repo.record_event(event(3), T0) == []
        ep = repo.endpoint("ep_a")
        assert ep is not None and (ep.status, ep.disabled_reason, ep.disabled_at) == (
            "disabled", "receiver answered 410 Gone", T0)
        assert [repo.delivery(d).status for d in (first, second)] == ["failed", "delivered"]  # type: ignore[union-attr]


def test_manual_retry_numbers_runs_and_only_applies_to_failed_deliveries(store: Store) -> None:
    endpoint(store, "ep_a", ["order.completed"])
    with store.writing() as session:
        did = WebhookRepository(session).record_event(event(), T0)[0].delivery_id
    with store.writing() as session:
        assert WebhookRepository(session).start_manual_retry(did, T0) is None  # pending: a run is on it
        WebhookRepository(session).record_attempt(did, status="failed", status_code=500, response="x" * 10,
                                                  error="HTTP 500", at=T0, next_attempt_at=None)
    with store.writing() as session:
        assert WebhookRepository(session).start_manual_retry(did, T0) == 2
    with store.writing() as session:
        assert WebhookRepository(session).start_manual_retry(did, T0) is None  # already pending again
        assert WebhookRepository(session).fail(did, "still down", T0)
    with store.writing() as session:
        assert WebhookRepository(session).start_manual_retry(did, T0) == 3
    with store.reading() as session:
        row = WebhookRepository(session).delivery(did)
    assert row is not None and (row.status, row.runs, row.attempts) == ("pending", 3, 1)


def test_concurrent_manual_retries_start_one_run(store: Store) -> None:
    endpoint(store, "ep_a", ["order.completed"])
    with store.writing() as session:
        did = WebhookRepository(session).record_event(event(), T0)[0].delivery_id
        WebhookRepository(session).fail(did, "down", T0)
    runs: list[int | None] = []
    barrier = threading.Barrier(6)

    def retry() -> None:
        barrier.wait()
        with store.writing() as session:
            runs.append(WebhookRepository(session).start_manual_retry(did, T0))

    threads = [threading.Thread(target=retry) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(runs, key=lambda r: r or 0) == [None] * 5 + [2]


def test_deleting_an_endpoint_removes_its_deliveries(store: Store) -> None:
    endpoint(store, "ep_a", ["order.completed"])
    endpoint(store, "ep_b", ["order.completed"])
    with store.writing() as session:
        WebhookRepository(session).record_event(event(), T0)
    with store.writing() as session:
        assert WebhookRepository(session).delete_endpoint("ep_a")
        assert not WebhookRepository(session).delete_endpoint("ep_a")
    with store.reading() as session:
        repo = WebhookRepository(session)
        assert [e.id for e in repo.endpoints()] == ["ep_b"]
        assert repo.delivery(delivery_id("ep_a", event().id)) is None
        assert repo.delivery(delivery_id("ep_b", event().id)) is not None


def test_delivery_pages_and_filters(store: Store) -> None:
    endpoint(store, "ep_a", ["order.completed", "order.accepted"])
    with store.writing() as session:
        repo = WebhookRepository(session)
        for n in range(7):
            [row] = repo.record_event(event(n, order_id=f"O-{n % 2}"), T0)
            if n % 3 == 0:
                repo.record_attempt(row.delivery_id, status="failed", status_code=500, response=None,
                                    error="HTTP 500", at=T0, next_attempt_at=None)
    seen: list[str] = []
    after = None
    while True:
        with store.reading() as session:
            rows = WebhookRepository(session).deliveries("ep_a", after_id=after, limit=3)
        seen += [r.event_id for r in rows]
        if len(rows) < 3:
            break
        after = rows[-1].id
    assert seen == [event(n).id for n in range(7)]
    with store.reading() as session:
        repo = WebhookRepository(session)
        assert [r.event_id for r in repo.deliveries("ep_a", status="failed")] == [event(n).id for n in (0, 3, 6)]
        assert [r.event_id for r in repo.deliveries("ep_a", status="failed", order_id="O-1")] == [event(3).id]
        assert repo.deliveries("ep_missing") == []


# ---- the delivery loop's claims ------------------------------------------------------------------


def claim(store: Store, now: datetime, limit: int = 10, room: int = 100) -> list[str]:
    with store.writing() as session:
        claims = WebhookRepository(session).claim_due(now, now + timedelta(seconds=30), limit, lambda _: room)
    return [c.delivery_id for c in claims]


def test_an_orders_events_are_claimed_one_at_a_time_in_order(store: Store) -> None:
    endpoint(store, "ep_a", ["order.completed", "order.accepted"])
    with store.writing() as session:
        repo = WebhookRepository(session)
        first = repo.record_event(event(1, "order.accepted"), T0)[0].delivery_id
        second = repo.record_event(event(2, "order.completed"), T0)[0].delivery_id
        other = repo.record_event(event(3, "order.completed", order_id="O-2"), T0)[0].delivery_id
    assert claim(store, T0) == [first, other]  # O-1's second event waits for its first
    assert claim(store, T0) == []  # claimed (leased): nobody else gets them
    with store.writing() as session:
        WebhookRepository(session).record_attempt(first, status="delivered", status_code=200, response="ok",
                                                  error=None, at=T0, next_attempt_at=None)
    assert claim(store, T0) == [second]
    # Workers that died mid-attempt: their claims are due again once the lease has run out.
    assert claim(store, T0 + timedelta(seconds=31)) == [second, other]


def test_a_failed_attempt_counts_in_its_run_and_a_manual_retry_starts_the_schedule_again(store: Store) -> None:
    endpoint(store, "ep_a", ["order.completed"])
    with store.writing() as session:
        [row] = WebhookRepository(session).record_event(event(), T0)
    for n in range(2):
        [claimed] = claim(store, T0 + timedelta(minutes=n))
        with store.writing() as session:
            WebhookRepository(session).record_attempt(claimed, status="pending" if n == 0 else "failed",
                                                      status_code=503, response="", error="http_5xx", at=T0,
                                                      next_attempt_at=T0 + timedelta(minutes=1))
    with store.writing() as session:
        repo = WebhookRepository(session)
        failed = repo.delivery(row.delivery_id)
        assert failed is not None and (failed.status, failed.attempts, failed.run_attempts) == ("failed", 2, 2)
        assert repo.start_manual_retry(row.delivery_id, T0) == 2
        again = repo.delivery(row.delivery_id)
        assert again is not None and (again.status, again.attempts, again.run_attempts) == ("pending", 2, 0)


def test_an_endpoint_gets_no_more_claims_than_its_room_and_two_workers_never_share_one(store: Store) -> None:
    endpoint(store, "ep_a", ["order.completed"])
    with store.writing() as session:
        repo = WebhookRepository(session)
        for n in range(12):
            repo.record_event(event(n, order_id=f"O-{n}"), T0)
    assert len(claim(store, T0, room=3)) == 3
    claimed: list[list[str]] = []
    threads = [threading.Thread(target=lambda: claimed.append(claim(store, T0, limit=9))) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = [d for batch in claimed for d in batch]
    assert len(every) == len(set(every)) == 9
