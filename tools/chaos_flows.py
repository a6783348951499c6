"""What the client does with an order of each scenario (tools/chaos_scenarios.py), from placing it to a
settled end: the commerce platform's calls, the warehouse's and the node's part where the scenario plays
them, support's answers (through the order's support plan) and an operator's Temporal-level cancel."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import Any

from tools.chaos_model import PlacedOrder, ReturnPlan
from tools.chaos_orders import Steering, View

Flow = Callable[["Driver", PlacedOrder, float], Awaitable[None]]
OPERATOR_CANCEL_NOTE = "cancel requested after dispatch"


class Driver:
    """One order's flow, with the steering and a seeded random source for the choices made while steering
    (which lines to return, how long to wait before racing a cancel). Concurrent orders draw from it in
    the order they get there, so these choices repeat with the seed only as far as the timing does; the
    orders themselves (tools/chaos_scenarios.py) always do."""

    def __init__(self, steering: Steering, rng: random.Random) -> None:
        self.s = steering
        self.rng = rng

    async def run(self, placed: PlacedOrder, deadline: float) -> None:
        await FLOWS.get(placed.scenario, _plain)(self, placed, deadline)

    async def accepted(self, placed: PlacedOrder, deadline: float) -> bool:
        """Place the order; False (after reading where it ended) unless it was accepted."""
        if await self.s.place(placed, deadline) == "accepted":
            return True
        await self.s.settle(placed, deadline)
        return False

    async def held_until_expired(self, placed: PlacedOrder, deadline: float) -> None:
        """A HOLD- order whose card authorization lapses before the node may dispatch it."""
        await self.s.wait_ledger(placed.order_id, "fulfillment.request", deadline)
        if not await self.s.wait_expired(placed.order_id, deadline):
            placed.problems.append("the authorization never expired at the gateway")
        await self.s.release_hold(placed.order_id)

    async def returned(self, placed: PlacedOrder, plan: ReturnPlan, deadline: float) -> None:
        await self.s.request_return(placed, plan, deadline)
        if plan.accepted:
            await self.s.follow_return(placed, plan, deadline)

    def some_lines(self, shipped: dict[str, int]) -> list[dict[str, Any]]:
        chosen = self.rng.sample(sorted(shipped), self.rng.randint(1, len(shipped)))
        return [{"sku": sku, "quantity": shipped[sku]} for sku in sorted(chosen)]


def _shipped(view: View | None) -> dict[str, int]:
    shipped: dict[str, int] = {}
    for shipment in (view or {}).get("shipments", []):
        for line in shipment["lines"]:
            shipped[line["sku"]] = shipped.get(line["sku"], 0) + line["quantity"]
    return shipped


async def _completed(d: Driver, placed: PlacedOrder, deadline: float) -> dict[str, int]:
    """Place and settle; the units shipped per SKU if it completed, else nothing."""
    if not await d.accepted(placed, deadline):
        return {}
    view = await d.s.settle(placed, deadline)
    return _shipped(view) if placed.status == "completed" else {}


# ---- orders that only need placing (and a cancel) ---------------------------------------------------


async def _plain(d: Driver, placed: PlacedOrder, deadline: float) -> None:
    if await d.accepted(placed, deadline):
        await d.s.settle(placed, deadline)


async def _insufficient_points(d: Driver, placed: PlacedOrder, deadline: float) -> None:
    member = placed.body["customer"]["loyalty_member_id"]
    await d.s.client.sandbox_json(
        "PUT",
        f"/_sandbox/members/{member}",
        json={"available_points": placed.body["points_to_redeem"] - 1, "tier": "base"},
    )
    await _plain(d, placed, deadline)


async def _cancel(d: Driver, placed: PlacedOrder, deadline: float) -> None:
    if not await d.accepted(placed, deadline):
        return
    if placed.scenario == "cancel-race":
        await asyncio.sleep(d.rng.uniform(0, 1.0))  # around the node's dispatch delay
    if not await d.s.cancel(placed, deadline) and placed.scenario == "cancel":
        placed.notes.append("cancel refused")
    await d.s.settle(placed, deadline)


# ---- returns ---------------------------------------------------------------------------------------


async def _return(d: Driver, placed: PlacedOrder, deadline: float) -> None:
    shipped = await _completed(d, placed, deadline)
    if shipped:
        await d.returned(placed, ReturnPlan("R1", d.some_lines(shipped)), deadline)


async def _return_naming_a_sku_twice(d: Driver, placed: PlacedOrder, deadline: float) -> None:
    """Refused with 422 and nothing changes; a valid return of the same goods follows. The SKU named twice,
    with all its units each time, is one that shipped alone: counted twice it would refund more than its
    own capture, yet less than the order's, which is all the gateway checks (issue 9)."""
    shipped = await _completed(d, placed, deadline)
    if not shipped:
        return
    sku = min((s for s in shipped if s.startswith("SPLIT-")), default=min(shipped))
    twice = ReturnPlan("R0", [{"sku": sku, "quantity": shipped[sku]} for _ in range(2)], must_refuse=True)
    await d.returned(placed, twice, deadline)  # followed to its end should it be taken after all
    await d.returned(placed, ReturnPlan("R1", d.some_lines(shipped)), deadline)


async def _damaged_return(d: Driver, placed: PlacedOrder, deadline: float) -> None:
    """Everything back; the DAMAGED- units wait for support, who refunds, refuses or leaves them."""
    shipped = await _completed(d, placed, deadline)
    if shipped:
        decision = None if placed.scenario == "damaged-undecided" else d.rng.choice(["refund", "refuse"])
        lines = [{"sku": sku, "quantity": n} for sku, n in sorted(shipped.items())]
        await d.returned(placed, ReturnPlan("R1", lines, decision=decision), deadline)


