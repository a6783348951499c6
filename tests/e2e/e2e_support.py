"""Helpers for end-to-end tests: build orders, place them, wait for them, read the sandbox ledger."""

import asyncio
import itertools
import json
import os
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook

from deploy.stack import LocalStack, free_ports
from runtime.settings import DEV_FULFILLMENT_WEBHOOK_SECRET, Settings
from tools.scratch_database import scratch_database

SHORT_AUTH_S = 2.0

RECEIVER_PORT = free_ports(1)[0]
"""Where tests/e2e's own webhook receiver listens: the one local port, besides the sandbox receiver, the
stack's O2C_WEBHOOK_ALLOWED_HOSTS lets outbound webhooks reach."""

TEST_ENV = {
    "SANDBOX_DISPATCH_DELAY_S": "0.2",
    "SANDBOX_SHORT_AUTH_S": str(SHORT_AUTH_S),
    "SANDBOX_TIMEOUT_HANG_S": "8",
    "O2C_STEP_RETRY_WINDOW_S": "60",
    "O2C_COMPENSATION_RETRY_WINDOW_S": "60",
    "O2C_VENDOR_TIMEOUT_S": "3",
    # Outbound webhooks: the spec's schedule shrunk to seconds (attempts at 0, 0.5, 1.5, 3.5, 7.5 s).
    "O2C_WEBHOOK_RETRY_SCHEDULE_S": "[0, 0.5, 1, 2, 4]",
    "O2C_WEBHOOK_DELIVERY_TIMEOUT_S": "2",
    # test_large_orders.py places 20 lines of 100,000 units (2,000,000 units, above the default cap).
    "O2C_MAX_ORDER_UNITS": "2000000",
    "O2C_WEBHOOK_ALLOWED_HOSTS": f'["127.0.0.1:{RECEIVER_PORT}"]',
    # Vendor breakers (test_circuit_breaker.py): open for 3 s rather than 5, workers report twice a second.
    "O2C_BREAKER_OPEN_S": "3",
    "O2C_VENDOR_HEALTH_REPORT_S": "0.5",
    # The worker's backlog gauges refresh every second rather than every 15 (test_business_metrics.py).
    "O2C_BACKLOG_REPORT_S": "1",
}


def make_stack(data_dir: Path, **env: str) -> LocalStack:
    return LocalStack.on_free_ports(data_dir, Settings(), env={**TEST_ENV, **env})


COMMERCE = {"Authorization": "Bearer commerce-dev-key"}
SUPPORT = {"Authorization": "Bearer support-dev-key"}
OPS = {"Authorization": "Bearer ops-dev-key"}
FINANCE = {"Authorization": "Bearer finance-dev-key"}
_seq = itertools.count(1)


def new_order_id(prefix: str = "T") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}-{next(_seq)}"


def order(
    lines: list[tuple[str, int, int]] | None = None,
    *,
    points: int = 0,
    token: str = "tok_visa",
    order_id: str | None = None,
    member: str | None = None,
    customer: str | None = None,
) -> dict[str, Any]:
    oid = order_id or new_order_id()
    return {
        "order_id": oid,
        "channel": "web",
        "currency": "EUR",
        "customer": {
            "customer_id": customer or f"C-{oid}",
            "loyalty_member_id": member or f"M-{oid}",
            "email": "ana.lima@example.com",
            "name": "Ana Lima",
        },
        "shipping_address": {"line1": "Rua Augusta 100", "city": "Lisboa", "postal_code": "1100-053", "country": "PT"},
        "lines": [{"sku": s, "quantity": q, "unit_price": p} for s, q, p in (lines or [("SKU-1", 2, 1999)])],
        "payment": {"method_token": token},
        "points_to_redeem": points,
    }


@dataclass
class Ledger:
    entries: list[dict[str, Any]]

    def of(self, action: str) -> list[dict[str, Any]]:
        return [e for e in self.entries if e["action"] == action]

    def amount(self, action: str) -> int:
        return sum(e["amount"] or 0 for e in self.of(action))

    def points(self, action: str) -> int:
        return sum(e["points"] or 0 for e in self.of(action))

    def quantity(self, action: str) -> int:
        return sum(e["quantity"] or 0 for e in self.of(action))

    def references(self, action: str) -> Counter[str]:
        return Counter(e["reference"] for e in self.of(action))


