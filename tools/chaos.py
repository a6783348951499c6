"""`o2c chaos`: many orders through the API while every vendor misbehaves and the platform is knocked
over, then a check of the money (README "Proofs").

The run starts its own local stack on free ports in a scratch data dir and, against it:

- sets a fault profile on all six vendors (5xx, timeouts whose effect did happen, latency jitter) and
  closes the ERP's posting window once (20 s by default) (tools/chaos_monkey.py);
- places N orders of mixed scenarios (tools/chaos_scenarios.py) through the public API and drives each
  to a settled end like the commerce platform, support, the warehouse and an operator would
  (tools/chaos_flows.py, tools/chaos_orders.py, tools/chaos_client.py);
- SIGKILLs the worker at random moments (at least 5 times) and starts it again, and restarts the
  Temporal dev server once on its SQLite file;
- once every order has settled and every return has ended, clears the faults and checks the invariants of
  tools/chaos_checks.py against the sandbox ledger, the vendors' state and the finance store.

It prints a table (tools/chaos_report.py) and `o2c chaos` exits non-zero on any violation or unsettled
order.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import shutil
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import httpx

from runtime.settings import Settings
from tools.chaos_checks import check_run
from tools.chaos_client import ChaosClient
from tools.chaos_flows import Driver
from tools.chaos_model import PlacedOrder, VendorState, Violation
from tools.chaos_monkey import ChaosMonkey, FaultProfile
from tools.chaos_orders import Steering
from tools.chaos_report import ChaosReport
from tools.chaos_scenarios import build_order, plan_mix

if TYPE_CHECKING:  # imported when a run starts, so `o2c --help` stays light
    from deploy.stack import LocalStack

# The stack under chaos. Vendor timeouts (3 s) are shorter than the sandbox's held "timeout" answers
# (6 s), so a timeout fault is a real client timeout whose effect happened; the retry windows are far
# longer than any fault lasts, so faults delay orders but never exhaust a window.
CHAOS_ENV = {
    "SANDBOX_DISPATCH_DELAY_S": "0.5",
    "SANDBOX_TIMEOUT_HANG_S": "6",
    "SANDBOX_WEBHOOK_BACKOFF_MAX_S": "5",
    "O2C_VENDOR_TIMEOUT_S": "3",
    "O2C_ACCEPT_RETRY_WINDOW_S": "300",
    "O2C_STEP_RETRY_WINDOW_S": "3600",
    "O2C_COMPENSATION_RETRY_WINDOW_S": "3600",
    "O2C_REFUND_RETRY_WINDOW_S": "3600",
    "O2C_WEBHOOK_RETRY_SCHEDULE_S": "[0, 1, 2, 4, 8, 16, 32]",
    "O2C_WEBHOOK_DELIVERY_TIMEOUT_S": "3",
    "O2C_GRACEFUL_SHUTDOWN_S": "2",
}


@dataclass
class ChaosConfig:
    orders: int = 1000
    seed: int | None = None
    concurrency: int = 30
    kills: int = 6
    temporal_restarts: int = 1
    erp_closure_s: float = 20.0
    error_rate: float = 0.10
    timeout_rate: float = 0.05
    latency_ms: int = 250
    settle_timeout_s: float = 3600.0
    data_dir: Path | None = None
    keep_data: bool = False
    marketing: bool = True
    """Register the sandbox marketing receiver, so outbound webhooks (and marketing faults) are exercised."""
    scenarios: list[str] | None = None
    """Only these scenarios (default: the whole mix)."""
    workers: int = 1
    """Worker processes; each kill takes down one of them, chosen at random, while the others carry on."""
    api_processes: int = 1
    postgres_url: str | None = None
    """Keep the store in a fresh PostgreSQL database on this server (dropped afterwards unless keep_data),
    instead of SQLite in the data dir."""

    @property
    def profile(self) -> FaultProfile:
        return FaultProfile(
            self.error_rate,
            self.timeout_rate,
            self.latency_ms,
            self.kills,
            self.temporal_restarts,
            self.erp_closure_s,
        )


class ChaosRun:
    def __init__(self, config: ChaosConfig, out: TextIO | None) -> None:
        self.config = config
        self.seed = config.seed if config.seed is not None else random.randrange(1_000_000)
        self.rng = random.Random(self.seed)
        self.out = out
        self.orders: list[PlacedOrder] = []
        self.settled = 0
        self.started = time.monotonic()
        self.durations: dict[str, float] = {}
        self.client: ChaosClient | None = None
        self.monkey: ChaosMonkey | None = None
        self.injected: dict[str, dict[str, int]] = {}
        self.violations: list[Violation] = []

    def say(self, text: str) -> None:
        if self.out is not None:
            with contextlib.suppress(OSError, ValueError):
                print(text, file=self.out, flush=True)

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    async def run(self) -> ChaosReport:
        from sqlalchemy import make_url

        from deploy.stack import LocalStack
        from tools.scratch_database import scratch_database

        cfg = self.config
        data_dir = Path(cfg.data_dir) if cfg.data_dir else Path(tempfile.mkdtemp(prefix="o2c-chaos-"))
        with contextlib.ExitStack() as scratch:
            database_url = (scratch.enter_context(scratch_database(cfg.postgres_url, "o2c_chaos", keep=cfg.keep_data))
                            if cfg.postgres_url else None)
            stack = LocalStack.on_free_ports(data_dir, Settings(database_url=database_url), env=CHAOS_ENV,
                                             workers=cfg.workers, api_processes=cfg.api_processes)
            store = f"PostgreSQL store ({make_url(database_url).database})" if database_url else "SQLite store"
            topology = f"{cfg.workers} worker(s), {cfg.api_processes} API process(es), {store}"
            self.say(f"o2c chaos: seed {self.seed}, {cfg.orders} orders, {topology}, data in {data_dir}")
            try:
                await asyncio.to_thread(stack.start)
                self.durations["start"] = self.elapsed()
                self.say(f"stack ready in {self.durations['start']:.1f}s: {stack.api_url}")
                await self._exercise(stack)
            finally:
                self.durations["total"] = self.elapsed()
                await asyncio.to_thread(stack.stop)
        client, monkey = self.client, self.monkey
        if client is not None and client.server_errors:
            # A 500 says nothing by design; the API's log says where it failed.
            client.anomalies += _logged_errors(stack.supervisor.log_path("api"))
        report = ChaosReport(
            self.seed,
            cfg.concurrency,
            cfg.profile,
            self.orders,
            self.violations,
            monkey.events if monkey else [],
            self.injected,
            client.answers if client else Counter(),
            self.durations,
            data_dir,
            client.anomalies if client else [],
            topology,
        )
        self._tidy(data_dir, report.ok)
        return report

    async def _exercise(self, stack: LocalStack) -> None:
        from runtime.temporal import connect

        async with (
            httpx.AsyncClient(base_url=stack.api_url, timeout=30) as api,
            httpx.AsyncClient(base_url=stack.sandbox_url, timeout=30) as sandbox,
        ):
            secret = stack.settings.fulfillment_webhook_secret.get_secret_value()
            client = self.client = ChaosClient(api, sandbox, await connect(stack.settings), secret)
            monkey = self.monkey = ChaosMonkey(
                stack,
                client,
                self.config.profile,
                self.seed + 1,
                lambda: self.settled / max(self.config.orders, 1),
                self.elapsed,
                self.say,
            )
            if self.config.marketing:
                await asyncio.to_thread(self._register_marketing, stack)
            await monkey.set_faults()
            began = time.monotonic()
            await self._drive(client, monkey, stack.settings.point_value_minor)
            self.durations["orders"] = time.monotonic() - began
            self.injected = await monkey.clear_faults()
            began = time.monotonic()
            self.violations = await self._check(client, stack)
            self.durations["checks"] = time.monotonic() - began

    def _register_marketing(self, stack: LocalStack) -> None:
        from deploy.marketing import ensure_marketing_webhook

        self.say(ensure_marketing_webhook(stack.api_url, stack.sandbox_url, stack.settings))

    async def _drive(self, client: ChaosClient, monkey: ChaosMonkey, point_value: int) -> None:
        cfg = self.config
        mix = plan_mix(self.rng, cfg.orders, cfg.scenarios)
        self.orders = [
            build_order(self.rng, s, f"CH{self.seed}-{i:05d}", point_value) for i, s in enumerate(mix)
        ]
        driver = Driver(Steering(client), random.Random(self.seed + 2))
        deadline = time.monotonic() + cfg.settle_timeout_s
        gate = asyncio.Semaphore(cfg.concurrency)
        chaos = asyncio.create_task(monkey.run())

        async def one(placed: PlacedOrder) -> None:
            async with gate:
                try:
                    await driver.run(placed, deadline)
                except Exception as exc:  # one broken client flow must not stop the run
                    placed.problems.append(f"client error {type(exc).__name__}: {exc}")
                finally:
                    self.settled += 1
                    if self.settled % max(1, cfg.orders // 10) == 0:
                        self.say(f"  {self.settled}/{cfg.orders} orders settled at {self.elapsed():.0f}s")

        try:
            await asyncio.gather(*(one(o) for o in self.orders))
        finally:
            monkey.done.set()
            await chaos

    async def _check(self, client: ChaosClient, stack: LocalStack) -> list[Violation]:
        async def listed(path: str) -> list[dict[str, Any]]:
            body = await client.sandbox_json("GET", path)
            return list(body["entries" if path == "/_sandbox/ledger" else "data"])

        ledger = await listed("/_sandbox/ledger")
        vendors = VendorState(
            payment_intents=await listed("/payments/payment_intents"),
            blocks=await listed("/loyalty/blocks"),
            reservations=await listed("/inventory/reservations"),
            shipment_requests=await listed("/fulfillment/shipment-requests"),
            documents=await listed("/erp/documents"),
            return_requests=await listed("/fulfillment/returns"),
        )
        rows = await asyncio.to_thread(_store_rows, stack.settings)
        violations = check_run(
            self.orders, ledger, vendors, rows, point_value_minor=stack.settings.point_value_minor
        )
        return violations + [Violation("api", None, anomaly) for anomaly in client.anomalies]

    def _tidy(self, data_dir: Path, ok: bool) -> None:
        if ok and not self.config.keep_data and self.config.data_dir is None:
            shutil.rmtree(data_dir, ignore_errors=True)
        elif not ok or self.config.keep_data:
            self.say(f"data and logs kept in {data_dir}")


def _logged_errors(log_path: Path, limit: int = 5) -> list[str]:
    """The error events in a JSON-lines log, e.g. http.unhandled_error with the frames it failed in."""
    found: list[str] = []
    with contextlib.suppress(OSError), log_path.open(encoding="utf-8", errors="replace") as lines:
        for line in lines:
            if '"level": "error"' in line:
                found.append(f"api log: {line.strip()[:600]}")
    return found[:limit]


def _store_rows(settings: Settings) -> list[dict[str, Any]]:
    from sqlalchemy import select

    from store.engine import Store
    from store.models import ErpPosting

    store = Store(settings.store_url())
    try:
        with store.reading() as session:
            return [
                {c.name: getattr(row, c.name) for c in ErpPosting.__table__.columns}
                for row in session.scalars(select(ErpPosting))
            ]
    finally:
        store.dispose()


async def run_chaos(config: ChaosConfig, out: TextIO | None = sys.stdout) -> ChaosReport:
    return await ChaosRun(config, out).run()
