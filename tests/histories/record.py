"""Record the Temporal history of every workflow type and saga scenario as JSON, for tests/test_replay.py.

    .venv/bin/python tests/histories/record.py            # re-record everything (about a minute)
    .venv/bin/python tests/histories/record.py --only happy split

Starts a private local stack (real dev server, sandbox, worker, API) on free ports in a temporary
directory, drives each scenario through the public API exactly as tests/e2e does, waits until every
workflow it started has closed, and writes `history.to_json()` per workflow to
tests/histories/<WorkflowType>/<scenario>.json. The payloads in them are encrypted with the DEV codec
key (runtime/settings.py), which is what the replay test decodes them with; re-record with the
default O2C_CODEC_KEYS.

When to re-record: after a change that is *meant* to change new histories (a new step, a new event),
and only once the change is safe for running workflows (workflow.patched, README "Proofs"). Keep the
old files for a while under another name (e.g. happy.pre-<change>.json): they are what proves that
workflows started before the change still replay.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from standardwebhooks import Webhook
from temporalio.client import Client, WorkflowExecutionStatus

from canonical.contract_checks import ContractChecksRequest
from deploy.marketing import ensure_marketing_webhook
from deploy.stack import LocalStack
from runtime.settings import DEV_FULFILLMENT_WEBHOOK_SECRET, Settings
from runtime.temporal import connect
from workflows.contract_checks import ContractChecksWorkflow

HERE = Path(__file__).resolve().parent
COMMERCE = {"Authorization": "Bearer commerce-dev-key"}
SUPPORT = {"Authorization": "Bearer support-dev-key"}
FINANCE = {"Authorization": "Bearer finance-dev-key"}

ENV = {
    "SANDBOX_DISPATCH_DELAY_S": "0.2",
    "SANDBOX_SHORT_AUTH_S": "2",
    # Completed orders stay open for returns this long, then close: the recorded histories are whole.
    "O2C_RETURN_WINDOW_S": "12",
    "O2C_DISPATCH_SLA_S": "8",
    "O2C_LATE_DISPATCH_WINDOW_S": "10",
    "O2C_COMPENSATION_RETRY_WINDOW_S": "3",
    "O2C_REFUND_RETRY_WINDOW_S": "3",
    "O2C_WEBHOOK_RETRY_SCHEDULE_S": "[0, 0.5, 1]",
    "O2C_WEBHOOK_DELIVERY_TIMEOUT_S": "2",
}


def order(
    oid: str, lines: list[tuple[str, int, int]], *, points: int = 0, token: str = "tok_visa"
) -> dict[str, Any]:
    return {
        "order_id": oid,
        "channel": "web",
        "currency": "EUR",
        "customer": {
            "customer_id": f"C-{oid}",
            "loyalty_member_id": f"M-{oid}",
            "email": "ana.lima@example.com",
            "name": "Ana Lima",
        },
        "shipping_address": {
            "line1": "Rua Augusta 100",
            "city": "Lisboa",
            "postal_code": "1100-053",
            "country": "PT",
        },
        "lines": [{"sku": s, "quantity": q, "unit_price": p} for s, q, p in lines],
        "payment": {"method_token": token},
        "points_to_redeem": points,
    }


class Driver:
    def __init__(self, stack: LocalStack, api: httpx.AsyncClient, sandbox: httpx.AsyncClient) -> None:
        self.stack, self.api, self.sandbox = stack, api, sandbox

    async def place(self, body: dict[str, Any], *expected: int) -> httpx.Response:
        response = await self.api.post("/v1/orders", json=body, headers=COMMERCE)
        assert response.status_code in expected, response.text
        return response

    async def wait(self, oid: str, *statuses: str, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        view: dict[str, Any] = {}
        while time.monotonic() < deadline:
            response = await self.api.get(f"/v1/orders/{oid}", headers=COMMERCE)
            if response.status_code == 200:
                view = response.json()
                if view["status"] in statuses:
                    return view
            await asyncio.sleep(0.2)
        raise AssertionError(f"{oid} did not reach {statuses}: {view}")

    async def wait_ledger(self, oid: str, action: str) -> None:
        for _ in range(200):
            entries = (await self.sandbox.get("/_sandbox/ledger", params={"order_id": oid})).json()["entries"]
            if any(e["action"] == action for e in entries):
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"no {action} for {oid}")

    async def wait_expired(self, oid: str) -> None:
        for _ in range(100):
            intents = (await self.sandbox.get("/payments/payment_intents", params={"order_id": oid})).json()[
                "data"
            ]
            if intents and intents[0]["status"] == "canceled":
                return
            await asyncio.sleep(0.25)
        raise AssertionError(f"the authorization of {oid} did not expire")

    async def release(self, oid: str) -> None:
        (await self.sandbox.post("/_sandbox/fulfillment/release", json={"order_id": oid})).raise_for_status()

    async def dispatch(self, oid: str, shipment_id: str, lines: list[tuple[str, int]]) -> None:
        """A dispatch the node reports on its own (signed like the sandbox's): part of a held order."""
        payload = json.dumps({"type": "shipment.dispatched", "timestamp": datetime.now(UTC).isoformat(), "data": {
            "order_id": oid, "shipment_id": shipment_id, "carrier": "hist", "tracking_number": "T1",
            "lines": [{"sku": sku, "quantity": q} for sku, q in lines]}})
        now, msg_id = datetime.now(UTC), f"msg_hist_{oid}_{shipment_id}"
        headers = {"content-type": "application/json", "webhook-id": msg_id,
                   "webhook-timestamp": str(int(now.timestamp())),
                   "webhook-signature": Webhook(DEV_FULFILLMENT_WEBHOOK_SECRET).sign(msg_id, now, payload)}
        response = await self.api.post("/v1/webhooks/fulfillment", content=payload, headers=headers)
        assert response.status_code == 200, response.text

    async def resolve(self, oid: str, action: str, note: str) -> None:
        response = await self.api.post(f"/v1/orders/{oid}/resolve", json={"action": action, "note": note},
                                       headers=SUPPORT)
        assert response.status_code == 202, response.text

    async def resolve_return(self, oid: str, rid: str, action: str, note: str) -> None:
        response = await self.api.post(f"/v1/orders/{oid}/returns/{rid}/resolve",
                                       json={"action": action, "note": note}, headers=SUPPORT)
        assert response.status_code == 202, response.text

    async def fault(self, vendor: str, **settings: object) -> None:
        (await self.sandbox.put(f"/_sandbox/faults/{vendor}", json=settings)).raise_for_status()

    async def ret(self, oid: str, rid: str, lines: list[tuple[str, int]], *statuses: str) -> dict[str, Any]:
        body = {
            "return_id": rid,
            "lines": [{"sku": s, "quantity": q} for s, q in lines],
            "reason": "did not fit",
        }
        response = await self.api.post(f"/v1/orders/{oid}/returns", json=body, headers=COMMERCE)
        assert response.status_code == 202, response.text
        for _ in range(300):
            got = await self.api.get(f"/v1/orders/{oid}/returns/{rid}", headers=COMMERCE)
            if got.status_code == 200 and got.json()["status"] in statuses:
                return got.json()
            await asyncio.sleep(0.2)
        raise AssertionError(f"return {rid} of {oid} did not reach {statuses}")


Run = Callable[[Driver], Awaitable[dict[str, str]]]
"""A scenario: drives the stack, returns {workflow id: file name} of the histories worth keeping."""


@dataclass(frozen=True)
class Scenario:
    name: str
    run: Run


async def happy(d: Driver) -> dict[str, str]:
    await d.place(order("HIST-HAPPY", [("SKU-1", 2, 1999), ("SKU-2", 1, 500)], points=500), 201)
    await d.wait("HIST-HAPPY", "completed")
    return {"order-HIST-HAPPY": "OrderWorkflow/happy"}


async def points_only(d: Driver) -> dict[str, str]:
    await d.place(order("HIST-POINTS-ONLY", [("SKU-P", 2, 400)], points=800), 201)
    await d.wait("HIST-POINTS-ONLY", "completed")
    return {"order-HIST-POINTS-ONLY": "OrderWorkflow/points-only"}


async def declined(d: Driver) -> dict[str, str]:
    await d.place(order("HIST-DECLINED", [("SKU-1", 1, 1999)], points=300, token="tok_decline"), 402)
    return {"order-HIST-DECLINED": "OrderWorkflow/declined"}


async def insufficient_points(d: Driver) -> dict[str, str]:
    body = order("HIST-POINTS", [("SKU-1", 1, 1999)], points=500)
    await d.sandbox.put("/_sandbox/members/M-HIST-POINTS", json={"available_points": 100, "tier": "base"})
    await d.place(body, 409)
    return {"order-HIST-POINTS": "OrderWorkflow/insufficient-points"}


async def out_of_stock(d: Driver) -> dict[str, str]:
    await d.place(order("HIST-OOS", [("OOS-1", 1, 2500)], points=100), 201)
    await d.wait("HIST-OOS", "cancelled")
    return {"order-HIST-OOS": "OrderWorkflow/out-of-stock"}


async def split(d: Driver) -> dict[str, str]:
    await d.place(
        order("HIST-SPLIT", [("SPLIT-A", 1, 1000), ("SPLIT-B", 2, 1500), ("SKU-9", 1, 701)], points=333), 201
    )
    await d.wait("HIST-SPLIT", "completed")
    return {"order-HIST-SPLIT": "OrderWorkflow/split"}


async def pick_rejected(d: Driver) -> dict[str, str]:
    await d.place(order("HIST-PICKFAIL", [("SKU-1", 1, 3000), ("PICKFAIL-1", 1, 1000)], points=400), 201)
    await d.wait("HIST-PICKFAIL", "completed")
    return {"order-HIST-PICKFAIL": "OrderWorkflow/pick-rejected"}


async def customer_cancel(d: Driver) -> dict[str, str]:
    await d.place(order("HIST-CANCEL", [("HOLD-1", 1, 5999)], points=100), 201)
    await d.wait_ledger("HIST-CANCEL", "fulfillment.request")
    response = await d.api.post(
        "/v1/orders/HIST-CANCEL/cancel", json={"reason": "changed my mind"}, headers=SUPPORT
    )
    assert response.status_code == 202, response.text
    await d.wait("HIST-CANCEL", "cancelled")
    return {"order-HIST-CANCEL": "OrderWorkflow/customer-cancel"}


async def reauthorized(d: Driver) -> dict[str, str]:
    await d.place(order("HIST-REAUTH", [("HOLD-EXP", 1, 5000)], token="tok_expiring"), 201)
    await d.wait_ledger("HIST-REAUTH", "fulfillment.request")
    await d.wait_expired("HIST-REAUTH")
    await d.release("HIST-REAUTH")
    await d.wait("HIST-REAUTH", "completed")
    return {"order-HIST-REAUTH": "OrderWorkflow/expired-authorization-reauthorized"}


async def refund_and_close(d: Driver) -> dict[str, str]:
    await d.place(
        order("HIST-RDECL", [("HOLD-RD", 2, 1250), ("SPLIT-RD", 1, 700)], token="tok_reauth_decline"), 201
    )
    await d.wait_ledger("HIST-RDECL", "fulfillment.request")
    await d.wait_expired("HIST-RDECL")
    await d.release("HIST-RDECL")
    await d.wait("HIST-RDECL", "needs_attention")
    response = await d.api.post(
        "/v1/orders/HIST-RDECL/resolve",
        headers=SUPPORT,
        json={"action": "refund_and_close", "note": "customer paid by bank transfer"},
    )
    assert response.status_code == 202, response.text
    await d.wait("HIST-RDECL", "cancelled")
    return {"order-HIST-RDECL": "OrderWorkflow/reauthorization-declined-refund-and-close"}


async def returns(d: Driver) -> dict[str, str]:
    await d.place(order("HIST-RETURN", [("SKU-R", 2, 1500), ("DAMAGED-R", 1, 900)], points=300), 201)
    await d.wait("HIST-RETURN", "completed")
    await d.ret("HIST-RETURN", "R1", [("SKU-R", 2)], "completed")
    await d.ret("HIST-RETURN", "R2", [("DAMAGED-R", 1)], "needs_attention")
    await d.resolve_return("HIST-RETURN", "R2", "refund", "goodwill")
    await d.ret("HIST-RETURN", "R2", [("DAMAGED-R", 1)], "completed")
    return {"order-HIST-RETURN": "OrderWorkflow/returned"}


async def return_expires(d: Driver) -> dict[str, str]:
    await d.place(order("HIST-RET-EXP", [("HOLD-RX", 1, 1200)]), 201)
    await d.wait_ledger("HIST-RET-EXP", "fulfillment.request")
    await d.release("HIST-RET-EXP")
    await d.wait("HIST-RET-EXP", "completed")
    # The returned parcel holds a HOLD- SKU: the warehouse never receives it.
    await d.ret("HIST-RET-EXP", "R1", [("HOLD-RX", 1)], "expired")
    return {"order-HIST-RET-EXP": "OrderWorkflow/return-expired"}


async def dispatch_sla(d: Driver) -> dict[str, str]:
    await d.place(order("HIST-SLA", [("HOLD-SA", 1, 1000), ("HOLD-SB", 1, 800)]), 201)
    await d.wait_ledger("HIST-SLA", "fulfillment.request")
    await d.dispatch("HIST-SLA", "S1", [("HOLD-SA", 1)])
    await d.wait("HIST-SLA", "needs_attention")  # HOLD-SB never ships within the SLA
    await d.resolve("HIST-SLA", "mark_resolved", "the node lost it; released by hand")
    await d.wait("HIST-SLA", "completed")
    return {"order-HIST-SLA": "OrderWorkflow/dispatch-sla-resolved"}


async def operator_cancel(d: Driver) -> dict[str, str]:
    await d.place(order("HIST-OPCANCEL", [("HOLD-OC", 1, 2000)], points=100), 201)
    await d.wait_ledger("HIST-OPCANCEL", "fulfillment.request")
    await (await connect(d.stack.settings)).get_workflow_handle("order-HIST-OPCANCEL").cancel()
    await d.wait("HIST-OPCANCEL", "cancelled")
    return {"order-HIST-OPCANCEL": "OrderWorkflow/operator-cancel"}


async def compensation_resolved(d: Driver) -> dict[str, str]:
    """Serial: a payments outage makes the void fail for good; support marks it resolved."""
    await d.place(order("HIST-COMP", [("HOLD-CO", 1, 3000)]), 201)
    await d.wait_ledger("HIST-COMP", "fulfillment.request")
    await d.fault("payments", outage=True)
    response = await d.api.post("/v1/orders/HIST-COMP/cancel", json={"reason": "changed mind"}, headers=SUPPORT)
    assert response.status_code == 202, response.text
    await d.wait("HIST-COMP", "needs_attention")
    await d.sandbox.delete("/_sandbox/faults")
    await d.resolve("HIST-COMP", "mark_resolved", "voided in the gateway's dashboard")
    await d.wait("HIST-COMP", "cancelled")
    return {"order-HIST-COMP": "OrderWorkflow/compensation-failed-marked-resolved"}


async def refund_refused(d: Driver) -> dict[str, str]:
    """Serial: a payments outage makes a return's refund fail for good; support refuses it."""
    await d.place(order("HIST-REFUSE", [("SKU-RF", 1, 1800)]), 201)
    await d.wait("HIST-REFUSE", "completed")
    await d.fault("payments", outage=True)
    await d.ret("HIST-REFUSE", "R1", [("SKU-RF", 1)], "needs_attention")
    await d.sandbox.delete("/_sandbox/faults")
    await d.resolve_return("HIST-REFUSE", "R1", "refuse", "refunded by bank transfer")
    await d.ret("HIST-REFUSE", "R1", [("SKU-RF", 1)], "completed")
    return {"order-HIST-REFUSE": "OrderWorkflow/refund-failed-refused"}


async def reconciliation(d: Driver) -> dict[str, str]:
    response = await d.api.post("/v1/reconciliation/runs", json={}, headers=FINANCE)
    assert response.status_code == 202, response.text
    run_id = response.json()["run_id"]
    return {run_id: "ReconciliationWorkflow/on-demand"}


async def contract_checks(d: Driver) -> dict[str, str]:
    client = await connect(d.stack.settings)
    await client.start_workflow(ContractChecksWorkflow.run, ContractChecksRequest(trigger="manual"),
                                id="HIST-contract-checks", task_queue=d.stack.settings.task_queue)
    return {"HIST-contract-checks": "ContractChecksWorkflow/on-demand"}


SCENARIOS = [
    Scenario(f.__name__.replace("_", "-"), f)
    for f in (
        happy,
        points_only,
        declined,
        insufficient_points,
        out_of_stock,
        split,
        pick_rejected,
        customer_cancel,
        reauthorized,
        refund_and_close,
        returns,
        return_expires,
        dispatch_sla,
        operator_cancel,
    )
]
SERIAL = [Scenario(f.__name__.replace("_", "-"), f) for f in (compensation_resolved, refund_refused, reconciliation,
                                                                 contract_checks)]
"""Scenarios that inject vendor faults (which apply to every order) or need the others' postings."""


async def _closed(client: Client, workflow_id: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        desc = await client.get_workflow_handle(workflow_id).describe()
        if desc.status != WorkflowExecutionStatus.RUNNING:
            return
        await asyncio.sleep(0.5)
    raise AssertionError(f"{workflow_id} still running after {timeout}s")


async def record(only: set[str], out_dir: Path) -> list[Path]:
    with tempfile.TemporaryDirectory(prefix="o2c-histories-") as tmp:
        stack = LocalStack.on_free_ports(tmp, Settings(), env=ENV)
        with stack:
            ensure_marketing_webhook(stack.api_url, stack.sandbox_url, stack.settings)
            client = await connect(stack.settings)
            async with (
                httpx.AsyncClient(base_url=stack.api_url, timeout=30) as api,
                httpx.AsyncClient(base_url=stack.sandbox_url, timeout=30) as sandbox,
            ):
                driver = Driver(stack, api, sandbox)
                chosen = [sc for sc in SCENARIOS if not only or sc.name in only]
                kept: dict[str, str] = {}
                for part in await asyncio.gather(*(sc.run(driver) for sc in chosen)):
                    kept.update(part)
                for sc in SERIAL:
                    if not only or sc.name in only:
                        kept.update(await sc.run(driver))
            written = []
            for workflow_id, name in sorted(kept.items(), key=lambda kv: kv[1]):
                await _closed(client, workflow_id)
                history = await client.get_workflow_handle(workflow_id).fetch_history()
                path = out_dir / f"{name}.json"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(history.to_json())
                written.append(path)
                events = len(history.events)
                print(f"wrote {path.relative_to(out_dir.parent.parent)} ({events} events, {workflow_id})")
            return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--only", nargs="*", default=[], help=f"scenarios: {' '.join(s.name for s in SCENARIOS)}"
    )
    parser.add_argument("--out", type=Path, default=HERE, help="where to write (default: tests/histories)")
    args = parser.parse_args(argv)
    asyncio.run(record(set(args.only), args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
