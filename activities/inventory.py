"""Inventory / warehouse system (reservations per node): the activities, over the InventoryService port."""

from temporalio import activity

from activities.contracts.inventory import (
    ALLOCATE,
    COMMIT,
    RELEASE,
    RESTOCK,
    AllocateInventory,
    AllocationLines,
    Restock,
    allocate_key,
    commit_key,
    release_key,
    restock_key,
)
from activities.ports.inventory import InventoryService
from activities.vendor_http import attempt, attempted, contract_violation
from canonical.steps import Allocation, Done

VENDOR = "inventory"
DEFAULT_NODE = "DC-1"
"""Where returned goods go when the order's node is no longer known."""


class InventoryActivities:
    """Inventory: allocate, commit what ships, release what does not, restock returns."""

    def __init__(self, inventory: InventoryService) -> None:
        self._inventory = inventory

    @activity.defn(name=ALLOCATE.name)
    async def allocate_inventory(self, inp: AllocateInventory) -> Allocation:
        return attempted(await self._inventory.allocate(inp, allocate_key(inp.order_id)))

    @activity.defn(name=RELEASE.name)
    async def release_allocation(self, inp: AllocationLines) -> Done:
        res = await self._inventory.reservation_of(inp, allocate_key(inp.order_id))
        if res is None:
            return Done(detail="no reservation: nothing to undo", acted=False, attempt=attempt())
        if inp.lines is None and res.settled:
            return Done(detail="nothing left open", acted=False, attempt=attempt())
        await self._inventory.release(inp, res.reservation_id, inp.lines,
                                      release_key(inp.order_id, inp.tag))
        return Done(detail="released", attempt=attempt())

    @activity.defn(name=COMMIT.name)
    async def commit_allocation(self, inp: AllocationLines) -> Done:
        """Stock leaves the building with a dispatched shipment."""
        res = await self._inventory.reservation_of(inp, allocate_key(inp.order_id))
        if res is None:
            raise contract_violation(VENDOR, "dispatched order has no reservation")
        await self._inventory.commit(inp, res.reservation_id, inp.lines, commit_key(inp.order_id, inp.tag))
        return Done(detail="committed", attempt=attempt())

    @activity.defn(name=RESTOCK.name)
    async def restock_returned(self, inp: Restock) -> Done:
        """Resellable returned goods go back on the shelf of the node that shipped them."""
        res = await self._inventory.reservation_of(inp, allocate_key(inp.order_id))
        await self._inventory.restock(inp, res.node if res else DEFAULT_NODE, restock_key(inp.order_id, inp.return_id))
        return Done(detail=f"restocked {sum(ln.quantity for ln in inp.lines)} units", attempt=attempt())
