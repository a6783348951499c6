"""The payments contract suite: PaymentIntents with manual, multi-part capture, through the PaymentGateway port.

Each check sets up what it needs under its own order id (`{run_id}-{n}`), so one failing check never makes
another fail, and the findings name the check that is wrong. Amounts are small, in EUR; in Stripe test mode
and the sandbox nothing real moves.
"""

import time
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import BaseModel, ValidationError

from activities.certification.fault_proxy import FaultProxy, body_text
from activities.certification.framework import Check, CheckFailed, expect, expect_kind, refused
from activities.contracts.payments import AuthorizePayment, CapturePayment, RefundPayment, ReleaseAuthorization
from activities.ports.payments import PaymentGateway
from canonical.errors import ErrorKind
from canonical.steps import Authorization, Capture, OrderCall

CURRENCY = "EUR"
RETRY_AFTER_S = 2
TIMEOUT_MARGIN_S = 2.0
"""How much longer than the vendor timeout an adapter may take to give up."""


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
    def __init__(self, gateway: PaymentGateway, proxy: FaultProxy, run_id: str, timeout_s: float,
                 cards: TestCards = TestCards()) -> None:
        self._gateway = gateway
        self._proxy = proxy
        self._run_id = run_id
        self._timeout_s = timeout_s
        self._cards = cards
        self._orders = 0

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
            Check("error_shape", self.error_shape, mutating=False),
            Check("retry_after.429", lambda: self.retry_after(429), mutating=False),
            Check("retry_after.503", lambda: self.retry_after(503), mutating=False),
            Check("timeout", self.timeout, mutating=False),
        ]

    # -- helpers ----------------------------------------------------------------------------------

    def _order(self) -> OrderCall:
        self._orders += 1
        order_id = f"{self._run_id}-{self._orders}"
        return OrderCall(order_id=order_id, correlation_id=order_id)

    def _authorize_input(self, order: OrderCall, amount: int, card: str | None = None) -> AuthorizePayment:
        return AuthorizePayment(**order.model_dump(), amount=amount, currency=CURRENCY,
                                method_token=card or self._cards.approved)

    async def _authorized(self, amount: int) -> tuple[OrderCall, Authorization]:
        order = self._order()
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
        first = await self._gateway.void_all(order)
        again = await self._gateway.void_all(order)
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
        order = self._order()
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
        order = self._order()
        error = await refused(self._gateway.authorize(self._authorize_input(order, 1_000, self._cards.declined)),
                              f"authorizing with {self._cards.declined}")
        expect_kind(error, ErrorKind.BUSINESS_REJECTION, "card_declined", "a declined card")
        return f"business rejection card_declined (decline_code {error.decline_code})"

    async def insufficient_funds(self) -> str:
        order = self._order()
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

    # -- the error shape, Retry-After and timeouts ------------------------------------------------

    async def error_shape(self) -> str:
        """A request for an intent that does not exist: the vendor's 4xx must be its documented error
        shape, and the adapter must read the vendor's code from it (not fall back to the HTTP status)."""
        order = self._order()
        seen = len(self._proxy.client_errors)
        missing = Authorization(id=f"pi_{self._run_id.replace('-', '_')}_missing", amount=1_000, currency=CURRENCY,
                                expires_at=datetime.now(UTC))
        error = await refused(self._gateway.capture(self._capture_input(order, missing, "s1", 1_000)),
                              "capturing from a PaymentIntent that does not exist")
        answers = self._proxy.client_errors[seen:]
        expect(bool(answers), "the vendor gave no 4xx answer to a request for a missing PaymentIntent")
        for answer in answers:
            try:
                StripeErrorShape.model_validate_json(answer.body)
            except ValidationError:
                raise CheckFailed(f"the {answer.status} answer to {answer.method} {answer.path} is not the documented "
                                  f"error shape {{error: {{type, message, code}}}}: {body_text(answer)}") from None
        expect(not error.code.startswith("http_"),
               f"the adapter read no vendor error code from the {error.http_status} answer (got `{error.code}`)")
        expect(error.kind is not ErrorKind.TRANSIENT, f"a {error.http_status} was taken as transient")
        return f"{answers[-1].status} {error.code} in the documented shape, read as {error.kind.value}"

    async def retry_after(self, status: int) -> str:
        order = self._order()
        before = self._proxy.requests
        self._proxy.answer_next(status, RETRY_AFTER_S)
        error = await refused(self._gateway.authorize(self._authorize_input(order, 1_000)),
                              f"authorizing while the endpoint answers {status} with Retry-After: {RETRY_AFTER_S}")
        calls = self._proxy.requests - before
        expect(calls == 1, f"the adapter sent {calls} requests: retries belong to Temporal, not the adapter")
        expect(error.kind is ErrorKind.TRANSIENT, f"a {status} was classified {error.kind.value} ({error.code})")
        expect(error.retry_after_s == RETRY_AFTER_S,
               f"retry_after {error.retry_after_s!r} s, the answer said {RETRY_AFTER_S} s")
        return f"{status} is transient with retry_after {RETRY_AFTER_S} s, not retried by the adapter"

    async def timeout(self) -> str:
        order = self._order()
        self._proxy.hold_next(self._timeout_s + TIMEOUT_MARGIN_S + 3)
        started = time.monotonic()
        error = await refused(self._gateway.authorize(self._authorize_input(order, 1_000)),
                              f"authorizing while the endpoint does not answer for {self._timeout_s:g} s")
        took = time.monotonic() - started
        expect(error.kind is ErrorKind.TRANSIENT and error.code == "timeout",
               f"a vendor that does not answer gave {error.kind.value} `{error.code}`, expected transient `timeout`")
        expect(took <= self._timeout_s + TIMEOUT_MARGIN_S,
               f"gave up after {took:.1f} s; the vendor timeout is {self._timeout_s:g} s")
        return f"transient timeout after {took:.1f} s (vendor timeout {self._timeout_s:g} s)"
