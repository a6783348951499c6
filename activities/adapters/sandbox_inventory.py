"""The sandbox inventory service's wire format (reservations per node): the InventoryService port over HTTP."""

from pydantic import BaseModel

from activities.contracts.inventory import AllocateInventory, Restock
from activities.ports.inventory import StockReservation
from activities.vendor_http import VendorClient, parse
from canonical.steps import Allocation, LineQuantity, OrderCall

VENDOR = "inventory"


class _Reservation(StockReservation):
    """The sandbox's reservation is the port's, with its status."""

    status: str


class _Reservations(BaseModel):
    data: list[_Reservation]


def _lines(lines: list[LineQuantity] | None) -> list[dict[str, object]] | None:
    return None if lines is None else [line.model_dump() for line in lines]


class SandboxInventory:
    def __init__(self, http: VendorClient) -> None:
        self._http = http

    async def allocate(self, inp: AllocateInventory, reference: str) -> Allocation:
        body = await self._http.call(
            VENDOR, "POST", "/reservations",
            json={"reference": reference, "order_id": inp.order_id, "lines": _lines(inp.lines)},
            idempotency_key=reference, correlation_id=inp.correlation_id, business_codes={"out_of_stock"},
        )
        res = parse(VENDOR, _Reservation, body)
        return Allocation(reservation_id=res.reservation_id, node=res.node,
                          lines=[LineQuantity(sku=ln.sku, quantity=ln.quantity) for ln in res.lines])

    async def reservation_of(self, call: OrderCall, reference: str) -> StockReservation | None:
        body = await self._http.call(VENDOR, "GET", "/reservations", params={"reference": reference},
                                     correlation_id=call.correlation_id)
        found = parse(VENDOR, _Reservations, body).data
        return found[0] if found else None

    async def release(self, call: OrderCall, reservation_id: str, lines: list[LineQuantity] | None,
                      key: str) -> None:
        await self._http.call(VENDOR, "POST", f"/reservations/{reservation_id}/release",
                              json={"lines": _lines(lines)}, idempotency_key=key, correlation_id=call.correlation_id)

    async def commit(self, call: OrderCall, reservation_id: str, lines: list[LineQuantity] | None,
                     key: str) -> None:
        await self._http.call(VENDOR, "POST", f"/reservations/{reservation_id}/commit",
                              json={"lines": _lines(lines)}, idempotency_key=key, correlation_id=call.correlation_id)

    async def restock(self, inp: Restock, node: str, reference: str) -> None:
        await self._http.call(
            VENDOR, "POST", "/restock",
            json={"reference": reference, "order_id": inp.order_id, "node": node, "lines": _lines(inp.lines)},
            idempotency_key=reference, correlation_id=inp.correlation_id,
        )
