"""Every route of the app needs an API key (401 without one) holding the route's scope (403 without it).

The routes are enumerated from the app itself, so a route added later without a decision here fails
`test_every_route_is_classified`: either it is public (health, readiness, docs, the signed webhook) or
it names its scopes below. Auth runs before anything else, so none of this touches Temporal or the store
(the app gets a Temporal stand-in that fails on any use, and an empty database).
"""

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import _IncludedRouter

from api.app import create_app
from runtime.settings import DEV_API_KEYS, Settings

# No API key, by design: probes, the API's Prometheus figures (counts by route, nothing of an order), the
# API's own documentation, the fulfilment webhook, which is authenticated by its Standard Webhooks
# signature instead (tests/security/test_webhook_and_logs.py), and the loyalty engine's webhook, authenticated
# by its configured Authorization header (tests/api/test_loyalty_webhook.py).
PUBLIC = {
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("GET", "/openapi.json"),
    ("GET", "/docs"),
    ("GET", "/docs/oauth2-redirect"),
    ("GET", "/redoc"),
    ("POST", "/v1/webhooks/fulfillment"),
    ("POST", "/v1/webhooks/loyalty"),
}
SIGNED = {("POST", "/v1/webhooks/fulfillment"), ("POST", "/v1/webhooks/loyalty")}
"""Public, but refused (401) without their own credentials."""
ORDERS_CANCEL = {"orders:cancel", "orders:write", "orders:support"}
# Route -> the scopes of which a key needs one.
SCOPES: dict[tuple[str, str], set[str]] = {
    ("POST", "/v1/orders"): {"orders:write"},
    ("GET", "/v1/orders"): {"orders:read"},
    ("GET", "/v1/orders/{order_id}"): {"orders:read"},
    ("POST", "/v1/orders/{order_id}/cancel"): ORDERS_CANCEL,
    ("POST", "/v1/orders/{order_id}/resolve"): {"orders:support"},
    ("POST", "/v1/orders/{order_id}/returns"): {"orders:write"},
    ("GET", "/v1/orders/{order_id}/returns/{return_id}"): {"orders:read"},
    ("POST", "/v1/orders/{order_id}/returns/{return_id}/resolve"): {"orders:support"},
    ("GET", "/v1/erp-postings"): {"finance:read"},
    ("GET", "/v1/erp-postings/summary"): {"finance:read"},
    ("GET", "/v1/erp-postings/export.csv"): {"finance:read"},
    ("GET", "/v1/erp-postings/{posting_id}"): {"finance:read"},
    ("POST", "/v1/reconciliation/runs"): {"finance:reconcile"},
    ("GET", "/v1/reconciliation/runs"): {"finance:read"},
    ("GET", "/v1/reconciliation/runs/{run_id}"): {"finance:read"},
    ("POST", "/v1/webhook-endpoints"): {"webhooks:admin"},
    ("GET", "/v1/webhook-endpoints"): {"webhooks:admin"},
    ("DELETE", "/v1/webhook-endpoints/{endpoint_id}"): {"webhooks:admin"},
    ("GET", "/v1/webhook-endpoints/{endpoint_id}/deliveries"): {"webhooks:admin"},
    ("POST", "/v1/webhook-endpoints/{endpoint_id}/deliveries/{delivery_id}/retry"): {"webhooks:admin"},
    ("POST", "/v1/webhook-endpoints/{endpoint_id}/rotate-secret"): {"webhooks:admin"},
    ("GET", "/v1/webhooks/fulfillment/dead-letters"): {"orders:support"},
    ("POST", "/codec/encode"): {"codec"},
    ("POST", "/codec/decode"): {"codec"},
    ("GET", "/v1/ops/vendors"): {"ops:read"},
    ("GET", "/ops"): {"ops:read"},  # a page: the key also works as an HTTP Basic password
}
PAGES = {"/ops"}
ALL_SCOPES = sorted({scope for entry in DEV_API_KEYS.values() for scope in entry.scopes})


def all_but(scopes: set[str]) -> str:
    return "all-but-" + "-".join(sorted(s.replace(":", ".") for s in scopes))


def only(scope: str) -> str:
    return "only-" + scope.replace(":", ".")


