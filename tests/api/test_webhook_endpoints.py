"""/v1/webhook-endpoints over the real app and a real (SQLite) store: scope, validation, the secret
shown once, listing, deletion, deliveries and the manual retry (a fresh run in the store, which the
workers' delivery loop picks up: tests/e2e/test_outbound_webhooks.py). No route touches Temporal."""

import base64
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from canonical.events import BusinessEvent
from runtime.settings import Settings
from store.engine import Store
from store.webhooks import WebhookRepository

from .conftest import COMMERCE, FINANCE, PRODUCTION, NoTemporal, assert_problem, production

ADMIN = {"Authorization": "Bearer admin-dev-key"}
T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


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
    other = await create(http, "http://crm2.example.test/marketing/events", ["order.completed", "order.completed"])
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


async def test_retry_starts_a_fresh_delivery_run(http: httpx.AsyncClient, store: Store) -> None:
    created = await create(http)
    delivery_id = failed_delivery(store, created["id"])
    url = f"/v1/webhook-endpoints/{created['id']}/deliveries/{delivery_id}/retry"
    response = await http.post(url, headers=ADMIN)
    assert response.status_code == 202, response.text
    assert response.json() == {"delivery_id": delivery_id, "status": "pending", "run": 2}
    with store.reading() as session:
        row = WebhookRepository(session).delivery(delivery_id)
    # Due at once, from the start of the retry schedule.
    assert row is not None and (row.status, row.runs, row.run_attempts) == ("pending", 2, 0)
    assert row.next_attempt_at is not None and row.next_attempt_at <= datetime.now(UTC)
    # It is pending now: a second retry is refused until this run has failed too.
    assert_problem(await http.post(url, headers=ADMIN), 409, "delivery-not-failed")
    assert_problem(await http.post(f"/v1/webhook-endpoints/{created['id']}/deliveries/dlv_nope/retry",
                                   headers=ADMIN), 404, "not-found")
    other = await create(http, "https://other.test/h")
    assert_problem(await http.post(f"/v1/webhook-endpoints/{other['id']}/deliveries/{delivery_id}/retry",
                                   headers=ADMIN), 404, "not-found")


async def test_retry_of_a_disabled_endpoint_is_refused(http: httpx.AsyncClient, store: Store) -> None:
    created = await create(http)
    delivery_id = failed_delivery(store, created["id"])
    with store.writing() as session:
        WebhookRepository(session).disable_endpoint(created["id"], "receiver answered 410 Gone", T0)
    listed = (await http.get("/v1/webhook-endpoints", headers=ADMIN)).json()["items"]
    assert (listed[0]["status"], listed[0]["disabled_reason"]) == ("disabled", "receiver answered 410 Gone")
    assert_problem(await http.post(f"/v1/webhook-endpoints/{created['id']}/deliveries/{delivery_id}/retry",
                                   headers=ADMIN), 409, "endpoint-disabled")


# ---- SSRF: endpoints that point inside are refused at registration (issue 10) --------------------

INTERNAL_URLS = [
    "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
    "http://127.0.0.1:5432/",
    "http://[::1]:7233/",
    "http://10.0.0.5/hook",
    "http://2130706433/",
    "http://0x7f.1/",
    "http://0.0.0.0:8100/",
    "http://100.64.0.1/",
    "http://172.16.3.4/",
    "http://192.168.1.1/",
    "http://224.0.0.251/",
    "http://[fd00:ec2::254]/latest/meta-data/",
    "http://[fe80::1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://metadata.google.internal/computeMetadata/v1/",
    "http://localhost:8100/_sandbox/reset",
]


@pytest.mark.parametrize("url", INTERNAL_URLS)
async def test_internal_destinations_are_422_naming_the_url(http: httpx.AsyncClient, url: str) -> None:
    response = await http.post(
        "/v1/webhook-endpoints", headers=ADMIN, json={"url": url, "event_types": ["order.completed"]}
    )
    problem = assert_problem(response, 422, "validation-error")
    assert [e["loc"] for e in problem["errors"]] == [["body", "url"]]
    assert (await http.get("/v1/webhook-endpoints", headers=ADMIN)).json()["items"] == []


async def test_the_allowlist_admits_exactly_what_it_names(make_http: Callable[..., httpx.AsyncClient],
                                                         settings: Settings, store: Store) -> None:
    """The local stack allows its sandbox receiver, and nothing else: not the sandbox's reset, not another port."""
    local = settings.model_copy(update={"webhook_allowed_hosts": ["127.0.0.1:8100/marketing/events"]})
    async with make_http(NoTemporal(), local) as http:
        assert (await create(http, "http://127.0.0.1:8100/marketing/events"))["id"]
        for url in ("http://127.0.0.1:8100/_sandbox/reset", "http://127.0.0.1:8100/marketing/events/../../_sandbox/reset",
                    "http://127.0.0.1:8101/marketing/events", "https://crm.example.test/hooks"):
            response = await http.post("/v1/webhook-endpoints", headers=ADMIN,
                                       json={"url": url, "event_types": ["order.completed"]})
            assert assert_problem(response, 422, "validation-error")["errors"][0]["loc"] == ["body", "url"], url


