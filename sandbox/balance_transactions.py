"""Payment gateway balance transactions (`GET /payments/balance_transactions`), Stripe's shape.

One transaction per capture (`type: charge`, positive) and per refund (`type: refund`, negative),
derived from the intents and refunds the gateway already holds, so they can never disagree with them.
Newest first; `created[gte]`/`created[lt]` (unix seconds), `type`, `order_id`; paging by `limit`
(default 10, at most 100) and `starting_after`, answering `has_more`. Beyond Stripe, each transaction
names its `payment_intent` and carries `metadata.order_id` and `metadata.reference`.
"""

from __future__ import annotations

import sqlite3
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse

from .context import CallContext, Result, Tx, vendor_call
from .errors import not_found
from .util import loads

router = APIRouter(prefix="/payments", tags=["payments"])
Ctx = Annotated[CallContext, Depends(vendor_call("payments"))]


def _txn(
    kind: str, source: dict[str, Any], amount: int, currency: str, pi_id: str, order_id: Any, reference: Any
) -> dict[str, Any]:
    return {
        "id": f"txn_{source['id']}",
        "object": "balance_transaction",
        "amount": amount,
        "currency": currency,
        "created": source["created"],
        "fee": 0,
        "net": amount,
        "reporting_category": kind,
        "source": source["id"],
        "status": "available",
        "type": kind,
        "payment_intent": pi_id,
        "metadata": {
            "order_id": None if order_id is None else str(order_id),
            "reference": None if reference is None else str(reference),
        },
    }


def balance_transactions(conn: sqlite3.Connection, order_id: str | None) -> list[dict[str, Any]]:
    sql = "SELECT doc FROM payment_intents" + (" WHERE order_id = ?" if order_id else "")
    intents = {
        pi["id"]: pi for pi in (loads(r["doc"]) for r in conn.execute(sql, (order_id,) if order_id else ()))
    }
    txns = [
        _txn(
            "charge",
            cap,
            cap["amount"],
            pi["currency"],
            pi["id"],
            pi["metadata"].get("order_id"),
            cap["reference"],
        )
        for pi in intents.values()
        for cap in pi["captures"]
    ]
    for row in conn.execute("SELECT doc FROM refunds"):
        refund = loads(row["doc"])
        pi = intents.get(refund["payment_intent"])
        if pi is None:
            continue  # another order's
        owner = refund["metadata"].get("order_id") or pi["metadata"].get("order_id")
        if order_id and owner != order_id:
            continue
        txns.append(
            _txn(
                "refund",
                refund,
                -refund["amount"],
                refund["currency"],
                pi["id"],
                owner,
                refund["metadata"].get("reference") or refund["id"],
            )
        )
    txns.sort(key=lambda t: (t["created"], t["id"]), reverse=True)
    return txns


@router.get("/balance_transactions")
async def list_balance_transactions(
    ctx: Ctx,
    created_gte: Annotated[int | None, Query(alias="created[gte]")] = None,
    created_lt: Annotated[int | None, Query(alias="created[lt]")] = None,
    type: Literal["charge", "refund"] | None = None,
    order_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
    starting_after: str | None = None,
) -> JSONResponse:
    def effect(tx: Tx) -> Result:
        txns = [
            t
            for t in balance_transactions(tx.conn, order_id)
            if (created_gte is None or t["created"] >= created_gte)
            and (created_lt is None or t["created"] < created_lt)
            and (type is None or t["type"] == type)
        ]
        if starting_after is not None:
            ids = [t["id"] for t in txns]
            if starting_after not in ids:
                raise not_found("balance_transaction", starting_after)
            txns = txns[ids.index(starting_after) + 1 :]
        return Result(
            {
                "object": "list",
                "url": "/payments/balance_transactions",
                "data": txns[:limit],
                "has_more": len(txns) > limit,
            }
        )

    return ctx.run(effect)
