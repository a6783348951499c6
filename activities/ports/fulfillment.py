"""The fulfilment node's port: shipment requests (cancellable until dispatch), returns to receive, and the
dispatches reconciliation reads. Dispatches and pick rejections reach o2c as signed webhooks, not here."""

from typing import Protocol

from activities.contracts.fulfillment import RequestReturn, RequestShipment
from canonical.reconciliation import DispatchFact, Period
from canonical.steps import OrderCall, ShipmentRequest


class FulfillmentNode(Protocol):
    """`reference` is the request's business key (also its idempotency key); `key` a call's idempotency key."""

    async def request_shipment(self, inp: RequestShipment, reference: str) -> ShipmentRequest: ...

    async def shipment_request_of(self, call: OrderCall, reference: str) -> str | None:
        """The id of the shipment request made under `reference`, or None if none was."""
        ...

    async def cancel_shipment_request(self, call: OrderCall, request_id: str, key: str) -> None:
        """Raises a BusinessRejection `already_dispatched` (contracts) once goods have left."""
        ...

    async def request_return(self, inp: RequestReturn, reference: str) -> str:
        """The node's id of the return request ("" if it gives none)."""
        ...

    async def dispatches_in(self, period: Period, correlation_id: str) -> list[DispatchFact]: ...

    async def dispatches_of(self, order_id: str, correlation_id: str) -> list[DispatchFact]: ...
