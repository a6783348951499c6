"""Fixtures for the API unit tests: the real app, no Temporal.

`NoTemporal` fails on any use, which proves a request started nothing; the small fakes used where a
request must reach Temporal exist only here. End-to-end tests against a real Temporal live elsewhere.
"""

import base64
import json
import os
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook
from temporalio.service import RPCError, RPCStatusCode

from api.app import create_app
from runtime.settings import DEV_API_KEYS, DEV_FULFILLMENT_WEBHOOK_SECRET, CodecKey, Settings
from store import migrate
from store.engine import Store


class NoTemporal:
    """A Temporal client stand-in that records and refuses every use."""

    def __init__(self) -> None:
        self.touched: list[str] = []

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        self.touched.append(name)
        raise AssertionError(f"Temporal was used: client.{name}")


def not_found() -> RPCError:
    return RPCError("workflow not found for ID", RPCStatusCode.NOT_FOUND, b"")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # Explicit values, so an O2C_* variable in the environment cannot change what is tested.
    return Settings(
        database_url=f"sqlite:///{tmp_path}/o2c.db",  # empty; finance tests upgrade it themselves
        api_keys=DEV_API_KEYS,
        fulfillment_webhook_secret=DEV_FULFILLMENT_WEBHOOK_SECRET,
        webhook_tolerance_s=300,
        accept_timeout_s=0.5,
        point_value_minor=1,
        temporal_ui_url="http://ui.test",
        temporal_namespace="default",
    )


PRODUCTION_KEYS = {"p" * 40: sorted({scope for entry in DEV_API_KEYS.values() for scope in entry.scopes})}
PRODUCTION = {"Authorization": f"Bearer {'p' * 40}"}


def production(settings: Settings) -> Settings:
    """The same settings in production mode, with secrets of their own (it refuses the dev ones);
    PRODUCTION is the header of its one key, which holds every scope."""

    def key(key_id: str) -> CodecKey:
        return CodecKey.model_validate({"id": key_id, "key": base64.b64encode(os.urandom(32)).decode()})

    return Settings.model_validate({
        **{name: getattr(settings, name) for name in type(settings).model_fields},
        "env": "production",
        "api_keys": PRODUCTION_KEYS,
        "fulfillment_webhook_secret": "whsec_" + base64.b64encode(os.urandom(32)).decode(),
        "codec_keys": [key("prod-1")],
        "webhook_secret_keys": [key("prod-secrets-1")],
        "loyalty_webhook_authorization": "Bearer " + base64.b64encode(os.urandom(32)).decode(),
    })


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    """The app's SQLite store, migrated (the finance and webhook-endpoint tests seed it)."""
    migrate.upgrade(settings.store_url())
    s = Store(settings.store_url())
    yield s
    s.dispose()


@pytest.fixture
def no_temporal() -> NoTemporal:
    return NoTemporal()


@pytest.fixture
def make_http(settings: Settings) -> Callable[[Any], httpx.AsyncClient]:
    def make(client: Any, app_settings: Settings | None = None) -> httpx.AsyncClient:
        app = create_app(app_settings or settings, client=client)
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api.test")

    return make


@pytest.fixture
async def http(
    make_http: Callable[[Any], httpx.AsyncClient], no_temporal: NoTemporal
) -> AsyncIterator[httpx.AsyncClient]:
    async with make_http(no_temporal) as client:
        yield client
    assert no_temporal.touched == [], "a request reached Temporal"


COMMERCE = {"Authorization": "Bearer commerce-dev-key"}
SUPPORT = {"Authorization": "Bearer support-dev-key"}
FINANCE = {"Authorization": "Bearer finance-dev-key"}


def valid_order(**overrides: Any) -> dict[str, Any]:
    order: dict[str, Any] = {
        "order_id": "ORD-1001",
        "channel": "web",
        "currency": "EUR",
        "customer": {
            "customer_id": "C-1",
            "loyalty_member_id": "M-1",
            "email": "ana@example.com",
            "name": "Ana Lima",
        },
        "shipping_address": {
            "line1": "Rua A 1",
            "city": "Lisboa",
            "postal_code": "1000-001",
            "country": "PT",
        },
        "lines": [{"sku": "SKU-1", "quantity": 2, "unit_price": 1999}],
        "payment": {"method_token": "tok_visa"},
        "points_to_redeem": 500,
    }
    order.update(overrides)
    return order


def signed(
    body: dict[str, Any] | str,
    *,
    secret: str = DEV_FULFILLMENT_WEBHOOK_SECRET,
    msg_id: str | None = None,
    at: float | None = None,
) -> tuple[bytes, dict[str, str]]:
    """A Standard Webhooks delivery as the sandbox sends it."""
    data = body if isinstance(body, str) else json.dumps(body)
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    ts = datetime.fromtimestamp(at if at is not None else time.time(), tz=UTC)
    headers = {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(ts.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, ts, data),
        "content-type": "application/json",
    }
    return data.encode(), headers


def assert_problem(response: httpx.Response, status: int, type_: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == type_
    assert body["status"] == status
    assert body["title"]
    return body
