"""Per-vendor figures on-call reads first: calls by outcome and their latency, per vendor.

`o2c_vendor_calls_total{vendor, outcome}`, outcome `ok` or the error kind (`business_rejection`,
`transient`, `contract_violation`) or `circuit_open` (refused by the vendor's breaker, not called),
`o2c_vendor_call_duration_seconds{vendor}` (calls that reached the vendor), and
`o2c_vendor_circuit_state{vendor}` (0 closed, 1 half-open, 2 open; this worker's breaker), recorded on the
worker's Temporal metric meter so they are served with the SDK's metrics (runtime/metrics.py).
"""

from datetime import timedelta

from temporalio.common import MetricCounter, MetricGauge, MetricHistogramTimedelta, MetricMeter

from canonical.vendor_health import VENDORS


class VendorMetrics:
    def __init__(self, meter: MetricMeter = MetricMeter.noop) -> None:
        self._calls = meter.create_counter("o2c_vendor_calls", "Vendor HTTP calls by vendor and outcome")
        self._duration = meter.create_histogram_timedelta(
            "o2c_vendor_call_duration", "Vendor HTTP call latency by vendor")
        # Bound instruments, made once per label set: vendor calls are the worker's hot path.
        self._counters: dict[tuple[str, str], MetricCounter] = {}
        self._histograms: dict[str, MetricHistogramTimedelta] = {}
        state = meter.create_gauge("o2c_vendor_circuit_state", "Vendor circuit breaker: 0 closed, 1 half-open, 2 open")
        self._circuit: dict[str, MetricGauge] = {
            vendor: state.with_additional_attributes({"vendor": vendor}) for vendor in VENDORS}
        for gauge in self._circuit.values():
            gauge.set(0)

    def circuit(self, vendor: str, value: int) -> None:
        gauge = self._circuit.get(vendor)
        if gauge is not None:
            gauge.set(value)

    def observe(self, vendor: str, outcome: str, seconds: float | None) -> None:
        """`seconds` None: the call never reached the vendor (its breaker refused it)."""
        counter = self._counters.get((vendor, outcome))
        if counter is None:
            counter = self._counters[vendor, outcome] = self._calls.with_additional_attributes(
                {"vendor": vendor, "outcome": outcome})
        counter.add(1)
        if seconds is None:
            return
        histogram = self._histograms.get(vendor)
        if histogram is None:
            histogram = self._histograms[vendor] = self._duration.with_additional_attributes({"vendor": vendor})
        histogram.record(timedelta(seconds=seconds))
