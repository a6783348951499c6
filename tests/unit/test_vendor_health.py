"""Merging the workers' vendor figures: rates, percentiles from added histograms, breaker states."""

import math
from datetime import UTC, datetime, timedelta

import pytest

from activities.vendor_health import CallTally
from canonical.vendor_health import (
    HISTOGRAM_SIZE,
    LATENCY_BOUNDS_MS,
    BreakerReport,
    call_figures,
    circuit_view,
    latency_bucket,
    quantile_ms,
    refusal_retry_after,
)

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
LIVE_S = 6.0


def histogram_of(*ms: float) -> list[int]:
    h = [0] * HISTOGRAM_SIZE
    for m in ms:
        h[latency_bucket(m)] += 1
    return h


def test_rates_count_business_rejections_as_answers_and_breaker_refusals_as_errors() -> None:
    figures = call_figures(
        [{"ok": 5, "business_rejection": 1}, {"transient": 2, "contract_violation": 1, "circuit_open": 1}],
        [histogram_of(10, 20)],
    )
    assert figures.calls == 10
    assert figures.success_rate == 0.6 and figures.error_rate == 0.4


def test_no_calls_means_no_rates_and_no_latency() -> None:
    figures = call_figures([], [])
    assert figures.calls == 0
    assert figures.success_rate is None and figures.error_rate is None
    assert figures.latency_p50_ms is None and figures.latency_p99_ms is None


def test_percentiles_come_from_the_merged_histogram_not_from_averaged_percentiles() -> None:
    fast_worker = histogram_of(*[4.0] * 98)  # 98 calls of 4 ms
    slow_worker = histogram_of(900.0, 900.0)  # 2 calls of 900 ms
    figures = call_figures([{"ok": 98}, {"ok": 2}], [fast_worker, slow_worker])
    assert figures.latency_p50_ms is not None and 3 < figures.latency_p50_ms <= 5
    # p99 is among the two slow calls: averaging each worker's p99 would say about 450 ms.
    assert figures.latency_p99_ms is not None and 750 < figures.latency_p99_ms <= 1000


@pytest.mark.parametrize("ms", [0.2, 1, 7, 99.9, 100, 4999, 10_000])
def test_a_single_call_lands_within_its_bucket(ms: float) -> None:
    p50 = quantile_ms(histogram_of(ms), 0.5)
    i = latency_bucket(ms)
    lower = LATENCY_BOUNDS_MS[i - 1] if i else 0
    assert p50 is not None and lower <= p50 <= LATENCY_BOUNDS_MS[i]


def test_the_open_ended_bucket_answers_its_lower_bound() -> None:
    assert quantile_ms(histogram_of(60_000), 0.99) == LATENCY_BOUNDS_MS[-1]


def report(worker: str, state: str, *, open_for_s: float | None = None, age_s: float = 1.0) -> BreakerReport:
    return BreakerReport(worker_id=worker, vendor="payments", state=state,  # type: ignore[arg-type]
                         open_until=NOW + timedelta(seconds=open_for_s) if open_for_s is not None else None,
                         reported_at=NOW - timedelta(seconds=age_s))


def test_open_only_when_every_live_worker_is_open() -> None:
    view = circuit_view([report("w1", "open", open_for_s=3.2), report("w2", "open", open_for_s=1.5)], NOW, LIVE_S)
    assert view.state == "open" and view.live_workers == view.open_workers == 2
    assert view.retry_after_s == 1.5  # the first worker to probe
    assert refusal_retry_after(view) == 2  # ceil


def test_partial_when_some_workers_are_open() -> None:
    view = circuit_view([report("w1", "open", open_for_s=3), report("w2", "closed")], NOW, LIVE_S)
    assert view.state == "partial" and view.open_workers == 1
    assert [w.worker_id for w in view.workers] == ["w1", "w2"]
    assert refusal_retry_after(view) is None


def test_silent_workers_are_gone() -> None:
    view = circuit_view([report("w1", "open", open_for_s=3), report("w2", "closed", age_s=LIVE_S + 1)],
                        NOW, LIVE_S)
    assert view.state == "open" and view.live_workers == 1
    assert circuit_view([report("w1", "open", open_for_s=3, age_s=60)], NOW, LIVE_S).state == "closed"


def test_no_worker_reporting_is_closed() -> None:
    view = circuit_view([], NOW, LIVE_S)
    assert view.state == "closed" and view.workers == []


def test_half_open_counts_as_open_but_lets_checkout_through() -> None:
    """Once a worker may probe, refusing orders would keep the breaker open for ever: orders are the probes."""
    view = circuit_view([report("w1", "half_open"), report("w2", "open", open_for_s=4)], NOW, LIVE_S)
    assert view.state == "open" and view.retry_after_s == 0
    assert refusal_retry_after(view) is None
    expired = circuit_view([report("w1", "open", open_for_s=-1)], NOW, LIVE_S)
    assert refusal_retry_after(expired) is None


def test_retry_after_is_at_least_one_second() -> None:
    view = circuit_view([report("w1", "open", open_for_s=0.01)], NOW, LIVE_S)
    assert refusal_retry_after(view) == 1


def test_tally_keeps_running_totals_per_bucket_until_flushed() -> None:
    wall = [1_000_000.0]
    tally = CallTally(lambda: wall[0])
    tally.observe("payments", "ok", 0.004)
    tally.observe("payments", "circuit_open", None)
    [first] = tally.dirty()
    assert first.counts == {"ok": 1, "circuit_open": 1} and sum(first.histogram) == 1
    assert tally.dirty() == []
    tally.observe("payments", "transient", 0.2)
    [again] = tally.dirty()
    assert again.bucket_start == first.bucket_start
    assert again.counts == {"ok": 1, "circuit_open": 1, "transient": 1}  # totals: a re-sent flush is harmless
    tally.redirty([again])
    assert [b.counts for b in tally.dirty()] == [again.counts]
    wall[0] += 60
    tally.observe("payments", "ok", 0.001)
    [later] = tally.dirty()
    assert math.isclose((later.bucket_start - first.bucket_start).total_seconds(), 60)


@pytest.mark.parametrize(("status", "error", "outcome"), [
    (204, None, "ok"),
    (410, "http_error", "business_rejection"),
    (503, "http_error", "transient"),
    (429, "http_error", "transient"),
    (None, "timeout", "transient"),
    (None, "unreachable", "transient"),
    (400, "http_error", "contract_violation"),
    (None, "destination_refused", None),
])
def test_webhook_deliveries_count_as_the_marketing_vendors_calls(
    status: int | None, error: str | None, outcome: str | None
) -> None:
    from activities.bounded_post import PostOutcome
    from activities.webhooks import delivery_outcome

    assert delivery_outcome(PostOutcome(status, b"", error)) == outcome  # type: ignore[arg-type]
