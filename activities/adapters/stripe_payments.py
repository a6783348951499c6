"""Stripe's PaymentIntents API through the official SDK (`stripe.StripeClient`, its `*_async` methods): the
PaymentGateway port for Stripe itself (test mode with an sk_test_ key) or the sandbox's Stripe router.

Manual capture with multicapture (`capture_method=manual`,
`payment_method_options[card][request_multicapture]=if_available`), confirmed at creation with the order's
card token; one capture per shipment (`amount_to_capture`, `final_capture=false`); a share of the hold
released with `decrement_authorization` to the new total; every hold of an order voided from a search by
`metadata['order_id']`; refunds against the intent. Every request goes through VendorClient's breaker,
metrics and classification (`VendorClient.guard`) on its pooled aiohttp session, with the business key as
`Idempotency-Key` and the order's `X-Correlation-ID`; the SDK itself never retries (Temporal does).
"""

import hashlib
from collections.abc import Awaitable, Callable, Collection
from datetime import UTC, datetime
from typing import Any, NoReturn, TypeVar

import aiohttp
import stripe
from pydantic import BaseModel
from temporalio.exceptions import ApplicationError

from activities.contracts import payments as contract
from activities.vendor_http import VendorClient, has_code, parse
from canonical.errors import ErrorKind, VendorError
from canonical.reconciliation import MoneyMovement, Period
from canonical.steps import Authorization, Capture, Done, OrderCall, Refund
from runtime.settings import Settings

VENDOR = "payments"
DECLINES = {"card_declined", "invalid_payment_method", "expired_card", "incorrect_cvc", "processing_error",
            "authentication_required"}
"""Codes Stripe answers a card with (besides every `card_error`): a business "no" to the customer."""
CAPTURE_REFUSALS = {contract.AUTHORIZATION_EXPIRED, "amount_too_large", "payment_intent_unexpected_state"}
REFUND_REFUSALS = {"amount_too_large", "charge_already_refunded"}
SEARCH_PAGES = 20
"""An order has a handful of intents (the authorization and its re-authorizations)."""

R = TypeVar("R")


class _Card(BaseModel):
    capture_before: int


class _MethodDetails(BaseModel):
    card: _Card


class _Charge(BaseModel):
    id: str
    balance_transaction: str | None = None
    payment_method_details: _MethodDetails


class _Intent(BaseModel):
    id: str
    amount: int
    amount_capturable: int
    amount_received: int
    currency: str
    status: str
    metadata: dict[str, str] = {}


class _IntentWithCharge(_Intent):
    latest_charge: _Charge


class _Refund(BaseModel):
    id: str
    amount: int
    payment_intent: str


def _retry_after(headers: Any) -> float | None:
    # Case-insensitive whatever mapping the HTTP client handed the SDK.
    raw = next((value for name, value in (headers or {}).items() if name.lower() == "retry-after"), None)
    try:
        return max(0.0, float(raw)) if raw is not None else None
    except (TypeError, ValueError):
        return None  # HTTP-date form: the retry policy's backoff


def _error_object(exc: stripe.StripeError) -> dict[str, Any] | None:
    body = exc.json_body
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else None


def _connection_error(exc: Exception) -> VendorError:
    timed_out = isinstance(exc, TimeoutError) or isinstance(exc.__cause__, TimeoutError)
    return VendorError(vendor=VENDOR, kind=ErrorKind.TRANSIENT, code="timeout" if timed_out else "unreachable",
                       message=type(exc.__cause__ or exc).__name__)


def _kind(status: int, error_type: str | None, code: str, business_codes: Collection[str]) -> ErrorKind:
    # 409: Stripe's answer while a request with the same key is still running; 429: rate_limit_error.
    if status in (408, 409, 425, 429) or status >= 500 or error_type in ("api_error", "rate_limit_error"):
        return ErrorKind.TRANSIENT
    if error_type == "card_error" or code in business_codes:
        return ErrorKind.BUSINESS_REJECTION
    # invalid_request_error, idempotency_error (our keys are business keys: a clash is a bug), authentication.
    return ErrorKind.CONTRACT_VIOLATION


