"""The worker's Prometheus endpoint: one exporter, the Temporal SDK runtime's, for the SDK's own metrics
(workflow and activity task latencies, slots, polls) and for o2c's, which are made on its metric meter
(activities/vendor_metrics.py). Names follow Prometheus conventions: `_total` counters, units in the name,
durations in seconds."""

from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from runtime.settings import Settings

# The business clocks (workflows/clocks.py) run from a fraction of a second (accept) to days (dispatch SLA,
# return window): the SDK's default buckets stop at 10 s.
BUSINESS_CLOCK_BUCKETS_S = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600, 12 * 3600, 24 * 3600,
                            2 * 24 * 3600, 7 * 24 * 3600, 30 * 24 * 3600]


def worker_runtime(settings: Settings) -> Runtime | None:
    """A Temporal runtime serving `/metrics` on O2C_WORKER_METRICS_HOST:PORT, or None when the port is 0."""
    if not settings.worker_metrics_port:
        return None
    prometheus = PrometheusConfig(
        bind_address=f"{settings.worker_metrics_host}:{settings.worker_metrics_port}",
        counters_total_suffix=True,
        unit_suffix=True,
        durations_as_seconds=True,
        histogram_bucket_overrides={"o2c_business_clock": BUSINESS_CLOCK_BUCKETS_S},
    )
    return Runtime(telemetry=TelemetryConfig(metrics=prometheus, attach_service_name=False))
