"""The simulated card gateway behind both payment dialects: `/payments` (the sandbox's JSON) and
`/stripe/v1` (Stripe's form-encoded wire protocol).

One set of holds, captures and refunds (tables payment_intents and refunds) and one set of ledger entries
(`payment.authorize|capture|void|refund`), whichever dialect acted: every ledger-based test holds for both
adapters, and the routers only translate requests and render answers.
"""

from __future__ import annotations

import dataclasses
import math
import sqlite3
from typing import Any

from .context import Tx
from .errors import VendorError, invalid, not_found
from .util import dumps, iso, loads, new_id

APPROVING_TOKENS = {"tok_visa", "tok_expiring", "tok_reauth_decline"}
SHORT_AUTH_TOKENS = {"tok_expiring", "tok_reauth_decline"}


def _card_declined(decline_code: str, message: str) -> VendorError:
    return VendorError(402, "card_error", "card_declined", message, decline_code=decline_code)


def _status(pi: dict[str, Any]) -> str:
    if pi["amount_capturable"] > 0:
        return "requires_capture"
    return "succeeded" if pi["amount_received"] > 0 else "canceled"


def save(conn: sqlite3.Connection, pi: dict[str, Any]) -> dict[str, Any]:
    pi["status"] = _status(pi)
    conn.execute(
        "INSERT INTO payment_intents(id, order_id, doc) VALUES (?,?,?) "
        "ON CONFLICT(id) DO UPDATE SET order_id = excluded.order_id, doc = excluded.doc",
        (pi["id"], pi["metadata"].get("order_id"), dumps(pi)),
    )
    return pi


def order_id_of(pi: dict[str, Any]) -> str | None:
    value = pi["metadata"].get("order_id")
    return None if value is None else str(value)


def _expire_if_due(tx: Tx, pi: dict[str, Any]) -> dict[str, Any]:
    """Authorizations lapse on their own; applying it on every touch is indistinguishable to clients."""
    if pi["amount_capturable"] > 0 and tx.now > pi["capture_before"]:
        released = pi["amount_capturable"]
        pi["amount_capturable"] = 0
        pi["cancellation_reason"] = "expired"
        save(tx.conn, pi)
        # The lapse is not an effect of whichever request happened to notice it.
        dataclasses.replace(tx, idempotency_key=None).ledger(
            "payment.void", order_id=order_id_of(pi), amount=released, reference="expired"
        )
    return pi


def load(tx: Tx, pi_id: str) -> dict[str, Any]:
    row = tx.conn.execute("SELECT doc FROM payment_intents WHERE id = ?", (pi_id,)).fetchone()
    if row is None:
        raise not_found("payment_intent", pi_id)
    return _expire_if_due(tx, loads(row["doc"]))


def intents_of(tx: Tx, order_id: str | None) -> list[dict[str, Any]]:
    """The intents of one order (every intent when None), oldest first."""
    if order_id is None:
        rows = tx.conn.execute("SELECT doc FROM payment_intents ORDER BY seq").fetchall()
    else:
        rows = tx.conn.execute(
            "SELECT doc FROM payment_intents WHERE order_id = ? ORDER BY seq", (order_id,)
        ).fetchall()
    return [_expire_if_due(tx, loads(r["doc"])) for r in rows]


def hold_error(pi: dict[str, Any], amount: int) -> VendorError | None:
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


