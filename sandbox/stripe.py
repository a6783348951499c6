"""Stripe's wire protocol (`/stripe/v1`) for the subset o2c's Stripe adapter uses, over the same simulated
gateway as `/payments` (sandbox/gateway.py): the same holds, the same ledger entries.

PaymentIntents with `confirm=true`, `capture_method=manual` and multicapture; capture with
`amount_to_capture`/`final_capture`; `decrement_authorization` to a new total; cancel; refunds; search by
`metadata['order_id']`. Form-encoded bodies with bracket notation, `Authorization: Bearer sk_test_…`,
Stripe's error object, Stripe's idempotency rules (keys scoped per API key; same key and parameters → the
stored answer with `Idempotent-Replayed: true`; other parameters → 400 `idempotency_error`).

`PUT /_sandbox/stripe/defects` breaks the router on purpose, for the certification suite's own test:
`ignore_idempotency` (every request acts anew) and `flat_errors` (`{"message", "status"}` instead of
`{"error": {...}}`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from . import gateway, idempotency
from .context import CallContext, Result, Runtime, Tx, error_result, get_runtime
from .db import kv_get, kv_set
from .errors import VendorError
from .form_encoding import FormError, decode
from .util import loads

VENDOR = "payments"
DEFECTS_KEY = "stripe.defects"


class Defects(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ignore_idempotency: bool = False
    flat_errors: bool = False


def _defects(runtime: Runtime) -> Defects:
    with runtime.db.transaction() as conn:
        raw = kv_get(conn, DEFECTS_KEY)
    return Defects() if raw is None else Defects.model_validate_json(raw)


def _flat(response: Response) -> Response:
    """The deliberately wrong error shape: `{"message", "status"}`."""
    error = json.loads(bytes(response.body)).get("error") or {}
    keep = {k: v for k, v in response.headers.items() if k.lower() in ("retry-after", "idempotent-replayed")}
    return JSONResponse({"message": error.get("message", ""), "status": response.status_code},
                        status_code=response.status_code, headers=keep)


class StripeRoute(APIRoute):
    """Errors raised anywhere in a request (authentication, parameters) answer in Stripe's shape, or in the
    flat one when that defect is on."""

    def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                response = await handler(request)
            except VendorError as exc:
                response = JSONResponse(exc.body, status_code=exc.status, headers=exc.headers)
            if response.status_code >= 400 and _defects(get_runtime(request)).flat_errors:
                return _flat(response)
            return response

        return route


router = APIRouter(prefix="/stripe/v1", tags=["stripe"], route_class=StripeRoute)
control_router = APIRouter(prefix="/_sandbox/stripe", tags=["control"])


def _api_key(request: Request) -> str:
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not re.fullmatch(r"sk_test_[A-Za-z0-9_]{4,}", key):
        shown = f"{key[:8]}…" if key else "none"
        raise VendorError(401, "authentication_error", "api_key_invalid",
                          f"Invalid API Key provided: {shown}. The sandbox takes secret test keys (sk_test_…).")
    return key


def _invalid(param: str, code: str, message: str) -> VendorError:
    return VendorError(400, "invalid_request_error", code, message, param=param)


@dataclass
class StripeCall(CallContext):
    params: dict[str, Any] = field(default_factory=dict)
    """The request's parameters, decoded from the form body (POST) or the query string (GET)."""


async def _call(request: Request) -> StripeCall:
    key = _api_key(request)
    raw = request.url.query if request.method == "GET" else (await request.body()).decode("utf-8", "replace")
    try:
        params = decode(raw)
    except FormError as exc:
        raise _invalid(exc.param, "parameter_unknown", str(exc)) from None
    runtime = get_runtime(request)
    ignore = _defects(runtime).ignore_idempotency
    return StripeCall(
        runtime=runtime,
        vendor=VENDOR,
        method=request.method,
        idempotency_key=None if ignore else request.headers.get("idempotency-key") or None,
        correlation_id=request.headers.get("x-correlation-id") or None,
        # Parameters, not bytes: the same parameters in another order are the same request.
        fingerprint=idempotency.fingerprint(request.method, request.url.path, json.dumps(params).encode()),
        scope=f"stripe:{key}",
        params=params,
    )


