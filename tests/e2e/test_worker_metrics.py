"""The worker's Prometheus /metrics on a running stack: Temporal's SDK metrics and o2c's per-vendor calls by
outcome and latency, moved by the orders placed here (issue: operations)."""

from collections.abc import Iterable

import httpx
import pytest
from e2e_support import Stack, order
from prometheus_client.parser import text_string_to_metric_families

from deploy.stack import LocalStack

pytestmark = [pytest.mark.e2e]

SAGA_VENDORS = ("loyalty", "payments", "inventory", "fulfillment", "erp")
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(local_stack: LocalStack) -> Samples:
    [port] = local_stack.worker_metrics_ports
    async with httpx.AsyncClient() as client:
        response = await client.get(f"http://127.0.0.1:{port}/metrics")
    response.raise_for_status()
    families = text_string_to_metric_families(response.text)
    return {(s.name, frozenset(s.labels.items())): s.value for family in families for s in family.samples}


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def names(samples: Iterable[tuple[str, frozenset[tuple[str, str]]]]) -> set[str]:
    return {name for name, _ in samples}


async def test_vendor_calls_and_sdk_metrics_are_served_and_count_the_orders(
    stack: Stack, local_stack: LocalStack
) -> None:
    before = await scrape(local_stack)

    happy = order([("SKU-M1", 2, 1500)], points=200)
    assert (await stack.place(happy)).status_code == 201
    declined = order(token="tok_decline")
    assert (await stack.place(declined)).status_code == 402
    await stack.wait_status(happy["order_id"], "completed")

    after = await scrape(local_stack)
    calls, took = "o2c_vendor_calls_total", "o2c_vendor_call_duration_seconds_count"
    for vendor in SAGA_VENDORS:
        ok = {"vendor": vendor, "outcome": "ok"}
        assert value(after, calls, **ok) > value(before, calls, **ok), vendor
        assert value(after, took, vendor=vendor) > value(before, took, vendor=vendor), vendor
        assert value(after, "o2c_vendor_call_duration_seconds_sum", vendor=vendor) > 0, vendor
    rejected = {"vendor": "payments", "outcome": "business_rejection"}
    assert value(after, calls, **rejected) == value(before, calls, **rejected) + 1
    # The SDK's own, on the same endpoint: workflow and activity task latencies, in seconds.
    sdk = names(after)
    assert {"temporal_workflow_task_execution_latency_seconds_count",
            "temporal_workflow_completed_total"} <= sdk, sorted(n for n in sdk if n.startswith("temporal_"))
