"""The sandbox gateway's own JSON dialect (`/payments`, Stripe-shaped PaymentIntents with manual, multi-part
capture, JSON bodies): the PaymentGateway port over VendorClient."""

from datetime import UTC, datetime
from math import ceil, floor
from typing import Literal

from pydantic import BaseModel
from temporalio.exceptions import ApplicationError

from activities.contracts.payments import (
    AuthorizePayment,
    CapturePayment,
    RefundPayment,
    ReleaseAuthorization,
    VoidAuthorizations,
    authorize_key,
    capture_key,
    capture_reference,
    release_key,
    void_key,
)
from activities.vendor_http import VendorClient, contract_violation, has_code, parse
from canonical.reconciliation import MoneyMovement, Period
from canonical.steps import Authorization, Capture, Done, Refund

VENDOR = "payments"
DECLINES = {"card_declined", "invalid_payment_method"}


class _CaptureRecord(BaseModel):
    id: str
    amount: int
    reference: str | None = None


class _Intent(BaseModel):
    id: str
    amount: int
    amount_capturable: int
    currency: str
    status: str
    capture_before: int
    captures: list[_CaptureRecord] = []


class _Intents(BaseModel):
    data: list[_Intent]


class _Refund(BaseModel):
    id: str
    amount: int
    payment_intent: str


def _authorization(intent: _Intent) -> Authorization:
    return Authorization(id=intent.id, amount=intent.amount, currency=intent.currency.upper(),
                         expires_at=datetime.fromtimestamp(intent.capture_before, tz=UTC))