async def _mixed_receipt(d: Driver, placed: PlacedOrder, deadline: float) -> None:
    """The warehouse finds other than announced: one SKU's units in both conditions and one missing,
    another line short, and a unit that was never asked for."""
    shipped = await _completed(d, placed, deadline)
    if not shipped:
        return
    mixed = max(shipped, key=lambda sku: (shipped[sku], sku))
    others = sorted(sku for sku in shipped if sku != mixed)
    asked = [mixed, *others[:1]]
    receipt = [
        {"sku": mixed, "quantity": 1, "condition": "resellable"},
        {"sku": mixed, "quantity": 1, "condition": "damaged"},
    ]
    receipt += [
        {"sku": sku, "quantity": max(shipped[sku] - 1, 1), "condition": "resellable"} for sku in others
    ]
    lines = [{"sku": sku, "quantity": shipped[sku]} for sku in asked]
    plan = ReturnPlan("R1", lines, decision=d.rng.choice(["refund", "refuse"]), receipt=receipt)
    await d.returned(placed, plan, deadline)


# ---- the node misbehaving --------------------------------------------------------------------------


async def _duplicate_dispatch(d: Driver, placed: PlacedOrder, deadline: float) -> None:
    """The node sends a shipment it already reported again, same lines, under a new webhook id."""
    if not await d.accepted(placed, deadline):
        return
    shipments = await d.s.node_shipments(placed.order_id, deadline)
    if shipments:
        await asyncio.sleep(d.rng.uniform(0, 1.5))  # before, while or after o2c settles the first one
        await d.s.dispatch_as_node(placed, d.rng.choice(shipments), deadline)
    await d.s.settle(placed, deadline)


async def _dispatch_races_cancel(d: Driver, placed: PlacedOrder, deadline: float) -> None:
    """A node that ships a held order anyway while, or after, o2c compensates a cancel: the order must
    park with the goods at risk, never drop the dispatch."""
    if not await d.accepted(placed, deadline):
        return
    await d.s.wait_ledger(placed.order_id, "fulfillment.request", deadline)
    if not await d.s.cancel(placed, deadline):
        placed.problems.append("the cancel of a held order was refused")
    await asyncio.sleep(d.rng.uniform(0, 2.0))
    late = {
        "shipment_id": f"LATE-{placed.order_id}",
        "lines": [{"sku": ln["sku"], "quantity": ln["quantity"]} for ln in placed.body["lines"]],
    }
    if await d.s.dispatch_as_node(placed, late, deadline) == 200:
        placed.node_shipments.append(late)
        if await d.s.wait_view(placed, deadline, lambda v: v["status"] == "needs_attention") is None:
            placed.problems.append("the dispatch after the cancel never parked the order")
    await d.s.settle(placed, deadline)


# ---- authorizations lapsing, support and operators -------------------------------------------------


async def _reauthorize(d: Driver, placed: PlacedOrder, deadline: float) -> None:
    """Dispatch only after the card authorization lapsed: re-authorized (tok_expiring), or declined
    (tok_reauth_decline) and parked, then resolved by the order's support plan."""
    if await d.accepted(placed, deadline):
        await d.held_until_expired(placed, deadline)
        await d.s.settle(placed, deadline)


async def _temporal_cancel_before_dispatch(d: Driver, placed: PlacedOrder, deadline: float) -> None:
    if not await d.accepted(placed, deadline):
        return
    await d.s.wait_ledger(placed.order_id, "fulfillment.request", deadline)
    if not await d.s.client.cancel_workflow(f"order-{placed.order_id}", deadline):
        placed.problems.append("Temporal did not take the cancel request")
    await d.s.settle(placed, deadline)


async def _temporal_cancel_after_dispatch(d: Driver, placed: PlacedOrder, deadline: float) -> None:
    """Cancel from Temporal once goods left: while the order is parked (noted on the park), or as soon as
    it knows of a shipment (it parks for the cancel, or notes it on a park that comes first)."""
    if not await d.accepted(placed, deadline):
        return
    await d.held_until_expired(placed, deadline)
    while_parked = d.rng.random() < 0.5
    placed.notes.append("Temporal cancel " + ("while parked" if while_parked else "on dispatch"))
    if while_parked:
        await d.s.wait_view(placed, deadline, lambda v: v["status"] == "needs_attention")
    else:
        await d.s.wait_view(placed, deadline, lambda v: bool(v["shipments"]))
    if not await d.s.client.cancel_workflow(f"order-{placed.order_id}", deadline):
        placed.problems.append("Temporal did not take the cancel request")
    elif (
        while_parked
        and await d.s.wait_view(
            placed, deadline, lambda v: OPERATOR_CANCEL_NOTE in (v["status_reason"] or "")
        )
        is None
    ):
        placed.problems.append("the Temporal cancel never showed on the parked order")
    await d.s.settle(placed, deadline)


FLOWS: dict[str, Flow] = {
    "insufficient-points": _insufficient_points,
    "cancel": _cancel,
    "cancel-race": _cancel,
    "return": _return,
    "split-return": _return,
    "points-only": _return,
    "dup-sku-return": _return_naming_a_sku_twice,
    "damaged-return": _damaged_return,
    "damaged-undecided": _damaged_return,
    "mixed-receipt": _mixed_receipt,
    "duplicate-dispatch": _duplicate_dispatch,
    "dispatch-races-cancel": _dispatch_races_cancel,
    "reauth-expired": _reauthorize,
    "reauth-decline-retry": _reauthorize,
    "reauth-decline-resolve": _reauthorize,
    "reauth-decline-close": _reauthorize,
    "temporal-cancel-before": _temporal_cancel_before_dispatch,
    "temporal-cancel-after": _temporal_cancel_after_dispatch,
}
