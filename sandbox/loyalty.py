"""Loyalty engine (`/loyalty`), modelled on a points engine such as Open Loyalty.

Members hold available and blocked points; a block reserves points for one order reference and is
later spent (payment succeeded) or released (order failed or cancelled). The engine computes earned
points from money, as real engines do: the caller sends the amount paid and the member earns at the
multiplier of their tier; lifetime points climb a tier ladder, and a take-back (refund) may move the
member down again.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from pydantic import Field

from sandbox.bodies import Body

from .context import CallContext, Result, Tx, vendor_call
from .db import where
from .errors import business, not_found
from .util import new_id

VENDOR = "loyalty"
STARTING_POINTS = 10_000


@dataclass(frozen=True)
class Tier:
    name: str
    threshold: int
    """Lifetime points from which a member holds the tier."""
    multiplier_tenths: int
    """Points per whole currency unit, in tenths (15 = x1.5), so earning stays integer arithmetic."""

    @property
    def multiplier(self) -> float:
        return self.multiplier_tenths / 10


TIER_LADDER: tuple[Tier, ...] = (Tier("base", 0, 10), Tier("silver", 10_000, 15), Tier("gold", 50_000, 20))
_TIERS = {tier.name: tier for tier in TIER_LADDER}

router = APIRouter(prefix="/loyalty", tags=["loyalty"])
call = vendor_call(VENDOR)
# Annotated, so FastAPI injects it without a call in a default argument.
Ctx = Annotated[CallContext, Depends(call)]


class BlockCreate(Body):
    points: int = Field(gt=0)
    reference: str = Field(min_length=1)
    order_id: str = Field(min_length=1)


class SpendBody(Body):
    points: int = Field(gt=0)


class ReleaseBody(Body):
    points: int | None = Field(default=None, gt=0)


class PointsMovement(Body):
    points: int = Field(gt=0)
    reference: str = Field(min_length=1)
    order_id: str = Field(min_length=1)


class EarnBody(Body):
    amount: int = Field(ge=0)
    """Money paid, in minor units; the engine turns it into points."""
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    reference: str = Field(min_length=1)
    order_id: str = Field(min_length=1)


def ensure_member(conn: sqlite3.Connection, member_id: str) -> sqlite3.Row:
    conn.execute(
        "INSERT OR IGNORE INTO members(member_id, available, blocked, lifetime, tier)"
        " VALUES (?,?,0,0,'base')",
        (member_id, STARTING_POINTS),
    )
    row: sqlite3.Row = conn.execute("SELECT * FROM members WHERE member_id = ?", (member_id,)).fetchone()
    return row


def member_view(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "member_id": row["member_id"],
        "available_points": row["available"],
        "blocked_points": row["blocked"],
        "tier": row["tier"],
        "lifetime_points": row["lifetime"],
    }


def block_view(row: sqlite3.Row) -> dict[str, Any]:
    open_points = row["points"] - row["spent"] - row["released"]
    return {
        "block_id": row["block_id"],
        "member_id": row["member_id"],
        "reference": row["reference"],
        "order_id": row["order_id"],
        "points": row["points"],
        "spent": row["spent"],
        "released": row["released"],
        "status": "active" if open_points > 0 else "closed",
    }


def _block(conn: sqlite3.Connection, block_id: str) -> sqlite3.Row:
    row: sqlite3.Row | None = conn.execute("SELECT * FROM blocks WHERE block_id = ?", (block_id,)).fetchone()
    if row is None:
        raise not_found("block", block_id)
    return row


def _ladder_tier(lifetime: int) -> Tier:
    return [tier for tier in TIER_LADDER if lifetime >= tier.threshold][-1]


def _tier_after_earning(current: str, lifetime: int) -> str:
    """Earning only raises a tier; a tier set through /_sandbox outside the ladder is left alone."""
    if current not in _TIERS:
        return current
    reached = _ladder_tier(lifetime)
    return reached.name if reached.threshold > _TIERS[current].threshold else current


def _tier_after_take_back(current: str, lifetime: int) -> str:
    """A take-back re-evaluates the tier from the ladder, so it may move down."""
    return current if current not in _TIERS else _ladder_tier(lifetime).name


def points_for(amount: int, tier: str) -> int:
    """One point per whole currency unit at x1.0, rounded down; unknown tiers earn at x1.0."""
    multiplier_tenths = _TIERS[tier].multiplier_tenths if tier in _TIERS else 10
    return amount * multiplier_tenths // 1000


@router.get("/tiers")
async def get_tiers(ctx: Ctx) -> JSONResponse:
    return ctx.run(lambda tx: Result({"tiers": [
        {"name": t.name, "threshold": t.threshold, "multiplier": t.multiplier} for t in TIER_LADDER
    ]}))


@router.get("/members/{member_id}")
async def get_member(ctx: Ctx, member_id: str) -> JSONResponse:
    return ctx.run(lambda tx: Result(member_view(ensure_member(tx.conn, member_id))))


@router.post("/members/{member_id}/blocks", status_code=201)
async def create_block(ctx: Ctx, member_id: str, body: BlockCreate) -> JSONResponse:
    def effect(tx: Tx) -> Result:
        member = ensure_member(tx.conn, member_id)
        existing = tx.conn.execute(
            "SELECT block_id FROM blocks WHERE reference = ?", (body.reference,)
        ).fetchone()
        if existing is not None:
            # References identify one reservation of points; a second block would double-reserve.
            raise business(
                "duplicate_reference",
                f"A block with reference '{body.reference}' already exists",
                block_id=existing["block_id"],
            )
        if member["available"] < body.points:
            raise business(
                "insufficient_points",
                f"Member {member_id} has {member['available']} points available, {body.points} requested",
                available_points=member["available"],
            )
        block_id = new_id("blk")
        tx.conn.execute(
            "UPDATE members SET available = available - ?, blocked = blocked + ? WHERE member_id = ?",
            (body.points, body.points, member_id),
        )
        tx.conn.execute(
            "INSERT INTO blocks(block_id, member_id, reference, order_id, points, spent, released,"
            " created_at)"
            " VALUES (?,?,?,?,?,0,0,?)",
            (block_id, member_id, body.reference, body.order_id, body.points, tx.now),
        )
        tx.ledger("points.block", order_id=body.order_id, points=body.points, reference=body.reference)
        return Result(block_view(_block(tx.conn, block_id)), 201)

    return ctx.run(effect)


@router.get("/blocks")
async def list_blocks(ctx: Ctx, reference: str | None = None, order_id: str | None = None) -> JSONResponse:
    def effect(tx: Tx) -> Result:
        clause, params = where({"reference": reference, "order_id": order_id})
        rows = tx.conn.execute(
            f"SELECT * FROM blocks{clause} ORDER BY created_at, block_id", params
        ).fetchall()
        return Result({"data": [block_view(r) for r in rows]})

    return ctx.run(effect)


@router.get("/blocks/{block_id}")
async def get_block(ctx: Ctx, block_id: str) -> JSONResponse:
    return ctx.run(lambda tx: Result(block_view(_block(tx.conn, block_id))))


@router.post("/blocks/{block_id}/spend")
async def spend_block(ctx: Ctx, block_id: str, body: SpendBody) -> JSONResponse:
    def effect(tx: Tx) -> Result:
        block = _block(tx.conn, block_id)
        open_points = block["points"] - block["spent"] - block["released"]
        if body.points > open_points:
            raise business(
                "block_exhausted",
                f"Block {block_id} has {open_points} points open, {body.points} requested",
                open_points=open_points,
            )
        tx.conn.execute("UPDATE blocks SET spent = spent + ? WHERE block_id = ?", (body.points, block_id))
        tx.conn.execute(
            "UPDATE members SET blocked = blocked - ? WHERE member_id = ?", (body.points, block["member_id"])
        )
        tx.ledger(
            "points.spend", order_id=block["order_id"], points=body.points, reference=block["reference"]
        )
        return Result(block_view(_block(tx.conn, block_id)))

    return ctx.run(effect)


@router.post("/blocks/{block_id}/release")
async def release_block(ctx: Ctx, block_id: str, body: ReleaseBody | None = None) -> JSONResponse:
    def effect(tx: Tx) -> Result:
        block = _block(tx.conn, block_id)
        open_points = block["points"] - block["spent"] - block["released"]
        wanted = body.points if body is not None and body.points is not None else open_points
        if wanted > open_points:
            raise business(
                "block_exhausted",
                f"Block {block_id} has {open_points} points open, {wanted} requested",
                open_points=open_points,
            )
        if wanted > 0:
            tx.conn.execute(
                "UPDATE blocks SET released = released + ? WHERE block_id = ?", (wanted, block_id)
            )
            tx.conn.execute(
                "UPDATE members SET blocked = blocked - ?, available = available + ? WHERE member_id = ?",
                (wanted, wanted, block["member_id"]),
            )
            tx.ledger(
                "points.release", order_id=block["order_id"], points=wanted, reference=block["reference"]
            )
        return Result(block_view(_block(tx.conn, block_id)))

    return ctx.run(effect)


@router.post("/members/{member_id}/earn")
async def earn(ctx: Ctx, member_id: str, body: EarnBody) -> JSONResponse:
    def effect(tx: Tx) -> Result:
        member = ensure_member(tx.conn, member_id)
        before = member["tier"]
        # The rate is that of the tier the member holds when the purchase is credited.
        points = points_for(body.amount, before)
        lifetime = member["lifetime"] + points
        after = _tier_after_earning(before, lifetime)
        tx.conn.execute(
            "UPDATE members SET available = available + ?, lifetime = ?, tier = ? WHERE member_id = ?",
            (points, lifetime, after, member_id),
        )
        if points > 0:
            tx.ledger(
                "points.earn", order_id=body.order_id, amount=body.amount, points=points, reference=body.reference
            )
        return Result(_outcome(tx.conn, member_id, "points_earned", points, before))

    return ctx.run(effect)


@router.post("/members/{member_id}/take-back")
async def take_back(ctx: Ctx, member_id: str, body: PointsMovement) -> JSONResponse:
    def effect(tx: Tx) -> Result:
        member = ensure_member(tx.conn, member_id)
        before = member["tier"]
        lifetime = max(0, member["lifetime"] - body.points)
        after = _tier_after_take_back(before, lifetime)
        # The balance may go negative: the earned points may already be spent, and a clawback must
        # not block the return.
        tx.conn.execute(
            "UPDATE members SET available = available - ?, lifetime = ?, tier = ? WHERE member_id = ?",
            (body.points, lifetime, after, member_id),
        )
        tx.ledger("points.take_back", order_id=body.order_id, points=body.points, reference=body.reference)
        return Result(_outcome(tx.conn, member_id, "points_taken_back", body.points, before))

    return ctx.run(effect)


@router.post("/members/{member_id}/give-back")
async def give_back(ctx: Ctx, member_id: str, body: PointsMovement) -> JSONResponse:
    """Returns redeemed points: back to available, not counted towards the tier."""

    def effect(tx: Tx) -> Result:
        ensure_member(tx.conn, member_id)
        tx.conn.execute(
            "UPDATE members SET available = available + ? WHERE member_id = ?", (body.points, member_id)
        )
        tx.ledger("points.give_back", order_id=body.order_id, points=body.points, reference=body.reference)
        return Result(member_view(ensure_member(tx.conn, member_id)))

    return ctx.run(effect)


def _outcome(
    conn: sqlite3.Connection, member_id: str, points_key: str, points: int, tier_before: str
) -> dict[str, Any]:
    member = ensure_member(conn, member_id)
    return {
        "member_id": member_id,
        points_key: points,
        "tier_before": tier_before,
        "tier_after": member["tier"],
        "available_points": member["available"],
        "lifetime_points": member["lifetime"],
    }
