"""Vendor health as on-call reads it: call figures and breaker states reported by every worker process,
merged into one view per vendor (GET /v1/ops/vendors, the /ops page).

Pure functions over what the workers wrote to the store, so the merge is testable on its own:
- counts add up across workers and time buckets;
- latency is a fixed-bucket histogram (the same bounds in every process), so histograms add up too and
  p50/p99 come from the merged histogram, never from an average of per-worker percentiles;
- breaker state is per worker process: `open` when every live worker has the vendor's breaker open
  (or half-open), `partial` when some do, `closed` otherwise.
"""

import bisect
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

VENDORS: tuple[str, ...] = ("loyalty", "payments", "inventory", "fulfillment", "erp", "marketing")

OUTCOMES: tuple[str, ...] = ("ok", "business_rejection", "transient", "contract_violation", "circuit_open")
SUCCESS_OUTCOMES = frozenset({"ok", "business_rejection"})
"""The vendor answered as contracted (a "no" is an answer)."""
ERROR_OUTCOMES = frozenset({"transient", "contract_violation", "circuit_open"})

LATENCY_BOUNDS_MS: tuple[float, ...] = (
    1, 2, 3, 5, 7.5, 10, 15, 20, 30, 50, 75, 100, 150, 200, 300, 500, 750, 1000, 1500, 2000, 3000, 5000,
    7500, 10000,
)
"""Upper bounds of the latency histogram's buckets; one more bucket holds everything slower."""
HISTOGRAM_SIZE = len(LATENCY_BOUNDS_MS) + 1

WorkerState = Literal["closed", "half_open", "open"]
Circuit = Literal["closed", "partial", "open"]


def latency_bucket(ms: float) -> int:
    """Index of the histogram bucket a call of `ms` milliseconds falls in."""
    return bisect.bisect_left(LATENCY_BOUNDS_MS, ms)


def merge_histograms(histograms: Iterable[Sequence[int]]) -> list[int]:
    merged = [0] * HISTOGRAM_SIZE
    for histogram in histograms:
        for i, n in enumerate(histogram[:HISTOGRAM_SIZE]):
            merged[i] += n
    return merged


def quantile_ms(histogram: Sequence[int], q: float) -> float | None:
    """The q-quantile, interpolated linearly inside its bucket; None for an empty histogram. The open-ended
    last bucket answers its lower bound (at least that slow)."""
    total = sum(histogram)
    if total == 0:
        return None
    rank = q * total
    seen = 0
    for i, n in enumerate(histogram):
        if n and seen + n >= rank:
            if i >= len(LATENCY_BOUNDS_MS):
                return LATENCY_BOUNDS_MS[-1]
            lower = LATENCY_BOUNDS_MS[i - 1] if i else 0.0
            return round(lower + (LATENCY_BOUNDS_MS[i] - lower) * max(0.0, rank - seen) / n, 3)
        seen += n
    return LATENCY_BOUNDS_MS[-1]


class CallFigures(BaseModel):
    calls: int
    success_rate: float | None
    error_rate: float | None
    latency_p50_ms: float | None
    latency_p99_ms: float | None


def call_figures(counts: Iterable[Mapping[str, int]], histograms: Iterable[Sequence[int]]) -> CallFigures:
    """One vendor's figures from every (worker, time bucket) row: counts by outcome and latency histograms."""
    totals = dict.fromkeys(OUTCOMES, 0)
    for row in counts:
        for outcome, n in row.items():
            totals[outcome] = totals.get(outcome, 0) + n
    calls = sum(totals.values())
    merged = merge_histograms(histograms)
    ok = sum(totals[o] for o in SUCCESS_OUTCOMES)
    errors = sum(totals.get(o, 0) for o in ERROR_OUTCOMES)
    return CallFigures(
        calls=calls,
        success_rate=round(ok / calls, 4) if calls else None,
        error_rate=round(errors / calls, 4) if calls else None,
        latency_p50_ms=quantile_ms(merged, 0.5),
        latency_p99_ms=quantile_ms(merged, 0.99),
    )


class BreakerReport(BaseModel):
    """One worker process's breaker for one vendor, as it last reported it."""

    worker_id: str
    vendor: str
    state: WorkerState
    open_until: datetime | None = None
    reported_at: datetime
    last_failure: str | None = None


class WorkerCircuit(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    worker_id: str
    """The worker process."""
    state: WorkerState
    """Its breaker for the vendor."""
    open_until: datetime | None
    """When an open breaker lets a probe through (UTC)."""
    reported_at: datetime
    """When the worker last reported (UTC)."""
    last_failure: str | None
    """The failure that opened the breaker, if any."""


class CircuitView(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    state: Circuit
    """`closed`, `partial` (some workers' breakers open) or `open` (all)."""
    live_workers: int
    """Workers that reported within the liveness limit; silent ones are taken as gone."""
    open_workers: int
    """Live workers whose breaker is not closed."""
    retry_after_s: float | None
    """When `open`: seconds until the first live worker lets a probe through (0 once one may)."""
    workers: list[WorkerCircuit]
    """Each live worker's breaker."""


def circuit_view(reports: Iterable[BreakerReport], now: datetime, live_within_s: float) -> CircuitView:
    """One vendor's breaker across the worker processes that are still reporting."""
    live = sorted((r for r in reports if (now - r.reported_at).total_seconds() <= live_within_s),
                  key=lambda r: r.worker_id)
    tripped = [r for r in live if r.state != "closed"]
    if live and len(tripped) == len(live):
        state: Circuit = "open"
        retry_after: float | None = min(_remaining_s(r, now) for r in live)
    else:
        state, retry_after = ("partial" if tripped else "closed"), None
    return CircuitView(
        state=state, live_workers=len(live), open_workers=len(tripped), retry_after_s=retry_after,
        workers=[WorkerCircuit(worker_id=r.worker_id, state=r.state, open_until=r.open_until,
                               reported_at=r.reported_at, last_failure=r.last_failure) for r in live],
    )


def _remaining_s(report: BreakerReport, now: datetime) -> float:
    if report.state != "open" or report.open_until is None:
        return 0.0
    return max(0.0, (report.open_until - now).total_seconds())


def refusal_retry_after(view: CircuitView) -> int | None:
    """Seconds for a checkout's Retry-After when it should be refused at once, else None.

    Only while every live worker is open with time still to run: once any may let a probe through, orders
    go ahead, since an order's call is what probes the vendor (refusing them would keep it open for ever).
    """
    if view.state != "open" or not view.retry_after_s:
        return None
    return max(1, math.ceil(view.retry_after_s))
