"""Payment gateway (`/payments`), modelled on Stripe PaymentIntents with manual capture."""

from __future__ import annotations

import dataclasses
import math
import sqlite3
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from pydantic import Field

from sandbox.bodies import Body

from .context import CallContext, Result, Tx, error_result, vendor_call
from .errors import VendorError, invalid, not_found
from .util import dumps, iso, loads, new_id

VENDOR = "payments"

router = APIRouter(prefix="/payments", tags=["payments"])
call = vendor_call(VENDOR)
# Annotated, so FastAPI injects it without a call in a default argument.
Ctx = Annotated[CallContext, Depends(call)]

APPROVING_TOKENS = {"tok_visa", "tok_expiring", "tok_reauth_decline"}
SHORT_AUTH_TOKENS = {"tok_expiring", "tok_reauth_decline"}


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


def _card_declined(decline_code: str, message: str) -> VendorError:
    return VendorError(402, "card_error", "card_declined", message, decline_code=decline_code)


def _status(pi: dict[str, Any]) -> str:
    if pi["amount_capturable"] > 0:
        return "requires_capture"
    return "succeeded" if pi["amount_received"] > 0 else "canceled"


def _save(conn: sqlite3.Connection, pi: dict[str, Any]) -> dict[str, Any]:
    pi["status"] = _status(pi)
    conn.execute(
        "INSERT INTO payment_intents(id, order_id, doc) VALUES (?,?,?) "
        "ON CONFLICT(id) DO UPDATE SET doc = excluded.doc",
        (pi["id"], pi["metadata"].get("order_id"), dumps(pi)),
    )
    return pi


def _order_id(pi: dict[str, Any]) -> str | None:
    value = pi["metadata"].get("order_id")
    return None if value is None else str(value)


def _expire_if_due(tx: Tx, pi: dict[str, Any]) -> dict[str, Any]:
    """Authorizations lapse on their own; applying it on every touch is indistinguishable to clients."""
    if pi["amount_capturable"] > 0 and tx.now > pi["capture_before"]:
        released = pi["amount_capturable"]
        pi["amount_capturable"] = 0
        pi["cancellation_reason"] = "expired"
        _save(tx.conn, pi)
        # The lapse is not an effect of whichever request happened to notice it.
        dataclasses.replace(tx, idempotency_key=None).ledger(
            "payment.void", order_id=_order_id(pi), amount=released, reference="expired"
        )
    return pi


def _load(tx: Tx, pi_id: str) -> dict[str, Any]:
    row = tx.conn.execute("SELECT doc FROM payment_intents WHERE id = ?", (pi_id,)).fetchone()
    if row is None:
        raise not_found("payment_intent", pi_id)
    return _expire_if_due(tx, loads(row["doc"]))


def _hold_error(pi: dict[str, Any], amount: int) -> VendorError | None:
    """Why the remaining hold cannot be captured or decremented by ``amount``, if it cannot."""
    if pi["cancellation_reason"] == "expired":
        return invalid(
            "charge_expired_for_capture",
            f"The authorization of {pi['id']} expired at {iso(pi['capture_before'])};"
            " it can no longer be captured.",
        )
    if pi["amount_capturable"] == 0:
        return invalid(
            "payment_intent_unexpected_state",
            f"This PaymentIntent's status is {pi['status']}; it has nothing left to capture.",
            payment_intent={"id": pi["id"], "status": pi["status"]},
        )
    if amount > pi["amount_capturable"]:
        return invalid(
            "amount_too_large",
            f"Amount {amount} exceeds the capturable amount {pi['amount_capturable']}.",
        )
    return None


@router.post("/payment_intents")
async def create_payment_intent(ctx: Ctx, body: PaymentIntentCreate) -> JSONResponse:
    def effect(tx: Tx) -> Result:
        token = body.payment_method
        if token == "tok_decline":
            raise _card_declined("generic_decline", "Your card was declined.")
        if token == "tok_insufficient_funds":
            raise _card_declined("insufficient_funds", "Your card has insufficient funds.")
        if token not in APPROVING_TOKENS:
            raise invalid("invalid_payment_method", f"No such PaymentMethod: '{token}'")
        if token == "tok_reauth_decline" and body.metadata.get("reauthorization_of"):
            raise _card_declined("generic_decline", "Your card was declined.")
        ttl = tx.settings.short_auth_s if token in SHORT_AUTH_TOKENS else tx.settings.auth_ttl_s
        pi: dict[str, Any] = {
            "id": new_id("pi"),
            "object": "payment_intent",
            "amount": body.amount,
            "amount_capturable": body.amount,
            "amount_received": 0,
            "amount_refunded": 0,
            "currency": body.currency,
            "status": "requires_capture",
            "capture_method": body.capture_method,
            "payment_method": token,
            # Stripe gives whole seconds; rounding up keeps the hold at least as long as promised.
            "capture_before": math.ceil(tx.now + ttl),
            "cancellation_reason": None,
            "created": int(tx.now),
            "metadata": body.metadata,
            "captures": [],
        }
        _save(tx.conn, pi)
        tx.ledger(
            "payment.authorize",
            order_id=_order_id(pi),
            amount=body.amount,
            reference=str(body.metadata.get("reference") or pi["id"]),
        )
        return Result(pi)

    return ctx.run(effect)


