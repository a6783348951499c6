"""Fulfilment node / carrier (shipment requests): adapter and activities.

Dispatch and pick rejections come back as signed webhooks through the API, not from here.
"""

from datetime import UTC, datetime
from math import ceil, floor

from pydantic import BaseModel
from temporalio import activity

from activities.contracts.fulfillment import (
    ALREADY_DISPATCHED,
    CANCEL_SHIPMENT,
    REQUEST_RETURN,
    REQUEST_SHIPMENT,
    RequestReturn,
    RequestShipment,
)
from activities.vendor_http import VendorClient, attempt, parse
from canonical.reconciliation import DispatchFact, Period
from canonical.steps import Done, OrderCall, ShipmentRequest

VENDOR = "fulfillment"


class _Request(BaseModel):
    request_id: str
    status: str


class _Requests(BaseModel):
    data: list[_Request]


def _reference(order_id: str) -> str:
    return f"{order_id}:ship"


class FulfillmentActivities:
    """The fulfilment node: request and cancel shipments, ask it to receive returns."""

    def __init__(self, http: VendorClient) -> None:
        self._http = http

    @activity.defn(name=REQUEST_SHIPMENT.name)
    async def request_shipment(self, inp: RequestShipment) -> ShipmentRequest:
        body = await self._http.call(
            VENDOR, "POST", "/shipment-requests",
            json={"reference": _reference(inp.order_id), "order_id": inp.order_id, "node": inp.node,
                  "lines": [ln.model_dump() for ln in inp.lines], "ship_to": inp.ship_to},
            idempotency_key=_reference(inp.order_id), correlation_id=inp.correlation_id,
        )
        req = parse(VENDOR, _Request, body)
        return ShipmentRequest(request_id=req.request_id, node=inp.node, attempt=attempt())

    @activity.defn(name=CANCEL_SHIPMENT.name)
    async def cancel_shipment_request(self, inp: OrderCall) -> Done:
        """Undo-if-done. Raises a BusinessRejection `already_dispatched` once goods have left."""
        body = await self._http.call(VENDOR, "GET", "/shipment-requests",
                                     params={"reference": _reference(inp.order_id)}, correlation_id=inp.correlation_id)
        found = parse(VENDOR, _Requests, body).data
        if not found:
            return Done(detail="no shipment request: nothing to undo", acted=False, attempt=attempt())
        await self._http.call(
            VENDOR, "POST", f"/shipment-requests/{found[0].request_id}/cancel", json={},
            idempotency_key=f"{inp.order_id}:ship-cancel", correlation_id=inp.correlation_id,
            business_codes={ALREADY_DISPATCHED},
        )
        return Done(detail=f"cancelled {found[0].request_id}", attempt=attempt())

    @activity.defn(name=REQUEST_RETURN.name)
    async def request_return(self, inp: RequestReturn) -> Done:
        """Ask the node to receive and inspect the goods; it answers with a `return.received` webhook."""
        reference = f"{inp.order_id}:return:{inp.return_id}"
        body = await self._http.call(
            VENDOR, "POST", "/returns",
            json={"reference": reference, "order_id": inp.order_id, "return_id": inp.return_id,
                  "lines": [ln.model_dump() for ln in inp.lines]},
            idempotency_key=reference, correlation_id=inp.correlation_id,
        )
        return Done(detail=f"return {body.get('request_id', '')} accepted", attempt=attempt())


# ---- reconciliation's reads: dispatched shipments (goods that left must be paid for) ----------------


class _Line(BaseModel):
    quantity: int


class _Shipment(BaseModel):
    shipment_id: str
    lines: list[_Line]


class _DispatchRequest(BaseModel):
    order_id: str
    shipments: list[_Shipment] = []
    dispatched_at: int | None = None


class _DispatchRequests(BaseModel):
    data: list[_DispatchRequest]


async def _dispatches(http: VendorClient, params: dict[str, str], correlation_id: str) -> list[DispatchFact]:
    body = await http.call(VENDOR, "GET", "/shipment-requests", params=params, correlation_id=correlation_id)
    return [
        DispatchFact(order_id=request.order_id, shipment_id=shipment.shipment_id,
                     units=sum(line.quantity for line in shipment.lines),
                     dispatched_at=datetime.fromtimestamp(request.dispatched_at, tz=UTC))
        for request in parse(VENDOR, _DispatchRequests, body).data
        if request.dispatched_at is not None
        for shipment in request.shipments
    ]


async def dispatches_in(http: VendorClient, period: Period, correlation_id: str) -> list[DispatchFact]:
    """`dispatched_at` is whole seconds: widen the query to whole seconds, cut to the period exactly."""
    params = {"dispatched_from": str(floor(period.start.timestamp())),
              "dispatched_to": str(ceil(period.end.timestamp()))}
    return [d for d in await _dispatches(http, params, correlation_id) if period.contains(d.dispatched_at)]


async def dispatches_of(http: VendorClient, order_id: str, correlation_id: str) -> list[DispatchFact]:
    return await _dispatches(http, {"order_id": order_id}, correlation_id)
