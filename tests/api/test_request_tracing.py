"""The API's request span when the process traces: the caller's traceparent is its parent, it is named by
the route template and carries the correlation id; probes make no spans."""

import secrets
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from api.shared import request_tracing
from runtime import tracing

from .conftest import NoTemporal


@pytest.fixture
def exported(monkeypatch: pytest.MonkeyPatch) -> InMemorySpanExporter:
    """The process traces, into memory (as if an OTLP endpoint were configured)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(tracing, "_provider", provider)
    return exporter


async def test_the_callers_trace_continues_in_the_request_span_with_the_correlation_id(
    exported: InMemorySpanExporter, make_http: Callable[[Any], httpx.AsyncClient]
) -> None:
    trace_id, caller_span = secrets.token_hex(16), secrets.token_hex(8)
    headers = {"traceparent": f"00-{trace_id}-{caller_span}-01", "X-Correlation-ID": "corr-42"}
    async with make_http(NoTemporal()) as http:
        assert (await http.get("/v1/orders/ORD-42", headers=headers)).status_code == 401  # no key
        assert (await http.get("/healthz")).status_code == 200

    [span] = exported.get_finished_spans()  # none for the probe
    assert span.kind is SpanKind.SERVER and span.name == "GET /v1/orders/{order_id}"
    assert span.context is not None and f"{span.context.trace_id:032x}" == trace_id
    assert span.parent is not None and f"{span.parent.span_id:016x}" == caller_span
    assert span.attributes is not None
    assert span.attributes["o2c.correlation_id"] == "corr-42"
    assert span.attributes["http.response.status_code"] == 401


def test_without_tracing_fastapi_telemetry_is_off_entirely() -> None:
    """FastAPI then takes its no-telemetry path for every request, even if a library set a global provider."""
    assert tracing.tracer_provider() is None
    config = request_tracing.telemetry(tracing.tracer_provider())
    assert (config["tracing"], config["metrics"], config["logs"]) == (False, False, False)
