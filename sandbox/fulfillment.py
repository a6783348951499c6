"""3PL / carrier (`/fulfillment`): accepts shipment and return requests, works them later.

The "later" is durable: a request stores ``due_at`` and the background worker (webhook_outbox)
calls ``process_due`` to dispatch it, writing ledger entries and outbox events in one transaction.
"""

from __future__ import annotations

import logging
import secrets
import sqlite3
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from pydantic import Field

from sandbox.bodies import Body, Line

from . import webhook_outbox
from .context import CallContext, Result, Runtime, Tx, vendor_call
from .db import kv_get, kv_set, where
from .errors import business, not_found
from .util import dumps, loads, new_id, now

VENDOR = "fulfillment"
CARRIER = "sandbox-express"
RETRY_FAILED_WORK_S = 5.0

log = logging.getLogger("sandbox.fulfillment")

router = APIRouter(prefix="/fulfillment", tags=["fulfillment"])
call = vendor_call(VENDOR)
# Annotated, so FastAPI injects it without a call in a default argument.
Ctx = Annotated[CallContext, Depends(call)]


class ShipmentRequestCreate(Body):
    reference: str = Field(min_length=1)
    order_id: str = Field(min_length=1)
    node: str = Field(min_length=1)
    lines: list[Line] = Field(min_length=1)
    ship_to: dict[str, Any] = Field(default_factory=dict)


class CancelBody(Body):
    reason: str | None = None


class ReturnCreate(Body):
    reference: str = Field(min_length=1)
    order_id: str = Field(min_length=1)
    return_id: str = Field(min_length=1)
    lines: list[Line] = Field(min_length=1)


def _load_shipment_request(conn: sqlite3.Connection, request_id: str) -> dict[str, Any]:
    row = conn.execute("SELECT doc FROM shipment_requests WHERE request_id = ?", (request_id,)).fetchone()
    if row is None:
        raise not_found("shipment request", request_id)
    doc: dict[str, Any] = loads(row["doc"])
    return doc


def _save_shipment_request(conn: sqlite3.Connection, doc: dict[str, Any], due_at: float | None) -> None:
    conn.execute(
        "UPDATE shipment_requests SET status = ?, held = ?, due_at = ?, doc = ? WHERE request_id = ?",
        (doc["status"], int(doc["on_hold"]), due_at, dumps(doc), doc["request_id"]),
    )


def _query(conn: sqlite3.Connection, table: str, reference: str | None, order_id: str | None) -> list[Any]:
    clause, params = where({"reference": reference, "order_id": order_id})
    return [loads(r["doc"]) for r in conn.execute(f"SELECT doc FROM {table}{clause} ORDER BY seq", params)]


@router.post("/shipment-requests", status_code=201)
async def create_shipment_request(ctx: Ctx, body: ShipmentRequestCreate) -> JSONResponse:
    def effect(tx: Tx) -> Result:
        held = any(line.sku.startswith("HOLD-") for line in body.lines)
        doc: dict[str, Any] = {
            "request_id": new_id("shr"),
            "reference": body.reference,
            "order_id": body.order_id,
            "node": body.node,
            "status": "accepted",
            "on_hold": held,
            "lines": [line.model_dump() for line in body.lines],
            "ship_to": body.ship_to,
            "shipments": [],
            "rejected_lines": [],
            "created": int(tx.now),
        }
        tx.conn.execute(
            "INSERT INTO shipment_requests(request_id, reference, order_id, status, held, due_at,"
            " correlation_id, doc)"
            " VALUES (?,?,?,?,?,?,?,?)",
            (
                doc["request_id"],
                body.reference,
                body.order_id,
                "accepted",
                int(held),
                tx.now + tx.settings.dispatch_delay_s,
                tx.correlation_id,
                dumps(doc),
            ),
        )
        tx.ledger("fulfillment.request", order_id=body.order_id, reference=doc["request_id"])
        return Result(doc, 201)

    return ctx.run(effect)