def stripe_failure(exc: Exception, business_codes: Collection[str] = ()) -> VendorError | None:
    """What the SDK raised, as a canonical vendor error (None: not a failure of the vendor exchange)."""
    if isinstance(exc, stripe.APIConnectionError | TimeoutError | aiohttp.ClientError):
        return _connection_error(exc)
    if not isinstance(exc, stripe.StripeError):
        return None
    status = exc.http_status or 0
    error = _error_object(exc)
    if error is None:
        transient = status in (408, 425, 429) or status >= 500
        return VendorError(
            vendor=VENDOR, kind=ErrorKind.TRANSIENT if transient else ErrorKind.CONTRACT_VIOLATION,
            code=f"http_{status}" if transient else "malformed_error",
            message=f"HTTP {status} without Stripe's error object: {str(exc.http_body)[:200]}",
            http_status=status or None, retry_after_s=_retry_after(exc.headers))
    error_type = error.get("type")
    code = str(error.get("code") or error_type or f"http_{status}")
    return VendorError(vendor=VENDOR, kind=_kind(status, error_type, code, business_codes), code=code,
                       message=str(error.get("message") or exc.user_message or "Stripe error"),
                       http_status=status or None, decline_code=error.get("decline_code"),
                       retry_after_s=_retry_after(exc.headers))


def _release_mark(tag: str) -> str:
    """The metadata key recording that a share was released (Stripe keys: at most 40 characters)."""
    return f"o2c_released_{hashlib.sha256(tag.encode()).hexdigest()[:24]}"


def _unsupported(what: str) -> NoReturn:
    raise ApplicationError(
        f"{what} is not supported with O2C_PAYMENTS_ADAPTER=stripe (its balance transactions are not read yet);"
        " reconcile with the sandbox adapter or by hand", type="UnsupportedOperation", non_retryable=True)


