"""A worker killed with SIGKILL in the middle of sagas loses nothing and captures nothing twice."""

import asyncio

import pytest
from e2e_support import Stack, order

from deploy.stack import LocalStack

pytestmark = [pytest.mark.e2e]


async def test_sigkilled_worker_restarts_and_every_order_completes_once(stack: Stack, local_stack: LocalStack) -> None:
    bodies = [order([("SPLIT-K1", 1, 1000 + i), ("SPLIT-K2", 1, 500), ("SKU-K", 2, 250)], points=50 * i)
              for i in range(12)]
    placed = await asyncio.gather(*(stack.place(b) for b in bodies))
    # Accepted, or still being decided under this burst (202): either way each order must complete once.
    assert all(r.status_code in (201, 202) for r in placed), [r.text for r in placed]
    await asyncio.sleep(0.3)  # sagas are now mid-way: allocating, shipping, capturing
    await asyncio.to_thread(local_stack.kill, "worker")
    await asyncio.sleep(1.0)  # dispatch webhooks keep arriving while no worker runs
    await asyncio.to_thread(local_stack.start_component, "worker")

    for body in bodies:
        await stack.wait_status(body["order_id"], "completed", timeout=90)
    for body in bodies:
        ledger = await stack.ledger(body["order_id"])
        dispatched = ledger.references("fulfillment.dispatch")
        captures = ledger.references("payment.capture")
        invoices = ledger.references("erp.invoice")
        assert len(dispatched) == 3
        assert len(captures) == 3 and set(captures.values()) == {1}, captures
        assert len(invoices) == 3 and set(invoices.values()) == {1}, invoices
        amount_due = sum(ln["quantity"] * ln["unit_price"] for ln in body["lines"]) - body["points_to_redeem"]
        assert ledger.amount("payment.capture") == ledger.amount("erp.invoice") == amount_due