class Stack:
    """HTTP clients for a running local stack."""

    def __init__(self, api_url: str, sandbox_url: str) -> None:
        self.api = httpx.AsyncClient(base_url=api_url, timeout=30)
        self.sandbox = httpx.AsyncClient(base_url=sandbox_url, timeout=30)

    async def aclose(self) -> None:
        await self.api.aclose()
        await self.sandbox.aclose()

    async def __aenter__(self) -> "Stack":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def place(self, body: dict[str, Any], headers: dict[str, str] | None = None) -> httpx.Response:
        return await self.api.post("/v1/orders", json=body, headers={**COMMERCE, **(headers or {})})

    async def get(self, order_id: str) -> dict[str, Any]:
        response = await self.api.get(f"/v1/orders/{order_id}", headers=COMMERCE)
        response.raise_for_status()
        return response.json()

    async def wait_status(self, order_id: str, *statuses: str, timeout: float = 45.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        view: dict[str, Any] = {}
        while time.monotonic() < deadline:
            response = await self.api.get(f"/v1/orders/{order_id}", headers=COMMERCE)
            if response.status_code == 503:  # no worker to answer the query right now (e.g. restarting)
                await asyncio.sleep(0.5)
                continue
            response.raise_for_status()
            view = response.json()
            if view["status"] in statuses:
                return view
            await asyncio.sleep(0.2)
        raise AssertionError(f"{order_id} did not reach {statuses}; last view: {view}")

    async def wait_view(self, order_id: str, condition: Callable[[dict[str, Any]], bool], what: str,
                        timeout: float = 45.0) -> dict[str, Any]:
        """Until the order's view satisfies `condition`; fails naming `what` and the last view."""
        deadline = time.monotonic() + timeout
        view: dict[str, Any] = {}
        while time.monotonic() < deadline:
            response = await self.api.get(f"/v1/orders/{order_id}", headers=COMMERCE)
            if response.status_code == 200:
                view = response.json()
                if condition(view):
                    return view
            await asyncio.sleep(0.2)
        raise AssertionError(f"{order_id}: {what} not reached within {timeout}s; last view: {view}")

    async def ledger(self, order_id: str) -> Ledger:
        response = await self.sandbox.get("/_sandbox/ledger", params={"order_id": order_id})
        response.raise_for_status()
        return Ledger(response.json()["entries"])

    async def wait_ledger(self, order_id: str, action: str, timeout: float = 20.0) -> Ledger:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ledger = await self.ledger(order_id)
            if ledger.of(action):
                return ledger
            await asyncio.sleep(0.1)
        raise AssertionError(f"no {action} for {order_id} within {timeout}s")

    async def postings(self, **params: str) -> list[dict[str, Any]]:
        response = await self.api.get("/v1/erp-postings", params={"limit": "500", **params}, headers=FINANCE)
        response.raise_for_status()
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    async def wait_posting(
        self, order_id: str, kind: str, want: str, *, timeout: float = 30.0, min_attempts: int = 0
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        rows: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            rows = await self.postings(order_id=order_id, kind=kind)
            if rows and all(r["status"] == want and r["attempts"] >= min_attempts for r in rows):
                return rows[0]
            await asyncio.sleep(0.2)
        raise AssertionError(f"{kind} of {order_id} not {want} (attempts >= {min_attempts}) in {timeout}s: {rows}")

    async def wait_authorization_expired(self, order_id: str, timeout: float = 15.0) -> None:
        """Until the gateway says the order's authorization has lapsed (it rounds expiry up to a second)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            response = await self.sandbox.get("/payments/payment_intents", params={"order_id": order_id})
            response.raise_for_status()
            intents = response.json()["data"]
            if intents and intents[0]["status"] == "canceled":
                return
            await asyncio.sleep(0.25)
        raise AssertionError(f"authorization of {order_id} did not expire within {timeout}s")

    async def request_return(self, order_id: str, return_id: str, lines: list[tuple[str, int]]) -> httpx.Response:
        body = {"return_id": return_id, "lines": [{"sku": s, "quantity": q} for s, q in lines], "reason": "did not fit"}
        return await self.api.post(f"/v1/orders/{order_id}/returns", json=body, headers=COMMERCE)

    async def wait_return(self, order_id: str, return_id: str, *statuses: str, timeout: float = 30.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        view: dict[str, Any] = {}
        while time.monotonic() < deadline:
            response = await self.api.get(f"/v1/orders/{order_id}/returns/{return_id}", headers=COMMERCE)
            if response.status_code == 200:
                view = response.json()
                if view["status"] in statuses:
                    return view
            await asyncio.sleep(0.2)
        raise AssertionError(f"return {return_id} of {order_id} did not reach {statuses}; last view: {view}")

    async def send_fulfillment_event(self, type: str, data: dict[str, Any],
                                     webhook_id: str | None = None) -> httpx.Response:
        """What the fulfilment node would send, signed with the local stack's secret: lets a test play a
        node that dispatches twice, late, or otherwise than o2c asked."""
        payload = json.dumps({"type": type, "timestamp": datetime.now(UTC).isoformat(), "data": data})
        msg_id = webhook_id or f"msg_test_{uuid.uuid4().hex}"
        now = datetime.now(UTC)
        headers = {"content-type": "application/json", "webhook-id": msg_id,
                   "webhook-timestamp": str(int(now.timestamp())),
                   "webhook-signature": Webhook(DEV_FULFILLMENT_WEBHOOK_SECRET).sign(msg_id, now, payload)}
        return await self.api.post("/v1/webhooks/fulfillment", content=payload, headers=headers)

    async def dispatch(self, order_id: str, shipment_id: str, lines: list[tuple[str, int]],
                       webhook_id: str | None = None) -> httpx.Response:
        data = {"order_id": order_id, "shipment_id": shipment_id, "carrier": "test-carrier",
                "tracking_number": f"TRK-{shipment_id}", "lines": [{"sku": s, "quantity": q} for s, q in lines]}
        return await self.send_fulfillment_event("shipment.dispatched", data, webhook_id)

    async def plan_receipt(self, order_id: str, return_id: str, lines: list[tuple[str, int, str]]) -> None:
        """What the warehouse will find when the return arrives: (sku, quantity, condition) per line."""
        response = await self.sandbox.put(
            f"/_sandbox/fulfillment/returns/{order_id}/{return_id}/receipt",
            json={"lines": [{"sku": s, "quantity": q, "condition": c} for s, q, c in lines]})
        response.raise_for_status()

    async def release_hold(self, order_id: str) -> None:
        response = await self.sandbox.post("/_sandbox/fulfillment/release", json={"order_id": order_id})
        response.raise_for_status()

    async def place_parked(self, sku: str, amount: int) -> dict[str, Any]:
        """An order in needs_attention (design §8): the node holds the goods (`sku` a HOLD- SKU) until the
        authorization lapses, and the card declines every re-authorization, so the capture fails for good."""
        body = order([(sku, 1, amount)], token="tok_reauth_decline")
        assert (await self.place(body)).status_code == 201
        await self.wait_ledger(body["order_id"], "fulfillment.request")
        await self.wait_authorization_expired(body["order_id"])
        await self.release_hold(body["order_id"])
        await self.wait_status(body["order_id"], "needs_attention")
        return body


@contextmanager
def _store(prefix: str) -> Iterator[str | None]:
    """O2C_E2E_STORE=postgres (CI) runs a stack on a fresh PostgreSQL database at O2C_TEST_DATABASE_URL's
    server; otherwise the stack keeps the store in SQLite, as `o2c run` does."""
    choice = os.environ.get("O2C_E2E_STORE", "sqlite")
    if choice == "sqlite":
        yield None
        return
    if choice != "postgres":
        raise ValueError(f"O2C_E2E_STORE must be sqlite or postgres, not {choice!r}")
    server = os.environ.get("O2C_TEST_DATABASE_URL") or "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    with scratch_database(server, prefix) as url:
        yield url


@contextmanager
def stack_with(tmp_path_factory: pytest.TempPathFactory, prefix: str, **env: str) -> Iterator[LocalStack]:
    """A test stack with `env` on top of TEST_ENV, on a store of its own (named after `prefix` on PostgreSQL)."""
    with _store(prefix) as store_url, make_stack(
        tmp_path_factory.mktemp(prefix), **env, **({"O2C_DATABASE_URL": store_url} if store_url else {})
    ) as stack:
        yield stack
