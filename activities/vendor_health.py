"""This process's share of vendor health: its calls tallied in memory, and a reporter that writes them,
with its breakers' states, to the store for GET /v1/ops/vendors to merge across every worker.

A vendor call only adds to an in-memory tally (no I/O, no await); the reporter flushes every
O2C_VENDOR_HEALTH_REPORT_S and at once when a breaker changes state, off the call path. A store that is
down costs figures, never a vendor call: the flush is tried again at the next tick.
"""

import asyncio
import contextlib
import os
import secrets
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy.orm import Session

from activities.circuit_breaker import BreakerConfig, Breakers, State
from activities.store_executor import StoreExecutor
from canonical.vendor_health import HISTOGRAM_SIZE, latency_bucket
from runtime.settings import Settings
from store.vendor_health import BreakerFigures, BucketFigures, VendorHealthRepository

log = structlog.get_logger("o2c.vendor_health")

BUCKET_S = 10
"""Width of a tally bucket: the view's 5-minute span is made of these."""
KEEP_S = 3600.0
"""Buckets, and the rows of workers silent for this long, are pruned after it."""
PRUNE_EVERY_S = 60.0


def new_worker_id() -> str:
    """host:pid and a random suffix: a restarted process (same pid in a container) is a new worker."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


@dataclass
class _Bucket:
    counts: dict[str, int] = field(default_factory=dict)
    histogram: list[int] = field(default_factory=lambda: [0] * HISTOGRAM_SIZE)
    dirty: bool = True


class CallTally:
    """Calls per (vendor, time bucket) since the last flush, with each touched bucket's running totals."""

    def __init__(self, wall: Callable[[], float] = time.time) -> None:
        self._wall = wall
        self._buckets: dict[tuple[str, int], _Bucket] = {}

    def observe(self, vendor: str, outcome: str, seconds: float | None) -> None:
        """`seconds` None: no latency to record (a call refused by its breaker)."""
        start = int(self._wall()) // BUCKET_S * BUCKET_S
        bucket = self._buckets.get((vendor, start))
        if bucket is None:
            bucket = self._buckets[vendor, start] = _Bucket()
            self._forget_before(start - 2 * BUCKET_S)
        bucket.counts[outcome] = bucket.counts.get(outcome, 0) + 1
        if seconds is not None:
            bucket.histogram[latency_bucket(seconds * 1000)] += 1
        bucket.dirty = True

    def dirty(self) -> list[BucketFigures]:
        """The buckets touched since the last call, with their totals so far; marks them clean."""
        out = []
        for (vendor, start), bucket in self._buckets.items():
            if bucket.dirty:
                bucket.dirty = False
                out.append(BucketFigures(vendor, datetime.fromtimestamp(start, UTC), dict(bucket.counts),
                                         list(bucket.histogram)))
        return out

    def redirty(self, figures: list[BucketFigures]) -> None:
        """A flush failed: send these buckets again next time."""
        for f in figures:
            bucket = self._buckets.get((f.vendor, int(f.bucket_start.timestamp())))
            if bucket is not None:
                bucket.dirty = True

    def _forget_before(self, start: int) -> None:
        # Buckets that old get no more calls; once flushed they are the store's.
        for key in [k for k, b in self._buckets.items() if k[1] < start and not b.dirty]:
            del self._buckets[key]


class VendorHealth:
    """This process's breakers and call tally, handed to the vendor client."""

    def __init__(self, settings: Settings, *, with_breakers: bool = True) -> None:
        self.breakers = Breakers(BreakerConfig.of(settings)) if with_breakers else None
        self.tally = CallTally()


class VendorHealthReporter:
    def __init__(self, health: VendorHealth, store: StoreExecutor, interval_s: float,
                 worker_id: str | None = None) -> None:
        self.worker_id = worker_id or new_worker_id()
        self._health = health
        self._store = store
        self._interval = interval_s
        self._wake = asyncio.Event()
        self._last_prune = 0.0
        if health.breakers is not None:
            health.breakers.listen(self._on_transition)

    def _on_transition(self, vendor: str, state: State) -> None:
        log.warning("vendor.circuit", vendor=vendor, state=state.value)
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.flush()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wait(stop), self._interval)
        await self.flush()

    async def _wait(self, stop: asyncio.Event) -> None:
        waits = [asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stop.wait())]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()
        self._wake.clear()

    async def flush(self) -> None:
        now = datetime.now(UTC)
        if self._health.breakers:
            self._health.breakers.expire()
        buckets = self._health.tally.dirty()
        breakers = [BreakerFigures(s.vendor, s.state.value, s.open_until, s.last_failure)
                    for s in self._health.breakers.snapshot(now)] if self._health.breakers else []
        prune = time.monotonic() - self._last_prune >= PRUNE_EVERY_S

        def write(session: Session) -> None:
            repo = VendorHealthRepository(session)
            repo.report(self.worker_id, buckets, breakers, now)
            if prune:
                repo.prune(now - timedelta(seconds=KEEP_S))

        try:
            await self._store.write(write)
        except Exception as exc:  # the figures wait for the next tick; vendor calls never do
            self._health.tally.redirty(buckets)
            log.warning("vendor_health.flush_failed", error_type=type(exc).__name__)
            return
        if prune:
            self._last_prune = time.monotonic()
