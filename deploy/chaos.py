"""`o2c chaos`: many orders through the API while every vendor misbehaves and the platform is knocked
over, then a check of the money (README "Proofs").

The run starts its own local stack on free ports in a scratch data dir and, against it:

- sets a fault profile on all six vendors (5xx, timeouts whose effect did happen, latency jitter) and
  closes the ERP's posting window once (20 s by default);
- places N orders of mixed scenarios (happy, split, pick-rejected, declined, insufficient points, out of
  stock, cancels, a cancel racing the dispatch, returns) through the public API, like the commerce
  platform: a 202 (decision slow) or 503 (Temporal restarting) is answered by sending the same order
  again, which is idempotent, until a decision comes;
- SIGKILLs the worker at random moments (at least 5 times) and starts it again, and restarts the
  Temporal dev server once on its SQLite file;
- waits until every order has settled (terminal, or needs_attention with a reason) and every return has
  been refunded, clears the faults, and checks the invariants of deploy/chaos_checks.py against the
  sandbox ledger, the vendors' state and the finance store.

It prints a table (orders by outcome, faults injected, kills, restarts, API answers, violations,
durations) and `o2c chaos` exits non-zero on any violation or unsettled order.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import httpx

from canonical.order import Order
from canonical.pricing import PricingError, price
from canonical.settings import Settings
from deploy.chaos_checks import SETTLED, PlacedOrder, VendorState, Violation, check_run

if TYPE_CHECKING:  # imported when a run starts, so `o2c --help` stays light
    from deploy.stack import LocalStack

VENDORS = ("loyalty", "payments", "inventory", "fulfillment", "erp", "marketing")
POLL_S = 2.0
COMMERCE = {"Authorization": "Bearer commerce-dev-key"}
SUPPORT = {"Authorization": "Bearer support-dev-key"}

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


@dataclass
class ChaosEvent:
    at_s: float
    what: str
    took_s: float = 0.0


@dataclass
class ChaosReport:
    config: ChaosConfig
    seed: int
    orders: list[PlacedOrder]
    violations: list[Violation]
    events: list[ChaosEvent]
    faults_injected: dict[str, dict[str, int]]
    answers: Counter[str]
    durations: dict[str, float]
    data_dir: Path
    anomalies: list[str] = field(default_factory=list)

    @property
    def unsettled(self) -> list[PlacedOrder]:
        return [o for o in self.orders if o.status not in SETTLED]

    @property
    def ok(self) -> bool:
        return not self.violations and not self.unsettled

    def count(self, prefix: str) -> int:
        return sum(1 for e in self.events if e.what.startswith(prefix))

    def table(self) -> str:
        lines: list[str] = []
        cfg = self.config
        lines.append(
            f"o2c chaos: {len(self.orders)} orders, seed {self.seed}, concurrency {cfg.concurrency}, "
            f"faults {cfg.error_rate:.0%} 5xx / {cfg.timeout_rate:.0%} timeouts / 0-{cfg.latency_ms} ms on "
            f"{len(VENDORS)} vendors"
        )
        lines.append("")
        outcomes = Counter(o.status or "unsettled" for o in self.orders)
        scenarios = sorted({o.scenario for o in self.orders})
        statuses = ["completed", "cancelled", "rejected", "needs_attention"]
        statuses += sorted(s for s in outcomes if s not in statuses)
        head = ["scenario", *statuses, "total"]
        rows = []
        for name in scenarios:
            mine = Counter(o.status or "unsettled" for o in self.orders if o.scenario == name)
            rows.append([name, *(str(mine.get(s, 0)) for s in statuses), str(sum(mine.values()))])
        rows.append(["all", *(str(outcomes.get(s, 0)) for s in statuses), str(len(self.orders))])
        lines.extend(_grid(head, rows))
        returns = [o for o in self.orders if o.returned]
        refunded = sum(1 for o in returns if o.return_status == "completed")
        lines.append(f"returns: {len(returns)} requested, {refunded} refunded")
        attention = [o for o in self.orders if o.status == "needs_attention"]
        for o in attention[:5]:
            lines.append(f"  needs_attention {o.order_id}: {o.status_reason}")
        lines.append("")
        kinds = ("error", "timeout", "outage", "after_effect")
        fault_rows = [[v, *(str(self.faults_injected.get(v, {}).get(k, 0)) for k in kinds)] for v in VENDORS]
        fault_rows.append(
            ["all", *(str(sum(self.faults_injected.get(v, {}).get(k, 0) for v in VENDORS)) for k in kinds)]
        )
        lines.extend(_grid(["faults injected", "5xx", "timeouts", "outages", "after-effect"], fault_rows))
        lines.append("")
        lines.append(f"worker SIGKILLed and restarted: {self.count('kill worker')} times")
        lines.append(f"Temporal dev server restarted:  {self.count('restart temporal')} times")
        lines.append(f"ERP posting window closed:      {self.count('close erp')} times")
        for event in self.events:
            took = f" ({event.took_s:.1f}s)" if event.took_s else ""
            lines.append(f"  at {event.at_s:7.1f}s  {event.what}{took}")
        answers = ", ".join(f"{k} x{n}" for k, n in sorted(self.answers.items()))
        lines.append(f"API answers: {answers}")
        for anomaly in self.anomalies[:10]:
            lines.append(f"  ! {anomaly}")
        lines.append("")
        lines.append(f"invariant violations: {len(self.violations)}")
        by_rule = Counter(v.rule for v in self.violations)
        for rule, n in sorted(by_rule.items()):
            lines.append(f"  {rule}: {n}")
        for violation in self.violations[:20]:
            lines.append(f"  - {violation}")
        d = self.durations
        lines.append(
            f"duration: {d.get('total', 0):.1f}s (stack start {d.get('start', 0):.1f}s, orders "
            f"{d.get('orders', 0):.1f}s, checks {d.get('checks', 0):.1f}s)"
        )
        lines.append("PASS: 0 invariant violations" if self.ok else "FAIL")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "seed": self.seed,
            "orders": len(self.orders),
            "outcomes": dict(Counter(o.status or "unsettled" for o in self.orders)),
            "violations": [str(v) for v in self.violations],
            "events": [e.__dict__ for e in self.events],
            "faults_injected": self.faults_injected,
            "answers": dict(self.answers),
            "durations": self.durations,
        }


def _grid(head: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    return [line(head), line(["-" * w for w in widths]), *(line(r) for r in rows)]


# -- scenarios ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    name: str
    weight: int
    allowed: frozenset[str]


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("happy", 26, frozenset({"completed"})),
    Scenario("split", 12, frozenset({"completed"})),
    Scenario("pick-rejected", 10, frozenset({"completed"})),
    Scenario("all-pick-rejected", 3, frozenset({"cancelled"})),
    Scenario("declined", 8, frozenset({"rejected"})),
    Scenario("insufficient-points", 4, frozenset({"rejected"})),
    Scenario("out-of-stock", 7, frozenset({"cancelled"})),
    Scenario("cancel", 10, frozenset({"cancelled"})),
    Scenario("cancel-race", 5, frozenset({"cancelled", "completed"})),
    Scenario("return", 10, frozenset({"completed"})),
    Scenario("split-return", 5, frozenset({"completed"})),
)


def build_order(rng: random.Random, scenario: str, order_id: str) -> dict[str, Any]:
    def line(prefix: str = "CH") -> dict[str, Any]:
        return {
            "sku": f"{prefix}-{rng.randrange(10_000)}-{rng.randrange(100)}",
            "quantity": rng.randint(1, 3),
            "unit_price": rng.randint(150, 9_999),
        }

    lines = [line() for _ in range(rng.randint(1, 3))]
    if scenario in ("split", "split-return"):
        lines = [line("SPLIT") for _ in range(rng.randint(2, 3))] + lines[:1]
    elif scenario == "pick-rejected":
        lines = [*lines[:2], line("PICKFAIL")]
    elif scenario == "all-pick-rejected":
        lines = [line("PICKFAIL") for _ in range(rng.randint(1, 2))]
    elif scenario == "out-of-stock":
        lines = [*lines[:1], line("OOS")]
    elif scenario == "cancel":
        lines = [line("HOLD"), *lines[:1]]
    # One line per SKU (the canonical order's rule); random SKUs could collide.
    lines = list({ln["sku"]: ln for ln in lines}.values())
    total = sum(ln["quantity"] * ln["unit_price"] for ln in lines)
    # Unknown members start with 10,000 points: redeem fewer, except where too few is the scenario.
    points = rng.choice([0, 0, rng.randint(1, min(total // 2, 5_000))])
    token = "tok_visa"
    if scenario == "declined":
        token = rng.choice(["tok_decline", "tok_insufficient_funds"])
    if scenario == "insufficient-points":
        points = max(points, 100)
    body = {
        "order_id": order_id,
        "channel": rng.choice(["web", "app", "store", "pos", "marketplace"]),
        "currency": "EUR",
        "customer": {
            "customer_id": f"C-{order_id}",
            "loyalty_member_id": f"M-{order_id}",
            "email": f"chaos.{order_id.lower()}@example.com",
            "name": f"Chaos Customer {order_id}",
        },
        "shipping_address": {
            "line1": "Rua Augusta 100",
            "city": "Lisboa",
            "postal_code": "1100-053",
            "country": "PT",
        },
        "lines": lines,
        "payment": {"method_token": token},
        "points_to_redeem": points,
    }
    try:
        price(Order.model_validate(body), 1)
    except PricingError:
        body["points_to_redeem"] = 0
    return body


# -- the run -----------------------------------------------------------------------------------


class ChaosRun:
    def __init__(self, config: ChaosConfig, out: TextIO | None) -> None:
        self.config = config
        self.seed = config.seed if config.seed is not None else random.randrange(1_000_000)
        self.rng = random.Random(self.seed)
        self.out = out
        self.events: list[ChaosEvent] = []
        self.answers: Counter[str] = Counter()
        self.anomalies: list[str] = []
        self.server_errors = 0
        self.orders: list[PlacedOrder] = []
        self.settled = 0
        self.started = time.monotonic()
        self.chaos_lock = asyncio.Lock()
        self.done = asyncio.Event()
        self.stack: LocalStack | None = None
        self.api: httpx.AsyncClient | None = None
        self.sandbox: httpx.AsyncClient | None = None

    def say(self, text: str) -> None:
        if self.out is not None:
            with contextlib.suppress(OSError, ValueError):
                print(text, file=self.out, flush=True)

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def note(self, anomaly: str) -> None:
        if anomaly not in self.anomalies:
            self.anomalies.append(anomaly)

    # -- driving the stack ---------------------------------------------------------------------

    async def run(self) -> ChaosReport:
        cfg = self.config
        data_dir = Path(cfg.data_dir) if cfg.data_dir else Path(tempfile.mkdtemp(prefix="o2c-chaos-"))
        durations: dict[str, float] = {}
        from deploy.stack import LocalStack

        self.stack = LocalStack.on_free_ports(data_dir, Settings(), env=CHAOS_ENV)
        self.say(f"o2c chaos: seed {self.seed}, {cfg.orders} orders, data in {data_dir}")
        violations: list[Violation] = []
        faults: dict[str, dict[str, int]] = {}
        ok = False
        try:
            await asyncio.to_thread(self.stack.start)
            durations["start"] = self.elapsed()
            self.say(f"stack ready in {durations['start']:.1f}s: {self.stack.api_url}")
            async with (
                httpx.AsyncClient(base_url=self.stack.api_url, timeout=30) as self.api,
                httpx.AsyncClient(base_url=self.stack.sandbox_url, timeout=30) as self.sandbox,
            ):
                if cfg.marketing:
                    await asyncio.to_thread(self._register_marketing)
                await self._set_faults()
                began = time.monotonic()
                await self._drive()
                durations["orders"] = time.monotonic() - began
                faults = (await self._sandbox_json("GET", "/_sandbox/faults"))["injected"]
                await self._sandbox_json("DELETE", "/_sandbox/faults")
                await self._sandbox_json("PUT", "/_sandbox/erp/posting-window", json={"open": True})
                began = time.monotonic()
                violations = await self._check()
                durations["checks"] = time.monotonic() - began
            ok = not violations and all(o.status in SETTLED for o in self.orders)
        finally:
            durations["total"] = self.elapsed()
            await asyncio.to_thread(self.stack.stop)
            if self.server_errors:
                # A 500 says nothing by design; the API's log says where it failed.
                self.anomalies += _logged_errors(self.stack.supervisor.log_path("api"))
            if not cfg.keep_data and ok and cfg.data_dir is None:
                shutil.rmtree(data_dir, ignore_errors=True)
            elif not ok or cfg.keep_data:
                self.say(f"data and logs kept in {data_dir}")
        return ChaosReport(
            cfg,
            self.seed,
            self.orders,
            violations,
            self.events,
            faults,
            self.answers,
            durations,
            data_dir,
            self.anomalies,
        )

    def _register_marketing(self) -> None:
        from deploy.marketing import ensure_marketing_webhook

        assert self.stack is not None
        self.say(ensure_marketing_webhook(self.stack.api_url, self.stack.sandbox_url, self.stack.settings))

    async def _sandbox_json(self, method: str, path: str, **kwargs: Any) -> Any:
        assert self.sandbox is not None
        for attempt in range(20):
            try:
                response = await self.sandbox.request(method, path, **kwargs)
                response.raise_for_status()
                return response.json()
            except httpx.HTTPError:
                if attempt == 19:
                    raise
                await asyncio.sleep(0.5)
        raise AssertionError("unreachable")

    async def _set_faults(self) -> None:
        cfg = self.config
        for vendor in VENDORS:
            await self._sandbox_json(
                "PUT",
                f"/_sandbox/faults/{vendor}",
                json={
                    "error_rate": cfg.error_rate,
                    "timeout_rate": cfg.timeout_rate,
                    "latency_ms": cfg.latency_ms,
                },
            )

    async def _drive(self) -> None:
        cfg = self.config
        plan = [self._pick() for _ in range(cfg.orders)]
        self.orders = [
            PlacedOrder(s.name, build_order(self.rng, s.name, f"CH{self.seed}-{i:05d}"), s.allowed)
            for i, s in enumerate(plan)
        ]
        deadline = time.monotonic() + cfg.settle_timeout_s
        gate = asyncio.Semaphore(cfg.concurrency)
        chaos = asyncio.create_task(self._chaos())

        async def one(placed: PlacedOrder) -> None:
            async with gate:
                try:
                    await self._lifecycle(placed, deadline)
                except Exception as exc:  # noqa: BLE001 - one broken client flow must not stop the run
                    placed.notes.append(f"client error {type(exc).__name__}: {exc}")
                    self.note(f"{placed.order_id}: client error {type(exc).__name__}: {exc}")
                finally:
                    self.settled += 1
                    if self.settled % max(1, cfg.orders // 10) == 0:
                        self.say(f"  {self.settled}/{cfg.orders} orders settled at {self.elapsed():.0f}s")

        try:
            await asyncio.gather(*(one(o) for o in self.orders))
        finally:
            self.done.set()
            await chaos

    def _pick(self) -> Scenario:
        return self.rng.choices(SCENARIOS, weights=[s.weight for s in SCENARIOS])[0]

    # -- the chaos monkey --------------------------------------------------------------------

    async def _chaos(self) -> None:
        """Kills, restarts and the posting-window closure, each at a random point of the run's progress
        (the share of orders settled), so they land while orders are in flight however fast it goes."""
        cfg, rng = self.config, random.Random(self.seed + 1)
        plan: list[tuple[float, str]] = [(rng.uniform(0.03, 0.85), "kill") for _ in range(cfg.kills)]
        plan += [(rng.uniform(0.3, 0.6), "restart") for _ in range(cfg.temporal_restarts)]
        if cfg.erp_closure_s > 0:
            plan.append((rng.uniform(0.1, 0.5), "erp"))
        pending: list[asyncio.Task[None]] = []
        for share, action in sorted(plan):
            while self.settled < share * cfg.orders and not self.done.is_set():
                await asyncio.sleep(0.2)
            if self.done.is_set():
                break
            await asyncio.sleep(rng.uniform(0, 1.5))
            if action == "erp":
                pending.append(asyncio.create_task(self._close_erp()))
            elif action == "kill":
                await self._kill_worker(rng)
            else:
                await self._restart_temporal()
        await asyncio.gather(*pending)
        assert self.stack is not None
        if not self.stack.is_running("worker"):
            await asyncio.to_thread(self.stack.start_component, "worker")

    async def _kill_worker(self, rng: random.Random) -> None:
        assert self.stack is not None
        async with self.chaos_lock:
            at = self.elapsed()
            await asyncio.to_thread(self.stack.kill, "worker")
            await asyncio.sleep(rng.uniform(0, 3))
            await asyncio.to_thread(self.stack.start_component, "worker")
            self.events.append(
                ChaosEvent(at, "kill worker (SIGKILL) and start it again", self.elapsed() - at)
            )
            self.say(f"  chaos: worker SIGKILLed at {at:.1f}s, back after {self.elapsed() - at:.1f}s")

    async def _restart_temporal(self) -> None:
        assert self.stack is not None
        async with self.chaos_lock:
            at = self.elapsed()
            await asyncio.to_thread(self.stack.restart, "temporal")
            took = self.elapsed() - at
            self.say(f"  chaos: Temporal dev server restarted at {at:.1f}s, serving again after {took:.1f}s")
            # The worker and the API must find their way back on their own.
            await self._expect_recovery(at)
            self.events.append(ChaosEvent(at, "restart temporal (SIGTERM, start on the same file)", took))

    async def _expect_recovery(self, since: float) -> None:
        assert self.stack is not None and self.api is not None
        for _ in range(120):
            try:
                ready = (await self.api.get("/readyz")).status_code == 200
            except httpx.HTTPError:
                ready = False
            if ready:
                break
            await asyncio.sleep(0.5)
        else:
            self.note("the API did not become ready within 60 s of the Temporal restart")
        if not self.stack.is_running("worker"):
            self.note(f"the worker exited after the Temporal restart at {since:.1f}s; started it again")
            await asyncio.to_thread(self.stack.start_component, "worker")

    async def _close_erp(self) -> None:
        at = self.elapsed()
        await self._sandbox_json("PUT", "/_sandbox/erp/posting-window", json={"open": False})
        self.say(f"  chaos: ERP posting window closed at {at:.1f}s for {self.config.erp_closure_s:g}s")
        await asyncio.sleep(self.config.erp_closure_s)
        await self._sandbox_json("PUT", "/_sandbox/erp/posting-window", json={"open": True})
        self.events.append(ChaosEvent(at, "close erp posting window", self.elapsed() - at))

    # -- one order, as the commerce platform drives it ---------------------------------------

    async def _lifecycle(self, placed: PlacedOrder, deadline: float) -> None:
        if placed.scenario == "insufficient-points":
            await self._sandbox_json(
                "PUT",
                f"/_sandbox/members/{placed.body['customer']['loyalty_member_id']}",
                json={"available_points": placed.body["points_to_redeem"] - 1, "tier": "base"},
            )
        decision = await self._place(placed, deadline)
        if decision == "accepted" and placed.scenario in ("cancel", "cancel-race"):
            await self._cancel(placed, deadline)
        view = await self._wait_settled(placed, deadline)
        if view is None:
            return
        if placed.scenario in ("return", "split-return") and placed.status == "completed":
            await self._return(placed, view, deadline)

    async def _call(
        self,
        method: str,
        path: str,
        deadline: float,
        *,
        final: Callable[[httpx.Response], bool],
        headers: dict[str, str],
        **kwargs: Any,
    ) -> httpx.Response | None:
        """Send until `final` says the answer is one to act on; 202/503 and transport errors mean
        "again, a little later" (every call here is idempotent)."""
        assert self.api is not None
        delay = 0.5
        while time.monotonic() < deadline:
            try:
                response = await self.api.request(method, path, headers=headers, **kwargs)
            except httpx.HTTPError as exc:
                self.answers[f"{type(exc).__name__}"] += 1
                await asyncio.sleep(delay)
                delay = min(delay * 1.5, 3.0)
                continue
            label = _bucket(method, path, response.status_code)
            self.answers[label] += 1
            if response.status_code >= 500 and response.status_code != 503:
                self.server_errors += 1
                self.note(f"{label} {path}: {response.text[:300]}")
            if final(response):
                return response
            retry_after = response.headers.get("retry-after")
            await asyncio.sleep(
                min(float(retry_after), 3.0) if retry_after and retry_after.isdigit() else delay
            )
            delay = min(delay * 1.5, 3.0)
        return None

    async def _place(self, placed: PlacedOrder, deadline: float) -> str:
        headers = {**COMMERCE, "X-Correlation-ID": f"chaos-{placed.order_id}"}

        def final(r: httpx.Response) -> bool:
            return r.status_code != 503 or _problem_type(r) == "payment-unavailable"

        while True:
            response = await self._call(
                "POST", "/v1/orders", deadline, final=final, headers=headers, json=placed.body
            )
            if response is None or response.status_code != 202 or time.monotonic() >= deadline:
                break
            # 202: the decision is on its way. Follow the order (a query) until it is taken, then send the
            # same order again for the answer; re-sending at once would only pile updates onto a busy order.
            await self._wait_decided(placed, deadline)
        if response is None or response.status_code == 202:
            placed.notes.append("no accept decision before the deadline")
            return "none"
        if response.status_code in (200, 201):
            return "accepted"
        kind = _problem_type(response)
        if response.status_code in (402, 409, 503) and kind in (
            "payment-declined",
            "insufficient-points",
            "payment-unavailable",
        ):
            return "rejected"
        placed.notes.append(f"POST /v1/orders answered {response.status_code} {kind}")
        self.note(
            f"{placed.order_id}: POST /v1/orders answered {response.status_code}: {response.text[:300]}"
        )
        return "error"

    async def _wait_decided(self, placed: PlacedOrder, deadline: float) -> None:
        while time.monotonic() < deadline:
            await asyncio.sleep(POLL_S)
            response = await self._call(
                "GET",
                f"/v1/orders/{placed.order_id}",
                deadline,
                final=lambda r: r.status_code in (200, 404),
                headers=COMMERCE,
            )
            if (
                response is not None
                and response.status_code == 200
                and response.json()["status"] != "received"
            ):
                return

    async def _cancel(self, placed: PlacedOrder, deadline: float) -> None:
        if placed.scenario == "cancel-race":
            await asyncio.sleep(self.rng.uniform(0, 1.0))  # around the node's dispatch delay
        response = await self._call(
            "POST",
            f"/v1/orders/{placed.order_id}/cancel",
            deadline,
            final=lambda r: r.status_code not in (503,),
            headers=SUPPORT,
            json={"reason": "chaos: customer cancel"},
        )
        if response is not None and response.status_code not in (202, 409):
            self.note(f"{placed.order_id}: cancel answered {response.status_code}: {response.text[:300]}")
        if placed.scenario == "cancel" and response is not None and response.status_code == 409:
            placed.notes.append(f"cancel refused: {response.text[:200]}")

    async def _wait_settled(self, placed: PlacedOrder, deadline: float) -> dict[str, Any] | None:
        """Every GET is a workflow query: ask every POLL_S only, so polling is not what loads the stack."""
        view: dict[str, Any] | None = None
        await asyncio.sleep(POLL_S)
        while time.monotonic() < deadline:
            response = await self._call(
                "GET",
                f"/v1/orders/{placed.order_id}",
                deadline,
                final=lambda r: r.status_code in (200, 404),
                headers=COMMERCE,
            )
            if response is not None and response.status_code == 200:
                view = response.json()
                placed.status, placed.status_reason = view["status"], view.get("status_reason")
                if placed.status in SETTLED:
                    return view
            await asyncio.sleep(POLL_S)
        return None

    async def _return(self, placed: PlacedOrder, view: dict[str, Any], deadline: float) -> None:
        shipped = {ln["sku"]: ln["quantity"] for s in view["shipments"] for ln in s["lines"]}
        if not shipped:
            return
        skus = sorted(shipped)
        chosen = self.rng.sample(skus, self.rng.randint(1, len(skus)))
        lines = [{"sku": sku, "quantity": shipped[sku]} for sku in chosen]
        body = {"return_id": "R1", "lines": lines, "reason": "chaos: did not fit"}
        path = f"/v1/orders/{placed.order_id}/returns"
        response = await self._call(
            "POST", path, deadline, final=lambda r: r.status_code != 503, headers=COMMERCE, json=body
        )
        if response is None or response.status_code != 202:
            answer = f"{response.status_code}: {response.text[:300]}" if response is not None else "nothing"
            placed.notes.append(f"return refused: {answer}")
            self.note(f"{placed.order_id}: return answered {answer}")
            return
        placed.returned = lines
        while time.monotonic() < deadline:
            got = await self._call(
                "GET", f"{path}/R1", deadline, final=lambda r: r.status_code in (200, 404), headers=COMMERCE
            )
            if got is not None and got.status_code == 200:
                placed.return_status = got.json()["status"]
                if placed.return_status in ("completed", "needs_attention", "expired"):
                    return
            await asyncio.sleep(POLL_S)

    # -- the checks --------------------------------------------------------------------------

    async def _check(self) -> list[Violation]:
        assert self.stack is not None
        ledger = (await self._sandbox_json("GET", "/_sandbox/ledger"))["entries"]
        vendors = VendorState(
            payment_intents=(await self._sandbox_json("GET", "/payments/payment_intents"))["data"],
            blocks=(await self._sandbox_json("GET", "/loyalty/blocks"))["data"],
            reservations=(await self._sandbox_json("GET", "/inventory/reservations"))["data"],
            shipment_requests=(await self._sandbox_json("GET", "/fulfillment/shipment-requests"))["data"],
            documents=(await self._sandbox_json("GET", "/erp/documents"))["data"],
        )
        rows = await asyncio.to_thread(_store_rows, self.stack.settings)
        violations = check_run(
            self.orders, ledger, vendors, rows, point_value_minor=self.stack.settings.point_value_minor
        )
        violations += [Violation("api", None, anomaly) for anomaly in self.anomalies]
        return violations


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


def _problem_type(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get("type") if isinstance(body, dict) else None


def _bucket(method: str, path: str, status: int) -> str:
    parts = path.strip("/").split("/")
    if method == "GET":
        what = "GET return" if "returns" in parts else "GET order"
    else:
        what = {"orders": "POST order", "cancel": "POST cancel", "returns": "POST return"}.get(
            parts[-1], path
        )
    return f"{what} {status}"


async def run_chaos(config: ChaosConfig, out: TextIO | None = sys.stdout) -> ChaosReport:
    return await ChaosRun(config, out).run()


# -- CLI -----------------------------------------------------------------------------------------


def add_chaos_command(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "chaos",
        help="place many orders while vendors fail and the worker and Temporal are killed; check money",
        description="Start a private local stack, inject faults on every vendor, SIGKILL the worker at random "
        "moments, restart Temporal once, close the ERP posting window once, place N orders of mixed "
        "scenarios through the API, wait for them to settle and check the money invariants against the "
        "sandbox ledger and the finance store. Exits non-zero on any violation.",
    )
    defaults = ChaosConfig()
    parser.add_argument(
        "--orders", type=int, default=defaults.orders, metavar="N", help="orders to place (1000)"
    )
    parser.add_argument("--seed", type=int, help="random seed (default: random, printed)")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=defaults.concurrency,
        help=f"orders in flight at once ({defaults.concurrency})",
    )
    parser.add_argument(
        "--kills", type=int, default=defaults.kills, help=f"worker SIGKILLs ({defaults.kills})"
    )
    parser.add_argument(
        "--temporal-restarts",
        type=int,
        default=defaults.temporal_restarts,
        help=f"Temporal dev server restarts ({defaults.temporal_restarts})",
    )
    parser.add_argument(
        "--erp-closure",
        type=float,
        default=defaults.erp_closure_s,
        metavar="SECONDS",
        help=f"how long the ERP posting window is closed, once; 0: never ({defaults.erp_closure_s:g})",
    )
    parser.add_argument(
        "--error-rate", type=float, default=defaults.error_rate, help="5xx share per vendor call"
    )
    parser.add_argument(
        "--timeout-rate",
        type=float,
        default=defaults.timeout_rate,
        help="timeout share per vendor call (the effect happens, the answer is held)",
    )
    parser.add_argument("--latency-ms", type=int, default=defaults.latency_ms, help="latency jitter 0..N ms")
    parser.add_argument(
        "--settle-timeout",
        type=float,
        default=defaults.settle_timeout_s,
        metavar="SECONDS",
        help="how long orders may take to settle",
    )
    parser.add_argument(
        "--no-marketing",
        dest="marketing",
        action="store_false",
        help="do not register the marketing receiver for outbound webhooks",
    )
    parser.add_argument("--data-dir", type=Path, help="the stack's data dir (default: a new temporary one)")
    parser.add_argument(
        "--keep-data", action="store_true", help="keep the data dir (logs, databases) afterwards"
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the report as JSON")
    parser.set_defaults(handler=_chaos_command)


def _chaos_command(args: Any) -> int:
    config = ChaosConfig(
        orders=args.orders,
        seed=args.seed,
        concurrency=args.concurrency,
        kills=args.kills,
        temporal_restarts=args.temporal_restarts,
        erp_closure_s=args.erp_closure,
        error_rate=args.error_rate,
        timeout_rate=args.timeout_rate,
        latency_ms=args.latency_ms,
        settle_timeout_s=args.settle_timeout,
        data_dir=args.data_dir,
        keep_data=args.keep_data,
        marketing=args.marketing,
    )
    report = asyncio.run(run_chaos(config))
    print(report.table(), flush=True)
    if args.json:
        args.json.write_text(json.dumps(report.to_dict(), indent=2, default=str))
    return 0 if report.ok else 1
