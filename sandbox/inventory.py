"""Inventory / warehouse system (`/inventory`): stock per SKU per node, reservations with lines.

Stock rows are created lazily: a SKU nobody has touched has its default level, so tests can use any
SKU name without setting it up first.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from pydantic import Field

from sandbox.bodies import Body, Line

from .context import CallContext, Result, Tx, vendor_call
from .db import where
from .errors import business, not_found
from .util import dumps, loads, new_id

VENDOR = "inventory"
NODES: tuple[str, ...] = ("DC-1", "DC-2")
DEFAULT_NODE_STOCK = 1_000_000
Node = Literal["DC-1", "DC-2"]

router = APIRouter(prefix="/inventory", tags=["inventory"])
call = vendor_call(VENDOR)
# Annotated, so FastAPI injects it without a call in a default argument.
Ctx = Annotated[CallContext, Depends(call)]


class ReservationCreate(Body):
    reference: str = Field(min_length=1)
    order_id: str = Field(min_length=1)
    lines: list[Line] = Field(min_length=1)


class LinesBody(Body):
    lines: list[Line] | None = None


class CommitBody(Body):
    lines: list[Line] = Field(min_length=1)


class RestockBody(Body):
    reference: str = Field(min_length=1)
    order_id: str = Field(min_length=1)
    node: Node
    lines: list[Line] = Field(min_length=1)


def stock_level(conn: sqlite3.Connection, sku: str, node: str) -> int:
    row = conn.execute("SELECT quantity FROM stock WHERE sku = ? AND node = ?", (sku, node)).fetchone()
    if row is not None:
        return int(row["quantity"])
    if sku.startswith("OOS-") or node != NODES[0]:
        return 0
    return DEFAULT_NODE_STOCK


def set_stock(conn: sqlite3.Connection, sku: str, node: str, quantity: int) -> None:
    conn.execute(
        "INSERT INTO stock(sku, node, quantity) VALUES (?,?,?) "
        "ON CONFLICT(sku, node) DO UPDATE SET quantity = excluded.quantity",
        (sku, node, quantity),
    )


def _adjust(conn: sqlite3.Connection, sku: str, node: str, delta: int) -> None:
    set_stock(conn, sku, node, stock_level(conn, sku, node) + delta)


def _totals(lines: list[Line]) -> dict[str, int]:
    totals: dict[str, int] = defaultdict(int)
    for line in lines:
        totals[line.sku] += line.quantity
    return dict(totals)


def _open(line: dict[str, Any]) -> int:
    return int(line["quantity"] - line["released"] - line["committed"])


def _with_status(doc: dict[str, Any]) -> dict[str, Any]:
    doc["status"] = "reserved" if any(_open(line) > 0 for line in doc["lines"]) else "closed"
    return doc


def _load(conn: sqlite3.Connection, reservation_id: str) -> dict[str, Any]:
    row = conn.execute("SELECT doc FROM reservations WHERE reservation_id = ?", (reservation_id,)).fetchone()
    if row is None:
        raise not_found("reservation", reservation_id)
    doc: dict[str, Any] = loads(row["doc"])
    return doc


def _save(conn: sqlite3.Connection, doc: dict[str, Any]) -> dict[str, Any]:
    _with_status(doc)
    conn.execute(
        "UPDATE reservations SET doc = ? WHERE reservation_id = ?", (dumps(doc), doc["reservation_id"])
    )
    return doc


def _settle(tx: Tx, doc: dict[str, Any], lines: list[Line], field: str) -> None:
    """Move quantities out of the open part of the reservation's lines into ``field``.

    Checked for every line before anything moves, so a partly impossible request changes nothing.
    """
    open_by_sku: dict[str, int] = defaultdict(int)
    for line in doc["lines"]:
        open_by_sku[line["sku"]] += _open(line)
    for sku, wanted in _totals(lines).items():
        if wanted > open_by_sku.get(sku, 0):
            raise business(
                "quantity_exceeds_open",
                f"Reservation {doc['reservation_id']} has {open_by_sku.get(sku, 0)} of {sku} open,"
                f" {wanted} requested",
                sku=sku,
                open_quantity=open_by_sku.get(sku, 0),
            )
    action = "inventory.release" if field == "released" else "inventory.commit"
    for request_line in lines:
        remaining = request_line.quantity
        for line in doc["lines"]:
            if line["sku"] != request_line.sku or remaining == 0:
                continue
            moved = min(remaining, _open(line))
            line[field] += moved
            remaining -= moved
        if field == "released":
            _adjust(tx.conn, request_line.sku, doc["node"], request_line.quantity)
        tx.ledger(
            action,
            order_id=doc["order_id"],
            sku=request_line.sku,
            quantity=request_line.quantity,
            reference=doc["reservation_id"],
        )


@router.post("/reservations", status_code=201)
async def create_reservation(ctx: Ctx, body: ReservationCreate) -> JSONResponse:
    def effect(tx: Tx) -> Result:
        needed = _totals(body.lines)
        node = next(
            (n for n in NODES if all(stock_level(tx.conn, sku, n) >= qty for sku, qty in needed.items())),
            None,
        )
        if node is None:
            unavailable = [
                sku for sku, qty in needed.items() if all(stock_level(tx.conn, sku, n) < qty for n in NODES)
            ] or [sku for sku, qty in needed.items() if stock_level(tx.conn, sku, NODES[0]) < qty]
            raise business("out_of_stock", "No node holds every line of the reservation", skus=unavailable)
        for sku, qty in needed.items():
            _adjust(tx.conn, sku, node, -qty)
        doc = _with_status(
            {
                "reservation_id": new_id("res"),
                "reference": body.reference,
                "order_id": body.order_id,
                "node": node,
                "status": "reserved",
                "lines": [
                    {"sku": line.sku, "quantity": line.quantity, "released": 0, "committed": 0}
                    for line in body.lines
                ],
                "created": int(tx.now),
            }
        )
        tx.conn.execute(
            "INSERT INTO reservations(reservation_id, reference, order_id, doc) VALUES (?,?,?,?)",
            (doc["reservation_id"], body.reference, body.order_id, dumps(doc)),
        )
        tx.ledger("inventory.reserve", order_id=body.order_id, reference=doc["reservation_id"])
        return Result(doc, 201)

    return ctx.run(effect)


@router.get("/reservations")
async def list_reservations(
    ctx: Ctx, reference: str | None = None, order_id: str | None = None
) -> JSONResponse:
    def effect(tx: Tx) -> Result:
        clause, params = where({"reference": reference, "order_id": order_id})
        rows = tx.conn.execute(f"SELECT doc FROM reservations{clause} ORDER BY seq", params).fetchall()
        return Result({"data": [loads(r["doc"]) for r in rows]})

    return ctx.run(effect)


@router.get("/reservations/{reservation_id}")
async def get_reservation(ctx: Ctx, reservation_id: str) -> JSONResponse:
    return ctx.run(lambda tx: Result(_load(tx.conn, reservation_id)))


@router.post("/reservations/{reservation_id}/release")
async def release(ctx: Ctx, reservation_id: str, body: LinesBody | None = None) -> JSONResponse:
    def effect(tx: Tx) -> Result:
        doc = _load(tx.conn, reservation_id)
        lines = body.lines if body is not None and body.lines is not None else None
        if lines is None:
            lines = [Line(sku=line["sku"], quantity=_open(line)) for line in doc["lines"] if _open(line) > 0]
        _settle(tx, doc, lines, "released")
        return Result(_save(tx.conn, doc))

    return ctx.run(effect)


@router.post("/reservations/{reservation_id}/commit")
async def commit(ctx: Ctx, reservation_id: str, body: CommitBody) -> JSONResponse:
    def effect(tx: Tx) -> Result:
        doc = _load(tx.conn, reservation_id)
        # Reserved stock was already taken off the node's level; committing only closes the hold.
        _settle(tx, doc, body.lines, "committed")
        return Result(_save(tx.conn, doc))

    return ctx.run(effect)


@router.post("/restock")
async def restock(ctx: Ctx, body: RestockBody) -> JSONResponse:
    def effect(tx: Tx) -> Result:
        levels = []
        for line in body.lines:
            _adjust(tx.conn, line.sku, body.node, line.quantity)
            tx.ledger(
                "inventory.restock",
                order_id=body.order_id,
                sku=line.sku,
                quantity=line.quantity,
                reference=body.reference,
            )
            levels.append({"sku": line.sku, "quantity": line.quantity})
        return Result(
            {"reference": body.reference, "order_id": body.order_id, "node": body.node, "lines": levels}
        )

    return ctx.run(effect)


@router.get("/stock/{sku}")
async def get_stock(ctx: Ctx, sku: str) -> JSONResponse:
    return ctx.run(lambda tx: Result({"sku": sku, "nodes": {n: stock_level(tx.conn, sku, n) for n in NODES}}))
