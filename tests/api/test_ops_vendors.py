"""GET /v1/ops/vendors over a real store, and checkout refused at once while a breaker is open (no Temporal)."""

from datetime import UTC, datetime, timedelta

import httpx

from canonical.vendor_health import VENDORS
from store.engine import Store
from store.vendor_health import BreakerFigures, BucketFigures, VendorHealthRepository

from .conftest import COMMERCE, assert_problem, valid_order

OPS = {"Authorization": "Bearer ops-dev-key"}


def report_breakers(store: Store, worker: str, states: dict[str, tuple[str, float | None]]) -> None:
    now = datetime.now(UTC)
    figures = [BreakerFigures(v, state, now + timedelta(seconds=s) if s is not None else None)
               for v, (state, s) in states.items()]
    with store.writing() as session:
        VendorHealthRepository(session).report(worker, [], figures, now)


async def test_vendor_health_lists_every_vendor(http: httpx.AsyncClient, store: Store) -> None:
    with store.writing() as session:
        VendorHealthRepository(session).report(
            "w1", [BucketFigures("payments", datetime.now(UTC), {"ok": 3, "transient": 1}, [1] + [0] * 23 + [3])],
            [BreakerFigures("payments", "closed", None)], datetime.now(UTC))
    response = await http.get("/v1/ops/vendors", headers=OPS)
    assert response.status_code == 200, response.text
    body = response.json()
    assert [v["vendor"] for v in body["vendors"]] == list(VENDORS)
    payments = body["vendors"][1]
    assert payments["calls"] == 4 and payments["success_rate"] == 0.75 and payments["error_rate"] == 0.25
    assert payments["circuit"] == "closed" and payments["latency_p99_ms"] == 10000
    assert body["vendors"][0]["calls"] == 0 and body["vendors"][0]["success_rate"] is None
    assert (await http.get("/v1/ops/vendors", headers=COMMERCE)).status_code == 403


async def test_open_payments_breaker_refuses_checkout_at_once(http: httpx.AsyncClient, store: Store) -> None:
    report_breakers(store, "w1", {"payments": ("open", 2.5), "loyalty": ("closed", None)})
    report_breakers(store, "w2", {"payments": ("open", 4.0), "loyalty": ("closed", None)})
    response = await http.post("/v1/orders", json=valid_order(), headers=COMMERCE)
    body = assert_problem(response, 503, "vendor-unavailable")
    assert body["vendor"] == "payments" and body["order_id"] == "ORD-1001"
    assert response.headers["retry-after"] == "3"


async def test_open_loyalty_breaker_refuses_only_orders_redeeming_points(
    http: httpx.AsyncClient, store: Store
) -> None:
    report_breakers(store, "w1", {"payments": ("closed", None), "loyalty": ("open", 3.0)})
    response = await http.post("/v1/orders", json=valid_order(), headers=COMMERCE)
    assert assert_problem(response, 503, "vendor-unavailable")["vendor"] == "loyalty"
