"""Fulfilment node / carrier (shipment requests): the activities, over the FulfillmentNode port.

Dispatch and pick rejections come back as signed webhooks through the API, not from here.
"""

from temporalio import activity

from activities.contracts.fulfillment import (
    CANCEL_SHIPMENT,
    REQUEST_RETURN,
    REQUEST_SHIPMENT,
    RequestReturn,
    RequestShipment,
    return_key,
    ship_cancel_key,
    ship_key,
)
from activities.ports.fulfillment import FulfillmentNode
from activities.vendor_http import attempt, attempted
from canonical.steps import Done, OrderCall, ShipmentRequest


class FulfillmentActivities:
    """The fulfilment node: request and cancel shipments, ask it to receive returns."""

    def __init__(self, node: FulfillmentNode) -> None:
        self._node = node

    @activity.defn(name=REQUEST_SHIPMENT.name)
    async def request_shipment(self, inp: RequestShipment) -> ShipmentRequest:
        return attempted(await self._node.request_shipment(inp, ship_key(inp.order_id)))

    @activity.defn(name=CANCEL_SHIPMENT.name)
    async def cancel_shipment_request(self, inp: OrderCall) -> Done:
        """Undo-if-done. Raises a BusinessRejection `already_dispatched` once goods have left."""
        request_id = await self._node.shipment_request_of(inp, ship_key(inp.order_id))
        if request_id is None:
            return Done(detail="no shipment request: nothing to undo", acted=False, attempt=attempt())
        await self._node.cancel_shipment_request(inp, request_id, ship_cancel_key(inp.order_id))
        return Done(detail=f"cancelled {request_id}", attempt=attempt())

    @activity.defn(name=REQUEST_RETURN.name)
    async def request_return(self, inp: RequestReturn) -> Done:
        """Ask the node to receive and inspect the goods; it answers with a `return.received` webhook."""
        request_id = await self._node.request_return(inp, return_key(inp.order_id, inp.return_id))
        return Done(detail=f"return {request_id} accepted", attempt=attempt())