def authorize(tx: Tx, *, amount: int, currency: str, token: str, metadata: dict[str, Any]) -> dict[str, Any]:
    """Hold `amount` on the card the test token names, or raise its decline."""
    if token == "tok_decline":
        raise _card_declined("generic_decline", "Your card was declined.")
    if token == "tok_insufficient_funds":
        raise _card_declined("insufficient_funds", "Your card has insufficient funds.")
    if token not in APPROVING_TOKENS:
        raise invalid("invalid_payment_method", f"No such PaymentMethod: '{token}'")
    if token == "tok_reauth_decline" and metadata.get("reauthorization_of"):
        raise _card_declined("generic_decline", "Your card was declined.")
    ttl = tx.settings.short_auth_s if token in SHORT_AUTH_TOKENS else tx.settings.auth_ttl_s
    pi: dict[str, Any] = {
        "id": new_id("pi"),
        "object": "payment_intent",
        "amount": amount,
        "amount_capturable": amount,
        "amount_received": 0,
        "amount_refunded": 0,
        "currency": currency,
        "status": "requires_capture",
        "capture_method": "manual",
        "payment_method": token,
        # Stripe gives whole seconds; rounding up keeps the hold at least as long as promised.
        "capture_before": math.ceil(tx.now + ttl),
        "cancellation_reason": None,
        "created": int(tx.now),
        "metadata": metadata,
        "captures": [],
    }
    save(tx.conn, pi)
    tx.ledger("payment.authorize", order_id=order_id_of(pi), amount=amount,
              reference=str(metadata.get("reference") or pi["id"]))
    return pi


def capture(tx: Tx, pi: dict[str, Any], amount: int, *, final: bool, reference: str | None) -> VendorError | None:
    """Capture `amount` from the hold (the rest is released when `final`); the problem if it cannot.

    Problems are returned, not raised, so a lapse noticed just now stays recorded."""
    problem = hold_error(pi, amount)
    if problem is not None:
        return problem
    cap_id = new_id("cap")
    reference = reference or cap_id
    pi["captures"].append({"id": cap_id, "amount": amount, "reference": reference, "created": int(tx.now)})
    pi["amount_received"] += amount
    pi["amount_capturable"] -= amount
    tx.ledger("payment.capture", order_id=order_id_of(pi), amount=amount, reference=reference)
    if final and pi["amount_capturable"] > 0:
        tx.ledger("payment.void", order_id=order_id_of(pi), amount=pi["amount_capturable"], reference=reference)
        pi["amount_capturable"] = 0
    save(tx.conn, pi)
    return None


def decrement(tx: Tx, pi: dict[str, Any], amount: int) -> VendorError | None:
    """Release `amount` of the hold; the problem if it cannot (returned, as for capture)."""
    problem = hold_error(pi, amount)
    if problem is not None:
        return problem
    pi["amount_capturable"] -= amount
    tx.ledger("payment.void", order_id=order_id_of(pi), amount=amount, reference=pi["id"])
    save(tx.conn, pi)
    return None


def cancel(tx: Tx, pi: dict[str, Any], reason: str | None) -> dict[str, Any]:
    """Release whatever the intent still holds (nothing if it holds nothing)."""
    if pi["amount_capturable"] == 0:
        return pi
    tx.ledger("payment.void", order_id=order_id_of(pi), amount=pi["amount_capturable"], reference=pi["id"])
    pi["amount_capturable"] = 0
    pi["cancellation_reason"] = reason
    return save(tx.conn, pi)


def refund(tx: Tx, pi: dict[str, Any], amount: int, metadata: dict[str, Any]) -> dict[str, Any] | VendorError:
    """Refund `amount` of what was captured: the refund, or the problem if more than that is asked."""
    refundable = pi["amount_received"] - pi["amount_refunded"]
    if amount > refundable:
        return invalid("amount_too_large", f"Refund amount {amount} exceeds the refundable {refundable}.")
    refund_doc = {
        "id": new_id("re"),
        "object": "refund",
        "amount": amount,
        "currency": pi["currency"],
        "payment_intent": pi["id"],
        "status": "succeeded",
        "created": int(tx.now),
        "metadata": metadata,
    }
    pi["amount_refunded"] += amount
    save(tx.conn, pi)
    tx.conn.execute(
        "INSERT INTO refunds(id, payment_intent, doc) VALUES (?,?,?)", (refund_doc["id"], pi["id"], dumps(refund_doc))
    )
    order_id = metadata.get("order_id") or order_id_of(pi)
    tx.ledger("payment.refund", order_id=None if order_id is None else str(order_id), amount=amount,
              reference=str(metadata.get("reference") or refund_doc["id"]))
    return refund_doc
