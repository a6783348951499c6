"""What an order holds and moved at each vendor: the authorization, captures, postings, refunds and
points. Pure bookkeeping, so every "is there anything left to release?" and "may this refund go?"
is answered in one place and tested on its own."""

from dataclasses import dataclass, field

from canonical.saga import LoyaltyView
from canonical.steps import Authorization, Capture, ErpDocument, PointsReservation, Refund


@dataclass
class Money:
    amount_due: int
    reservation: PointsReservation | None = None
    authorization: Authorization | None = None
    reauthorizations: int = 0
    sales_order: ErpDocument | None = None
    captures: list[Capture] = field(default_factory=list)
    postings: list[ErpDocument] = field(default_factory=list)
    refunds: list[Refund] = field(default_factory=list)
    loyalty: LoyaltyView = field(default_factory=LoyaltyView)
    released_due: int = 0
    """Authorization shares released for lines that will not ship."""
    settled_outside: int = 0
    """Captures support marked resolved by hand (e.g. the customer paid by bank transfer)."""
    promised_refunds: dict[str, int] = field(default_factory=dict)
    """Per shipment: refunds sent or about to be sent against its capture."""

    @property
    def captured(self) -> int:
        return sum(c.amount for c in self.captures)

    def open_authorization(self) -> int:
        """What the authorization still holds for goods not captured, released or settled by hand."""
        if self.authorization is None:
            return 0
        return max(self.amount_due - self.captured - self.released_due - self.settled_outside, 0)

    def unspent_points(self) -> int:
        if self.reservation is None:
            return 0
        return self.reservation.points - self.loyalty.spent - self.loyalty.released

    def capture_of(self, shipment_id: str) -> Capture | None:
        return next((c for c in self.captures if c.shipment_id == shipment_id), None)

    def invoice_of(self, shipment_id: str) -> ErpDocument | None:
        return next((p for p in self.postings if p.kind == "invoice" and p.shipment_id == shipment_id), None)

    def refund_room(self, shipment_id: str) -> int:
        """What may still be refunded against the shipment's capture."""
        capture = self.capture_of(shipment_id)
        return (capture.amount if capture else 0) - self.promised_refunds.get(shipment_id, 0)

    def promise_refund(self, shipment_id: str, amount: int) -> bool:
        """Set `amount` aside for a refund against the shipment's capture; False, changing nothing, if
        that would refund more than was captured minus what is already refunded or promised."""
        if amount > self.refund_room(shipment_id):
            return False
        self.promised_refunds[shipment_id] = self.promised_refunds.get(shipment_id, 0) + amount
        return True

    def withdraw_refund(self, shipment_id: str, amount: int) -> None:
        """A promised refund that will not be sent (support refused it)."""
        self.promised_refunds[shipment_id] -= amount
