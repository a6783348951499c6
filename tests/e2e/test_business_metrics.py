"""The business figures on the worker's /metrics, on a running stack: the five business clocks after a full
order and a refunded return, and the backlog gauges (ERP postings waiting, webhook deliveries, orders in
needs_attention) moving with what is actually waiting. Other tests share the stack, so every check is on
what changed here or on a lower bound, never on an exact global figure."""

import asyncio
import time
from collections.abc import Callable

import pytest
from e2e_support import SUPPORT, Stack, order
from test_worker_metrics import Samples, scrape, value

from deploy.stack import LocalStack

pytestmark = [pytest.mark.e2e]

CLOCKS = ("order_to_accept", "accept_to_dispatch", "dispatch_to_capture", "capture_to_erp_posted",
          "return_received_to_refund")
CLOCK = "o2c_business_clock_seconds"


def clock(samples: Samples, name: str, part: str) -> float:
    """Over every series of the clock: the workflow metric meter also labels where it was recorded
    (namespace, task_queue, workflow_type)."""
    return sum(v for (n, labels), v in samples.items() if n == f"{CLOCK}_{part}" and ("clock", name) in labels)


async def wait_scrape(local_stack: LocalStack, ready: Callable[[Samples], bool], what: str,
                      timeout: float = 20.0) -> Samples:
    """Until a scrape shows `what` (the gauges refresh every O2C_BACKLOG_REPORT_S, 1 s in tests)."""
    deadline = time.monotonic() + timeout
    while True:
        samples = await scrape(local_stack)
        if ready(samples):
            return samples
        if time.monotonic() > deadline:
            gauges = [(n, sorted(labels), v) for (n, labels), v in samples.items() if n.startswith("o2c_")]
            shown = sorted(g for g in gauges if not g[0].startswith(CLOCK))
            raise AssertionError(f"/metrics did not show {what} within {timeout}s: {shown}")
        await asyncio.sleep(0.5)


async def test_each_business_clock_counts_the_order_and_the_return_in_plausible_seconds(
    stack: Stack, local_stack: LocalStack
) -> None:
    before = await scrape(local_stack)
    body = order([("SKU-BC", 2, 1500)])
    oid = body["order_id"]
    assert (await stack.place(body)).status_code == 201
    await stack.wait_status(oid, "completed")
    assert (await stack.request_return(oid, "R1", [("SKU-BC", 2)])).status_code == 202
    await stack.wait_return(oid, "R1", "completed")

    after = await scrape(local_stack)
    for name in CLOCKS:
        count = clock(after, name, "count") - clock(before, name, "count")
        took = clock(after, name, "sum") - clock(before, name, "sum")
        assert count >= 1, (name, sorted(n for n, _ in after if n.startswith(CLOCK)))
        # Seconds, not milliseconds: every hand-over here finished well inside the waits above.
        assert 0 <= took / count < 60, (name, took, count)
    # The node dispatches SANDBOX_DISPATCH_DELAY_S (0.2 s) after it is asked, which is after the accept.
    dispatch = [clock(s, "accept_to_dispatch", p) for s in (before, after) for p in ("sum", "count")]
    assert (dispatch[2] - dispatch[0]) / (dispatch[3] - dispatch[1]) >= 0.2
    # Buckets reach the days a dispatch SLA or a return window lasts (runtime/metrics.py), not the SDK's 10 s.
    bounds = {dict(labels).get("le") for n, labels in after if n == f"{CLOCK}_bucket"}
    assert {"0.1", "86400", "2592000"} <= bounds, sorted(b for b in bounds if b)


async def test_erp_posting_backlog_gauges_show_a_posting_held_by_a_closed_window(
    stack: Stack, local_stack: LocalStack
) -> None:
    body = order([("HOLD-BL", 1, 2500)])
    oid = body["order_id"]
    assert (await stack.place(body)).status_code == 201
    await stack.wait_ledger(oid, "fulfillment.request")
    await stack.wait_posting(oid, "sales_order", "posted")
    await stack.sandbox.put("/_sandbox/erp/posting-window", json={"open": False})
    await stack.release_hold(oid)
    await stack.wait_posting(oid, "invoice", "retrying", min_attempts=2)

    waiting = await wait_scrape(
        local_stack, lambda s: value(s, "o2c_erp_postings_backlog", status="retrying") >= 1
        and value(s, "o2c_erp_postings_backlog_oldest_age_seconds") > 0, "a retrying ERP posting with an age")
    assert value(waiting, "o2c_erp_postings_backlog_oldest_age_seconds") < 3600
    for status in ("pending", "failed"):
        assert ("o2c_webhook_deliveries_backlog", frozenset({("status", status)})) in waiting, status
    assert ("o2c_erp_postings_backlog", frozenset({("status", "pending")})) in waiting
    assert ("o2c_orders_needing_attention", frozenset()) in waiting

    await stack.sandbox.put("/_sandbox/erp/posting-window", json={"open": True})
    await stack.wait_posting(oid, "invoice", "posted")
    await stack.wait_status(oid, "completed")


async def test_an_order_in_needs_attention_shows_on_the_gauge(stack: Stack, local_stack: LocalStack) -> None:
    oid = (await stack.place_parked("HOLD-NA", 1800))["order_id"]

    await wait_scrape(local_stack, lambda s: value(s, "o2c_orders_needing_attention") >= 1,
                      "the parked order in o2c_orders_needing_attention")

    response = await stack.api.post(f"/v1/orders/{oid}/resolve", headers=SUPPORT,
                                    json={"action": "mark_resolved", "note": "paid by bank transfer"})
    assert response.status_code == 202, response.text
    await stack.wait_status(oid, "completed")
