"""Inventory: allocate the order to a node, commit what ships, release what does not, restock returns."""

from canonical.operations import Operation
from canonical.steps import Allocation, Done, LineQuantity, OrderCall


class AllocateInventory(OrderCall):
    lines: list[LineQuantity]


class AllocationLines(OrderCall):
    """Release or commit lines of the order's reservation; `lines=None` releases all still open."""

    lines: list[LineQuantity] | None
    tag: str


class Restock(OrderCall):
    return_id: str
    lines: list[LineQuantity]


ALLOCATE = Operation("allocate_inventory", AllocateInventory, Allocation)
RELEASE = Operation("release_allocation", AllocationLines, Done)
COMMIT = Operation("commit_allocation", AllocationLines, Done)
RESTOCK = Operation("restock_returned", Restock, Done)