class SandboxPayments:
    """The sandbox's /payments router."""

    def __init__(self, http: VendorClient) -> None:
        self._http = http

    async def authorize(self, inp: AuthorizePayment) -> Authorization:
        key = authorize_key(inp)
        metadata = {"order_id": inp.order_id, "reference": key}
        if inp.reauthorization_of:
            metadata["reauthorization_of"] = inp.reauthorization_of
        body = await self._http.call(
            VENDOR, "POST", "/payment_intents",
            json={"amount": inp.amount, "currency": inp.currency.lower(), "payment_method": inp.method_token,
                  "capture_method": "manual", "metadata": metadata},
            idempotency_key=key, correlation_id=inp.correlation_id, business_codes=DECLINES,
        )
        return _authorization(parse(VENDOR, _Intent, body))

    async def capture(self, inp: CapturePayment) -> Capture:
        reference = capture_reference(inp)
        body = await self._http.call(
            VENDOR, "POST", f"/payment_intents/{inp.payment_intent_id}/capture",
            json={"amount_to_capture": inp.amount, "final_capture": False, "metadata": {"reference": reference}},
            idempotency_key=capture_key(inp), correlation_id=inp.correlation_id,
            business_codes={"charge_expired_for_capture", "amount_too_large", "payment_intent_unexpected_state"},
        )
        intent = parse(VENDOR, _Intent, body)
        record = next((c for c in intent.captures if c.reference == reference), None)
        if record is None:
            raise contract_violation(VENDOR, f"capture {reference} missing from the intent's captures")
        return Capture(shipment_id=inp.shipment_id, capture_id=record.id, payment_intent_id=intent.id,
                       amount=record.amount, points=inp.points)

    async def release_share(self, inp: ReleaseAuthorization) -> Done:
        """The request body depends on the input only, never on what the hold is now: a retry after a lost
        answer (the decrement did happen) must send the same body under the same key, to get the stored
        answer instead of `400 idempotency_error` (found by `o2c chaos`: the first attempt timed out, the
        retry asked for min(share, what was left) and the order went to needs_attention).
        """
        body = await self._http.call(VENDOR, "GET", f"/payment_intents/{inp.payment_intent_id}",
                                     correlation_id=inp.correlation_id)
        intent = parse(VENDOR, _Intent, body)
        if intent.amount_capturable == 0:
            return Done(detail=f"hold already gone ({intent.status})")
        key = release_key(inp)
        path = f"/payment_intents/{inp.payment_intent_id}/decrement_authorization"
        try:
            await self._http.call(VENDOR, "POST", path, json={"amount_to_decrement": inp.amount}, idempotency_key=key,
                                  correlation_id=inp.correlation_id, business_codes={"amount_too_large"})
        except ApplicationError as err:
            if not has_code(err, "amount_too_large"):
                raise
            # Less is held than this share (the hold shrank some other way): release what is left, once.
            await self._http.call(VENDOR, "POST", path, json={"amount_to_decrement": intent.amount_capturable},
                                  idempotency_key=f"{key}:rest", correlation_id=inp.correlation_id)
            return Done(detail=f"released the remaining {intent.amount_capturable}")
        return Done(detail=f"released {inp.amount}")

    async def void_all(self, inp: VoidAuthorizations) -> Done:
        """Looks intents up by order, so it also voids an authorization whose activity died before recording
        it; and fetches the named ones the lookup did not return."""
        body = await self._http.call(VENDOR, "GET", "/payment_intents", params={"order_id": inp.order_id},
                                     correlation_id=inp.correlation_id)
        intents = parse(VENDOR, _Intents, body).data
        listed = {intent.id for intent in intents}
        for missing in (i for i in inp.payment_intent_ids if i not in listed):
            intents.append(parse(VENDOR, _Intent, await self._http.call(
                VENDOR, "GET", f"/payment_intents/{missing}", correlation_id=inp.correlation_id)))
        voided = []
        for intent in intents:
            if intent.amount_capturable > 0:
                await self._http.call(
                    VENDOR, "POST", f"/payment_intents/{intent.id}/cancel",
                    json={"cancellation_reason": "abandoned"},
                    idempotency_key=void_key(inp.order_id, intent.id), correlation_id=inp.correlation_id,
                )
                voided.append(intent.id)
        return Done(detail=f"voided {', '.join(voided)}" if voided else "nothing held", acted=bool(voided))

    async def refund(self, inp: RefundPayment) -> Refund:
        body = await self._http.call(
            VENDOR, "POST", "/refunds",
            json={"payment_intent": inp.payment_intent_id, "amount": inp.amount,
                  "metadata": {"order_id": inp.order_id, "reference": inp.reference}},
            idempotency_key=inp.reference, correlation_id=inp.correlation_id,
            business_codes={"amount_too_large", "charge_already_refunded"},
        )
        refund = parse(VENDOR, _Refund, body)
        return Refund(refund_id=refund.id, payment_intent_id=refund.payment_intent, amount=refund.amount,
                      reference=inp.reference)

    # ---- reconciliation's reads: balance transactions (Stripe's /v1/balance_transactions shape) ---------
    # Every capture and refund that moved money. Refunds come negative, as at Stripe; the facts handed on
    # are positive amounts with a flow.

    async def movements_in(self, period: Period, correlation_id: str) -> list[MoneyMovement]:
        """`created` is whole seconds: the bounds are widened to whole seconds and the result cut to the
        period exactly."""
        params = {"created[gte]": str(floor(period.start.timestamp())),
                  "created[lt]": str(ceil(period.end.timestamp()))}
        return [m for m in await self._movements(params, correlation_id) if period.contains(m.at)]

    async def movements_of(self, order_id: str, correlation_id: str) -> list[MoneyMovement]:
        return await self._movements({"order_id": order_id}, correlation_id)

    async def _movements(self, params: dict[str, str], correlation_id: str) -> list[MoneyMovement]:
        items = await self._http.read_all(VENDOR, "/balance_transactions", params, id_field="id",
                                          correlation_id=correlation_id)
        return [_movement(parse(VENDOR, _BalanceTransaction, item)) for item in items]


class _Metadata(BaseModel):
    order_id: str | None = None
    reference: str | None = None


class _BalanceTransaction(BaseModel):
    id: str
    amount: int
    currency: str
    created: int
    type: Literal["charge", "refund"]
    source: str
    metadata: _Metadata = _Metadata()


def _movement(txn: _BalanceTransaction) -> MoneyMovement:
    return MoneyMovement(flow="charge" if txn.type == "charge" else "refund", source_id=txn.source,
                         order_id=txn.metadata.order_id, reference=txn.metadata.reference or txn.source,
                         amount=abs(txn.amount), currency=txn.currency.upper(),
                         at=datetime.fromtimestamp(txn.created, tz=UTC))
