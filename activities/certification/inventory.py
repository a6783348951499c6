"""The inventory contract suite: stock allocated to a node, released, committed and restocked, through the
InventoryService port, with the keys the activities send.

SKUs: `CERT-A` and `CERT-B` must be in stock (the sandbox stocks any unknown SKU), `OOS-CERT` out of stock
everywhere (the sandbox's `OOS-` convention). Quantities are a few units, so runs barely touch the stock.
"""

from typing import Literal

from activities.certification.framework import Check, CheckFailed, expect, expect_kind, refused
from activities.certification.vendor_checks import Probe, SuiteContext, VendorErrorShape
from activities.contracts.inventory import (
    AllocateInventory,
    Restock,
    allocate_key,
    commit_key,
    release_key,
    restock_key,
)
from activities.ports.inventory import InventoryService, ReservedLine, StockReservation
from canonical.errors import ErrorKind
from canonical.steps import Allocation, LineQuantity, OrderCall

IN_STOCK_A = "CERT-A"
IN_STOCK_B = "CERT-B"
OUT_OF_STOCK = "OOS-CERT"
LINES = [LineQuantity(sku=IN_STOCK_A, quantity=3), LineQuantity(sku=IN_STOCK_B, quantity=2)]
ONE_OF_A = [LineQuantity(sku=IN_STOCK_A, quantity=1)]


def _line(reservation: StockReservation, sku: str) -> ReservedLine:
    line = next((ln for ln in reservation.lines if ln.sku == sku), None)
    if line is None:
        raise CheckFailed(f"reservation {reservation.reservation_id} has no line for {sku}")
    return line


