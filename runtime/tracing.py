"""OpenTelemetry tracing of one process (the API or the worker), configured by the standard `OTEL_*` variables.

One order is one trace: the caller's W3C `traceparent` on POST /v1/orders becomes the parent of the API's
request span (FastAPI's own telemetry, api/app.py), the Temporal client and worker carry the context in
workflow and activity headers (`temporalio.contrib.opentelemetry.TracingInterceptor`, runtime/temporal.py),
and every vendor call is an aiohttp client span that sends `traceparent` on (activities/vendor_http.py).
Because the context travels in the workflow's start header, which Temporal keeps in the history, a worker that
takes the order over after a restart continues the same trace.

Tracing is on when an exporter is configured: `OTEL_TRACES_EXPORTER=otlp`, or, with `OTEL_TRACES_EXPORTER`
unset, an `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or `OTEL_EXPORTER_OTLP_ENDPOINT`. (The SDK's own default, `otlp`
to localhost:4318, would make every unconfigured process pay for spans nobody collects.) Everything else is
the SDK's: the sampler (`OTEL_TRACES_SAMPLER`, `OTEL_TRACES_SAMPLER_ARG`), the exporter's endpoint, headers,
timeout and compression, the batch processor (`OTEL_BSP_*`), the resource (`OTEL_SERVICE_NAME`,
`OTEL_RESOURCE_ATTRIBUTES`), `OTEL_SDK_DISABLED` and the propagators (`OTEL_PROPAGATORS`).

Off means nothing is installed: no interceptor, no instrumentation, so the caller's `traceparent` is not
passed on either. Passing it on would need the same interceptor on every Temporal call and the same hook on
every vendor call, which is the per-call cost "off" must not have; and a trace that skips o2c, with the
vendors' spans hung straight under the caller's, would misstate who called whom for an order that runs for
days. The correlation id (X-Correlation-ID) still follows the order through logs and vendor calls.

The provider is the process's, like its logging (runtime/logging.py), not the global OpenTelemetry one: a
library that finds a global provider starts tracing on its own (FastAPI does), and o2c decides that here.
"""

import os
from collections.abc import Mapping, Sequence
from typing import Any

import structlog
from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, OTELResourceDetector, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from temporalio.client import Interceptor

log = structlog.get_logger("o2c.tracing")

API_SERVICE = "o2c-api"
WORKER_SERVICE = "o2c-worker"

SPAN_FIELDS: Mapping[str, str] = {"order_id": "o2c.order_id", "correlation_id": "o2c.correlation_id"}
"""Log context field -> span attribute: the ids bound for the logs (activities/log_context.py, the API's request
context) are the ids the spans carry; one source for both."""

_SUPPORTED_EXPORTERS = {"otlp"}
_OTLP_PROTOCOL = "http/protobuf"

_provider: TracerProvider | None = None


def exporter_configured(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether the `OTEL_*` variables ask for spans to be exported; refuses settings o2c cannot honour."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    names = {n.strip().lower() for n in environ.get("OTEL_TRACES_EXPORTER", "").split(",") if n.strip()}
    if not names:
        names = {"otlp"} if _endpoint(environ) else set()
    names.discard("none")
    if names - _SUPPORTED_EXPORTERS:
        raise ValueError(f"OTEL_TRACES_EXPORTER: o2c exports over otlp (or none), not {sorted(names)}")
    protocol = environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
    if names and protocol and protocol != _OTLP_PROTOCOL:
        raise ValueError(f"OTEL_EXPORTER_OTLP_PROTOCOL: o2c exports over OTLP/HTTP ({_OTLP_PROTOCOL}), not {protocol}")
    return bool(names)


def _endpoint(environ: Mapping[str, str]) -> str | None:
    return environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")


def start_tracing(default_service: str) -> TracerProvider | None:
    """The process's tracer provider, exporting over OTLP/HTTP in batches; None when no exporter is configured.
    `default_service`: the service name unless OTEL_SERVICE_NAME (or service.name in OTEL_RESOURCE_ATTRIBUTES)
    says otherwise. Started once per process; later calls return the same provider."""
    global _provider
    if _provider is not None or not exporter_configured():
        return _provider
    # Imported here: a process that does not trace never loads the exporter (nor its HTTP stack).
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    named = OTELResourceDetector().detect().attributes.get(SERVICE_NAME)
    resource = Resource.create({SERVICE_NAME: str(named or default_service)})
    # No sampler given: the SDK reads OTEL_TRACES_SAMPLER(_ARG) (default parentbased_always_on); the exporter
    # its endpoint, headers and timeout; the batch processor OTEL_BSP_*.
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    _provider = provider
    log.info("tracing.started", service=resource.attributes[SERVICE_NAME], endpoint=_endpoint(os.environ))
    return provider


def tracer_provider() -> TracerProvider | None:
    """The provider start_tracing made in this process, or None: tracing is off."""
    return _provider


def stop_tracing() -> None:
    """Export what is still buffered and stop (API lifespan end, worker stop). Blocks up to the exporter's
    timeout: call it off the event loop."""
    global _provider
    provider, _provider = _provider, None
    if provider is not None:
        provider.shutdown()


def temporal_interceptors() -> Sequence[Interceptor]:
    """For every Temporal client of the process: spans for client calls, and, on a worker's client, for the
    workflow and each activity, with the context carried in Temporal headers. Nothing when tracing is off."""
    if _provider is None:
        return []
    from temporalio.contrib.opentelemetry import TracingInterceptor

    return [TracingInterceptor(_provider.get_tracer("o2c.temporal"))]


def tag_span_from_log_context() -> None:
    """Copy the order id and correlation id bound in the log context onto the current span, if it records."""
    span = trace.get_current_span()
    if not span.is_recording():
        return
    bound: dict[str, Any] = structlog.contextvars.get_contextvars()
    span.set_attributes({attr: str(bound[field]) for field, attr in SPAN_FIELDS.items() if bound.get(field)})


def aiohttp_trace_configs() -> list[Any]:
    """For the vendor client's aiohttp session: a client span per request, with `traceparent` sent on. Nothing
    when tracing is off."""
    if _provider is None:
        return []
    from opentelemetry.instrumentation.aiohttp_client import create_trace_config
    from opentelemetry.metrics import NoOpMeterProvider

    # Spans only: vendor call metrics are the worker's Prometheus ones (activities/vendor_metrics.py).
    return [create_trace_config(tracer_provider=_provider, meter_provider=NoOpMeterProvider())]
