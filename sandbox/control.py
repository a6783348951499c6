"""Control surface (`/_sandbox`) for tests, the demo and chaos runs. Never subject to faults."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends
from pydantic import Field

from sandbox.bodies import Body

from . import faults, ledger, webhook_outbox
from .context import Runtime, get_runtime
from .db import RESETTABLE_TABLES, kv_set
from .erp import POSTING_WINDOW_KEY
from .errors import not_found
from .fulfillment import plan_receipt, release_held
from .inventory import NODES, set_stock
from .loyalty import ensure_member, member_view
from .marketing import SECRET_KEY

router = APIRouter(prefix="/_sandbox", tags=["control"])
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


class PostingWindow(Body):
    open: bool


class MemberSetup(Body):
    available_points: int = Field(ge=0)
    tier: str = "base"
    lifetime_points: int | None = Field(default=None, ge=0)
    """Tier-qualifying points earned so far (unchanged when omitted), e.g. to sit just below a threshold."""


class StockSetup(Body):
    node: Literal["DC-1", "DC-2"] = "DC-1"
    quantity: int = Field(ge=0)


class FulfillmentRelease(Body):
    order_id: str = Field(min_length=1)


class ReceivedLine(Body):
    sku: str = Field(min_length=1)
    quantity: int = Field(ge=1)
    condition: Literal["resellable", "damaged"]


class ReturnReceipt(Body):
    lines: list[ReceivedLine]
    """What the warehouse finds in the parcel: fewer units than announced, other conditions, or none."""


class MarketingSecret(Body):
    secret: str = Field(pattern=r"^whsec_.+")


@router.get("/healthz")
async def healthz() -> dict[str, bool]:
    return {"ok": True}


@router.put("/faults/{vendor}")
async def put_faults(runtime: RuntimeDep, vendor: str, body: faults.FaultConfig) -> dict[str, object]:
    if vendor not in faults.VENDORS:
        raise not_found("vendor", vendor)
    with runtime.db.transaction() as conn:
        faults.set_config(conn, vendor, body)
    return {"vendor": vendor, **body.model_dump()}


@router.get("/faults")
async def get_faults(runtime: RuntimeDep) -> dict[str, object]:
    with runtime.db.transaction() as conn:
        return faults.snapshot(conn)


@router.delete("/faults")
async def delete_faults(runtime: RuntimeDep) -> dict[str, object]:
    with runtime.db.transaction() as conn:
        faults.clear(conn)
        return faults.snapshot(conn)


@router.put("/erp/posting-window")
async def put_posting_window(runtime: RuntimeDep, body: PostingWindow) -> dict[str, bool]:
    with runtime.db.transaction() as conn:
        kv_set(conn, POSTING_WINDOW_KEY, "true" if body.open else "false")
    return {"open": body.open}


@router.put("/members/{member_id}")
async def put_member(runtime: RuntimeDep, member_id: str, body: MemberSetup) -> dict[str, object]:
    with runtime.db.transaction() as conn:
        ensure_member(conn, member_id)
        conn.execute(
            "UPDATE members SET available = ?, tier = ?, lifetime = COALESCE(?, lifetime) WHERE member_id = ?",
            (body.available_points, body.tier, body.lifetime_points, member_id),
        )
        return member_view(ensure_member(conn, member_id))


@router.put("/stock/{sku}")
async def put_stock(runtime: RuntimeDep, sku: str, body: StockSetup) -> dict[str, object]:
    with runtime.db.transaction() as conn:
        set_stock(conn, sku, body.node, body.quantity)
    return {"sku": sku, "node": body.node, "quantity": body.quantity, "nodes": list(NODES)}


@router.post("/fulfillment/release")
async def post_fulfillment_release(runtime: RuntimeDep, body: FulfillmentRelease) -> dict[str, object]:
    with runtime.db.transaction() as conn:
        released = release_held(conn, body.order_id)
    return {"order_id": body.order_id, "released": released}


@router.put("/fulfillment/returns/{order_id}/{return_id}/receipt")
async def put_return_receipt(runtime: RuntimeDep, order_id: str, return_id: str,
                             body: ReturnReceipt) -> dict[str, object]:
    with runtime.db.transaction() as conn:
        plan_receipt(conn, order_id, return_id, [line.model_dump() for line in body.lines])
    return {"order_id": order_id, "return_id": return_id, "lines": [line.model_dump() for line in body.lines]}


@router.put("/marketing/secret")
async def put_marketing_secret(runtime: RuntimeDep, body: MarketingSecret) -> dict[str, bool]:
    with runtime.db.transaction() as conn:
        kv_set(conn, SECRET_KEY, body.secret)
    return {"ok": True}


@router.get("/ledger")
async def get_ledger(
    runtime: RuntimeDep,
    order_id: str | None = None,
    vendor: str | None = None,
    action: str | None = None,
    after_seq: int | None = None,
) -> dict[str, object]:
    with runtime.db.transaction() as conn:
        entries = ledger.query(conn, order_id=order_id, vendor=vendor, action=action, after_seq=after_seq)
    return {"entries": entries}


@router.get("/webhooks")
async def get_webhooks(runtime: RuntimeDep, order_id: str | None = None) -> dict[str, object]:
    with runtime.db.transaction() as conn:
        return {"data": webhook_outbox.list_outbox(conn, order_id)}


@router.post("/reset")
async def reset(runtime: RuntimeDep) -> dict[str, bool]:
    with runtime.db.transaction() as conn:
        for table in RESETTABLE_TABLES:
            conn.execute(f"DELETE FROM {table}")
    return {"ok": True}