@router.get("/shipment-requests")
async def list_shipment_requests(
    ctx: Ctx,
    reference: str | None = None,
    order_id: str | None = None,
    dispatched_from: float | None = None,
    dispatched_to: float | None = None,
) -> JSONResponse:
    """`dispatched_from`/`dispatched_to`: unix seconds, [from, to) on the request's `dispatched_at`."""

    def dispatched_between(doc: dict[str, Any]) -> bool:
        if dispatched_from is None and dispatched_to is None:
            return True
        at = doc.get("dispatched_at")
        if at is None:
            return False
        after_start = dispatched_from is None or at >= dispatched_from
        return after_start and (dispatched_to is None or at < dispatched_to)

    def effect(tx: Tx) -> Result:
        docs = _query(tx.conn, "shipment_requests", reference, order_id)
        return Result({"data": [doc for doc in docs if dispatched_between(doc)]})

    return ctx.run(effect)


@router.get("/shipment-requests/{request_id}")
async def get_shipment_request(ctx: Ctx, request_id: str) -> JSONResponse:
    return ctx.run(lambda tx: Result(_load_shipment_request(tx.conn, request_id)))


@router.post("/shipment-requests/{request_id}/cancel")
async def cancel_shipment_request(ctx: Ctx, request_id: str, body: CancelBody | None = None) -> JSONResponse:
    def effect(tx: Tx) -> Result:
        doc = _load_shipment_request(tx.conn, request_id)
        if doc["status"] == "dispatched":
            raise business("already_dispatched", f"Shipment request {request_id} was already dispatched")
        # Cancelled: repeat is a no-op. Rejected: nothing left that could still ship.
        if doc["status"] != "accepted":
            return Result(doc)
        doc["status"] = "cancelled"
        doc["cancellation_reason"] = body.reason if body is not None else None
        _save_shipment_request(tx.conn, doc, None)
        tx.ledger("fulfillment.cancel", order_id=doc["order_id"], reference=request_id)
        return Result(doc)

    return ctx.run(effect)


@router.post("/returns", status_code=201)
async def create_return(ctx: Ctx, body: ReturnCreate) -> JSONResponse:
    def effect(tx: Tx) -> Result:
        doc: dict[str, Any] = {
            "request_id": new_id("ret"),
            "reference": body.reference,
            "order_id": body.order_id,
            "return_id": body.return_id,
            "status": "accepted",
            "lines": [{**line.model_dump(), "condition": None} for line in body.lines],
            "created": int(tx.now),
        }
        held = any(line.sku.startswith("HOLD-") for line in body.lines)
        tx.conn.execute(
            "INSERT INTO return_requests(request_id, reference, order_id, status, due_at,"
            " correlation_id, doc)"
            " VALUES (?,?,?,?,?,?,?)",
            (
                doc["request_id"],
                body.reference,
                body.order_id,
                "accepted",
                None if held else tx.now + tx.settings.dispatch_delay_s,
                tx.correlation_id,
                dumps(doc),
            ),
        )
        tx.ledger("fulfillment.return_request", order_id=body.order_id, reference=body.return_id)
        return Result(doc, 201)

    return ctx.run(effect)


@router.get("/returns")
async def list_returns(ctx: Ctx, reference: str | None = None, order_id: str | None = None) -> JSONResponse:
    return ctx.run(lambda tx: Result({"data": _query(tx.conn, "return_requests", reference, order_id)}))


def release_held(conn: sqlite3.Connection, order_id: str) -> int:
    """Let held requests of one order go; they dispatch once their original delay has also passed.
    Held returns (a `HOLD-` SKU) arrive at the warehouse now."""
    conn.execute("UPDATE return_requests SET due_at = ? WHERE order_id = ? AND status = 'accepted' AND due_at IS NULL",
                 (now(), order_id))
    rows = conn.execute(
        "SELECT doc FROM shipment_requests WHERE order_id = ? AND held = 1 AND status = 'accepted'",
        (order_id,),
    ).fetchall()
    for row in rows:
        doc = loads(row["doc"])
        doc["on_hold"] = False
        conn.execute(
            "UPDATE shipment_requests SET held = 0, doc = ? WHERE request_id = ?",
            (dumps(doc), doc["request_id"]),
        )
    return len(rows)


def _tracking_number() -> str:
    return "SBX" + "".join(secrets.choice("0123456789") for _ in range(12))


