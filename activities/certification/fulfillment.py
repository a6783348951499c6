"""The fulfilment contract suite: shipment requests made, found, cancelled before dispatch and refused after it,
returns requested, and the dispatches reconciliation reads, through the FulfillmentNode port, with the keys the
activities send.

SKUs: a request holding `HOLD-CERT` waits at the node (the sandbox's `HOLD-` convention), so it can be cancelled
and never ships; `CERT-A` ships by itself, which the `already_dispatched` check waits for (at most
DISPATCH_WAIT_S). A dispatch is announced by the node's webhook, as any: o2c's API refuses it (no such order).
"""

import asyncio
import time
from datetime import UTC, datetime, timedelta

from activities.certification.framework import Check, CheckFailed, expect, expect_kind, refused
from activities.certification.vendor_checks import Probe, SuiteContext, VendorErrorShape
from activities.contracts.fulfillment import (
    ALREADY_DISPATCHED,
    RequestReturn,
    RequestShipment,
    return_key,
    ship_cancel_key,
    ship_key,
)
from activities.ports.fulfillment import FulfillmentNode
from canonical.errors import ErrorKind
from canonical.reconciliation import DispatchFact, Period
from canonical.steps import LineQuantity, OrderCall, ShipmentRequest

NODE = "DC-1"
HELD = [LineQuantity(sku="HOLD-CERT", quantity=1)]
SHIPS = [LineQuantity(sku="CERT-A", quantity=2)]
SHIP_TO: dict[str, str | None] = {"name": "o2c certification", "line1": "1 Test Street", "city": "Berlin",
                                  "postal_code": "10115", "country": "DE"}
DISPATCH_WAIT_S = 30.0
"""How long the node may take to dispatch an ordinary request (the sandbox: SANDBOX_DISPATCH_DELAY_S, 1 s)."""


