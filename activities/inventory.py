"""Inventory / warehouse system (reservations per node): adapter and activities."""

from pydantic import BaseModel
from temporalio import activity

from activities.contracts.inventory import (
    ALLOCATE,
    COMMIT,
    RELEASE,
    RESTOCK,
    AllocateInventory,
    AllocationLines,
    Restock,
)
from activities.vendor_http import VendorClient, attempt, contract_violation, parse
from canonical.steps import Allocation, Done, LineQuantity, OrderCall

VENDOR = "inventory"


class _ReservedLine(BaseModel):
    sku: str
    quantity: int
    released: int
    committed: int


class _Reservation(BaseModel):
    reservation_id: str
    node: str
    status: str
    lines: list[_ReservedLine]


class _Reservations(BaseModel):
    data: list[_Reservation]


def _reference(order_id: str) -> str:
    return f"{order_id}:allocate"


def _lines(lines: list[LineQuantity] | None) -> list[dict[str, object]] | None:
    return None if lines is None else [line.model_dump() for line in lines]


class InventoryActivities:
    """Inventory: allocate, commit what ships, release what does not, restock returns."""

    def __init__(self, http: VendorClient) -> None:
        self._http = http

    @activity.defn(name=ALLOCATE.name)
    async def allocate_inventory(self, inp: AllocateInventory) -> Allocation:
        body = await self._http.call(
            VENDOR, "POST", "/reservations",
            json={"reference": _reference(inp.order_id), "order_id": inp.order_id, "lines": _lines(inp.lines)},
            idempotency_key=_reference(inp.order_id), correlation_id=inp.correlation_id,
            business_codes={"out_of_stock"},
        )
        res = parse(VENDOR, _Reservation, body)
        return Allocation(reservation_id=res.reservation_id, node=res.node,
                          lines=[LineQuantity(sku=ln.sku, quantity=ln.quantity) for ln in res.lines], attempt=attempt())

    async def _reservation(self, inp: OrderCall) -> _Reservation | None:
        body = await self._http.call(VENDOR, "GET", "/reservations", params={"reference": _reference(inp.order_id)},
                          correlation_id=inp.correlation_id)
        found = parse(VENDOR, _Reservations, body).data
        return found[0] if found else None

    @activity.defn(name=RELEASE.name)
    async def release_allocation(self, inp: AllocationLines) -> Done:
        res = await self._reservation(inp)
        if res is None:
            return Done(detail="no reservation: nothing to undo", acted=False, attempt=attempt())
        if inp.lines is None and all(ln.quantity == ln.released + ln.committed for ln in res.lines):
            return Done(detail="nothing left open", acted=False, attempt=attempt())
        await self._http.call(
            VENDOR, "POST", f"/reservations/{res.reservation_id}/release", json={"lines": _lines(inp.lines)},
            idempotency_key=f"{inp.order_id}:allocation-release:{inp.tag}", correlation_id=inp.correlation_id,
        )
        return Done(detail="released", attempt=attempt())

    @activity.defn(name=COMMIT.name)
    async def commit_allocation(self, inp: AllocationLines) -> Done:
        """Stock leaves the building with a dispatched shipment."""
        res = await self._reservation(inp)
        if res is None:
            raise contract_violation(VENDOR, "dispatched order has no reservation")
        await self._http.call(
            VENDOR, "POST", f"/reservations/{res.reservation_id}/commit", json={"lines": _lines(inp.lines)},
            idempotency_key=f"{inp.order_id}:commit:{inp.tag}", correlation_id=inp.correlation_id,
        )
        return Done(detail="committed", attempt=attempt())

    @activity.defn(name=RESTOCK.name)
    async def restock_returned(self, inp: Restock) -> Done:
        """Resellable returned goods go back on the shelf of the node that shipped them."""
        reference = f"{inp.order_id}:restock:{inp.return_id}"
        res = await self._reservation(inp)
        await self._http.call(
            VENDOR, "POST", "/restock",
            json={"reference": reference, "order_id": inp.order_id, "node": res.node if res else "DC-1",
                  "lines": _lines(inp.lines)},
            idempotency_key=reference, correlation_id=inp.correlation_id,
        )
        return Done(detail=f"restocked {sum(ln.quantity for ln in inp.lines)} units", attempt=attempt())
