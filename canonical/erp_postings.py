"""ERP postings as finance sees them: one per business posting, keyed by (kind, reference)."""

import hashlib
from typing import Literal

from pydantic import BaseModel, Field

PostingKind = Literal["sales_order", "invoice", "credit_memo"]
PostingStatus = Literal["pending", "posted", "retrying", "failed", "cancelled"]
"""cancelled: a sales order whose order was cancelled (cancelled in the ERP, or never booked there)."""
POSTING_KINDS: tuple[PostingKind, ...] = ("sales_order", "invoice", "credit_memo")
POSTING_STATUSES: tuple[PostingStatus, ...] = ("pending", "posted", "retrying", "failed", "cancelled")


def posting_id(kind: str, reference: str) -> str:
    """Derived from the business key, so every writer (and every database) names a posting alike."""
    digest = hashlib.sha256(f"{kind}\n{reference}".encode()).hexdigest()
    return f"pst_{digest[:24]}"


class PostingDraft(BaseModel):
    """What an activity knows about a posting before the ERP has answered."""

    kind: PostingKind
    reference: str = Field(min_length=1, max_length=200)
    order_id: str
    amount: int = Field(ge=0)
    currency: str = Field(min_length=3, max_length=3)
    shipment_id: str | None = None

    @property
    def posting_id(self) -> str:
        return posting_id(self.kind, self.reference)