def _dispatch(tx: Tx, doc: dict[str, Any]) -> None:
    rejected = [line for line in doc["lines"] if line["sku"].startswith("PICKFAIL-")]
    split = [line for line in doc["lines"] if line["sku"].startswith("SPLIT-")]
    together = [line for line in doc["lines"] if not line["sku"].startswith(("PICKFAIL-", "SPLIT-"))]
    parcels = ([together] if together else []) + [[line] for line in split]
    order_id = doc["order_id"]
    # Picking comes before packing, so a pick rejection is reported before any shipment leaves.
    if rejected:
        doc["rejected_lines"] = rejected
        webhook_outbox.enqueue(
            tx.conn,
            stream=order_id,
            event_type="shipment.pick_rejected",
            order_id=order_id,
            data={
                "order_id": order_id,
                "request_id": doc["request_id"],
                "lines": rejected,
                "reason": "pick_failed",
            },
            at=tx.now,
        )
    for lines in parcels:
        shipment: dict[str, Any] = {
            "shipment_id": new_id("shp"),
            "lines": lines,
            "carrier": CARRIER,
            "tracking_number": _tracking_number(),
        }
        doc["shipments"].append(shipment)
        tx.ledger(
            "fulfillment.dispatch",
            order_id=order_id,
            quantity=sum(line["quantity"] for line in lines),
            sku=lines[0]["sku"] if len(lines) == 1 else None,
            reference=shipment["shipment_id"],
        )
        webhook_outbox.enqueue(
            tx.conn,
            stream=order_id,
            event_type="shipment.dispatched",
            order_id=order_id,
            data={"order_id": order_id, "request_id": doc["request_id"], **shipment},
            at=tx.now,
        )
    doc["status"] = "dispatched" if parcels else "rejected"
    doc["dispatched_at"] = int(tx.now)


def receipt_key(order_id: str, return_id: str) -> str:
    return f"return-receipt:{order_id}:{return_id}"


def plan_receipt(conn: sqlite3.Connection, order_id: str, return_id: str, lines: list[dict[str, Any]]) -> None:
    """What the warehouse will find in the parcel of this return, instead of what was announced."""
    kv_set(conn, receipt_key(order_id, return_id), dumps(lines))


def _receive(tx: Tx, doc: dict[str, Any]) -> None:
    planned = kv_get(tx.conn, receipt_key(doc["order_id"], doc["return_id"]))
    if planned is not None:
        doc["lines"] = loads(planned)
    else:
        for line in doc["lines"]:
            line["condition"] = "damaged" if line["sku"].startswith("DAMAGED-") else "resellable"
    doc["status"] = "received"
    tx.ledger("fulfillment.return_received", order_id=doc["order_id"], reference=doc["return_id"])
    webhook_outbox.enqueue(
        tx.conn,
        stream=doc["order_id"],
        event_type="return.received",
        order_id=doc["order_id"],
        data={"order_id": doc["order_id"], "return_id": doc["return_id"], "lines": doc["lines"]},
        at=tx.now,
    )


def process_due(runtime: Runtime) -> int:
    """Work every due request, each in its own transaction.

    A request whose work fails is logged and put back by ``RETRY_FAILED_WORK_S`` so it cannot stall
    the requests behind it (the loop would otherwise pick the same oldest row forever).
    """
    done = 0
    for table, worker in (("shipment_requests", _dispatch), ("return_requests", _receive)):
        held_clause = " AND held = 0" if table == "shipment_requests" else ""
        while True:
            request_id: str | None = None
            try:
                with runtime.db.transaction() as conn:
                    row = conn.execute(
                        f"SELECT request_id, correlation_id, doc FROM {table}"
                        f" WHERE status = 'accepted'{held_clause}"
                        " AND due_at <= ? ORDER BY due_at, seq LIMIT 1",
                        (now(),),
                    ).fetchone()
                    if row is None:
                        break
                    request_id = row["request_id"]
                    tx = Tx(conn, VENDOR, now(), runtime.settings, None, row["correlation_id"])
                    doc = loads(row["doc"])
                    worker(tx, doc)
                    conn.execute(
                        f"UPDATE {table} SET status = ?, due_at = NULL, doc = ? WHERE request_id = ?",
                        (doc["status"], dumps(doc), request_id),
                    )
                done += 1
            except Exception:
                if request_id is None:
                    raise
                log.exception("working %s %s failed; retrying later", table, request_id)
                with runtime.db.transaction() as conn:
                    conn.execute(
                        f"UPDATE {table} SET due_at = ? WHERE request_id = ?",
                        (now() + RETRY_FAILED_WORK_S, request_id),
                    )
    return done
