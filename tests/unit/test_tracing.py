"""runtime/tracing.py: when a process traces (the standard OTEL_* variables), what it installs then, and that
it installs nothing otherwise; the vendor client's spans and the traceparent it sends on, against a real
HTTP server."""

from collections.abc import AsyncIterator, Iterator

import pytest
from aiohttp import web
from opentelemetry.sdk.resources import SERVICE_NAME
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from temporalio.contrib.opentelemetry import TracingInterceptor

from activities.vendor_http import VendorClient
from runtime import tracing
from runtime.settings import Settings

OTEL_VARIABLES = ("OTEL_SDK_DISABLED", "OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT",
                  "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_PROTOCOL",
                  "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in OTEL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    yield
    tracing.stop_tracing()


@pytest.mark.parametrize(("environ", "traces"), [
    ({}, False),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, True),
    ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, True),
    ({"OTEL_TRACES_EXPORTER": "otlp"}, True),  # the SDK's default endpoint, localhost:4318
    ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, False),
    ({"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, False),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}, True),
])
def test_a_process_traces_when_an_exporter_is_configured(environ: dict[str, str], traces: bool) -> None:
    assert tracing.exporter_configured(environ) is traces


@pytest.mark.parametrize("environ", [
    {"OTEL_TRACES_EXPORTER": "console"},
    {"OTEL_TRACES_EXPORTER": "otlp,zipkin"},
    {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
])
def test_an_exporter_it_cannot_honour_is_refused_rather_than_silently_ignored(environ: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="OTEL_"):
        tracing.exporter_configured(environ)


def test_without_an_exporter_nothing_is_installed() -> None:
    assert tracing.start_tracing(tracing.WORKER_SERVICE) is None
    assert tracing.tracer_provider() is None
    assert tracing.temporal_interceptors() == []
    assert tracing.aiohttp_trace_configs() == []


def test_with_an_endpoint_the_process_exports_under_its_own_service_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")
    provider = tracing.start_tracing(tracing.WORKER_SERVICE)
    assert provider is not None
    assert provider.resource.attributes[SERVICE_NAME] == "o2c-worker"
    assert tracing.start_tracing(tracing.API_SERVICE) is provider, "one provider per process"
    [interceptor] = tracing.temporal_interceptors()
    assert isinstance(interceptor, TracingInterceptor)
    assert len(tracing.aiohttp_trace_configs()) == 1
    tracing.stop_tracing()
    assert tracing.tracer_provider() is None


def test_otel_service_name_wins_over_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "o2c-api-eu")
    provider = tracing.start_tracing(tracing.API_SERVICE)
    assert provider is not None and provider.resource.attributes[SERVICE_NAME] == "o2c-api-eu"


@pytest.fixture
async def vendor() -> AsyncIterator[tuple[str, list[str]]]:
    """A vendor that answers {} and keeps the traceparent of every request."""
    seen: list[str] = []

    async def answer(request: web.Request) -> web.Response:
        seen.append(request.headers.get("traceparent", ""))
        return web.json_response({})

    app = web.Application()
    app.router.add_post("/payments/payment_intents", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}", seen
    await runner.cleanup()


async def test_a_vendor_call_is_a_client_span_of_the_activity_and_sends_traceparent_on(
    vendor: tuple[str, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, seen = vendor
    exported = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exported))
    monkeypatch.setattr(tracing, "_provider", provider)
    client = VendorClient(Settings(sandbox_url=url))
    try:
        with provider.get_tracer("test").start_as_current_span("RunActivity:authorize_payment") as activity:
            await client.call("payments", "POST", "/payment_intents", correlation_id="c-1", json={})
    finally:
        await client.aclose()

    trace_id = f"{activity.get_span_context().trace_id:032x}"
    [call] = [s for s in exported.get_finished_spans() if s.name == "POST"]
    assert call.parent is not None and call.parent.span_id == activity.get_span_context().span_id
    assert call.context is not None
    # The vendor got the call's own span as its parent (flags: sampled, and the SDK's random trace id).
    [traceparent] = seen
    assert traceparent.startswith(f"00-{trace_id}-{call.context.span_id:016x}-"), traceparent


async def test_without_tracing_a_vendor_call_sends_no_traceparent(vendor: tuple[str, list[str]]) -> None:
    url, seen = vendor
    client = VendorClient(Settings(sandbox_url=url))
    try:
        await client.call("payments", "POST", "/payment_intents", correlation_id="c-1", json={})
    finally:
        await client.aclose()
    assert seen == [""]


def test_the_sampler_is_the_sdks_from_otel_traces_sampler(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "parentbased_traceidratio")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", "0.25")
    provider = tracing.start_tracing(tracing.API_SERVICE)
    assert provider is not None
    assert "0.25" in provider.sampler.get_description(), provider.sampler.get_description()
