"""GET /metrics of the API: requests counted under their route template (never the raw path), with status
and duration; public like the probes; one registry per app."""

from collections.abc import Callable
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from .conftest import COMMERCE, FINANCE, NoTemporal

NO_ORDERS_READ = FINANCE  # a valid key without orders:read

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(http: httpx.AsyncClient) -> Samples:
    response = await http.get("/metrics")  # no key: public, like /healthz
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    families = text_string_to_metric_families(response.text)
    return {(s.name, frozenset(s.labels.items())): s.value for family in families for s in family.samples}


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def routes(samples: Samples) -> set[str]:
    return {dict(labels)["route"] for name, labels in samples if name == "o2c_http_requests_total"}


async def test_requests_are_counted_under_their_route_template(http: httpx.AsyncClient) -> None:
    for order_id in ("ORD-A", "ORD-B", "ORD-C"):
        assert (await http.get(f"/v1/orders/{order_id}")).status_code == 401  # no key: answered without Temporal
    assert (await http.get("/v1/orders/ORD-D", headers=NO_ORDERS_READ)).status_code == 403
    assert (await http.get("/no/such/path/ORD-E")).status_code == 404
    samples = await scrape(http)

    template = "/v1/orders/{order_id}"
    assert value(samples, "o2c_http_requests_total", method="GET", route=template, status="401") == 3
    assert value(samples, "o2c_http_requests_total", method="GET", route=template, status="403") == 1
    assert value(samples, "o2c_http_request_duration_seconds_count", method="GET", route=template) == 4
    assert value(samples, "o2c_http_request_duration_seconds_sum", method="GET", route=template) > 0
    assert value(samples, "o2c_http_requests_total", method="GET", route="unrouted", status="404") == 1
    # The caller's paths never become label values: the series stay one per route, whatever is asked.
    assert not any("ORD-" in route for route in routes(samples)), routes(samples)


async def test_answers_given_before_routing_are_counted_too(http: httpx.AsyncClient) -> None:
    too_big = b"x" * (2 * 1024 * 1024)
    response = await http.post("/v1/orders", content=too_big, headers={**COMMERCE, "content-type": "application/json"})
    assert response.status_code == 413
    samples = await scrape(http)
    assert value(samples, "o2c_http_requests_total", method="POST", route="unrouted", status="413") == 1


async def test_each_app_counts_only_its_own_requests(make_http: Callable[[Any], httpx.AsyncClient]) -> None:
    async with make_http(NoTemporal()) as first, make_http(NoTemporal()) as second:
        for _ in range(3):
            await first.get("/healthz")
        await second.get("/healthz")
        assert value(await scrape(first), "o2c_http_requests_total", method="GET", route="/healthz", status="200") == 3
        assert value(await scrape(second), "o2c_http_requests_total", method="GET", route="/healthz", status="200") == 1


async def test_metrics_is_not_part_of_the_json_api_document(http: httpx.AsyncClient) -> None:
    assert "/metrics" not in (await http.get("/openapi.json")).json()["paths"]
