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
    quantity: Quantity


class ReturnRequest(BaseModel):
    """Body of POST /v1/orders/{order_id}/returns."""

    model_config = ConfigDict(use_attribute_docstrings=True, extra="forbid")

    return_id: Identifier
    lines: list[ReturnLine] = Field(min_length=1, max_length=200)
    reason: str = Field(min_length=1, max_length=500)

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
    quantity: int
    condition: Condition


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
    actor: str
    note: str
    at: datetime


class ReturnView(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    return_id: str
    status: ReturnStatus
    status_reason: str | None = None
    reason: str
    lines: list[LineQuantity]
    received: list[ReceivedLine] = []
    shortfall: list[LineQuantity] = []
    """Units requested that the warehouse never received: not refunded."""
    refunds: list[Refund] = []
    credit_memos: list[ErpDocument] = []
    points_given_back: int = 0
    points_taken_back: int = 0
    restocked: list[LineQuantity] = []
    decisions: list[ReturnDecision] = []
    requested_by: str | None = None
    updated_at: datetime | None = None
