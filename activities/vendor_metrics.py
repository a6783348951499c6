"""Per-vendor figures on-call reads first: calls by outcome and their latency, per vendor.

`o2c_vendor_calls_total{vendor, outcome}`, outcome `ok` or the error kind (`business_rejection`,
`transient`, `contract_violation`), and `o2c_vendor_call_duration_seconds{vendor}`, recorded on the
worker's Temporal metric meter so they are served with the SDK's metrics (runtime/metrics.py).
"""

from datetime import timedelta

from temporalio.common import MetricCounter, MetricHistogramTimedelta, MetricMeter


class VendorMetrics:
    def __init__(self, meter: MetricMeter = MetricMeter.noop) -> None:
        self._calls = meter.create_counter("o2c_vendor_calls", "Vendor HTTP calls by vendor and outcome")
        self._duration = meter.create_histogram_timedelta(
            "o2c_vendor_call_duration", "Vendor HTTP call latency by vendor")
        # Bound instruments, made once per label set: vendor calls are the worker's hot path.
        self._counters: dict[tuple[str, str], MetricCounter] = {}
        self._histograms: dict[str, MetricHistogramTimedelta] = {}

    def observe(self, vendor: str, outcome: str, seconds: float) -> None:
        counter = self._counters.get((vendor, outcome))
        if counter is None:
            counter = self._counters[vendor, outcome] = self._calls.with_additional_attributes(
                {"vendor": vendor, "outcome": outcome})
        histogram = self._histograms.get(vendor)
        if histogram is None:
            histogram = self._histograms[vendor] = self._duration.with_additional_attributes({"vendor": vendor})
        counter.add(1)
        histogram.record(timedelta(seconds=seconds))
