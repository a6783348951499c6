"""Every metric the alert rules and the Grafana dashboard read is one a running stack exports, with the label
values they select on and the labels they group by: no alert that can never fire, no empty panel, because of
a misspelt or renamed metric or label.

Counters and histograms with labels appear on /metrics only once observed, so the stack first does what
moves each of them: an order that completes, a declined card, a return refunded, and an order whose ERP
posting fails for a while (its remote activity attempts fail) before it posts, and a contract-check run.
"""

import asyncio
import time

import httpx
import pytest
from e2e_support import Stack, order
from monitoring_config import (
    BUILT_IN,
    TARGET_LABELS,
    dashboard_exprs,
    exported_families,
    grouping_labels,
    metric_families,
    rule_exprs,
    selected_label_values,
)
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample
from temporalio.client import Client
from test_contract_checks import check_now

from deploy.stack import LocalStack

pytestmark = [pytest.mark.e2e]

REMOTE_ATTEMPT_FAILED = "temporal_activity_execution_failed_total"


async def scrape(url: str) -> list[Sample]:
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.get(url)
    response.raise_for_status()
    return [s for family in text_string_to_metric_families(response.text) for s in family.samples]


async def wait_exported(url: str, name: str, timeout: float) -> None:
    """Until `name` is served, or the time is up (the caller's assertion names what is missing)."""
    deadline = time.monotonic() + timeout
    while name not in {s.name for s in await scrape(url)} and time.monotonic() < deadline:
        await asyncio.sleep(0.5)


async def drive_every_family(stack: Stack, worker_metrics: str) -> None:
    happy = order([("SKU-MN", 2, 1500)], points=100)
    assert (await stack.place(happy)).status_code == 201
    assert (await stack.place(order(token="tok_decline"))).status_code == 402
    await stack.wait_status(happy["order_id"], "completed")
    assert (await stack.request_return(happy["order_id"], "R1", [("SKU-MN", 2)])).status_code == 202
    await stack.wait_return(happy["order_id"], "R1", "completed")

    await stack.sandbox.put("/_sandbox/erp/posting-window", json={"open": False})
    stalled = order([("SKU-MN2", 1, 999)])
    assert (await stack.place(stalled)).status_code == 201
    await wait_exported(worker_metrics, REMOTE_ATTEMPT_FAILED, timeout=60)
    await stack.sandbox.put("/_sandbox/erp/posting-window", json={"open": True})
    await stack.wait_status(stalled["order_id"], "completed", timeout=90)


async def test_every_metric_in_the_alerts_and_the_dashboard_is_exported(
    stack: Stack, local_stack: LocalStack, temporal: Client
) -> None:
    exprs = rule_exprs() + dashboard_exprs()
    wanted = metric_families(exprs)
    assert "up" in wanted and "o2c_vendor_calls_total" in wanted and REMOTE_ATTEMPT_FAILED in wanted
    [port] = local_stack.worker_metrics_ports
    worker_metrics = f"http://127.0.0.1:{port}/metrics"

    await drive_every_family(stack, worker_metrics)
    await check_now(temporal, local_stack)

    samples = await scrape(worker_metrics) + await scrape(f"{local_stack.api_url}/metrics")
    missing = wanted - BUILT_IN - exported_families(s.name for s in samples)
    assert not missing, f"named in deploy/ but not exported: {sorted(missing)}"
    exported_values = {(family, label, value) for s in samples for family in exported_families([s.name])
                       for label, value in s.labels.items()}
    assert selected_label_values(exprs) <= exported_values, selected_label_values(exprs) - exported_values
    # Every label an expression groups by is on some family it reads (or one Prometheus attaches).
    labels_of: dict[str, set[str]] = {}
    for family, label, _ in exported_values:
        labels_of.setdefault(family, set()).add(label)
    for expr in exprs:
        present = set(TARGET_LABELS).union(*(labels_of.get(f, set()) for f in metric_families([expr])))
        assert grouping_labels(expr) <= present, (expr, grouping_labels(expr) - present)
