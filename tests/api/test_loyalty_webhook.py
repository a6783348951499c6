"""POST /v1/webhooks/loyalty over the real app and a real (SQLite) store: Open Loyalty's tier-change webhook
becomes one canonical loyalty.tier_changed in the outbox (with its deliveries), a redelivery records nothing
new, a forged one is refused before anything is parsed and leaves nothing behind, bad input names the
field. No route touches Temporal."""

import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

import api.webhooks.loyalty as loyalty_webhook
from runtime.settings import DEV_LOYALTY_WEBHOOK_AUTHORIZATION
from store.engine import Store
from store.models import WebhookDelivery, WebhookEvent
from store.webhooks import WebhookRepository

from .conftest import NoTemporal, assert_problem

AUTH = {"Authorization": DEV_LOYALTY_WEBHOOK_AUTHORIZATION}


def tier_change(**data: Any) -> dict[str, Any]:
    return {
        "eventName": "CustomerLevelChangedAutomatically", "storeCode": "DEFAULT",
        "createdAt": "2026-12-01T10:00:00+01:00",
        "data": {"customer": {"customerId": "M-77", "email": "ana@example.com", "firstName": "Ana"},
                 "level": {"levelId": "lvl-gold", "name": "Gold", "conditionValue": 50000},
                 "levelMoveUp": True, "levelMoveDown": False, **data},
    }


@pytest.fixture
async def http(make_http: Callable[..., httpx.AsyncClient], no_temporal: NoTemporal,
               store: Store) -> AsyncIterator[httpx.AsyncClient]:
    with store.writing() as session:  # a subscriber, so deliveries are made with the event
        WebhookRepository(session).create_endpoint(
            endpoint_id="we_crm", url="https://crm.example.test/hooks", event_types=["loyalty.tier_changed"],
            sealed_secret="unused", at=datetime.now(UTC))
    async with make_http(no_temporal) as client:
        yield client
    assert no_temporal.touched == []


def recorded(store: Store) -> tuple[list[WebhookEvent], int]:
    with store.reading() as session:
        events = list(session.scalars(select(WebhookEvent)))
        deliveries = session.scalar(select(func.count()).select_from(WebhookDelivery)) or 0
        session.expunge_all()
        return events, deliveries


async def test_a_tier_change_is_one_canonical_event_even_when_redelivered(http: httpx.AsyncClient,
                                                                          store: Store) -> None:
    first = await http.post("/v1/webhooks/loyalty", json=tier_change(), headers=AUTH)
    again = await http.post("/v1/webhooks/loyalty", json=tier_change(), headers=AUTH)
    assert first.status_code == again.status_code == 200, first.text
    assert first.json()["status"] == "received"
    assert first.json()["event_id"] == again.json()["event_id"]
    events, deliveries = recorded(store)
    assert [(e.event_id, e.type, e.order_id) for e in events] == [
        (first.json()["event_id"], "loyalty.tier_changed", "")]
    assert events[0].occurred_at == datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    data = events[0].payload["data"]
    assert {k: data[k] for k in ("customer_id", "member_id", "tier_id", "tier_name", "new_tier", "direction",
                                 "source")} == {
        "customer_id": "M-77", "member_id": "M-77", "tier_id": "lvl-gold", "tier_name": "Gold", "new_tier": "Gold",
        "direction": "up", "source": "loyalty_engine"}
    assert deliveries == 1


async def test_a_move_down_is_another_event(http: httpx.AsyncClient, store: Store) -> None:
    up = await http.post("/v1/webhooks/loyalty", json=tier_change(), headers=AUTH)
    down = await http.post("/v1/webhooks/loyalty", json=tier_change(levelMoveUp=False, levelMoveDown=True),
                           headers=AUTH)
    assert up.json()["event_id"] != down.json()["event_id"]
    events, _ = recorded(store)
    assert sorted(e.payload["data"]["direction"] for e in events) == ["down", "up"]


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer forged"},
                                     {"Authorization": DEV_LOYALTY_WEBHOOK_AUTHORIZATION + "x"}])
async def test_a_forged_webhook_is_refused_and_leaves_nothing(http: httpx.AsyncClient, store: Store,
                                                              headers: dict[str, str]) -> None:
    response = await http.post("/v1/webhooks/loyalty", json=tier_change(), headers=headers)
    assert_problem(response, 401, "unauthorized")
    assert recorded(store) == ([], 0)


async def test_authorization_is_checked_before_the_body_is_parsed(http: httpx.AsyncClient, store: Store) -> None:
    response = await http.post("/v1/webhooks/loyalty", content=b"{not json", headers={"Authorization": "x"})
    assert_problem(response, 401, "unauthorized")


async def test_the_header_is_compared_in_constant_time(http: httpx.AsyncClient,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    compared: list[tuple[bytes, bytes]] = []
    real = loyalty_webhook.hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(loyalty_webhook.hmac, "compare_digest", spy)
    assert (await http.post("/v1/webhooks/loyalty", json=tier_change(), headers=AUTH)).status_code == 200
    assert compared == [(DEV_LOYALTY_WEBHOOK_AUTHORIZATION.encode(), DEV_LOYALTY_WEBHOOK_AUTHORIZATION.encode())]


@pytest.mark.parametrize(("body", "loc"), [
    (tier_change(level={"name": "Gold"}), ["body", "data", "level", "levelId"]),
    (tier_change(customer={"customerId": "has spaces"}), ["body", "data", "customer", "customerId"]),
    (tier_change(levelMoveUp=False), ["body", "data"]),
    ({**tier_change(), "createdAt": "2026-12-01T10:00:00"}, ["body", "createdAt"]),
    ({k: v for k, v in tier_change().items() if k != "storeCode"}, ["body", "storeCode"]),
])
async def test_bad_input_names_the_field_and_records_nothing(http: httpx.AsyncClient, store: Store,
                                                             body: dict[str, Any], loc: list[str]) -> None:
    response = await http.post("/v1/webhooks/loyalty", json=body, headers=AUTH)
    problem = assert_problem(response, 422, "validation-error")
    assert loc in [e["loc"] for e in problem["errors"]], problem
    assert recorded(store) == ([], 0)


async def test_other_events_are_ignored(http: httpx.AsyncClient, store: Store) -> None:
    body = {**tier_change(), "eventName": "CustomerRegistered"}
    response = await http.post("/v1/webhooks/loyalty", content=json.dumps(body), headers=AUTH)
    assert response.status_code == 200
    assert response.json()["status"] == "ignored"
    assert recorded(store) == ([], 0)
