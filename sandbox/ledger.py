"""Append-only journal of every effect; tests and chaos runs check invariants against it."""

from __future__ import annotations

import sqlite3
from typing import Any

from .db import where
from .util import iso

FIELDS = (
    "seq",
    "at",
    "vendor",
    "action",
    "order_id",
    "amount",
    "points",
    "quantity",
    "sku",
    "reference",
    "idempotency_key",
    "correlation_id",
)


def append(
    conn: sqlite3.Connection,
    *,
    at: float,
    vendor: str,
    action: str,
    order_id: str | None = None,
    amount: int | None = None,
    points: int | None = None,
    quantity: int | None = None,
    sku: str | None = None,
    reference: str | None = None,
    idempotency_key: str | None = None,
    correlation_id: str | None = None,
) -> int:
    cur = conn.execute(
        "INSERT INTO ledger(at, vendor, action, order_id, amount, points, quantity, sku, reference,"
        " idempotency_key, correlation_id) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        (
            iso(at),
            vendor,
            action,
            order_id,
            amount,
            points,
            quantity,
            sku,
            reference,
            idempotency_key,
            correlation_id,
        ),
    )
    return int(cur.lastrowid or 0)


def query(
    conn: sqlite3.Connection,
    *,
    order_id: str | None = None,
    vendor: str | None = None,
    action: str | None = None,
    after_seq: int | None = None,
) -> list[dict[str, Any]]:
    clause, params = where({"order_id": order_id, "vendor": vendor, "action": action})
    if after_seq is not None:
        clause += (" AND" if clause else " WHERE") + " seq > ?"
        params.append(after_seq)
    rows = conn.execute(f"SELECT {', '.join(FIELDS)} FROM ledger{clause} ORDER BY seq", params)
    return [dict(row) for row in rows]
