"""Returns: what the commerce platform asks for, what the warehouse received, what the return shows."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from canonical.identifiers import Identifier, Quantity
from canonical.steps import ErpDocument, LineQuantity, Refund

Condition = Literal["resellable", "damaged"]


class ReturnLine(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True, extra="forbid")

    sku: Identifier
    """A SKU of the order that was shipped."""
    quantity: Quantity
    """Units of it to return."""


class ReturnRequest(BaseModel):
    """Body of POST /v1/orders/{order_id}/returns."""

    model_config = ConfigDict(use_attribute_docstrings=True, extra="forbid")

    return_id: Identifier
    """The platform's id for the return: its idempotency key within the order."""
    lines: list[ReturnLine] = Field(min_length=1, max_length=200)
    """What comes back: SKUs shipped and not yet returned."""
    reason: str = Field(min_length=1, max_length=500)
    """Why the goods come back, e.g. `Wrong size`."""

    @field_validator("lines")
    @classmethod
    def _one_line_per_sku(cls, lines: list[ReturnLine]) -> list[ReturnLine]:
        # Each line is checked against what shipped of its SKU; a SKU twice would be counted twice.
        skus = [line.sku for line in lines]
        if len(skus) != len(set(skus)):
            raise ValueError("each sku may appear on one line only")
        return lines


class RegisterReturn(BaseModel):
    """The order workflow's `request_return` update: the request plus who asked."""

    request: ReturnRequest
    actor: str


class ReceivedLine(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    sku: str
    """The SKU received."""
    quantity: int
    """Units of it received."""
    condition: Condition
    """`resellable` goods are refunded and restocked; `damaged` ones wait for support."""


class ReturnReceived(BaseModel):
    """The fulfilment node's `return.received` event, verified by the API."""

    event_id: str
    return_id: str
    lines: list[ReceivedLine]


ReturnStatus = Literal["requested", "received", "needs_attention", "completed", "expired"]


class ResolveReturn(BaseModel):
    """Support's decision on the units a return is waiting about: damaged goods, or a refund that
    kept failing. It applies to those units only; later ones wait for their own decision."""

    return_id: str
    action: Literal["refund", "refuse"]
    note: str = Field(min_length=1, max_length=1000)
    actor: str


class ReturnDecision(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    about: str
    """What was decided on, e.g. "1 damaged unit of SKU-1" or "refund for shipment S1"."""
    action: Literal["refund", "refuse"]
    """`refund` or `refuse`."""
    actor: str
    """Who decided (the API key's name)."""
    note: str
    """Why, as support wrote it."""
    at: datetime
    """When (UTC)."""


class ReturnView(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    return_id: str
    """The return's id."""
    status: ReturnStatus
    """Where the return stands."""
    status_reason: str | None = None
    """Why it has that status, for humans."""
    reason: str
    """Why the goods came back, as requested."""
    lines: list[LineQuantity]
    """What was requested."""
    received: list[ReceivedLine] = []
    """What the warehouse received, and in what condition."""
    shortfall: list[LineQuantity] = []
    """Units requested that the warehouse never received: not refunded."""
    refunds: list[Refund] = []
    """Refunds paid for the return."""
    credit_memos: list[ErpDocument] = []
    """ERP credit memos posted for the refunds."""
    points_given_back: int = 0
    """Loyalty points spent on the goods and given back."""
    points_taken_back: int = 0
    """Earned loyalty points taken back for the goods returned."""
    restocked: list[LineQuantity] = []
    """Units put back into stock."""
    decisions: list[ReturnDecision] = []
    """Support decisions on damaged goods."""
    requested_by: str | None = None
    """Who requested the return (the API key's name)."""
    updated_at: datetime | None = None
    """When the return last changed (UTC)."""