KEYS: dict[str, list[str]] = {
    **{all_but(s): [x for x in ALL_SCOPES if x not in s] for s in map(frozenset, SCOPES.values())},
    **{only(s): [s] for s in ALL_SCOPES},
    "no-scopes-at-all": [],
}


def app_routes(app: FastAPI) -> Iterator[tuple[str, str]]:
    """(method, path) of every route the app serves, through included routers (FastAPI >= 0.16x keeps
    them nested rather than copying their routes into app.routes)."""

    def walk(routes: list[Any]) -> Iterator[tuple[str, str]]:
        for route in routes:
            if isinstance(route, _IncludedRouter):
                yield from walk(route.effective_candidates())
                continue
            original = getattr(route, "original_route", route)
            for method in getattr(original, "methods", None) or ():
                if method != "HEAD":
                    yield method, route.path

    yield from walk(app.routes)


class NoTemporal:
    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"Temporal was used: client.{name}")


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    data = tmp_path_factory.mktemp("security")
    settings = Settings(
        database_url=f"sqlite:///{Path(data)}/o2c.db",
        api_keys=KEYS,
        database_auto_upgrade=False,
        codec_dev_trust_ui_origin=False,
    )
    return create_app(settings, client=NoTemporal())


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "X-1", path)


async def request(app: FastAPI, method: str, path: str, key: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
    # ASGITransport re-raises app errors; the app itself answers 500 for them, which is all we need.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as http:
        body = {} if method in ("POST", "PUT", "PATCH") else None
        return await http.request(method, concrete(path), json=body, headers=headers)


def test_every_route_is_classified(app: FastAPI) -> None:
    routes = set(app_routes(app))
    documented = {(m.upper(), p) for p, ops in app.openapi()["paths"].items() for m in ops}
    assert documented <= routes, "the OpenAPI document lists operations the walk did not find"
    unclassified = routes - PUBLIC - set(SCOPES)
    assert not unclassified, (
        f"new routes need a decision here (public, or which scopes): {sorted(unclassified)}"
    )
    stale = (PUBLIC | set(SCOPES)) - routes
    assert not stale, f"routes listed here that the app no longer serves: {sorted(stale)}"


PROTECTED = sorted(SCOPES)


@pytest.mark.parametrize(("method", "path"), PROTECTED, ids=[f"{m} {p}" for m, p in PROTECTED])
async def test_no_key_or_an_unknown_key_is_401(app: FastAPI, method: str, path: str) -> None:
    for key in (None, "not-a-key", ""):
        response = await request(app, method, path, key)
        assert response.status_code == 401, (
            f"{method} {path} with key {key!r}: {response.status_code} {response.text}"
        )
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["type"] == "unauthorized"
        # A page asks the browser for credentials (Basic, the key as password); the API asks for a Bearer key.
        assert response.headers["www-authenticate"].startswith("Basic" if path in PAGES else "Bearer")


@pytest.mark.parametrize(("method", "path"), PROTECTED, ids=[f"{m} {p}" for m, p in PROTECTED])
async def test_a_key_holding_every_other_scope_is_403(app: FastAPI, method: str, path: str) -> None:
    for key in (all_but(SCOPES[(method, path)]), "no-scopes-at-all"):
        response = await request(app, method, path, key)
        assert response.status_code == 403, (
            f"{method} {path} with {key}: {response.status_code} {response.text}"
        )
        assert response.json()["type"] == "forbidden"


@pytest.mark.parametrize(("method", "path"), PROTECTED, ids=[f"{m} {p}" for m, p in PROTECTED])
async def test_each_listed_scope_gets_past_the_check(app: FastAPI, method: str, path: str) -> None:
    """The list above is not stricter than the code: each scope it names is accepted."""
    for scope in sorted(SCOPES[(method, path)]):
        response = await request(app, method, path, only(scope))
        assert response.status_code not in (401, 403), f"{method} {path} with {scope}: {response.text}"


@pytest.mark.parametrize(("method", "path"), sorted(PUBLIC - SIGNED))
async def test_public_routes_need_no_key(app: FastAPI, method: str, path: str) -> None:
    response = await request(app, method, path, None)
    assert response.status_code not in (401, 403), response.text
