"""Vendor health in the store: what each worker process reports of its vendor calls and breakers.

Every worker process writes its own rows only (its worker id is in every key), each flush replacing the
figures of the buckets it touched with their running totals, so a flush repeated after an error is
harmless and N workers never contend for a row. Readers merge the rows (canonical/vendor_health.py).
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from canonical.vendor_health import OUTCOMES, BreakerReport
from store.engine import insert_for
from store.models import VendorBreakerState, VendorCallBucket


@dataclass(frozen=True)
class BucketFigures:
    vendor: str
    bucket_start: datetime
    counts: dict[str, int]
    histogram: list[int]


@dataclass(frozen=True)
class BreakerFigures:
    vendor: str
    state: str
    open_until: datetime | None
    last_failure: str | None = None


@dataclass
class VendorRows:
    """What readers need for one vendor: its bucket rows and its breaker reports."""

    counts: list[dict[str, int]] = field(default_factory=list)
    histograms: list[list[int]] = field(default_factory=list)
    breakers: list[BreakerReport] = field(default_factory=list)


LAST_FAILURE_CHARS = 500


class VendorHealthRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def report(self, worker_id: str, buckets: Sequence[BucketFigures], breakers: Sequence[BreakerFigures],
               at: datetime) -> None:
        """One worker's flush: its touched buckets' totals, and every breaker with reported_at = at."""
        for bucket in buckets:
            values = {o: bucket.counts.get(o, 0) for o in OUTCOMES}
            insert = insert_for(self.session, VendorCallBucket).values(
                worker_id=worker_id, vendor=bucket.vendor, bucket_start=bucket.bucket_start,
                latency_histogram=bucket.histogram, **values)
            self.session.execute(insert.on_conflict_do_update(
                index_elements=["worker_id", "vendor", "bucket_start"],
                set_={**{o: insert.excluded[o] for o in OUTCOMES},
                      "latency_histogram": insert.excluded.latency_histogram}))
        for breaker in breakers:
            insert = insert_for(self.session, VendorBreakerState).values(
                worker_id=worker_id, vendor=breaker.vendor, state=breaker.state, open_until=breaker.open_until,
                last_failure=(breaker.last_failure or None) and breaker.last_failure[:LAST_FAILURE_CHARS],
                reported_at=at)
            self.session.execute(insert.on_conflict_do_update(
                index_elements=["worker_id", "vendor"],
                set_={name: insert.excluded[name] for name in ("state", "open_until", "last_failure", "reported_at")}))

    def prune(self, before: datetime) -> None:
        """Forget buckets, and workers silent, since before `before`."""
        self.session.execute(delete(VendorCallBucket).where(VendorCallBucket.bucket_start < before))
        self.session.execute(delete(VendorBreakerState).where(VendorBreakerState.reported_at < before))

    def since(self, start: datetime) -> dict[str, VendorRows]:
        """Per vendor: the bucket rows starting at or after `start`, and every breaker report."""
        rows: dict[str, VendorRows] = {}
        for b in self.session.scalars(select(VendorCallBucket).where(VendorCallBucket.bucket_start >= start)):
            entry = rows.setdefault(b.vendor, VendorRows())
            entry.counts.append({o: getattr(b, o) for o in OUTCOMES})
            entry.histograms.append(list(b.latency_histogram))
        for s in self.session.scalars(select(VendorBreakerState)):
            rows.setdefault(s.vendor, VendorRows()).breakers.append(self._breaker(s))
        return rows

    def breakers(self, vendors: Sequence[str]) -> list[BreakerReport]:
        query = select(VendorBreakerState).where(VendorBreakerState.vendor.in_(vendors))
        return [self._breaker(s) for s in self.session.scalars(query)]

    @staticmethod
    def _breaker(s: VendorBreakerState) -> BreakerReport:
        return BreakerReport(worker_id=s.worker_id, vendor=s.vendor, state=s.state,  # type: ignore[arg-type]
                             open_until=s.open_until, reported_at=s.reported_at, last_failure=s.last_failure)
