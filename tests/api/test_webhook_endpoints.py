"""/v1/webhook-endpoints over the real app and a real (SQLite) store: scope, validation, the secret
shown once, listing, deletion, deliveries and the manual retry (which starts a delivery run in
Temporal; a recording stand-in here, the real thing in tests/e2e/test_outbound_webhooks.py)."""

import base64
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from canonical.events import BusinessEvent
from canonical.settings import Settings
from canonical.webhooks import DeliverWebhook
from store.engine import Store
from store.webhooks import WebhookRepository

from .conftest import COMMERCE, FINANCE, NoTemporal, assert_problem

ADMIN = {"Authorization": "Bearer admin-dev-key"}
T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


class StartRecorder:
    """Records start_workflow calls; everything else is refused like NoTemporal."""

    def __init__(self, fail: BaseException | None = None) -> None:
        self.started: list[tuple[Any, Any, dict[str, Any]]] = []
        self.fail = fail

    async def start_workflow(self, workflow: Any, arg: Any, **kwargs: Any) -> None:
        if self.fail is not None:
            raise self.fail
        self.started.append((workflow, arg, kwargs))


@pytest.fixture
async def http(make_http: Callable[..., httpx.AsyncClient], no_temporal: NoTemporal,
               store: Store) -> AsyncIterator[httpx.AsyncClient]:
    async with make_http(no_temporal) as client:
        yield client
    assert no_temporal.touched == []


async def create(http: httpx.AsyncClient, url: str = "https://crm.example.test/hooks",
                 types: list[str] | None = None) -> dict[str, Any]:
    response = await http.post("/v1/webhook-endpoints", headers=ADMIN,
                               json={"url": url, "event_types": types or ["order.completed", "loyalty.tier_changed"]})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def failed_delivery(store: Store, endpoint_id: str, n: int = 1) -> str:
    event = BusinessEvent(type="order.completed", id=f"evt-{n}", occurred_at=T0, order_id="O-1",
                          correlation_id="c", data={})
    with store.writing() as session:
        repo = WebhookRepository(session)
        [row] = repo.record_event(event, T0)
        repo.record_attempt(row.delivery_id, status="failed", status_code=503, response="busy", error="HTTP 503",
                            at=T0, next_attempt_at=None)
        return row.delivery_id


async def test_admin_scope_is_required(http: httpx.AsyncClient) -> None:
    for headers in (COMMERCE, FINANCE):
        assert_problem(await http.get("/v1/webhook-endpoints", headers=headers), 403, "forbidden")
        assert_problem(await http.post("/v1/webhook-endpoints", headers=headers,
                                       json={"url": "https://x.test", "event_types": ["order.completed"]}),
                       403, "forbidden")
    assert_problem(await http.delete("/v1/webhook-endpoints/ep_x"), 401, "unauthorized")


async def test_create_shows_the_secret_once_then_lists_without_it(http: httpx.AsyncClient) -> None:
    created = await create(http)
    assert created["id"].startswith("ep_") and created["status"] == "active"
    assert created["url"] == "https://crm.example.test/hooks"
    assert created["event_types"] == ["order.completed", "loyalty.tier_changed"]
    assert created["secret"].startswith("whsec_") and len(base64.b64decode(created["secret"][6:])) == 32
    other = await create(http, "http://127.0.0.1:9/marketing/events", ["order.completed", "order.completed"])
    assert other["secret"] != created["secret"] and other["event_types"] == ["order.completed"]

    listed = (await http.get("/v1/webhook-endpoints", headers=ADMIN)).json()["items"]
    assert [e["id"] for e in listed] == [created["id"], other["id"]]
    assert all("secret" not in e for e in listed)


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"url": "ftp://x.test/h", "event_types": ["order.completed"]}, ["body", "url"]),
        ({"url": "not a url", "event_types": ["order.completed"]}, ["body", "url"]),
        ({"url": "https://user:pw@x.test/h", "event_types": ["order.completed"]}, ["body", "url"]),
        ({"url": "https://x.test/h", "event_types": ["order.shipped"]}, ["body", "event_types", 0]),
        ({"url": "https://x.test/h", "event_types": []}, ["body", "event_types"]),
        ({"url": "https://x.test/h", "event_types": ["order.completed"], "secret": "whsec_x"}, ["body", "secret"]),
    ],
)
async def test_bad_endpoints_are_422_naming_the_field(http: httpx.AsyncClient, body: dict[str, Any],
                                                      loc: list[Any]) -> None:
    problem = assert_problem(await http.post("/v1/webhook-endpoints", headers=ADMIN, json=body), 422,
                             "validation-error")
    assert loc in [e["loc"] for e in problem["errors"]]
    assert (await http.get("/v1/webhook-endpoints", headers=ADMIN)).json()["items"] == []


