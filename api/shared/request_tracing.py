"""The API's request spans: FastAPI's own telemetry (`FastAPI(telemetry=...)`) on the process's tracer provider
(runtime/tracing.py), so the caller's W3C `traceparent` is the parent of the request span and of the Temporal
calls made for it. The order and correlation ids are put on the span by the correlation middleware
(api/shared/correlation.py), from the request's log context."""

from collections.abc import MutableMapping
from typing import Any

from fastapi.telemetry import TelemetryConfig
from opentelemetry.sdk.trace import TracerProvider

PROBES = frozenset({"/healthz", "/readyz", "/metrics"})
"""Asked every few seconds by orchestrators and scrapers: a span each would bury the orders' traces."""


def _probe(scope: MutableMapping[str, Any]) -> bool:
    return scope.get("path") in PROBES


def telemetry(provider: TracerProvider | None) -> TelemetryConfig:
    """Spans only when the process traces. FastAPI's metrics stay off (GET /metrics serves the API's), and so
    do its logs, which would carry a rejected request's input: personal data. Without a provider FastAPI takes
    its fast path, as if it had no telemetry at all, even if some library set a global provider."""
    return TelemetryConfig(
        tracer_provider=provider,
        tracing=provider is not None,
        metrics=False,
        logs=False,
        operation_spans=False,
        exclude=_probe,
    )
