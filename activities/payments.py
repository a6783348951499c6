"""Payment gateway activities: authorize, capture per shipment, release a share, void, refund, through
whichever PaymentGateway adapter the composition (activities/vendors.py) chose."""

from temporalio import activity

from activities.contracts.payments import (
    AUTHORIZE,
    CAPTURE,
    REFUND,
    RELEASE_SHARE,
    VOID,
    AuthorizePayment,
    CapturePayment,
    RefundPayment,
    ReleaseAuthorization,
    VoidAuthorizations,
)
from activities.ports.payments import PaymentGateway
from activities.vendor_http import attempted
from canonical.steps import Authorization, Capture, Done, Refund


class PaymentActivities:
    def __init__(self, gateway: PaymentGateway) -> None:
        self._gateway = gateway

    @activity.defn(name=AUTHORIZE.name)
    async def authorize_payment(self, inp: AuthorizePayment) -> Authorization:
        return attempted(await self._gateway.authorize(inp))

    @activity.defn(name=CAPTURE.name)
    async def capture_payment(self, inp: CapturePayment) -> Capture:
        return attempted(await self._gateway.capture(inp))

    @activity.defn(name=RELEASE_SHARE.name)
    async def release_authorization_share(self, inp: ReleaseAuthorization) -> Done:
        """Release part of a hold, e.g. the amount due of pick-rejected lines."""
        return attempted(Done(detail="nothing to release") if inp.amount <= 0
                         else await self._gateway.release_share(inp))

    @activity.defn(name=VOID.name)
    async def void_authorizations(self, inp: VoidAuthorizations) -> Done:
        """Undo-if-done for every authorization of the order: cancel whatever still holds money."""
        return attempted(await self._gateway.void_all(inp))

    @activity.defn(name=REFUND.name)
    async def refund_payment(self, inp: RefundPayment) -> Refund:
        return attempted(await self._gateway.refund(inp))
