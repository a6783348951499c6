"""Fulfilment node: request a shipment, cancel it before dispatch, ask it to receive a return.
Dispatches, pick rejections and receipts come back as signed webhooks through the API."""

from canonical.operations import Operation
from canonical.steps import Done, LineQuantity, OrderCall, ShipmentRequest


class RequestShipment(OrderCall):
    node: str
    lines: list[LineQuantity]
    ship_to: dict[str, str | None]


class RequestReturn(OrderCall):
    return_id: str
    lines: list[LineQuantity]


REQUEST_SHIPMENT = Operation("request_shipment", RequestShipment, ShipmentRequest)
CANCEL_SHIPMENT = Operation("cancel_shipment_request", OrderCall, Done)
REQUEST_RETURN = Operation("request_return", RequestReturn, Done)

# The node's answer to a cancel once goods have left: the saga goes on instead of compensating.
ALREADY_DISPATCHED = "already_dispatched"


# The business keys sent as idempotency keys (also the requests' references at the node).

def ship_key(order_id: str) -> str:
    return f"{order_id}:ship"


def ship_cancel_key(order_id: str) -> str:
    return f"{order_id}:ship-cancel"


def return_key(order_id: str, return_id: str) -> str:
    return f"{order_id}:return:{return_id}"
