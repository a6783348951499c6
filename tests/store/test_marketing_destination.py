"""The built-in Bloomreach destination in the store, on SQLite and PostgreSQL: made once however often (and
by however many processes) it is ensured, made active again with the current URL, and given a delivery of
every canonical event recorded after it, in the event's own transaction."""

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from canonical.events import BusinessEvent
from canonical.webhooks import EVENT_TYPES
from store import migrate
from store.engine import Store
from store.models import WebhookEndpoint
from store.webhooks import WebhookRepository

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    migrate.upgrade(database_url)
    s = Store(database_url)
    yield s
    s.dispose()


def ensure(store: Store, url: str) -> str:
    with store.writing() as session:
        return WebhookRepository(session).ensure_builtin_endpoint(
            endpoint_id="we_bloomreach", kind="bloomreach", url=url, event_types=EVENT_TYPES,
            sealed_secret="sealed", at=T0)


def test_ensured_once_and_active_again_with_the_current_url(store: Store) -> None:
    assert ensure(store, "http://sandbox/bloomreach") == "registered"
    assert ensure(store, "http://sandbox/bloomreach") == "already registered"
    with store.writing() as session:
        WebhookRepository(session).disable_endpoint("we_bloomreach", "adapter changed", T0)
    assert ensure(store, "https://api.exponea.com") == "already registered"
    with store.reading() as session:
        endpoints = [(e.id, e.kind, e.url, e.status) for e in session.scalars(select(WebhookEndpoint))]
    assert endpoints == [("we_bloomreach", "bloomreach", "https://api.exponea.com", "active")]


def test_every_event_recorded_gets_a_delivery_to_it(store: Store) -> None:
    ensure(store, "http://sandbox/bloomreach")
    event = BusinessEvent(type="loyalty.tier_changed", id="ol_1", occurred_at=T0, order_id="", correlation_id="c",
                          data={"customer_id": "M-1", "direction": "up"})
    with store.writing() as session:
        deliveries = WebhookRepository(session).record_event(event, T0)
        again = WebhookRepository(session).record_event(event, T0)
        assert [(d.endpoint_id, d.event_id, d.status) for d in deliveries] == [("we_bloomreach", "ol_1", "pending")]
        assert [d.id for d in again] == [d.id for d in deliveries]
