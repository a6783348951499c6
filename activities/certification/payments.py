"""The payments contract suite: PaymentIntents with manual, multi-part capture, through the PaymentGateway port.

Each check sets up what it needs under its own order id (`{run_id}-{n}`), so one failing check never makes
another fail, and the findings name the check that is wrong. Amounts are small, in EUR; in Stripe test mode
and the sandbox nothing real moves.
"""

from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import BaseModel

from activities.certification.framework import Check, CheckFailed, expect, expect_kind, refused
from activities.certification.vendor_checks import Probe, SuiteContext
from activities.contracts.payments import (
    AuthorizePayment,
    CapturePayment,
    RefundPayment,
    ReleaseAuthorization,
    VoidAuthorizations,
)
from activities.ports.payments import PaymentGateway
from canonical.errors import ErrorKind
from canonical.steps import Authorization, Capture, OrderCall

CURRENCY = "EUR"


@dataclass(frozen=True)
class TestCards:
    """Payment methods the endpoint approves or declines (the sandbox's and its Stripe router's tokens;
    `o2c certify --card-*` for Stripe test mode, e.g. pm_card_visa, pm_card_chargeDeclined,
    pm_card_chargeDeclinedInsufficientFunds)."""

    approved: str = "tok_visa"
    declined: str = "tok_decline"
    insufficient_funds: str = "tok_insufficient_funds"


class StripeErrorObject(BaseModel):
    type: str
    message: str
    code: str | None = None
    decline_code: str | None = None
    param: str | None = None


class StripeErrorShape(BaseModel):
    """Stripe's documented error answer (https://docs.stripe.com/api/errors), which the sandbox speaks too."""

    error: StripeErrorObject