Call = Annotated[StripeCall, Depends(_call)]


class Params(BaseModel):
    """Stripe refuses unknown parameters; `expand` is accepted everywhere."""

    model_config = ConfigDict(extra="forbid")

    expand: list[str] = Field(default_factory=list)


def _parse(model: type[Params], params: dict[str, Any]) -> Any:
    try:
        return model.model_validate(params)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = [str(p) for p in first["loc"]]
        param = loc[0] + "".join(f"[{p}]" for p in loc[1:])
        code = {"missing": "parameter_missing", "extra_forbidden": "parameter_unknown"}.get(
            first["type"], "parameter_invalid"
        )
        raise _invalid(param, code, f"{param}: {first['msg']}") from None


class CardToken(Params):
    token: str


class PaymentMethodData(Params):
    type: Literal["card"]
    card: CardToken


class CardOptions(Params):
    request_multicapture: Literal["if_available", "never"] = "never"


class MethodOptions(Params):
    card: CardOptions = Field(default_factory=CardOptions)


class IntentCreate(Params):
    amount: int = Field(gt=0)
    currency: str = Field(min_length=3, max_length=3)
    confirm: bool
    capture_method: Literal["manual"]
    payment_method_data: PaymentMethodData
    payment_method_options: MethodOptions = Field(default_factory=MethodOptions)
    metadata: dict[str, str] = Field(default_factory=dict)

    @field_validator("confirm")
    @classmethod
    def _confirmed(cls, value: bool) -> bool:
        if not value:
            raise ValueError("the sandbox confirms at creation only (card tokens, no customer action): confirm=true")
        return value


class IntentCapture(Params):
    amount_to_capture: int | None = Field(default=None, gt=0)
    final_capture: bool = True
    metadata: dict[str, str] = Field(default_factory=dict)


class IntentDecrement(Params):
    amount: int = Field(ge=0)
    metadata: dict[str, str] = Field(default_factory=dict)


class IntentCancel(Params):
    cancellation_reason: Literal["duplicate", "fraudulent", "requested_by_customer", "abandoned"] | None = None


class IntentSearch(Params):
    query: str
    limit: int = Field(default=10, ge=1, le=100)
    page: str | None = None


class RefundCreate(Params):
    payment_intent: str
    amount: int | None = Field(default=None, gt=0)
    metadata: dict[str, str] = Field(default_factory=dict)
    reason: Literal["duplicate", "fraudulent", "requested_by_customer"] | None = None


# ---- Stripe's view of the gateway's state ---------------------------------------------------------------


def _suffix(pi: dict[str, Any]) -> str:
    return str(pi["id"]).removeprefix("pi_")


def _total(pi: dict[str, Any]) -> int:
    """What the intent is for now: decrement_authorization lowers it; captures do not."""
    held = pi["amount_received"] + pi["amount_capturable"]
    return held if pi["amount_capturable"] > 0 else pi["amount"]


def _charge(pi: dict[str, Any]) -> dict[str, Any]:
    captures = pi["captures"]
    return {
        "id": f"ch_{_suffix(pi)}",
        "object": "charge",
        "amount": _total(pi),
        "amount_captured": pi["amount_received"],
        "amount_refunded": pi["amount_refunded"],
        # One balance transaction per capture (ids as in the balance transactions of /payments).
        "balance_transaction": f"txn_{captures[-1]['id']}" if captures else None,
        "captured": pi["amount_received"] > 0,
        "created": pi["created"],
        "currency": pi["currency"],
        "livemode": False,
        "metadata": pi["metadata"],
        "paid": True,
        "payment_intent": pi["id"],
        "payment_method": f"pm_{_suffix(pi)}",
        "payment_method_details": {
            "type": "card",
            "card": {
                "brand": "visa",
                "last4": "4242",
                "capture_before": pi["capture_before"],
                "multicapture": {"status": "available" if pi.get("multicapture") else "unavailable"},
            },
        },
        "refunded": pi["amount_refunded"] > 0 and pi["amount_refunded"] == pi["amount_received"],
        "status": "succeeded",
    }


