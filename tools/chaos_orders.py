"""Steering one order the way the commerce platform, support and the warehouse do, through the chaos
client (tools/chaos_client.py): place it, cancel it, follow it until it settles (answering each park with
support's planned action), return goods and decide on damaged ones. What the client expected and did not
see goes into the order's `problems`, which the oracle reports.

Every GET of an order or a return is a workflow query: they are asked every POLL_S only, so polling is
not what loads the stack.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from tools.chaos_client import COMMERCE, SUPPORT, ChaosClient, problem_type
from tools.chaos_model import TERMINAL, PlacedOrder, ReturnPlan

POLL_S = 2.0
REFUSED_RESOLVES = 10
"""A resolve refused this many times in a row (409) is given up and reported."""
AFTER_DECISION_S = 30.0
"""How long a return may still show needs_attention after support's decision before it counts as parked
again."""
RECEIPT_GRACE_S = 120.0
"""How long a return may still wait for goods the warehouse already received (its receipt is sent within a
second, redelivered within seconds) before the client stops following it."""

View = dict[str, Any]


@dataclass
class _ReturnWatch:
    decided_at: float | None = None
    requested_since: float | None = None


class Steering:
    def __init__(self, client: ChaosClient) -> None:
        self.client = client

    # ---- the commerce platform ---------------------------------------------------------------------

    async def place(self, placed: PlacedOrder, deadline: float) -> str:
        """accepted, rejected, none (no decision before the deadline) or error. A 202 (decision slow) is
        followed with GETs until decided, then the same order is sent again for the answer."""
        headers = {**COMMERCE, "X-Correlation-ID": f"chaos-{placed.order_id}"}

        def final(r: httpx.Response) -> bool:
            return r.status_code != 503 or problem_type(r) == "payment-unavailable"

        while True:
            response = await self.client.call(
                "POST", "/v1/orders", deadline, final=final, headers=headers, json=placed.body
            )
            if response is None or response.status_code != 202 or time.monotonic() >= deadline:
                break
            await self.wait_view(placed, deadline, lambda v: v["status"] != "received")
        return self._decision(placed, response)

    def _decision(self, placed: PlacedOrder, response: httpx.Response | None) -> str:
        if response is None or response.status_code == 202:
            placed.notes.append("no accept decision before the deadline")
            return "none"
        if response.status_code in (200, 201):
            return "accepted"
        kind = problem_type(response)
        if response.status_code in (402, 409, 503) and kind in (
            "payment-declined",
            "insufficient-points",
            "payment-unavailable",
        ):
            return "rejected"
        placed.problems.append(f"POST /v1/orders answered {response.status_code}: {response.text[:300]}")
        return "error"

    async def cancel(self, placed: PlacedOrder, deadline: float) -> bool:
        """True if the cancel was taken (whether or not the order could still be cancelled)."""
        return await self._support_update(placed, "cancel", {}, deadline, "reason", _in_support_actions)

    async def _support_update(
        self,
        placed: PlacedOrder,
        path: str,
        fields: dict[str, str],
        deadline: float,
        note_field: str,
        applied: Callable[[View, str], bool],
    ) -> bool:
        """An update support (or the platform) sends: True once taken. An update is not idempotent, and an
        answer lost to a Temporal restart (503, then 409 on the retry) may hide one that was taken, so a
        refusal is checked against the order's audit trail, where the update's unique note shows."""
        note = f"chaos: {path.replace('/', ' ')} {fields.get('action', '')} {uuid.uuid4().hex[:8]}"
        response = await self.client.post(
            f"/v1/orders/{placed.order_id}/{path}", deadline, SUPPORT, {**fields, note_field: note}
        )
        if response is not None and response.status_code == 202:
            return True
        if response is not None and response.status_code != 409:
            placed.problems.append(f"{path} answered {response.status_code}: {response.text[:300]}")
        view = await self.read(placed, deadline)
        return view is not None and applied(view, note)

    # ---- following the order -----------------------------------------------------------------------

    async def read(self, placed: PlacedOrder, deadline: float) -> View | None:
        view = await self.client.get_json(f"/v1/orders/{placed.order_id}", deadline)
        if view is not None:
            placed.status, placed.status_reason = view["status"], view.get("status_reason")
        return view

    async def wait_view(
        self, placed: PlacedOrder, deadline: float, condition: Callable[[View], bool]
    ) -> View | None:
        while time.monotonic() < deadline:
            await asyncio.sleep(POLL_S)
            view = await self.read(placed, deadline)
            if view is not None and condition(view):
                return view
        return None

    async def settle(self, placed: PlacedOrder, deadline: float) -> View | None:
        """Until the order is terminal, answering each park with support's planned action; a park the plan
        has no answer for is where the order stays (the oracle judges whether its scenario allows it)."""
        refused = 0
        while (
            view := await self.wait_view(
                placed, deadline, lambda v: v["status"] in TERMINAL or v["status"] == "needs_attention"
            )
        ) is not None:
            action = placed.next_support_action()
            if view["status"] in TERMINAL or action is None:
                self._plan_used_up(placed)
                return view
            refused = 0 if await self.resolve(placed, action, deadline) else refused + 1
            if refused >= REFUSED_RESOLVES:
                placed.problems.append(
                    f"{action} refused {refused} times on a parked order: {view['status_reason']}"
                )
                return view
        return None

    def _plan_used_up(self, placed: PlacedOrder) -> None:
        """Each planned answer but the repeated last one stands for a park the scenario must cause."""
        if len(placed.resolutions) < len(placed.support_plan):
            placed.problems.append(
                f"ended {placed.status} after support answered {placed.resolutions}; "
                f"planned {list(placed.support_plan)}"
            )

    async def resolve(self, placed: PlacedOrder, action: str, deadline: float) -> bool:
        """True if support's action was taken. Refused (409): the order is not parked (any more) or a
        resolution is already under way; the caller looks again."""
        taken = await self._support_update(
            placed, "resolve", {"action": action}, deadline, "note", _in_support_actions
        )
        if taken:
            placed.resolutions.append(action)
        return taken

    # ---- the vendors' side -------------------------------------------------------------------------

    async def wait_ledger(self, order_id: str, action: str, deadline: float) -> bool:
        while time.monotonic() < deadline:
            body = await self.client.sandbox_json(
                "GET", "/_sandbox/ledger", params={"order_id": order_id, "action": action}
            )
            if body["entries"]:
                return True
            await asyncio.sleep(0.5)
        return False

    async def wait_expired(self, order_id: str, deadline: float) -> bool:
        """Until the gateway shows the order's authorization lapsed (the sandbox cancels it on expiry)."""
        while time.monotonic() < deadline:
            intents = (
                await self.client.sandbox_json(
                    "GET", "/payments/payment_intents", params={"order_id": order_id}
                )
            )["data"]
            if intents and intents[0]["status"] == "canceled":
                return True
            await asyncio.sleep(1.0)
        return False

    async def release_hold(self, order_id: str) -> None:
        await self.client.sandbox_json("POST", "/_sandbox/fulfillment/release", json={"order_id": order_id})

    async def node_shipments(self, order_id: str, deadline: float) -> list[dict[str, Any]]:
        """The shipments the sandbox node dispatched for the order, once it has."""
        while time.monotonic() < deadline:
            requests = (
                await self.client.sandbox_json(
                    "GET", "/fulfillment/shipment-requests", params={"order_id": order_id}
                )
            )["data"]
            if requests and requests[0]["status"] in ("dispatched", "rejected", "cancelled"):
                return list(requests[0]["shipments"])
            await asyncio.sleep(0.5)
        return []

    async def dispatch_as_node(
        self, placed: PlacedOrder, shipment: dict[str, Any], deadline: float
    ) -> int | None:
        data = {
            "order_id": placed.order_id,
            "shipment_id": shipment["shipment_id"],
            "lines": shipment["lines"],
            "carrier": "chaos-node",
            "tracking_number": f"TRK-{shipment['shipment_id']}",
        }
        answer = await self.client.node_event("shipment.dispatched", data, deadline)
        if answer != 200:
            placed.problems.append(
                f"shipment.dispatched {shipment['shipment_id']} answered {answer}, not 200"
            )
        return answer

    # ---- returns -----------------------------------------------------------------------------------

    async def request_return(self, placed: PlacedOrder, plan: ReturnPlan, deadline: float) -> None:
        placed.returns.append(plan)
        if plan.receipt is not None:
            await self.client.sandbox_json(
                "PUT",
                f"/_sandbox/fulfillment/returns/{placed.order_id}/{plan.return_id}/receipt",
                json={"lines": plan.receipt},
            )
        body = {"return_id": plan.return_id, "lines": plan.lines, "reason": "chaos: did not fit"}
        response = await self.client.post(f"/v1/orders/{placed.order_id}/returns", deadline, COMMERCE, body)
        plan.answer = None if response is None else response.status_code
        if plan.must_refuse:
            self._expect_refusal(placed, plan, response)
        elif not plan.accepted:
            answer = f"{response.status_code}: {response.text[:300]}" if response is not None else "nothing"
            placed.problems.append(f"return {plan.return_id} answered {answer}")

    @staticmethod
    def _expect_refusal(placed: PlacedOrder, plan: ReturnPlan, response: httpx.Response | None) -> None:
        errors = (
            response.json().get("errors", []) if response is not None and response.status_code == 422 else []
        )
        if not any(err.get("loc", [])[:2] == ["body", "lines"] for err in errors):
            placed.problems.append(
                f"return {plan.return_id} naming a SKU twice: answered "
                f"{response.status_code if response else None} without a body.lines error"
            )

    async def follow_return(self, placed: PlacedOrder, plan: ReturnPlan, deadline: float) -> None:
        """Until the return completes or expires; damaged goods get support's planned decision, or are left
        waiting when there is none. A park about anything else is left for the oracle to report."""
        watch = _ReturnWatch()
        path = f"/v1/orders/{placed.order_id}/returns/{plan.return_id}"
        while time.monotonic() < deadline:
            await asyncio.sleep(POLL_S)
            view = await self.client.get_json(path, deadline)
            if view is not None and await self._return_step(placed, plan, view, watch, deadline):
                return

    async def _return_step(
        self, placed: PlacedOrder, plan: ReturnPlan, view: View, watch: _ReturnWatch, deadline: float
    ) -> bool:
        """True once there is nothing more to wait for."""
        plan.status, plan.status_reason = view["status"], view.get("status_reason")
        if plan.status in ("completed", "expired"):
            return True
        if plan.status == "requested":
            return await self._receipt_lost(placed, plan, watch)
        if plan.status != "needs_attention":
            return False
        if watch.decided_at is None and plan.decision and "damaged" in (plan.status_reason or ""):
            if await self._decide(placed, plan, deadline):
                watch.decided_at = time.monotonic()
            return False
        return watch.decided_at is None or time.monotonic() - watch.decided_at > AFTER_DECISION_S

    async def _receipt_lost(self, placed: PlacedOrder, plan: ReturnPlan, watch: _ReturnWatch) -> bool:
        """The warehouse received the goods long ago, yet the return still waits for them: its receipt was
        lost on the way, and waiting longer only delays the report."""
        watch.requested_since = watch.requested_since or time.monotonic()
        if time.monotonic() - watch.requested_since < RECEIPT_GRACE_S:
            return False
        received = await self.client.sandbox_json(
            "GET",
            "/_sandbox/ledger",
            params={"order_id": placed.order_id, "action": "fulfillment.return_received"},
        )
        return any(entry["reference"] == plan.return_id for entry in received["entries"])

    async def _decide(self, placed: PlacedOrder, plan: ReturnPlan, deadline: float) -> bool:
        assert plan.decision is not None
        taken = await self._support_update(
            placed,
            f"returns/{plan.return_id}/resolve",
            {"action": plan.decision},
            deadline,
            "note",
            lambda view, note: any(
                d["note"] == note
                for r in view["returns"]
                if r["return_id"] == plan.return_id
                for d in r["decisions"]
            ),
        )
        if taken:
            plan.decided = plan.decision
        return taken


def _in_support_actions(view: View, note: str) -> bool:
    return any(action["note"] == note for action in view["support_actions"])
