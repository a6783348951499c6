"""Large orders: a configurable cap on lines and units (422 naming the field), totals within 2^53 - 1,
pricing off the event loop, and Temporal's "payload too large" answered as a 4xx problem."""

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from temporalio.service import RPCError, RPCStatusCode

import api.orders.routes
from runtime.settings import Settings

from .conftest import COMMERCE, NoTemporal, assert_problem, valid_order


def lines(count: int, quantity: int, unit_price: int = 100) -> list[dict[str, Any]]:
    return [{"sku": f"SKU-{n}", "quantity": quantity, "unit_price": unit_price} for n in range(count)]


async def test_more_units_than_the_cap_is_422_naming_lines(http: httpx.AsyncClient) -> None:
    r = await http.post("/v1/orders", json=valid_order(lines=lines(20, 100_000), points_to_redeem=0), headers=COMMERCE)
    problem = assert_problem(r, 422, "validation-error")
    [error] = problem["errors"]
    assert error["loc"] == ["body", "lines"] and "10000 units" in error["msg"]


async def test_more_lines_than_the_cap_is_422_naming_lines(http: httpx.AsyncClient) -> None:
    r = await http.post("/v1/orders", json=valid_order(lines=lines(201, 1), points_to_redeem=0), headers=COMMERCE)
    problem = assert_problem(r, 422, "validation-error")
    assert problem["errors"][0]["loc"] == ["body", "lines"] and "200 lines" in problem["errors"][0]["msg"]


async def test_the_caps_are_settings(make_http: Callable[..., httpx.AsyncClient], settings: Settings) -> None:
    tight = settings.model_copy(update={"max_order_lines": 2, "max_order_units": 5})
    async with make_http(NoTemporal(), tight) as http:
        for too_big in (lines(3, 1), lines(2, 3)):
            r = await http.post("/v1/orders", json=valid_order(lines=too_big, points_to_redeem=0), headers=COMMERCE)
            assert assert_problem(r, 422, "validation-error")["errors"][0]["loc"] == ["body", "lines"]


async def test_a_total_beyond_2_53_is_422(make_http: Callable[..., httpx.AsyncClient], settings: Settings) -> None:
    roomy = settings.model_copy(update={"max_order_units": 10**6})
    async with make_http(NoTemporal(), roomy) as http:
        body = valid_order(lines=lines(91, 10_000, unit_price=10**12), points_to_redeem=0)
        r = await http.post("/v1/orders", json=body, headers=COMMERCE)
    error = assert_problem(r, 422, "validation-error")["errors"][0]
    assert error["loc"] == ["body", "lines"] and "2^53" in error["msg"]


class SlowPricing:
    """Pricing that takes a while, recording which thread ran it."""

    def __init__(self) -> None:
        self.threads: list[threading.Thread] = []

    def __call__(self, order: Any, point_value_minor: int) -> Any:
        self.threads.append(threading.current_thread())
        time.sleep(1.0)
        raise api.orders.routes.PricingError("points_to_redeem", "slow and refused")


async def test_pricing_runs_off_the_event_loop(http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch) -> None:
    slow = SlowPricing()
    monkeypatch.setattr(api.orders.routes, "price", slow)
    order = asyncio.ensure_future(http.post("/v1/orders", json=valid_order(), headers=COMMERCE))
    while not slow.threads:
        await asyncio.sleep(0.01)
    health = await http.get("/healthz")
    assert health.status_code == 200 and not order.done(), "the API answered nothing while pricing"
    assert_problem(await order, 422, "validation-error")
    assert slow.threads[0] is not threading.main_thread()


class TooLarge:
    """What Temporal answers for a workflow input over its blob size limit, or over gRPC's 4 MiB."""

    def __init__(self, err: RPCError) -> None:
        self.err = err

    async def execute_update_with_start_workflow(self, *args: Any, **kwargs: Any) -> Any:
        raise self.err


@pytest.mark.parametrize("err", [
    RPCError("Blob data size exceeds limit.", RPCStatusCode.INVALID_ARGUMENT, b""),
    RPCError("grpc: received message after decompression larger than max 4194304", RPCStatusCode.RESOURCE_EXHAUSTED,
             b""),
], ids=["blob-limit", "grpc-limit"])
async def test_temporal_payload_too_large_is_413_never_500_or_503(make_http: Callable[..., httpx.AsyncClient],
                                                                  err: RPCError) -> None:
    async with make_http(TooLarge(err)) as http:
        r = await http.post("/v1/orders", json=valid_order(), headers=COMMERCE)
    problem = assert_problem(r, 413, "payload-too-large")
    assert "retry" not in problem["detail"].lower() and "retry-after" not in r.headers


async def test_rate_limiting_stays_a_503(make_http: Callable[..., httpx.AsyncClient]) -> None:
    busy = RPCError("namespace rate limit exceeded", RPCStatusCode.RESOURCE_EXHAUSTED, b"")
    async with make_http(TooLarge(busy)) as http:
        r = await http.post("/v1/orders", json=valid_order(), headers=COMMERCE)
    assert_problem(r, 503, "temporal-unavailable")