class FulfillmentSuite:
    def __init__(self, node: FulfillmentNode, ctx: SuiteContext) -> None:
        self._node = node
        self._ctx = ctx

    def checks(self) -> list[Check]:
        return [
            Check("request_shipment", self.request_shipment),
            Check("cancel_shipment_request", self.cancel),
            Check("request_return", self.request_return),
            Check("lookup.missing", self.missing_request, mutating=False),
            Check("idempotency.request_shipment", self.idempotent_request),
            Check("idempotency.request_return", self.idempotent_return),
            Check("rejection.already_dispatched", self.already_dispatched),
            *self._ctx.vendor_checks(
                VendorErrorShape, "{error: {type, code, message}}",
                Probe(self._cancel_missing, "cancelling a shipment request that does not exist"),
                Probe(self._missing_request, "looking up a shipment request")),
        ]

    # -- helpers ----------------------------------------------------------------------------------

    async def _requested(self, lines: list[LineQuantity]) -> tuple[OrderCall, ShipmentRequest]:
        order = self._ctx.order()
        request = await self._node.request_shipment(
            RequestShipment(**order.model_dump(), node=NODE, lines=lines, ship_to=SHIP_TO), ship_key(order.order_id))
        return order, request

    async def _missing_request(self) -> str | None:
        order = self._ctx.order()
        return await self._node.shipment_request_of(order, ship_key(order.order_id))

    async def _cancel_missing(self) -> None:
        order = self._ctx.order()
        await self._node.cancel_shipment_request(order, f"shr_{order.order_id}_missing",
                                                 ship_cancel_key(order.order_id))

    def _return_input(self, order: OrderCall) -> RequestReturn:
        return RequestReturn(**order.model_dump(), return_id="r1", lines=HELD)

    async def _dispatched(self, order: OrderCall) -> list[DispatchFact]:
        deadline = time.monotonic() + DISPATCH_WAIT_S
        while not (dispatches := await self._node.dispatches_of(order.order_id, order.correlation_id)):
            if time.monotonic() > deadline:
                raise CheckFailed(f"the node dispatched nothing of {order.order_id} within {DISPATCH_WAIT_S:g} s")
            await asyncio.sleep(0.25)
        return dispatches

    # -- happy paths ------------------------------------------------------------------------------

    async def request_shipment(self) -> str:
        order, request = await self._requested(HELD)
        expect(request.node == NODE, f"the request went to {request.node}, asked {NODE}")
        found = await self._node.shipment_request_of(order, ship_key(order.order_id))
        expect(found == request.request_id, f"found {found!r} under the reference, requested {request.request_id}")
        return f"requested a shipment from {NODE} ({request.request_id}), found again by its reference"

    async def cancel(self) -> str:
        order, request = await self._requested(HELD)
        for _ in range(2):  # undo-if-done: the compensation may run twice
            await self._node.cancel_shipment_request(order, request.request_id, ship_cancel_key(order.order_id))
        dispatches = await self._node.dispatches_of(order.order_id, order.correlation_id)
        expect(not dispatches, f"a cancelled request dispatched {dispatches}")
        return f"cancelled {request.request_id} before dispatch (twice, the second a no-op)"

    async def request_return(self) -> str:
        order = self._ctx.order()
        request_id = await self._node.request_return(self._return_input(order), return_key(order.order_id, "r1"))
        return f"the node accepted a return ({request_id or 'no id given'})"

    async def missing_request(self) -> str:
        request_id = await self._missing_request()
        expect(request_id is None, f"a reference never requested under found {request_id!r}")
        return "a reference never requested under finds no request (compensations then have nothing to undo)"

    # -- idempotency --------------------------------------------------------------------------------

    async def idempotent_request(self) -> str:
        order = self._ctx.order()
        inp = RequestShipment(**order.model_dump(), node=NODE, lines=HELD, ship_to=SHIP_TO)
        first = await self._node.request_shipment(inp, ship_key(order.order_id))
        again = await self._node.request_shipment(inp, ship_key(order.order_id))
        expect(again.request_id == first.request_id,
               f"the same key twice made two shipment requests: {first.request_id} and {again.request_id}")
        await self._node.cancel_shipment_request(order, first.request_id, ship_cancel_key(order.order_id))
        return f"the same key twice gave one shipment request ({first.request_id})"

    async def idempotent_return(self) -> str:
        order = self._ctx.order()
        first = await self._node.request_return(self._return_input(order), return_key(order.order_id, "r1"))
        again = await self._node.request_return(self._return_input(order), return_key(order.order_id, "r1"))
        expect(again == first, f"the same key twice made two return requests: {first!r} and {again!r}")
        return f"the same key twice gave one return request ({first or 'no id given'})"

    # -- business rejections ----------------------------------------------------------------------

    async def already_dispatched(self) -> str:
        """Also the reconciliation reads: the dispatch is found by order and in the period it happened in."""
        started = datetime.now(UTC)
        order, request = await self._requested(SHIPS)
        dispatches = await self._dispatched(order)
        units = sum(d.units for d in dispatches)
        expect(units == 2, f"dispatches of {order.order_id} carry {units} units, 2 were requested")
        period = Period(start=started - timedelta(seconds=1), end=datetime.now(UTC) + timedelta(seconds=1))
        in_period = {d.shipment_id for d in await self._node.dispatches_in(period, order.correlation_id)}
        expect({d.shipment_id for d in dispatches} <= in_period,
               f"the dispatches of {order.order_id} are missing from those of the period they happened in")
        error = await refused(self._node.cancel_shipment_request(order, request.request_id,
                                                                 ship_cancel_key(order.order_id)),
                              "cancelling a dispatched request")
        expect_kind(error, ErrorKind.BUSINESS_REJECTION, ALREADY_DISPATCHED, "cancelling after dispatch")
        return f"dispatched {dispatches[0].shipment_id} (found by order and period); cancelling it then is " \
               f"the business rejection {ALREADY_DISPATCHED}"