async def test_production_takes_https_only(make_http: Callable[..., httpx.AsyncClient], settings: Settings,
                                          store: Store) -> None:
    async with make_http(NoTemporal(), production(settings)) as http:
        for scheme, status in (("http", 422), ("https", 201)):
            response = await http.post("/v1/webhook-endpoints", headers=PRODUCTION,
                                       json={"url": f"{scheme}://crm.example.test/hooks",
                                             "event_types": ["order.completed"]})
            assert response.status_code == status, response.text
        problem = assert_problem(await http.post("/v1/webhook-endpoints", headers=PRODUCTION, json={
            "url": "http://crm.example.test/hooks", "event_types": ["order.completed"]}), 422, "validation-error")
        assert problem["errors"][0]["loc"] == ["body", "url"] and "https" in problem["errors"][0]["msg"]


# ---- secrets: sealed at rest, rotated with a grace period (issue 10) -------------------------------


async def test_the_secret_is_sealed_in_the_store(http: httpx.AsyncClient, store: Store, settings: Settings) -> None:
    from store.secret_box import SecretBox

    created = await create(http)
    with store.reading() as session:
        row = WebhookRepository(session).endpoint(created["id"])
        assert row is not None
        stored = {c.key: str(getattr(row, c.key)) for c in row.__table__.columns}
    assert not any(created["secret"] in value or created["secret"][6:] in value for value in stored.values())
    assert SecretBox(settings.webhook_secret_keys).open(row.secret_sealed, created["id"]) == created["secret"]


async def test_rotation_shows_a_new_secret_once_and_keeps_the_old_one_for_the_grace_period(
        http: httpx.AsyncClient, store: Store, settings: Settings) -> None:
    from activities.webhooks import signing_secrets
    from store.secret_box import SecretBox

    created = await create(http)
    response = await http.post(f"/v1/webhook-endpoints/{created['id']}/rotate-secret", headers=ADMIN)
    assert response.status_code == 200, response.text
    rotated = response.json()
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != created["secret"]
    expires = datetime.fromisoformat(rotated["previous_secret_expires_at"])
    listed = (await http.get("/v1/webhook-endpoints", headers=ADMIN)).json()["items"]
    assert datetime.fromisoformat(listed[0]["previous_secret_expires_at"]) == expires
    box = SecretBox(settings.webhook_secret_keys)
    with store.reading() as session:
        row = WebhookRepository(session).endpoint(created["id"])
        assert row is not None
        during = signing_secrets(box, row, expires - timedelta(seconds=1))
        after = signing_secrets(box, row, expires)
    assert during == [rotated["secret"], created["secret"]] and after == [rotated["secret"]]

    # A leaked secret: rotate with no grace, the old one stops at once.
    response = await http.post(f"/v1/webhook-endpoints/{created['id']}/rotate-secret", headers=ADMIN,
                               json={"grace_period_s": 0})
    assert response.status_code == 200 and response.json()["previous_secret_expires_at"] is None
    with store.reading() as session:
        row = WebhookRepository(session).endpoint(created["id"])
        assert row is not None and signing_secrets(box, row, datetime.now(UTC)) == [response.json()["secret"]]


async def test_rotation_of_an_unknown_endpoint_is_404_and_a_bad_grace_422(http: httpx.AsyncClient) -> None:
    assert_problem(await http.post("/v1/webhook-endpoints/ep_nope/rotate-secret", headers=ADMIN), 404, "not-found")
    created = await create(http)
    response = await http.post(f"/v1/webhook-endpoints/{created['id']}/rotate-secret", headers=ADMIN,
                               json={"grace_period_s": 8 * 24 * 3600})
    assert assert_problem(response, 422, "validation-error")["errors"][0]["loc"] == ["body", "grace_period_s"]


def test_several_secrets_sign_one_delivery_and_each_verifies() -> None:
    """Standard Webhooks: the signature header may carry several signatures; a receiver with either
    secret verifies the delivery."""
    from standardwebhooks import Webhook

    from activities.webhooks import signed_headers

    old, new = ("whsec_" + base64.b64encode(bytes([n]) * 32).decode() for n in (1, 2))
    body = '{"type":"order.completed"}'
    headers = signed_headers([new, old], "evt-1", body, datetime.now(UTC))
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        assert Webhook(secret).verify(body, headers) == {"type": "order.completed"}
