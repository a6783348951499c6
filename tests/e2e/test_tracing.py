"""One order is one trace (issue 13): the caller's W3C traceparent on POST /v1/orders continues through the
API, the Temporal client and worker, every activity and every vendor HTTP call, and stays whole when the
worker is restarted mid-order. The spans are what an OTLP/HTTP collector receives from the real processes.

This module runs its own stack: the session stack exports nothing (tracing off is the default), and the
exporter's endpoint is an environment variable of the processes.
"""

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Iterator

import pytest
from e2e_support import Stack, make_stack, order
from otlp_support import OtlpReceiver, ReceivedSpan, otlp_receiver

from deploy.stack import LocalStack

pytestmark = [pytest.mark.e2e]

API, WORKER = "o2c-api", "o2c-worker"


@pytest.fixture(scope="module")
def receiver() -> Iterator[tuple[OtlpReceiver, str]]:
    with otlp_receiver() as running:
        yield running


@pytest.fixture(scope="module")
def local_stack(tmp_path_factory: pytest.TempPathFactory, receiver: tuple[OtlpReceiver, str]) -> Iterator[LocalStack]:
    """Overrides the session stack for this module (and so for conftest's autouse fault cleanup)."""
    _, endpoint = receiver
    # Batches leave every 100 ms instead of every 5 s, so the test waits for spans, not for the schedule.
    with make_stack(tmp_path_factory.mktemp("traced"), OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
                    OTEL_BSP_SCHEDULE_DELAY="100") as stack:
        yield stack


@pytest.fixture(scope="module")
async def stack(local_stack: LocalStack) -> AsyncIterator[Stack]:
    async with Stack(local_stack.api_url, local_stack.sandbox_url) as clients:
        yield clients


def of_trace(spans: list[ReceivedSpan], trace_id: str) -> list[ReceivedSpan]:
    return [s for s in spans if s.trace_id == trace_id]


def activity_span(spans: list[ReceivedSpan], activity: str) -> ReceivedSpan | None:
    return next((s for s in spans if s.service == WORKER and s.name == f"RunActivity:{activity}"), None)


def vendor_calls(spans: list[ReceivedSpan], parents: list[ReceivedSpan], sandbox_url: str) -> list[ReceivedSpan]:
    """The worker's HTTP client spans to the vendors made inside the given activity spans."""
    ids = {p.span_id for p in parents}
    return [s for s in spans if s.service == WORKER and s.kind == "client" and s.parent_span_id in ids
            and str(s.attributes.get("http.url", s.attributes.get("url.full", ""))).startswith(sandbox_url)]


async def test_an_order_is_one_trace_from_the_caller_to_the_vendors_across_a_worker_restart(
    stack: Stack, local_stack: LocalStack, receiver: tuple[OtlpReceiver, str]
) -> None:
    spans_in, _ = receiver
    trace_id, caller_span = secrets.token_hex(16), secrets.token_hex(8)
    # HOLD-: the node takes the shipment request but dispatches only when released, so the worker can be
    # restarted between the accept and the capture (design §8).
    body = order([("HOLD-TRACE", 2, 1500)], points=100)
    oid, cid = body["order_id"], f"corr-{body['order_id']}"
    placed = await stack.place(body, {"traceparent": f"00-{trace_id}-{caller_span}-01", "X-Correlation-ID": cid})
    assert placed.status_code == 201, placed.text
    await stack.wait_ledger(oid, "fulfillment.request")

    def accepted_and_parked(spans: list[ReceivedSpan]) -> bool:
        mine = of_trace(spans, trace_id)
        return activity_span(mine, "request_shipment") is not None and any(s.service == API for s in mine)

    await asyncio.to_thread(spans_in.wait_for, accepted_and_parked, "spans of the accept and the shipment request")
    await asyncio.to_thread(local_stack.restart, "worker")
    restarted_ns = time.time_ns()
    await stack.release_hold(oid)
    await stack.wait_status(oid, "completed")

    def settled_by_the_new_worker(spans: list[ReceivedSpan]) -> bool:
        capture = activity_span(of_trace(spans, trace_id), "capture_payment")
        invoice = activity_span(of_trace(spans, trace_id), "post_invoice")
        return bool(capture and invoice and capture.start_ns > restarted_ns and invoice.start_ns > restarted_ns)

    spans = await asyncio.to_thread(spans_in.wait_for, settled_by_the_new_worker,
                                    "capture and invoice spans, from the restarted worker, in the caller's trace")
    mine = of_trace(spans, trace_id)

    # The API's request span continues the caller's span, and carries the order and correlation ids.
    [request] = [s for s in mine if s.service == API and s.kind == "server"]
    assert request.parent_span_id == caller_span
    assert request.attributes["http.route"] == "/v1/orders"
    assert request.attributes["o2c.order_id"] == oid and request.attributes["o2c.correlation_id"] == cid
    # Its Temporal call, and the workflow the worker ran for it.
    assert any(s.service == API and s.name == "StartUpdateWithStartWorkflow:OrderWorkflow" for s in mine)
    assert any(s.service == WORKER and s.name == "RunWorkflow:OrderWorkflow" for s in mine)

    # Every step of the saga is an activity span of the trace, with the ids, before and after the restart.
    steps = ["authorize_payment", "request_shipment", "capture_payment", "post_invoice"]
    activities = [activity_span(mine, step) for step in steps]
    assert all(activities), {s: a is not None for s, a in zip(steps, activities, strict=True)}
    for step, span in zip(steps, activities, strict=True):
        assert span is not None
        assert span.attributes["o2c.order_id"] == oid, step
        assert span.attributes["o2c.correlation_id"] == cid, step
    assert [s.start_ns > restarted_ns for s in activities] == [False, False, True, True]

    # Each of those activities called its vendor over HTTP, as a client span that sent traceparent on.
    for span in activities:
        assert span is not None
        assert vendor_calls(mine, [span], local_stack.sandbox_url), f"no vendor HTTP span under {span.name}"

    # The dispatch came as a webhook, its own request and trace; the workflow handled it inside the order's.
    assert any(s.service == WORKER and s.name == "HandleSignal:fulfillment_event" for s in mine)
    # Nothing the worker did for this order went into another trace. (Queries are the exception by design:
    # each status read is the reader's trace.)
    workflow_id = f"order-{oid}"
    strays = [s.name for s in spans if s.service == WORKER and s.attributes.get("temporalWorkflowID") == workflow_id
              and not s.name.startswith("HandleQuery:") and s.trace_id != trace_id]
    assert not strays, strays
