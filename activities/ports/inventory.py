"""The inventory service's port: stock allocated to a node per order, committed as it ships, released
when it does not, and returned goods put back on the shelf."""

from typing import Protocol

from pydantic import BaseModel

from activities.contracts.inventory import AllocateInventory, Restock
from canonical.steps import Allocation, LineQuantity, OrderCall


class ReservedLine(BaseModel):
    sku: str
    quantity: int
    released: int
    committed: int


class StockReservation(BaseModel):
    """An order's allocation as the inventory service holds it now."""

    reservation_id: str
    node: str
    lines: list[ReservedLine]

    @property
    def settled(self) -> bool:
        """Every unit is released or committed: nothing is left open."""
        return all(line.quantity == line.released + line.committed for line in self.lines)


class InventoryService(Protocol):
    """`reference` is the allocation's business key (also the idempotency key of allocate); `key` a call's
    idempotency key. `lines=None` releases or commits all that is still open."""

    async def allocate(self, inp: AllocateInventory, reference: str) -> Allocation: ...

    async def reservation_of(self, call: OrderCall, reference: str) -> StockReservation | None:
        """The allocation made under `reference`, or None if none was."""
        ...

    async def release(self, call: OrderCall, reservation_id: str, lines: list[LineQuantity] | None,
                      key: str) -> None: ...

    async def commit(self, call: OrderCall, reservation_id: str, lines: list[LineQuantity] | None,
                     key: str) -> None: ...

    async def restock(self, inp: Restock, node: str, reference: str) -> None: ...