@router.get("/payment_intents")
async def list_payment_intents(ctx: Ctx, order_id: str | None = None) -> JSONResponse:
    def effect(tx: Tx) -> Result:
        if order_id is None:
            rows = tx.conn.execute("SELECT doc FROM payment_intents ORDER BY seq").fetchall()
        else:
            rows = tx.conn.execute(
                "SELECT doc FROM payment_intents WHERE order_id = ? ORDER BY seq", (order_id,)
            ).fetchall()
        return Result({"data": [_expire_if_due(tx, loads(r["doc"])) for r in rows]})

    return ctx.run(effect)


@router.get("/payment_intents/{pi_id}")
async def get_payment_intent(ctx: Ctx, pi_id: str) -> JSONResponse:
    return ctx.run(lambda tx: Result(_load(tx, pi_id)))


@router.post("/payment_intents/{pi_id}/capture")
async def capture(ctx: Ctx, pi_id: str, body: CaptureBody) -> JSONResponse:
    def effect(tx: Tx) -> Result:
        pi = _load(tx, pi_id)
        problem = _hold_error(pi, body.amount_to_capture)
        if problem is not None:
            # Returned, not raised, so a lapse noticed just now stays recorded.
            return error_result(problem)
        cap_id = new_id("cap")
        reference = str(body.metadata.get("reference") or cap_id)
        pi["captures"].append(
            {"id": cap_id, "amount": body.amount_to_capture, "reference": reference, "created": int(tx.now)}
        )
        pi["amount_received"] += body.amount_to_capture
        pi["amount_capturable"] -= body.amount_to_capture
        tx.ledger(
            "payment.capture", order_id=_order_id(pi), amount=body.amount_to_capture, reference=reference
        )
        if body.final_capture and pi["amount_capturable"] > 0:
            tx.ledger(
                "payment.void", order_id=_order_id(pi), amount=pi["amount_capturable"], reference=reference
            )
            pi["amount_capturable"] = 0
        return Result(_save(tx.conn, pi))

    return ctx.run(effect)


@router.post("/payment_intents/{pi_id}/decrement_authorization")
async def decrement_authorization(ctx: Ctx, pi_id: str, body: DecrementBody) -> JSONResponse:
    def effect(tx: Tx) -> Result:
        pi = _load(tx, pi_id)
        problem = _hold_error(pi, body.amount_to_decrement)
        if problem is not None:
            return error_result(problem)
        pi["amount_capturable"] -= body.amount_to_decrement
        tx.ledger("payment.void", order_id=_order_id(pi), amount=body.amount_to_decrement, reference=pi["id"])
        return Result(_save(tx.conn, pi))

    return ctx.run(effect)


@router.post("/payment_intents/{pi_id}/cancel")
async def cancel(ctx: Ctx, pi_id: str, body: CancelBody | None = None) -> JSONResponse:
    def effect(tx: Tx) -> Result:
        pi = _load(tx, pi_id)
        if pi["amount_capturable"] == 0:
            return Result(pi)
        tx.ledger("payment.void", order_id=_order_id(pi), amount=pi["amount_capturable"], reference=pi["id"])
        pi["amount_capturable"] = 0
        pi["cancellation_reason"] = body.cancellation_reason if body is not None else None
        return Result(_save(tx.conn, pi))

    return ctx.run(effect)


@router.post("/refunds")
async def create_refund(ctx: Ctx, body: RefundCreate) -> JSONResponse:
    def effect(tx: Tx) -> Result:
        pi = _load(tx, body.payment_intent)
        refundable = pi["amount_received"] - pi["amount_refunded"]
        if body.amount > refundable:
            return error_result(
                invalid(
                    "amount_too_large", f"Refund amount {body.amount} exceeds the refundable {refundable}."
                )
            )
        refund = {
            "id": new_id("re"),
            "object": "refund",
            "amount": body.amount,
            "currency": pi["currency"],
            "payment_intent": pi["id"],
            "status": "succeeded",
            "created": int(tx.now),
            "metadata": body.metadata,
        }
        pi["amount_refunded"] += body.amount
        _save(tx.conn, pi)
        tx.conn.execute(
            "INSERT INTO refunds(id, payment_intent, doc) VALUES (?,?,?)",
            (refund["id"], pi["id"], dumps(refund)),
        )
        order_id = body.metadata.get("order_id") or _order_id(pi)
        tx.ledger(
            "payment.refund",
            order_id=None if order_id is None else str(order_id),
            amount=body.amount,
            reference=str(body.metadata.get("reference") or refund["id"]),
        )
        return Result(refund)

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
