"""The payment gateway's port: what o2c asks of any payment provider, in canonical terms.

Adapters (activities/adapters/*_payments.py) take the typed contract inputs, send the business keys of
activities/contracts/payments.py as idempotency keys, and raise classified vendor errors
(activities/vendor_http.py) with the gateway codes the saga acts on (AUTHORIZATION_EXPIRED ...).
"""

from typing import Protocol

from activities.contracts.payments import (
    AuthorizePayment,
    CapturePayment,
    RefundPayment,
    ReleaseAuthorization,
    VoidAuthorizations,
)
from canonical.reconciliation import MoneyMovement, Period
from canonical.steps import Authorization, Capture, Done, Refund


class PaymentGateway(Protocol):
    async def authorize(self, inp: AuthorizePayment) -> Authorization:
        """Hold the amount on the card (manual capture); a re-authorization holds it on a new intent."""
        ...

    async def capture(self, inp: CapturePayment) -> Capture:
        """Capture one shipment's amount from the hold, leaving the rest capturable."""
        ...

    async def release_share(self, inp: ReleaseAuthorization) -> Done:
        """Release part of the hold once, however often it is retried; what is left if less is held."""
        ...

    async def void_all(self, inp: VoidAuthorizations) -> Done:
        """Cancel every hold of the order that still holds money (undo if done): those named, and those the
        gateway finds for the order."""
        ...

    async def refund(self, inp: RefundPayment) -> Refund:
        """Refund part of what was captured."""
        ...

    async def movements_in(self, period: Period, correlation_id: str) -> list[MoneyMovement]:
        """Every capture and refund created in the period (reconciliation's discovery)."""
        ...

    async def movements_of(self, order_id: str, correlation_id: str) -> list[MoneyMovement]:
        """Every capture and refund of one order."""
        ...
