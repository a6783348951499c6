"""The worker's Prometheus endpoint: one exporter, the Temporal SDK runtime's, for the SDK's own metrics
(workflow and activity task latencies, slots, polls) and for o2c's, which are made on its metric meter
(activities/vendor_metrics.py). Names follow Prometheus conventions: `_total` counters, units in the name,
durations in seconds."""

from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from runtime.settings import Settings


def worker_runtime(settings: Settings) -> Runtime | None:
    """A Temporal runtime serving `/metrics` on O2C_WORKER_METRICS_HOST:PORT, or None when the port is 0."""
    if not settings.worker_metrics_port:
        return None
    prometheus = PrometheusConfig(
        bind_address=f"{settings.worker_metrics_host}:{settings.worker_metrics_port}",
        counters_total_suffix=True,
        unit_suffix=True,
        durations_as_seconds=True,
    )
    return Runtime(telemetry=TelemetryConfig(metrics=prometheus, attach_service_name=False))