class PaymentsSuite:
    def __init__(self, gateway: PaymentGateway, ctx: SuiteContext, cards: TestCards = TestCards()) -> None:
        self._gateway = gateway
        self._ctx = ctx
        self._cards = cards

    def checks(self) -> list[Check]:
        return [
            Check("authorize", self.authorize),
            Check("capture.partial", self.capture_partial),
            Check("capture.rest", self.capture_rest),
            Check("release_share", self.release_share),
            Check("void", self.void),
            Check("refund", self.refund),
            Check("idempotency.authorize", self.idempotent_authorize),
            Check("idempotency.capture", self.idempotent_capture),
            Check("idempotency.refund", self.idempotent_refund),
            Check("rejection.card_declined", self.card_declined),
            Check("rejection.insufficient_funds", self.insufficient_funds),
            Check("rejection.over_capture", self.over_capture),
            *self._ctx.vendor_checks(
                StripeErrorShape, "{error: {type, message, code}}",
                Probe(self._capture_missing, "capturing from a PaymentIntent that does not exist"),
                Probe(lambda: self._gateway.authorize(self._authorize_input(self._ctx.order(), 1_000)), "authorizing")),
        ]

    # -- helpers ----------------------------------------------------------------------------------

    async def _capture_missing(self) -> Capture:
        missing = Authorization(id=f"pi_{self._ctx.unique().replace('-', '_')}_missing", amount=1_000,
                                currency=CURRENCY, expires_at=datetime.now(UTC))
        return await self._gateway.capture(self._capture_input(self._ctx.order(), missing, "s1", 1_000))

    def _authorize_input(self, order: OrderCall, amount: int, card: str | None = None) -> AuthorizePayment:
        return AuthorizePayment(**order.model_dump(), amount=amount, currency=CURRENCY,
                                method_token=card or self._cards.approved)

    async def _authorized(self, amount: int) -> tuple[OrderCall, Authorization]:
        order = self._ctx.order()
        try:
            auth = await self._gateway.authorize(self._authorize_input(order, amount))
        except Exception as exc:
            raise CheckFailed(f"setup: authorizing {amount} failed ({exc})") from None
        return order, auth

    def _capture_input(self, order: OrderCall, auth: Authorization, shipment: str, amount: int) -> CapturePayment:
        return CapturePayment(**order.model_dump(), payment_intent_id=auth.id, shipment_id=shipment,
                              amount=amount, points=0)

    def _refund_input(self, order: OrderCall, capture: Capture, amount: int) -> RefundPayment:
        return RefundPayment(**order.model_dump(), payment_intent_id=capture.payment_intent_id, amount=amount,
                             reference=f"{order.order_id}:refund:cert")

    # -- happy paths ------------------------------------------------------------------------------

    async def authorize(self) -> str:
        _, auth = await self._authorized(10_000)
        expect(auth.amount == 10_000 and auth.currency == CURRENCY,
               f"authorized {auth.amount} {auth.currency} for 10000 {CURRENCY}")
        expect(auth.expires_at > datetime.now(UTC), f"the hold expires in the past ({auth.expires_at.isoformat()})")
        return f"{auth.id} holds 10000 {CURRENCY} until {auth.expires_at.isoformat(timespec='seconds')}"

    async def capture_partial(self) -> str:
        order, auth = await self._authorized(10_000)
        capture = await self._gateway.capture(self._capture_input(order, auth, "s1", 4_000))
        expect(capture.amount == 4_000 and capture.payment_intent_id == auth.id,
               f"captured {capture.amount} from {capture.payment_intent_id}, asked 4000 from {auth.id}")
        return f"captured 4000 of 10000 from {auth.id} (capture {capture.capture_id}), the rest still held"

    async def capture_rest(self) -> str:
        order, auth = await self._authorized(10_000)
        first = await self._gateway.capture(self._capture_input(order, auth, "s1", 4_000))
        rest = await self._gateway.capture(self._capture_input(order, auth, "s2", 6_000))
        expect(rest.amount == 6_000 and rest.capture_id != first.capture_id,
               f"second capture {rest.capture_id} of {rest.amount} (first {first.capture_id})")
        return "two captures (4000, 6000) of one 10000 authorization"

    async def release_share(self) -> str:
        order, auth = await self._authorized(10_000)
        await self._gateway.release_share(ReleaseAuthorization(**order.model_dump(), payment_intent_id=auth.id,
                                                               amount=3_000, tag="cert"))
        error = await refused(self._gateway.capture(self._capture_input(order, auth, "s1", 7_001)),
                              "capturing 7001 after releasing 3000 of 10000")
        expect_kind(error, ErrorKind.BUSINESS_REJECTION, "amount_too_large", "capturing more than is left")
        await self._gateway.capture(self._capture_input(order, auth, "s1b", 7_000))
        return "released 3000 of 10000: 7001 refused as amount_too_large, 7000 captured"

    async def void(self) -> str:
        order, auth = await self._authorized(5_000)
        # Named, as the saga names the holds it knows: a gateway's search by order may lag (Stripe's does).
        void = VoidAuthorizations(**order.model_dump(), payment_intent_ids=[auth.id])
        first = await self._gateway.void_all(void)
        again = await self._gateway.void_all(void)
        expect(first.acted, f"the first void did nothing ({first.detail})")
        expect(not again.acted, f"a second void acted again ({again.detail})")
        return f"voided {auth.id}; voiding again found nothing held"

    async def refund(self) -> str:
        order, auth = await self._authorized(5_000)
        capture = await self._gateway.capture(self._capture_input(order, auth, "s1", 5_000))
        refund = await self._gateway.refund(self._refund_input(order, capture, 2_000))
        expect(refund.amount == 2_000 and refund.payment_intent_id == auth.id,
               f"refunded {refund.amount} against {refund.payment_intent_id}, asked 2000 against {auth.id}")
        return f"refunded 2000 of a 5000 capture ({refund.refund_id})"

    # -- idempotency --------------------------------------------------------------------------------

    async def idempotent_authorize(self) -> str:
        order = self._ctx.order()
        first = await self._gateway.authorize(self._authorize_input(order, 7_000))
        again = await self._gateway.authorize(self._authorize_input(order, 7_000))
        expect(again.id == first.id and again.amount == first.amount,
               f"the same key twice made two authorizations: {first.id} ({first.amount}) and "
               f"{again.id} ({again.amount}); the vendor ignores Idempotency-Key")
        return f"the same key twice gave one authorization ({first.id})"

    async def idempotent_capture(self) -> str:
        order, auth = await self._authorized(10_000)
        first = await self._gateway.capture(self._capture_input(order, auth, "s1", 4_000))
        again = await self._gateway.capture(self._capture_input(order, auth, "s1", 4_000))
        expect(again.capture_id == first.capture_id,
               f"the same capture key twice made two captures: {first.capture_id} and {again.capture_id}")
        try:
            await self._gateway.capture(self._capture_input(order, auth, "s2", 6_000))
        except Exception as exc:
            raise CheckFailed(
                f"capturing the remaining 6000 failed ({exc}): the repeated capture took money twice") from None
        return f"the same capture key twice gave one capture ({first.capture_id}); the remaining 6000 captured"

    async def idempotent_refund(self) -> str:
        order, auth = await self._authorized(5_000)
        capture = await self._gateway.capture(self._capture_input(order, auth, "s1", 5_000))
        first = await self._gateway.refund(self._refund_input(order, capture, 1_000))
        again = await self._gateway.refund(self._refund_input(order, capture, 1_000))
        expect(again.refund_id == first.refund_id,
               f"the same refund key twice made two refunds: {first.refund_id} and {again.refund_id}")
        return f"the same refund key twice gave one refund ({first.refund_id})"

    # -- business rejections ----------------------------------------------------------------------

    async def card_declined(self) -> str:
        order = self._ctx.order()
        error = await refused(self._gateway.authorize(self._authorize_input(order, 1_000, self._cards.declined)),
                              f"authorizing with {self._cards.declined}")
        expect_kind(error, ErrorKind.BUSINESS_REJECTION, "card_declined", "a declined card")
        return f"business rejection card_declined (decline_code {error.decline_code})"

    async def insufficient_funds(self) -> str:
        order = self._ctx.order()
        card = self._cards.insufficient_funds
        error = await refused(self._gateway.authorize(self._authorize_input(order, 1_000, card)),
                              f"authorizing with {card}")
        expect_kind(error, ErrorKind.BUSINESS_REJECTION, "card_declined", "insufficient funds")
        expect(error.decline_code == "insufficient_funds",
               f"decline_code {error.decline_code!r}, expected 'insufficient_funds'")
        return "business rejection card_declined, decline_code insufficient_funds"

    async def over_capture(self) -> str:
        order, auth = await self._authorized(5_000)
        error = await refused(self._gateway.capture(self._capture_input(order, auth, "s1", 5_001)),
                              "capturing 5001 of a 5000 authorization")
        expect_kind(error, ErrorKind.BUSINESS_REJECTION, "amount_too_large", "an over-capture")
        return "capturing more than authorized is the business rejection amount_too_large"