class InventorySuite:
    def __init__(self, inventory: InventoryService, ctx: SuiteContext) -> None:
        self._inventory = inventory
        self._ctx = ctx

    def checks(self) -> list[Check]:
        return [
            Check("allocate", self.allocate),
            Check("release.lines", self.release_lines),
            Check("release.all", self.release_all),
            Check("commit", self.commit),
            Check("restock", self.restock),
            Check("lookup.missing", self.missing_reservation, mutating=False),
            Check("idempotency.allocate", self.idempotent_allocate),
            Check("idempotency.release", self.idempotent_release),
            Check("idempotency.commit", self.idempotent_commit),
            Check("rejection.out_of_stock", self.out_of_stock),
            *self._ctx.vendor_checks(
                VendorErrorShape, "{error: {type, code, message}}",
                Probe(self._release_missing, "releasing from a reservation that does not exist"),
                Probe(self._missing_reservation, "looking up a reservation")),
        ]

    # -- helpers ----------------------------------------------------------------------------------

    async def _allocated(self) -> tuple[OrderCall, Allocation]:
        order = self._ctx.order()
        allocation = await self._inventory.allocate(AllocateInventory(**order.model_dump(), lines=LINES),
                                                    allocate_key(order.order_id))
        return order, allocation

    async def _reservation(self, order: OrderCall) -> StockReservation:
        reservation = await self._inventory.reservation_of(order, allocate_key(order.order_id))
        if reservation is None:
            raise CheckFailed(f"no reservation found under the reference {allocate_key(order.order_id)}")
        return reservation

    async def _settle_one(self, how: Literal["release", "commit"], times: int) -> None:
        """Release or commit 1 of 3 `IN_STOCK_A`, `times` times under one key: the line must show 1."""
        order, allocation = await self._allocated()
        for _ in range(times):
            if how == "release":
                await self._inventory.release(order, allocation.reservation_id, ONE_OF_A,
                                              release_key(order.order_id, "cert"))
            else:
                await self._inventory.commit(order, allocation.reservation_id, ONE_OF_A,
                                             commit_key(order.order_id, "cert"))
        line = _line(await self._reservation(order), IN_STOCK_A)
        done = line.released if how == "release" else line.committed
        expect(done == 1, f"{how} of 1 {IN_STOCK_A}, {times}× under one key: the line shows {done}")

    async def _missing_reservation(self) -> StockReservation | None:
        order = self._ctx.order()
        return await self._inventory.reservation_of(order, allocate_key(order.order_id))

    async def _release_missing(self) -> None:
        order = self._ctx.order()
        await self._inventory.release(order, f"res_{order.order_id}_missing", ONE_OF_A,
                                      release_key(order.order_id, "cert"))

    # -- happy paths ------------------------------------------------------------------------------

    async def allocate(self) -> str:
        order, allocation = await self._allocated()
        got = sorted((ln.sku, ln.quantity) for ln in allocation.lines)
        expect(got == [(IN_STOCK_A, 3), (IN_STOCK_B, 2)], f"allocated {got}, asked {IN_STOCK_A}×3 and {IN_STOCK_B}×2")
        expect(bool(allocation.node), "the allocation names no node")
        reservation = await self._reservation(order)
        expect(reservation.reservation_id == allocation.reservation_id and not reservation.settled,
               f"found {reservation.reservation_id} (settled {reservation.settled}), allocated "
               f"{allocation.reservation_id}")
        return f"allocated 2 lines at {allocation.node} ({allocation.reservation_id}), found again by its reference"

    async def release_lines(self) -> str:
        await self._settle_one("release", times=1)
        return f"released 1 of 3 {IN_STOCK_A}"

    async def release_all(self) -> str:
        order, allocation = await self._allocated()
        await self._inventory.release(order, allocation.reservation_id, None, release_key(order.order_id, "cert"))
        reservation = await self._reservation(order)
        expect(reservation.settled, f"after releasing all, lines are {reservation.lines}")
        return "released everything open: nothing left reserved"

    async def commit(self) -> str:
        await self._settle_one("commit", times=1)
        return f"committed 1 of 3 {IN_STOCK_A} (shipped)"

    async def restock(self) -> str:
        order, allocation = await self._allocated()
        await self._inventory.commit(order, allocation.reservation_id, LINES, commit_key(order.order_id, "cert"))
        await self._inventory.restock(Restock(**order.model_dump(), return_id="r1", lines=ONE_OF_A), allocation.node,
                                      restock_key(order.order_id, "r1"))
        return f"restocked 1 returned {IN_STOCK_A} at {allocation.node}"

    async def missing_reservation(self) -> str:
        reservation = await self._missing_reservation()
        expect(reservation is None, f"a reference never allocated under found {reservation!r}")
        return "a reference never allocated under finds no reservation (compensations then have nothing to undo)"

    # -- idempotency --------------------------------------------------------------------------------

    async def idempotent_allocate(self) -> str:
        order = self._ctx.order()
        inp = AllocateInventory(**order.model_dump(), lines=LINES)
        first = await self._inventory.allocate(inp, allocate_key(order.order_id))
        again = await self._inventory.allocate(inp, allocate_key(order.order_id))
        expect(again.reservation_id == first.reservation_id,
               f"the same key twice made two reservations: {first.reservation_id} and {again.reservation_id}")
        quantity = _line(await self._reservation(order), IN_STOCK_A).quantity
        expect(quantity == 3, f"the reservation holds {quantity} {IN_STOCK_A} after allocating 3 twice")
        return f"the same key twice gave one reservation ({first.reservation_id})"

    async def idempotent_release(self) -> str:
        await self._settle_one("release", times=2)
        return "releasing 1 twice under one key released 1"

    async def idempotent_commit(self) -> str:
        await self._settle_one("commit", times=2)
        return "committing 1 twice under one key committed 1"

    # -- business rejections ----------------------------------------------------------------------

    async def out_of_stock(self) -> str:
        order = self._ctx.order()
        lines = [LineQuantity(sku=OUT_OF_STOCK, quantity=1)]
        error = await refused(self._inventory.allocate(AllocateInventory(**order.model_dump(), lines=lines),
                                                       allocate_key(order.order_id)),
                              f"allocating {OUT_OF_STOCK}")
        expect_kind(error, ErrorKind.BUSINESS_REJECTION, "out_of_stock", f"allocating {OUT_OF_STOCK}")
        return f"an SKU no node holds is the business rejection out_of_stock ({error.message})"