class StripePayments:
    """Stripe, or anything that speaks its PaymentIntents protocol at `settings.vendor_url("payments")`."""

    def __init__(self, settings: Settings, http: VendorClient) -> None:
        self._settings = settings
        self._http = http
        self._client: stripe.StripeClient | None = None

    def _stripe(self) -> stripe.StripeClient:
        # Made on first use, inside the event loop, on the vendor client's pooled (traced) session.
        if self._client is None:
            self._client = stripe.StripeClient(
                self._settings.payments_api_key.get_secret_value(),
                base_addresses={"api": self._settings.vendor_url(VENDOR)},
                http_client=stripe.AIOHTTPClient(session=self._http.session(), timeout=None),
                max_network_retries=0,
            )
        return self._client

    async def _call(self, request: Callable[[stripe.StripeClient], Awaitable[R]],
                    business_codes: Collection[str] = ()) -> R:
        return await self._http.guard(VENDOR, lambda: request(self._stripe()),
                                      lambda exc: stripe_failure(exc, business_codes))

    @staticmethod
    def _options(correlation_id: str, idempotency_key: str | None = None) -> Any:
        options: dict[str, Any] = {"headers": {"X-Correlation-ID": correlation_id}}
        if idempotency_key:
            options["idempotency_key"] = idempotency_key
        return options

    async def authorize(self, inp: contract.AuthorizePayment) -> Authorization:
        key = contract.authorize_key(inp)
        metadata = {"order_id": inp.order_id, "reference": key}
        if inp.reauthorization_of:
            metadata["reauthorization_of"] = inp.reauthorization_of
        params: Any = {
            "amount": inp.amount, "currency": inp.currency.lower(), "confirm": True, "capture_method": "manual",
            "payment_method_data": {"type": "card", "card": {"token": inp.method_token}},
            "payment_method_options": {"card": {"request_multicapture": "if_available"}},
            "metadata": metadata, "expand": ["latest_charge"],
        }
        options = self._options(inp.correlation_id, key)
        created = await self._call(lambda c: c.v1.payment_intents.create_async(params, options), DECLINES)
        intent = parse(VENDOR, _IntentWithCharge, created.to_dict())
        capture_before = intent.latest_charge.payment_method_details.card.capture_before
        return Authorization(id=intent.id, amount=intent.amount, currency=intent.currency.upper(),
                             expires_at=datetime.fromtimestamp(capture_before, tz=UTC))

    async def capture(self, inp: contract.CapturePayment) -> Capture:
        params: Any = {"amount_to_capture": inp.amount, "final_capture": False,
                       "metadata": {"reference": contract.capture_reference(inp)}, "expand": ["latest_charge"]}
        options = self._options(inp.correlation_id, contract.capture_key(inp))
        captured = await self._call(
            lambda c: c.v1.payment_intents.capture_async(inp.payment_intent_id, params, options), CAPTURE_REFUSALS)
        intent = parse(VENDOR, _IntentWithCharge, captured.to_dict())
        # Each capture of a multicapture charge is a balance transaction: the latest is this capture's.
        capture_id = intent.latest_charge.balance_transaction or intent.latest_charge.id
        return Capture(shipment_id=inp.shipment_id, capture_id=capture_id, payment_intent_id=intent.id,
                       amount=inp.amount, points=inp.points)

    async def _retrieve(self, intent_id: str, correlation_id: str) -> _Intent:
        options = self._options(correlation_id)
        found = await self._call(lambda c: c.v1.payment_intents.retrieve_async(intent_id, None, options))
        return parse(VENDOR, _Intent, found.to_dict())

    async def release_share(self, inp: contract.ReleaseAuthorization) -> Done:
        """decrement_authorization takes the new total, which depends on what is held now, so a retry after a
        lost answer cannot simply resend the same request. The release records its tag in the intent's
        metadata in the same call; a retry that finds the tag has nothing left to do."""
        intent = await self._retrieve(inp.payment_intent_id, inp.correlation_id)
        mark = _release_mark(inp.tag)
        if mark in intent.metadata:
            return Done(detail=f"released {intent.metadata[mark]} before")
        if intent.amount_capturable == 0:
            return Done(detail=f"hold already gone ({intent.status})")
        share = min(inp.amount, intent.amount_capturable)
        options = self._options(inp.correlation_id, contract.release_key(inp))
        # The SDK has no typed method for decrement_authorization: its raw request, same encoding and errors.
        path = f"/v1/payment_intents/{inp.payment_intent_id}/decrement_authorization"
        answer = await self._call(lambda c: c.raw_request_async(
            "post", path, amount=intent.amount - share, metadata={mark: str(share)}, **options))
        parse(VENDOR, _Intent, answer.data)
        return Done(detail=f"released {share}" if share == inp.amount else f"released the remaining {share}")

    async def _intents_of(self, order_id: str, correlation_id: str) -> list[_Intent]:
        # Order ids are [A-Za-z0-9._:-]: nothing to escape in a search query.
        params: dict[str, Any] = {"query": f"metadata['order_id']:'{order_id}'", "limit": 100}
        options = self._options(correlation_id)
        intents: list[_Intent] = []
        for _ in range(SEARCH_PAGES):
            page = await self._call(lambda c: c.v1.payment_intents.search_async(dict(params), options))
            intents.extend(parse(VENDOR, _Intent, item.to_dict()) for item in page.data)
            if not page.has_more or not page.next_page:
                return intents
            params["page"] = page.next_page
        return intents

    async def void_all(self, inp: contract.VoidAuthorizations) -> Done:
        """Searches the order's intents, so it also voids an authorization whose activity died before recording
        it. Stripe's search lags writes by up to a minute (a search right after the authorization finds
        nothing), so the intents the saga names are retrieved by id as well: a known hold never waits on it."""
        intents = await self._intents_of(inp.order_id, inp.correlation_id)
        found = {intent.id for intent in intents}
        intents += [await self._retrieve(i, inp.correlation_id) for i in inp.payment_intent_ids if i not in found]
        voided = [intent.id for intent in intents
                  if intent.amount_capturable > 0 and await self._cancel(intent.id, inp)]
        return Done(detail=f"voided {', '.join(voided)}" if voided else "nothing held", acted=bool(voided))

    async def _cancel(self, intent_id: str, inp: OrderCall) -> bool:
        """Cancel one hold; False when it lapsed or was captured in between (nothing held any more)."""
        options = self._options(inp.correlation_id, contract.void_key(inp.order_id, intent_id))
        params: Any = {"cancellation_reason": "abandoned"}
        try:
            await self._call(lambda c: c.v1.payment_intents.cancel_async(intent_id, params, options),
                             {"payment_intent_unexpected_state"})
        except ApplicationError as err:
            if not has_code(err, "payment_intent_unexpected_state"):
                raise
            return False
        return True

    async def refund(self, inp: contract.RefundPayment) -> Refund:
        params: Any = {"payment_intent": inp.payment_intent_id, "amount": inp.amount,
                       "metadata": {"order_id": inp.order_id, "reference": inp.reference}}
        options = self._options(inp.correlation_id, inp.reference)
        created = await self._call(lambda c: c.v1.refunds.create_async(params, options), REFUND_REFUSALS)
        refund = parse(VENDOR, _Refund, created.to_dict())
        return Refund(refund_id=refund.id, payment_intent_id=refund.payment_intent, amount=refund.amount,
                      reference=inp.reference)

    async def movements_in(self, period: Period, correlation_id: str) -> list[MoneyMovement]:
        _unsupported("Reconciliation (payments' movements in a period)")

    async def movements_of(self, order_id: str, correlation_id: str) -> list[MoneyMovement]:
        _unsupported("Reconciliation (payments' movements of an order)")
