"""Payment gateway (`/payments`), modelled on Stripe PaymentIntents with manual capture."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from pydantic import Field

from sandbox.bodies import Body

from . import gateway
from .context import CallContext, Result, Tx, error_result, vendor_call
from .util import loads

VENDOR = "payments"

router = APIRouter(prefix="/payments", tags=["payments"])
call = vendor_call(VENDOR)
# Annotated, so FastAPI injects it without a call in a default argument.
Ctx = Annotated[CallContext, Depends(call)]

class PaymentIntentCreate(Body):
    amount: int = Field(gt=0)
    currency: str = Field(min_length=3, max_length=3)
    payment_method: str
    capture_method: Literal["manual"] = "manual"
    metadata: dict[str, Any] = Field(default_factory=dict)


class CaptureBody(Body):
    amount_to_capture: int = Field(gt=0)
    final_capture: bool = True
    metadata: dict[str, Any] = Field(default_factory=dict)


class DecrementBody(Body):
    amount_to_decrement: int = Field(gt=0)


class CancelBody(Body):
    cancellation_reason: str | None = None


class RefundCreate(Body):
    payment_intent: str
    amount: int = Field(gt=0)
    metadata: dict[str, Any] = Field(default_factory=dict)


@router.post("/payment_intents")
async def create_payment_intent(ctx: Ctx, body: PaymentIntentCreate) -> JSONResponse:
    return ctx.run(lambda tx: Result(gateway.authorize(
        tx, amount=body.amount, currency=body.currency, token=body.payment_method, metadata=body.metadata)))


@router.get("/payment_intents")
async def list_payment_intents(ctx: Ctx, order_id: str | None = None) -> JSONResponse:
    return ctx.run(lambda tx: Result({"data": gateway.intents_of(tx, order_id)}))


@router.get("/payment_intents/{pi_id}")
async def get_payment_intent(ctx: Ctx, pi_id: str) -> JSONResponse:
    return ctx.run(lambda tx: Result(gateway.load(tx, pi_id)))


@router.post("/payment_intents/{pi_id}/capture")
async def capture(ctx: Ctx, pi_id: str, body: CaptureBody) -> JSONResponse:
    def effect(tx: Tx) -> Result:
        pi = gateway.load(tx, pi_id)
        reference = body.metadata.get("reference")
        problem = gateway.capture(tx, pi, body.amount_to_capture, final=body.final_capture,
                                  reference=None if reference is None else str(reference))
        return error_result(problem) if problem is not None else Result(pi)

    return ctx.run(effect)


@router.post("/payment_intents/{pi_id}/decrement_authorization")
async def decrement_authorization(ctx: Ctx, pi_id: str, body: DecrementBody) -> JSONResponse:
    def effect(tx: Tx) -> Result:
        pi = gateway.load(tx, pi_id)
        problem = gateway.decrement(tx, pi, body.amount_to_decrement)
        return error_result(problem) if problem is not None else Result(pi)

    return ctx.run(effect)


@router.post("/payment_intents/{pi_id}/cancel")
async def cancel(ctx: Ctx, pi_id: str, body: CancelBody | None = None) -> JSONResponse:
    reason = body.cancellation_reason if body is not None else None
    return ctx.run(lambda tx: Result(gateway.cancel(tx, gateway.load(tx, pi_id), reason)))


@router.post("/refunds")
async def create_refund(ctx: Ctx, body: RefundCreate) -> JSONResponse:
    def effect(tx: Tx) -> Result:
        refund = gateway.refund(tx, gateway.load(tx, body.payment_intent), body.amount, body.metadata)
        return Result(refund) if isinstance(refund, dict) else error_result(refund)

    return ctx.run(effect)


@router.get("/refunds")
async def list_refunds(ctx: Ctx, payment_intent: str | None = None) -> JSONResponse:
    def effect(tx: Tx) -> Result:
        sql = (
            "SELECT doc FROM refunds"
            + (" WHERE payment_intent = ?" if payment_intent else "")
            + " ORDER BY rowid"
        )
        rows = tx.conn.execute(sql, (payment_intent,) if payment_intent else ()).fetchall()
        return Result({"data": [loads(r["doc"]) for r in rows]})

    return ctx.run(effect)
