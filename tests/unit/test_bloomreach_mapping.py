"""The Bloomreach adapter's mapping of canonical events to Bloomreach customer events (a pure function)."""

from datetime import UTC, datetime
from typing import Any

import pytest

from activities.adapters.bloomreach_marketing import Untrackable, basic_authorization, customer_event, event_type_of
from canonical.events import BusinessEvent, EventType

AT = datetime(2026, 12, 1, 10, 0, 0, 500000, tzinfo=UTC)


def event(type_: EventType, order_id: str = "O-1", **data: Any) -> BusinessEvent:
    return BusinessEvent(type=type_, id="evt-1", occurred_at=AT, order_id=order_id, correlation_id="c", data=data)


def test_an_order_caused_tier_change() -> None:
    mapped = customer_event(event("loyalty.tier_changed", customer_id="C-1", member_id="M-1", old_tier="silver",
                                  new_tier="gold", direction="up"))
    assert mapped == {
        "customer_ids": {"registered": "C-1"},
        "event_type": "loyalty_tier_changed",
        "properties": {"member_id": "M-1", "old_tier": "silver", "new_tier": "gold", "direction": "up",
                       "tier_id": "gold", "tier_name": "gold", "levelMove": "up", "event_id": "evt-1",
                       "order_id": "O-1"},
        "timestamp": 1796119200.5,
    }


def test_a_loyalty_engine_tier_change_keeps_its_tier_id_and_belongs_to_no_order() -> None:
    mapped = customer_event(event("loyalty.tier_changed", order_id="", customer_id="M-9", member_id="M-9",
                                  new_tier="Silver", tier_id="lvl-2", tier_name="Silver", direction="down",
                                  source="loyalty_engine"))
    props = mapped["properties"]
    assert (props["tier_id"], props["tier_name"], props["levelMove"], props["source"]) == (
        "lvl-2", "Silver", "down", "loyalty_engine")
    assert "order_id" not in props and "customer_id" not in props


def test_other_events_keep_their_data_under_a_snake_case_name() -> None:
    mapped = customer_event(event("order.completed", customer_id="C-1", captured=3998, currency="EUR"))
    assert mapped["event_type"] == "order_completed"
    assert mapped["properties"] == {"captured": 3998, "currency": "EUR", "event_id": "evt-1", "order_id": "O-1"}
    assert "levelMove" not in mapped["properties"]


def test_an_event_without_a_customer_cannot_be_tracked() -> None:
    with pytest.raises(Untrackable, match="customer_id"):
        customer_event(event("order.completed", captured=1))


def test_names_and_credentials() -> None:
    assert event_type_of("shipment.dispatched") == "shipment_dispatched"
    assert basic_authorization("key", "s3cret") == "Basic a2V5OnMzY3JldA=="
