"""The faults of a chaos run: every vendor misbehaving, the worker SIGKILLed at random moments, the
Temporal dev server restarted, the ERP closing its posting window. Kills, restarts and the closure each
land at a random point of the run's progress (the share of orders settled), so they hit orders in
flight however fast the run goes."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx

from tools.chaos_client import ChaosClient

if TYPE_CHECKING:
    from deploy.stack import LocalStack

VENDORS = ("loyalty", "payments", "inventory", "fulfillment", "erp", "marketing")


@dataclass
class ChaosEvent:
    at_s: float
    what: str
    took_s: float = 0.0


@dataclass(frozen=True)
class FaultProfile:
    error_rate: float
    timeout_rate: float
    latency_ms: int
    kills: int
    temporal_restarts: int
    erp_closure_s: float


class ChaosMonkey:
    def __init__(
        self,
        stack: LocalStack,
        client: ChaosClient,
        profile: FaultProfile,
        seed: int,
        progress: Callable[[], float],
        elapsed: Callable[[], float],
        say: Callable[[str], None],
    ) -> None:
        self.stack = stack
        self.client = client
        self.profile = profile
        self.rng = random.Random(seed)
        self.progress = progress
        """Share of the orders settled so far."""
        self._elapsed = elapsed
        """Seconds since the run started, for the report's timeline."""
        self.say = say
        self.events: list[ChaosEvent] = []
        self.done = asyncio.Event()
        self._lock = asyncio.Lock()

    async def set_faults(self) -> None:
        p = self.profile
        for vendor in VENDORS:
            await self.client.sandbox_json(
                "PUT",
                f"/_sandbox/faults/{vendor}",
                json={"error_rate": p.error_rate, "timeout_rate": p.timeout_rate, "latency_ms": p.latency_ms},
            )

    async def clear_faults(self) -> dict[str, dict[str, int]]:
        """Clears every fault and reopens the ERP; returns the faults injected per vendor and kind."""
        injected: dict[str, dict[str, int]] = (await self.client.sandbox_json("GET", "/_sandbox/faults"))[
            "injected"
        ]
        await self.client.sandbox_json("DELETE", "/_sandbox/faults")
        await self.client.sandbox_json("PUT", "/_sandbox/erp/posting-window", json={"open": True})
        return injected

    async def run(self) -> None:
        p, rng = self.profile, self.rng
        plan: list[tuple[float, str]] = [(rng.uniform(0.03, 0.85), "kill") for _ in range(p.kills)]
        plan += [(rng.uniform(0.3, 0.6), "restart") for _ in range(p.temporal_restarts)]
        if p.erp_closure_s > 0:
            plan.append((rng.uniform(0.1, 0.5), "erp"))
        pending: list[asyncio.Task[None]] = []
        for share, action in sorted(plan):
            while self.progress() < share and not self.done.is_set():
                await asyncio.sleep(0.2)
            if self.done.is_set():
                break
            await asyncio.sleep(rng.uniform(0, 1.5))
            if action == "erp":
                pending.append(asyncio.create_task(self._close_erp()))
            elif action == "kill":
                await self._kill_worker()
            else:
                await self._restart_temporal()
        await asyncio.gather(*pending)
        await self._start_stopped_workers()

    async def _start_stopped_workers(self) -> list[str]:
        stopped = [name for name in self.stack.worker_names if not self.stack.is_running(name)]
        for name in stopped:
            await asyncio.to_thread(self.stack.start_component, name)
        return stopped

    async def _kill_worker(self) -> None:
        """One worker at a time, in turn: with several, the others keep serving while it is down."""
        async with self._lock:
            at = self._elapsed()
            names = self.stack.worker_names
            name = names[sum(e.what.startswith("kill") for e in self.events) % len(names)]
            await asyncio.to_thread(self.stack.kill, name)
            await asyncio.sleep(self.rng.uniform(0, 3))
            await asyncio.to_thread(self.stack.start_component, name)
            self.events.append(
                ChaosEvent(at, f"kill {name} (SIGKILL) and start it again", self._elapsed() - at)
            )
            self.say(f"  chaos: {name} SIGKILLed at {at:.1f}s, back after {self._elapsed() - at:.1f}s")

    async def _restart_temporal(self) -> None:
        async with self._lock:
            at = self._elapsed()
            await asyncio.to_thread(self.stack.restart, "temporal")
            took = self._elapsed() - at
            self.say(f"  chaos: Temporal dev server restarted at {at:.1f}s, serving again after {took:.1f}s")
            # The worker and the API must find their way back on their own.
            await self._expect_recovery(at)
            self.events.append(ChaosEvent(at, "restart temporal (SIGTERM, start on the same file)", took))

    async def _expect_recovery(self, since: float) -> None:
        for _ in range(120):
            try:
                ready = (await self.client.api.get("/readyz")).status_code == 200
            except httpx.HTTPError:
                ready = False
            if ready:
                break
            await asyncio.sleep(0.5)
        else:
            self.client.note("the API did not become ready within 60 s of the Temporal restart")
        for name in await self._start_stopped_workers():
            self.client.note(f"{name} exited after the Temporal restart at {since:.1f}s; started it again")

    async def _close_erp(self) -> None:
        at = self._elapsed()
        await self.client.sandbox_json("PUT", "/_sandbox/erp/posting-window", json={"open": False})
        self.say(f"  chaos: ERP posting window closed at {at:.1f}s for {self.profile.erp_closure_s:g}s")
        await asyncio.sleep(self.profile.erp_closure_s)
        await self.client.sandbox_json("PUT", "/_sandbox/erp/posting-window", json={"open": True})
        self.events.append(ChaosEvent(at, "close erp posting window", self._elapsed() - at))
