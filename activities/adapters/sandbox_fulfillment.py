"""The sandbox fulfilment node's wire format (shipment requests): the FulfillmentNode port over HTTP."""

from datetime import UTC, datetime
from math import ceil, floor

from pydantic import BaseModel

from activities.contracts.fulfillment import ALREADY_DISPATCHED, RequestReturn, RequestShipment
from activities.vendor_http import VendorClient, parse
from canonical.reconciliation import DispatchFact, Period
from canonical.steps import OrderCall, ShipmentRequest

VENDOR = "fulfillment"


class _Request(BaseModel):
    request_id: str
    status: str


class _Requests(BaseModel):
    data: list[_Request]


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


class SandboxFulfillment:
    def __init__(self, http: VendorClient) -> None:
        self._http = http

    async def request_shipment(self, inp: RequestShipment, reference: str) -> ShipmentRequest:
        body = await self._http.call(
            VENDOR, "POST", "/shipment-requests",
            json={"reference": reference, "order_id": inp.order_id, "node": inp.node,
                  "lines": [ln.model_dump() for ln in inp.lines], "ship_to": inp.ship_to},
            idempotency_key=reference, correlation_id=inp.correlation_id,
        )
        return ShipmentRequest(request_id=parse(VENDOR, _Request, body).request_id, node=inp.node)

    async def shipment_request_of(self, call: OrderCall, reference: str) -> str | None:
        body = await self._http.call(VENDOR, "GET", "/shipment-requests", params={"reference": reference},
                                     correlation_id=call.correlation_id)
        found = parse(VENDOR, _Requests, body).data
        return found[0].request_id if found else None

    async def cancel_shipment_request(self, call: OrderCall, request_id: str, key: str) -> None:
        await self._http.call(VENDOR, "POST", f"/shipment-requests/{request_id}/cancel", json={},
                              idempotency_key=key, correlation_id=call.correlation_id,
                              business_codes={ALREADY_DISPATCHED})

    async def request_return(self, inp: RequestReturn, reference: str) -> str:
        body = await self._http.call(
            VENDOR, "POST", "/returns",
            json={"reference": reference, "order_id": inp.order_id, "return_id": inp.return_id,
                  "lines": [ln.model_dump() for ln in inp.lines]},
            idempotency_key=reference, correlation_id=inp.correlation_id,
        )
        return str(body.get("request_id", ""))

    # ---- reconciliation's reads: dispatched shipments (goods that left must be paid for) -------------

    async def _dispatches(self, params: dict[str, str], correlation_id: str) -> list[DispatchFact]:
        body = await self._http.call(VENDOR, "GET", "/shipment-requests", params=params,
                                     correlation_id=correlation_id)
        return [
            DispatchFact(order_id=request.order_id, shipment_id=shipment.shipment_id,
                         units=sum(line.quantity for line in shipment.lines),
                         dispatched_at=datetime.fromtimestamp(request.dispatched_at, tz=UTC))
            for request in parse(VENDOR, _DispatchRequests, body).data
            if request.dispatched_at is not None
            for shipment in request.shipments
        ]

    async def dispatches_in(self, period: Period, correlation_id: str) -> list[DispatchFact]:
        """`dispatched_at` is whole seconds: widen the query to whole seconds, cut to the period exactly."""
        params = {"dispatched_from": str(floor(period.start.timestamp())),
                  "dispatched_to": str(ceil(period.end.timestamp()))}
        return [d for d in await self._dispatches(params, correlation_id) if period.contains(d.dispatched_at)]

    async def dispatches_of(self, order_id: str, correlation_id: str) -> list[DispatchFact]:
        return await self._dispatches({"order_id": order_id}, correlation_id)