def _intent(pi: dict[str, Any], expand: list[str]) -> dict[str, Any]:
    return {
        "id": pi["id"],
        "object": "payment_intent",
        "amount": _total(pi),
        "amount_capturable": pi["amount_capturable"],
        "amount_received": pi["amount_received"],
        "cancellation_reason": "automatic" if pi["cancellation_reason"] == "expired" else pi["cancellation_reason"],
        "capture_method": "manual",
        "created": pi["created"],
        "currency": pi["currency"],
        "latest_charge": _charge(pi) if "latest_charge" in expand else f"ch_{_suffix(pi)}",
        "livemode": False,
        "metadata": pi["metadata"],
        "payment_method": f"pm_{_suffix(pi)}",
        "status": pi["status"],
    }


def _refund(refund: dict[str, Any]) -> dict[str, Any]:
    return {**refund, "charge": f"ch_{str(refund['payment_intent']).removeprefix('pi_')}"}


def _not_capturable(pi: dict[str, Any], action: str) -> VendorError:
    return _invalid("intent", "payment_intent_unexpected_state",
                    f"You cannot {action} this PaymentIntent because it has a status of {pi['status']}.")


# ---- the endpoints ------------------------------------------------------------------------------------


@router.post("/payment_intents")
async def create_payment_intent(call: Call) -> JSONResponse:
    body: IntentCreate = _parse(IntentCreate, call.params)

    def effect(tx: Tx) -> Result:
        pi = gateway.authorize(tx, amount=body.amount, currency=body.currency.lower(),
                               token=body.payment_method_data.card.token, metadata=body.metadata)
        pi["multicapture"] = body.payment_method_options.card.request_multicapture == "if_available"
        return Result(_intent(gateway.save(tx.conn, pi), body.expand))

    return call.run(effect)


@router.get("/payment_intents/search")
async def search_payment_intents(call: Call) -> JSONResponse:
    body: IntentSearch = _parse(IntentSearch, call.params)
    match = re.fullmatch(r"""\s*metadata\[(['"])order_id\1\]\s*:\s*(['"])([^'"]*)\2\s*""", body.query)
    if match is None:
        raise _invalid("query", "parameter_invalid",
                       "The sandbox searches PaymentIntents by metadata['order_id']:'…' only.")
    start = int(body.page) if body.page and body.page.isdigit() else 0

    def effect(tx: Tx) -> Result:
        found = [pi for pi in gateway.intents_of(tx, match.group(3))
                 if pi["created"] <= tx.now - tx.settings.stripe_search_lag_s]
        page = found[start : start + body.limit]
        more = start + body.limit < len(found)
        return Result({
            "object": "search_result",
            "url": "/v1/payment_intents/search",
            "data": [_intent(pi, body.expand) for pi in page],
            "has_more": more,
            "next_page": str(start + body.limit) if more else None,
        })

    return call.run(effect)


@router.get("/payment_intents/{pi_id}")
async def get_payment_intent(call: Call, pi_id: str) -> JSONResponse:
    body: Params = _parse(Params, call.params)
    return call.run(lambda tx: Result(_intent(gateway.load(tx, pi_id), body.expand)))


IntentAction = Callable[[Tx, dict[str, Any]], VendorError | None]


