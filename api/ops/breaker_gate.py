"""Checkout's fail-fast: while the payments breaker (or the loyalty one, for an order redeeming points) is
open in every live worker, POST /v1/orders answers 503 `vendor-unavailable` with Retry-After at once,
and starts nothing, instead of having the shopper wait out the accept timeout.

The breaker states come from the store (the workers report them; the API never calls a vendor) and are
cached here for CACHE_S, so the hot path costs one store read per second at most, not one per order. A
store that cannot be read lets orders through: the workflow's own retries still decide them.
"""

import asyncio
from datetime import UTC, datetime, timedelta

import structlog
from fastapi import Request

from api.ops.vendors import live_within_s
from api.shared.problems import ProblemError
from canonical.pricing import PricedOrder
from canonical.vendor_health import BreakerReport, circuit_view, refusal_retry_after
from store.engine import Store
from store.vendor_health import VendorHealthRepository

log = structlog.get_logger("o2c.api")

CACHE_S = 1.0
PROBE_REREAD_S = 0.2
CHECKOUT_VENDORS = ("payments", "loyalty")


class BreakerGate:
    def __init__(self, store: Store, live_s: float) -> None:
        self._store = store
        self._live_s = live_s
        self._reports: list[BreakerReport] = []
        self._valid_until = datetime.min.replace(tzinfo=UTC)
        self._lock = asyncio.Lock()

    async def retry_after(self, vendor: str) -> int | None:
        """Seconds to answer in Retry-After if checkout must be refused for `vendor`'s breaker, else None."""
        reports = await self._fresh()
        mine = [r for r in reports if r.vendor == vendor]
        return refusal_retry_after(circuit_view(mine, datetime.now(UTC), self._live_s))

    async def _fresh(self) -> list[BreakerReport]:
        if datetime.now(UTC) < self._valid_until:
            return self._reports
        async with self._lock:  # one read per expiry however many orders arrive meanwhile
            now = datetime.now(UTC)
            if now >= self._valid_until:
                try:
                    self._reports = await asyncio.to_thread(self._read)
                except Exception as exc:  # unknown breakers must not stop checkout
                    log.warning("breakers.unreadable", error_type=type(exc).__name__)
                    self._reports = []
                self._valid_until = min([now + timedelta(seconds=CACHE_S), *self._turns(now)])
        return self._reports

    def _turns(self, now: datetime) -> list[datetime]:
        """When an open breaker may change: at the end of its open time (its worker then probes, and closes or
        reopens it), and soon again if its worker has not said yet, so the next open period is not missed."""
        reread = now + timedelta(seconds=PROBE_REREAD_S)
        return [r.open_until if r.open_until and r.open_until > now else reread
                for r in self._reports if r.state == "open"]

    def _read(self) -> list[BreakerReport]:
        with self._store.reading() as session:
            return VendorHealthRepository(session).breakers(CHECKOUT_VENDORS)


def _gate(request: Request) -> BreakerGate:
    gate: BreakerGate | None = getattr(request.app.state, "breaker_gate", None)
    if gate is None:
        gate = request.app.state.breaker_gate = BreakerGate(request.app.state.store.store, live_within_s(request))
    return gate


async def refuse_if_vendor_down(request: Request, priced: PricedOrder, order_id: str) -> None:
    """Raise the 503 when a vendor this order's acceptance needs is known to be down."""
    needed = [v for v, used in (("payments", priced.amount_due > 0), ("loyalty", priced.points > 0)) if used]
    gate = _gate(request)
    for vendor in needed:
        retry_after = await gate.retry_after(vendor)
        if retry_after is not None:
            raise ProblemError(
                503, "vendor-unavailable",
                f"The {vendor} provider is unavailable (circuit breaker open); nothing was started for order"
                f" {order_id}: send it again after Retry-After",
                headers={"Retry-After": str(retry_after)}, vendor=vendor, order_id=order_id,
                retry_after_s=retry_after)
