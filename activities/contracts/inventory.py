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


# The business keys sent as idempotency keys (the allocate key is also the reservation's reference).

def allocate_key(order_id: str) -> str:
    return f"{order_id}:allocate"


def release_key(order_id: str, tag: str) -> str:
    return f"{order_id}:allocation-release:{tag}"


def commit_key(order_id: str, tag: str) -> str:
    return f"{order_id}:commit:{tag}"


def restock_key(order_id: str, return_id: str) -> str:
    return f"{order_id}:restock:{return_id}"