def _act(call: StripeCall, pi_id: str, expand: list[str], action: IntentAction) -> JSONResponse:
    """Run `action` on the intent: its problem (returned, so a lapse noticed now stays recorded) or the
    intent as it is afterwards."""

    def effect(tx: Tx) -> Result:
        pi = gateway.load(tx, pi_id)
        problem = action(tx, pi)
        return error_result(problem) if problem is not None else Result(_intent(pi, expand))

    return call.run(effect)


@router.post("/payment_intents/{pi_id}/capture")
async def capture(call: Call, pi_id: str) -> JSONResponse:
    body: IntentCapture = _parse(IntentCapture, call.params)

    def action(tx: Tx, pi: dict[str, Any]) -> VendorError | None:
        amount = body.amount_to_capture or pi["amount_capturable"]
        pi["metadata"] = {**pi["metadata"], **body.metadata}
        # Without multicapture every capture is final: the rest of the hold is released.
        final = body.final_capture or not pi.get("multicapture")
        return gateway.capture(tx, pi, amount, final=final, reference=body.metadata.get("reference"))

    return _act(call, pi_id, body.expand, action)


@router.post("/payment_intents/{pi_id}/decrement_authorization")
async def decrement_authorization(call: Call, pi_id: str) -> JSONResponse:
    body: IntentDecrement = _parse(IntentDecrement, call.params)

    def action(tx: Tx, pi: dict[str, Any]) -> VendorError | None:
        total = _total(pi)
        if pi["amount_capturable"] > 0 and not pi["amount_received"] <= body.amount < total:
            return _invalid("amount", "parameter_invalid_integer",
                            f"The new amount must be less than the current amount {total} and at least the"
                            f" amount received {pi['amount_received']}.")
        pi["metadata"] = {**pi["metadata"], **body.metadata}
        return gateway.decrement(tx, pi, total - body.amount)

    return _act(call, pi_id, body.expand, action)


@router.post("/payment_intents/{pi_id}/cancel")
async def cancel(call: Call, pi_id: str) -> JSONResponse:
    body: IntentCancel = _parse(IntentCancel, call.params)

    def action(tx: Tx, pi: dict[str, Any]) -> VendorError | None:
        if pi["status"] != "requires_capture":
            return _not_capturable(pi, "cancel")
        gateway.cancel(tx, pi, body.cancellation_reason)
        return None

    return _act(call, pi_id, body.expand, action)


@router.post("/refunds")
async def create_refund(call: Call) -> JSONResponse:
    body: RefundCreate = _parse(RefundCreate, call.params)

    def effect(tx: Tx) -> Result:
        pi = gateway.load(tx, body.payment_intent)
        amount = body.amount or pi["amount_received"] - pi["amount_refunded"]
        refund = gateway.refund(tx, pi, amount, body.metadata)
        return Result(_refund(refund)) if isinstance(refund, dict) else error_result(refund)

    return call.run(effect)


@router.get("/refunds/{refund_id}")
async def get_refund(call: Call, refund_id: str) -> JSONResponse:
    def effect(tx: Tx) -> Result:
        row = tx.conn.execute("SELECT doc FROM refunds WHERE id = ?", (refund_id,)).fetchone()
        if row is None:
            raise VendorError(404, "invalid_request_error", "resource_missing", f"No such refund: '{refund_id}'",
                              param="id")
        return Result(_refund(loads(row["doc"])))

    return call.run(effect)


# ---- control: the deliberately broken modes --------------------------------------------------------------

RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


@control_router.put("/defects")
async def put_defects(runtime: RuntimeDep, body: Defects) -> Defects:
    with runtime.db.transaction() as conn:
        kv_set(conn, DEFECTS_KEY, body.model_dump_json())
    return body


@control_router.get("/defects")
async def get_defects(runtime: RuntimeDep) -> Defects:
    return _defects(runtime)


@control_router.delete("/defects")
async def delete_defects(runtime: RuntimeDep) -> Defects:
    with runtime.db.transaction() as conn:
        conn.execute("DELETE FROM kv WHERE key = ?", (DEFECTS_KEY,))
    return Defects()
