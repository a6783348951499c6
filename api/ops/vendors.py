"""GET /v1/ops/vendors: every vendor's health over the last five minutes, for on-call (scope ops:read).

Read from the store, where every worker process reports its calls and breakers (activities/vendor_health.py):
the API never calls a vendor. Figures are merged across all workers that reported (canonical/vendor_health.py):
counts and latency histograms add up; breaker state is per worker process, so the view says `open` when every
live worker has the vendor's breaker open, `partial` when only some do, with each worker's state alongside.
"""

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict
from sqlalchemy.orm import Session

from api.shared.auth import Principal, require_scope
from api.shared.problems import PROBLEM
from canonical.vendor_health import VENDORS, Circuit, CircuitView, call_figures, circuit_view
from store.backlog import Backlog, backlog_of
from store.engine import Store
from store.vendor_health import VendorHealthRepository, VendorRows

router = APIRouter(prefix="/v1/ops", tags=["operations"])

WINDOW_S = 300
LIVE_REPORTS = 3
"""A worker silent for this many report intervals is taken as gone."""


class VendorHealthRow(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    vendor: str
    """loyalty, payments, inventory, fulfillment, erp or marketing."""
    calls: int
    """Calls over the window, every outcome (circuit_open included: refused by a breaker, not made)."""
    success_rate: float | None
    """ok + business_rejection (the vendor answered as contracted) over calls; None without calls."""
    error_rate: float | None
    """transient + contract_violation + circuit_open over calls; None without calls."""
    latency_p50_ms: float | None
    """Median call duration over the window; None without calls."""
    latency_p99_ms: float | None
    """99th percentile call duration over the window; None without calls."""
    circuit: Circuit
    """The vendor's breaker across the workers: closed, partial or open."""
    circuit_detail: CircuitView
    """The breaker per worker."""
    backlog: int
    """Work waiting for this vendor: ERP postings pending or retrying; webhook deliveries pending (marketing)."""


class VendorHealthReport(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    generated_at: datetime
    """When the report was made (UTC)."""
    window_s: int
    """The window the figures cover, in seconds."""
    vendors: list[VendorHealthRow]
    """One row per vendor."""
    backlog: Backlog
    """Work waiting in the store."""


def live_within_s(request: Request) -> float:
    return LIVE_REPORTS * request.app.state.settings.vendor_health_report_s


def vendor_health(session: Session, now: datetime, live_s: float) -> VendorHealthReport:
    rows = VendorHealthRepository(session).since(now - timedelta(seconds=WINDOW_S))
    backlog = backlog_of(session)
    waiting = {"erp": backlog.erp_postings_pending + backlog.erp_postings_retrying,
               "marketing": backlog.webhook_deliveries_pending}
    vendors = []
    for vendor in VENDORS:
        found = rows.get(vendor) or VendorRows()
        circuit = circuit_view(found.breakers, now, live_s)
        figures = call_figures(found.counts, found.histograms)
        vendors.append(VendorHealthRow(vendor=vendor, **figures.model_dump(), circuit=circuit.state,
                                       circuit_detail=circuit, backlog=waiting.get(vendor, 0)))
    return VendorHealthReport(generated_at=now, window_s=WINDOW_S, vendors=vendors, backlog=backlog)


def _read(store: Store, live_s: float) -> VendorHealthReport:
    with store.reading() as session:
        return vendor_health(session, datetime.now(UTC), live_s)


async def read_vendor_health(request: Request) -> VendorHealthReport:
    """The report, for this route and the /ops page; off the event loop (the store is sync)."""
    return await asyncio.to_thread(_read, request.app.state.store.store, live_within_s(request))


@router.get(
    "/vendors",
    operation_id="get_vendor_health",
    response_model=VendorHealthReport,
    summary="Vendor health over the last 5 minutes: calls, success and error rates, latency, breakers, backlog",
    responses={401: PROBLEM, 403: PROBLEM, 503: PROBLEM},
)
async def get_vendors(
    request: Request, _: Annotated[Principal, Depends(require_scope("ops:read"))]
) -> VendorHealthReport:
    return await read_vendor_health(request)
