"""The fulfilment node's dispatched shipments, for reconciliation (goods that left must be paid for)."""

from datetime import UTC, datetime
from math import ceil, floor

from pydantic import BaseModel

from activities.vendor_http import call, parse
from canonical.reconciliation import DispatchFact, Period

VENDOR = "fulfillment"


class _Line(BaseModel):
    quantity: int


class _Shipment(BaseModel):
    shipment_id: str
    lines: list[_Line]


class _Request(BaseModel):
    order_id: str
    shipments: list[_Shipment] = []
    dispatched_at: int | None = None


class _Requests(BaseModel):
    data: list[_Request]


async def _dispatches(params: dict[str, str], correlation_id: str) -> list[DispatchFact]:
    body = await call(VENDOR, "GET", "/shipment-requests", params=params, correlation_id=correlation_id)
    return [
        DispatchFact(
            order_id=request.order_id,
            shipment_id=shipment.shipment_id,
            units=sum(line.quantity for line in shipment.lines),
            dispatched_at=datetime.fromtimestamp(request.dispatched_at, tz=UTC),
        )
        for request in parse(VENDOR, _Requests, body).data
        if request.dispatched_at is not None
        for shipment in request.shipments
    ]


async def dispatches_in(period: Period, correlation_id: str) -> list[DispatchFact]:
    """`dispatched_at` is whole seconds: widen the query to whole seconds, cut to the period exactly."""
    params = {
        "dispatched_from": str(floor(period.start.timestamp())),
        "dispatched_to": str(ceil(period.end.timestamp())),
    }
    return [d for d in await _dispatches(params, correlation_id) if period.contains(d.dispatched_at)]


async def dispatches_of(order_id: str, correlation_id: str) -> list[DispatchFact]:
    return await _dispatches({"order_id": order_id}, correlation_id)