async def test_delete(http: httpx.AsyncClient, store: Store) -> None:
    created = await create(http)
    failed_delivery(store, created["id"])
    assert (await http.delete(f"/v1/webhook-endpoints/{created['id']}", headers=ADMIN)).status_code == 204
    assert_problem(await http.delete(f"/v1/webhook-endpoints/{created['id']}", headers=ADMIN), 404, "not-found")
    assert_problem(await http.get(f"/v1/webhook-endpoints/{created['id']}/deliveries", headers=ADMIN), 404,
                   "not-found")
    assert (await http.get("/v1/webhook-endpoints", headers=ADMIN)).json()["items"] == []


async def test_deliveries_by_status_with_pages(http: httpx.AsyncClient, store: Store) -> None:
    created = await create(http)
    ids = [failed_delivery(store, created["id"], n) for n in range(5)]
    url = f"/v1/webhook-endpoints/{created['id']}/deliveries"
    seen: list[str] = []
    params: dict[str, Any] = {"status": "failed", "limit": 2}
    while True:
        page = (await http.get(url, headers=ADMIN, params=params)).json()
        seen += [d["delivery_id"] for d in page["items"]]
        if not page["next_cursor"]:
            break
        params["cursor"] = page["next_cursor"]
    assert seen == ids
    first = (await http.get(url, headers=ADMIN, params={"limit": 1})).json()["items"][0]
    assert (first["status"], first["attempts"], first["last_status_code"], first["last_response"],
            first["event_id"], first["event_type"], first["order_id"]) == (
        "failed", 1, 503, "busy", "evt-0", "order.completed", "O-1")
    assert (await http.get(url, headers=ADMIN, params={"status": "delivered"})).json()["items"] == []
    assert_problem(await http.get(url, headers=ADMIN, params={"status": "lost"}), 422, "validation-error")
    assert_problem(await http.get(url, headers=ADMIN, params={"cursor": "bm9wZQ"}), 422, "validation-error")


async def test_retry_starts_a_fresh_delivery_run(make_http: Callable[..., httpx.AsyncClient], store: Store,
                                                  settings: Settings) -> None:
    temporal = StartRecorder()
    async with make_http(temporal) as http:
        created = await create(http)
        delivery_id = failed_delivery(store, created["id"])
        url = f"/v1/webhook-endpoints/{created['id']}/deliveries/{delivery_id}/retry"
        response = await http.post(url, headers=ADMIN)
        assert response.status_code == 202, response.text
        assert response.json() == {"delivery_id": delivery_id, "status": "pending", "run": 2,
                                   "workflow_id": f"webhook-{delivery_id}-2"}
        [(_, arg, kwargs)] = temporal.started
        assert arg == DeliverWebhook(delivery_id=delivery_id, run=2, schedule_s=settings.webhook_retry_schedule_s,
                                     attempt_timeout_s=settings.webhook_delivery_timeout_s)
        assert (kwargs["id"], kwargs["task_queue"]) == (f"webhook-{delivery_id}-2", settings.task_queue)
        # It is pending now: a second retry is refused until this run has failed too.
        assert_problem(await http.post(url, headers=ADMIN), 409, "delivery-not-failed")
        assert_problem(await http.post(f"/v1/webhook-endpoints/{created['id']}/deliveries/dlv_nope/retry",
                                       headers=ADMIN), 404, "not-found")
        other = await create(http, "https://other.test/h")
        assert_problem(await http.post(f"/v1/webhook-endpoints/{other['id']}/deliveries/{delivery_id}/retry",
                                       headers=ADMIN), 404, "not-found")
    assert len(temporal.started) == 1


async def test_retry_of_a_disabled_endpoint_is_refused(make_http: Callable[..., httpx.AsyncClient],
                                                       store: Store) -> None:
    temporal = StartRecorder()
    async with make_http(temporal) as http:
        created = await create(http)
        delivery_id = failed_delivery(store, created["id"])
        with store.writing() as session:
            WebhookRepository(session).disable_endpoint(created["id"], "receiver answered 410 Gone", T0)
        listed = (await http.get("/v1/webhook-endpoints", headers=ADMIN)).json()["items"]
        assert (listed[0]["status"], listed[0]["disabled_reason"]) == ("disabled", "receiver answered 410 Gone")
        assert_problem(await http.post(f"/v1/webhook-endpoints/{created['id']}/deliveries/{delivery_id}/retry",
                                       headers=ADMIN), 409, "endpoint-disabled")
    assert temporal.started == []


async def test_a_retry_that_cannot_start_leaves_the_delivery_failed(make_http: Callable[..., httpx.AsyncClient],
                                                                    store: Store) -> None:
    async with make_http(StartRecorder(fail=RuntimeError("temporal down"))) as http:
        created = await create(http)
        delivery_id = failed_delivery(store, created["id"])
        response = await http.post(f"/v1/webhook-endpoints/{created['id']}/deliveries/{delivery_id}/retry",
                                   headers=ADMIN)
        assert response.status_code == 500
    with store.reading() as session:
        row = WebhookRepository(session).delivery(delivery_id)
    assert row is not None and (row.status, row.last_error) == ("failed", "the manual retry could not be started")
