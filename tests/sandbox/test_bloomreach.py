"""The Bloomreach adapter against the sandbox's Bloomreach tracking router over real HTTP: Basic
credentials checked, each canonical event recorded once by its event id, Bloomreach's error shape, and
fault injection under vendor `marketing`."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sandbox_testkit import Api

from activities.adapters.bloomreach_marketing import BloomreachMarketing
from canonical.events import BusinessEvent
from runtime.settings import Settings

PATH = "/bloomreach/track/v2/projects/o2c-sandbox-project/customers/events"
TIER_UP = BusinessEvent(
    type="loyalty.tier_changed", id="evt-tier-1", occurred_at=datetime(2026, 12, 1, 10, 0, tzinfo=UTC),
    order_id="O-1", correlation_id="corr-1",
    data={"customer_id": "C-1", "member_id": "M-1", "old_tier": "base", "new_tier": "silver", "direction": "up"})


def basic(key_id: str, secret: str) -> dict[str, str]:
    return {"authorization": "Basic " + base64.b64encode(f"{key_id}:{secret}".encode()).decode()}


@pytest.fixture
async def tracker(served: str) -> AsyncIterator[BloomreachMarketing]:
    adapter = BloomreachMarketing(Settings(sandbox_url=served, marketing_adapter="bloomreach"))
    try:
        yield adapter
    finally:
        await adapter.aclose()


async def test_a_tracked_event_is_recorded_once_by_its_event_id(tracker: BloomreachMarketing, api: Api) -> None:
    first = await tracker.track(TIER_UP)
    again = await tracker.track(TIER_UP)  # a redelivery after a lost answer
    assert (first.status_code, first.error, again.status_code, again.error) == (200, None, 200, None)
    events = (await api.get("/_sandbox/bloomreach/events", customer_id="C-1")).json()["events"]
    assert [e["event_id"] for e in events] == ["evt-tier-1"]
    body = events[0]["body"]
    assert body["customer_ids"] == {"registered": "C-1"}
    assert body["event_type"] == "loyalty_tier_changed"
    assert {k: body["properties"][k] for k in ("tier_id", "tier_name", "levelMove", "event_id", "order_id")} == {
        "tier_id": "silver", "tier_name": "silver", "levelMove": "up", "event_id": "evt-tier-1", "order_id": "O-1"}
    assert body["timestamp"] == TIER_UP.occurred_at.timestamp()
    entries = await api.ledger(vendor="marketing")
    assert [(e["action"], e["reference"], e["order_id"], e["idempotency_key"]) for e in entries] == [
        ("marketing.event", "loyalty_tier_changed", "O-1", "evt-tier-1")]


async def test_wrong_credentials_are_refused_in_bloomreach_shape(served: str, api: Api) -> None:
    settings = Settings(sandbox_url=served, marketing_adapter="bloomreach", marketing_api_secret="not-the-secret")
    adapter = BloomreachMarketing(settings)
    try:
        refused = await adapter.track(TIER_UP)
    finally:
        await adapter.aclose()
    assert (refused.status_code, refused.error) == (401, "http_error")
    assert refused.text.startswith('{"success":false,"errors":[')
    unauthenticated = await api.client.post(PATH, json={"customer_ids": {"registered": "C"}, "event_type": "x"})
    assert unauthenticated.status_code == 401 and unauthenticated.json()["success"] is False
    assert await api.ledger(vendor="marketing") == []


async def test_invalid_bodies_name_the_field(api: Api) -> None:
    response = await api.client.post(PATH, json={"customer_ids": {}, "properties": {}},
                                     headers=basic("o2c-sandbox-key", "o2c-dev-bloomreach-secret"))
    assert response.status_code == 400
    errors = " ".join(response.json()["errors"])
    assert "customer_ids" in errors and "event_type" in errors
    assert await api.ledger(vendor="marketing") == []


async def test_an_outage_is_a_transient_answer(tracker: BloomreachMarketing, api: Api) -> None:
    assert (await api.put("/_sandbox/faults/marketing", {"outage": True})).status_code == 200
    down = await tracker.track(TIER_UP)
    assert (down.status_code, down.error) == (503, "http_error")
    assert await api.ledger(vendor="marketing") == []
