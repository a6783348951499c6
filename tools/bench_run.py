"""One `o2c bench` run: the stack, the phases in order and the report (what they mean: tools/bench.py)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import secrets
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import httpx
from temporalio.client import Client

from canonical.saga import workflow_id as order_workflow_id
from runtime.settings import Settings
from tools.bench import BenchConfig
from tools.bench_baseline import BaselineRun
from tools.bench_history import Tally, executions_started, order_costs, still_running
from tools.bench_orders import OrderClient, Placed, StatusPoller, order_body, progress_line
from tools.bench_procs import CpuMeter, RssSampler
from tools.bench_report import (
    BaselineResult,
    BenchReport,
    EventCounts,
    Latency,
    OrdersPhase,
    PerOrder,
    Rss,
    RunRss,
    StackInfo,
    WaitingPhase,
)

if TYPE_CHECKING:
    from deploy.stack import LocalStack

WARMUP_WORKFLOWS = 10
SINGLE_POLL_S = 0.2
LOAD_POLL_S = 1.0
HELD_POLL_S = 2.0
DRAIN_POLL_S = 1.0
DRAIN_LIMIT_S = 600.0
BENCH = "bench"


async def run_bench(config: BenchConfig, progress: TextIO | None = None) -> BenchReport:
    return await BenchRun(config, progress).run()


class BenchRun:
    def __init__(self, config: BenchConfig, progress: TextIO | None) -> None:
        self.config = config
        self.progress = progress
        self.tag = secrets.token_hex(3)
        self.rng = random.Random(config.seed)
        self.started = time.monotonic()
        self.settings = Settings()
        self.pids: dict[str, int] = {}
        self.rss = RssSampler(None)

    def say(self, text: str) -> None:
        if self.progress is not None:
            with contextlib.suppress(OSError, ValueError):
                print(f"[{time.monotonic() - self.started:7.1f}s] {text}", file=self.progress, flush=True)

    async def run(self) -> BenchReport:
        loadavg_start = list(os.getloadavg())
        async with self._stack() as stack:
            self.pids = {**stack.pids, BENCH: os.getpid()}
            self.rss = RssSampler(stack.pids.get("worker"))
            sampler = asyncio.create_task(self.rss.run_forever())
            try:
                report = await self._phases(stack, loadavg_start)
            finally:
                sampler.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sampler
        return report

    async def _phases(self, stack: StackInfo, loadavg_start: list[float]) -> BenchReport:
        cfg = self.config
        namespace = self.settings.temporal_namespace
        baseline = baseline_local = None
        if cfg.baseline_workflows:
            async with BaselineRun(stack.temporal_address, namespace, self.tag) as base:
                baseline = await self._baseline(base, "activities")
                baseline_local = await self._baseline(base, "local_activities")
        async with (
            httpx.AsyncClient(base_url=stack.api_url, timeout=60, limits=_pool(cfg.concurrency)) as api,
            httpx.AsyncClient(base_url=stack.sandbox_url, timeout=60) as sandbox,
        ):
            client = OrderClient(api, cfg.api_key)
            temporal = await Client.connect(stack.temporal_address, namespace=namespace)
            single = await self._single("single", client, "S") if cfg.single else None
            load = load_window = None
            if cfg.orders:
                load, load_window = await self._load(client, temporal)
            per_order = await self._per_order(temporal, load or single, load_window)
            waiting = await self._waiting(client, sandbox, temporal) if cfg.waiting else None
        rss_run = RunRss(start_mb=self.rss.first_mb, peak_mb=self.rss.run.peak_mb, end_mb=self.rss.sample())
        return BenchReport(
            config=cfg,
            run_tag=self.tag,
            stack=stack,
            cpus=os.cpu_count() or 0,
            loadavg_start=loadavg_start,
            loadavg_end=list(os.getloadavg()),
            baseline=baseline,
            baseline_local=baseline_local,
            single=single.phase if single else None,
            load=load.phase if load else None,
            ratio_to_baseline=_ratio(load, baseline),
            ratio_to_local_baseline=_ratio(load, baseline_local),
            per_order=per_order,
            worker_rss_mb=rss_run,
            waiting=waiting,
            duration_s=time.monotonic() - self.started,
        )

    # -- the stack -------------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _stack(self) -> AsyncIterator[StackInfo]:
        cfg = self.config
        if cfg.api_url:
            yield StackInfo(
                started_by_bench=False,
                api_url=cfg.api_url,
                temporal_address=cfg.temporal_address or self.settings.temporal_address,
                sandbox_url=cfg.sandbox_url or self.settings.sandbox_url,
                data_dir=None,
                dispatch_delay_s=None,
                marketing_webhook=None,
                pids={
                    name: pid
                    for name, pid in (("temporal", cfg.temporal_pid), ("worker", cfg.worker_pid))
                    if pid is not None
                },
            )
            return
        from deploy.stack import LocalStack

        data_dir = Path(cfg.data_dir) if cfg.data_dir else Path(tempfile.mkdtemp(prefix="o2c-bench-"))
        stack = LocalStack.on_free_ports(
            data_dir, self.settings, env={"SANDBOX_DISPATCH_DELAY_S": str(cfg.dispatch_delay_s)},
            workers=cfg.workers,
        )
        self.settings = stack.settings
        self.say(f"starting the local stack in {data_dir} ...")
        failed = True
        try:
            await asyncio.to_thread(stack.start)
            self.say(f"stack ready: API {stack.api_url}, Temporal {stack.temporal_address}")
            if cfg.marketing:
                await asyncio.to_thread(self._register_marketing, stack)
            yield StackInfo(
                started_by_bench=True,
                api_url=stack.api_url,
                temporal_address=stack.temporal_address,
                sandbox_url=stack.sandbox_url,
                data_dir=str(data_dir),
                dispatch_delay_s=cfg.dispatch_delay_s,
                marketing_webhook=cfg.marketing,
                pids={name: stack.supervisor.pid(name) for name in stack.components},
            )
            failed = False
        finally:
            self.say("stopping the local stack ...")
            await asyncio.to_thread(stack.stop)
            if failed or cfg.keep_data or cfg.data_dir is not None:
                self.say(f"data and logs kept in {data_dir}")
            else:
                shutil.rmtree(data_dir, ignore_errors=True)

    def _register_marketing(self, stack: LocalStack) -> None:
        from deploy.marketing import ensure_marketing_webhook

        self.say(ensure_marketing_webhook(stack.api_url, stack.sandbox_url, stack.settings))

    # -- phases ----------------------------------------------------------------------------------

    async def _baseline(self, base: BaselineRun, kind: str) -> BaselineResult:
        cfg = self.config
        warmup = min(WARMUP_WORKFLOWS, cfg.baseline_workflows)
        await base.warm_up(kind, warmup, cfg.baseline_steps)
        self.say(f"baseline {kind}: {cfg.baseline_workflows} workflows at {cfg.concurrency} ...")
        cpu = CpuMeter(self.pids, time.monotonic())
        done, failed, seconds, durations = await base.run(
            kind, cfg.baseline_workflows, cfg.concurrency, cfg.baseline_steps, self.say
        )
        result = BaselineResult(
            kind=kind,
            steps=cfg.baseline_steps,
            workflows=cfg.baseline_workflows,
            concurrency=cfg.concurrency,
            warmup=warmup,
            completed=done,
            failed=failed,
            seconds=seconds,
            workflows_per_s=done / seconds if seconds > 0 else 0.0,
            start_to_result_ms=Latency.of(durations),
            cpu_percent=cpu.percent(time.monotonic()),
        )
        self.say(f"baseline {kind}: {result.workflows_per_s:.1f} workflows/s")
        return result

    def _orders(self, letter: str, count: int, sku_prefix: str = "SKU") -> list[Placed]:
        ids = [f"BENCH-{self.tag}-{letter}{i:05d}" for i in range(count)]
        return [Placed(oid, order_body(self.rng, oid, i, sku_prefix=sku_prefix)) for i, oid in enumerate(ids)]

    async def _single(self, label: str, client: OrderClient, letter: str) -> _Phase:
        """Orders one at a time, each followed to completion before the next is sent."""
        return await self._drive(
            label, client, self._orders(letter, self.config.single), 1, SINGLE_POLL_S, True
        )

    async def _load(self, client: OrderClient, temporal: Client) -> tuple[_Phase, tuple[datetime, datetime]]:
        """The load phase, then a wait until the work its orders left behind is done; the window spans it."""
        began = datetime.now(UTC)
        letter = "L"
        phase = await self._drive(
            "load",
            client,
            self._orders(letter, self.config.orders),
            self.config.concurrency,
            LOAD_POLL_S,
            False,
        )
        finished = [p.finished_at for p in phase.orders if p.outcome == "completed" and p.finished_at]
        if finished:
            phase.phase.background_drained_s = await self._drain(
                "load", temporal, began, letter, max(finished)
            )
        return phase, (began, datetime.now(UTC))

    async def _drain(
        self, label: str, temporal: Client, since: datetime, letter: str, after: float
    ) -> float | None:
        """Waits until nothing started since `since` runs but the workflows of the orders marked `letter`;
        seconds from `after` until then, or None if something still runs after DRAIN_LIMIT_S."""
        own_workflows = order_workflow_id(f"BENCH-{self.tag}-{letter}")
        limit = time.monotonic() + DRAIN_LIMIT_S
        said = 0.0
        while (running := await still_running(temporal, since, own_workflows)) > 0:
            if time.monotonic() > limit:
                return None
            if time.monotonic() - said >= 5.0:
                self.say(f"{label}: {running} executions the orders started are still running")
                said = time.monotonic()
            await asyncio.sleep(DRAIN_POLL_S)
        return max(0.0, time.monotonic() - after)

    async def _drive(
        self,
        label: str,
        client: OrderClient,
        orders: list[Placed],
        concurrency: int,
        poll_s: float,
        wait_each: bool,
    ) -> _Phase:
        self.say(f"{label}: {len(orders)} orders at concurrency {concurrency} ...")
        loadavg = list(os.getloadavg())
        self.rss.end_phase()
        began = time.monotonic()
        cpu = CpuMeter(self.pids, began)
        poller = await client.run(
            orders,
            concurrency=concurrency,
            follow=True,
            wait_each=wait_each,
            poll_interval_s=poll_s,
            deadline=began + self.config.timeout_s,
            progress=lambda placed, p: self.say(progress_line(label, placed, p, began)),
        )
        cpu_percent = cpu.percent(time.monotonic())
        window = self.rss.end_phase()
        phase = _Phase(
            orders,
            _orders_phase(
                orders,
                concurrency,
                poller,
                cpu_percent,
                Rss(peak_mb=window.peak_mb, end_mb=window.last_mb),
                loadavg,
            ),
        )
        self.say(progress_line(label, orders, poller, began))
        return phase

    async def _per_order(
        self, temporal: Client, phase: _Phase | None, window: tuple[datetime, datetime] | None
    ) -> PerOrder | None:
        if phase is None or not self.config.sample:
            return None
        completed = [p.order_id for p in phase.orders if p.outcome == "completed"]
        chosen = random.Random(self.config.seed).sample(completed, min(self.config.sample, len(completed)))
        if not chosen:
            return None
        self.say(f"reading the Temporal histories of {len(chosen)} orders ...")
        costs = await order_costs(temporal, [order_workflow_id(oid) for oid in chosen])
        n = len(costs)
        types: Counter[str] = Counter()
        for cost in costs:
            types.update(cost.by_type)
        started = await executions_started(temporal, *window) if window else None
        return PerOrder(
            sample=n,
            workflow_executions=sum(c.executions for c in costs) / n,
            executions_by_type={name: count / n for name, count in types.items()},
            all_executions=_mean_counts([c.all_executions for c in costs]),
            order_workflow=_mean_counts([c.order_workflow for c in costs]),
            still_running=sum(c.still_running for c in costs),
            server_executions_started=started,
            server_executions_per_order=started / len(phase.orders) if started is not None else None,
        )

    async def _waiting(
        self, client: OrderClient, sandbox: httpx.AsyncClient, temporal: Client
    ) -> WaitingPhase:
        """Held orders; once the work placing them caused is done, RSS and fresh orders one at a time."""
        cfg = self.config
        letter = "W"
        since = datetime.now(UTC)
        orders = self._orders(letter, cfg.waiting, sku_prefix="HOLD")
        self.say(
            f"waiting: placing {len(orders)} orders to hold before dispatch, {cfg.concurrency} at a time ..."
        )
        began = time.monotonic()
        deadline = began + cfg.timeout_s
        await client.run(
            orders,
            concurrency=cfg.concurrency,
            follow=False,
            wait_each=False,
            poll_interval_s=LOAD_POLL_S,
            deadline=deadline,
            progress=lambda placed, _: self.say(
                f"waiting: {sum(1 for p in placed if p.answer)}/{len(placed)} placed"
            ),
        )
        expected = {p.order_id for p in orders if p.outcome is None}
        held = await self._wait_held(sandbox, expected, deadline)
        seconds_to_hold = time.monotonic() - began
        drained = await self._drain("waiting", temporal, since, letter, time.monotonic())
        held_rss = self.rss.sample()
        self.say(f"waiting: {len(held)} orders held at the node; worker RSS {held_rss or 0:.0f} MB")
        probe = await self._single("waiting: fresh order", client, "P")
        return WaitingPhase(
            orders=len(orders),
            answers=dict(Counter(p.answer or "not sent" for p in orders)),
            held=len(held),
            seconds_to_hold=seconds_to_hold,
            background_drained_s=drained,
            worker_rss_mb_held=held_rss,
            probe=probe.phase,
            left_waiting=True,
        )

    async def _wait_held(self, sandbox: httpx.AsyncClient, expected: set[str], deadline: float) -> set[str]:
        """Orders whose shipment request the node holds (a `fulfillment.request` entry in the ledger)."""
        held: set[str] = set()
        after = 0
        last_said = time.monotonic()
        while held < expected and time.monotonic() < deadline:
            response = await sandbox.get(
                "/_sandbox/ledger", params={"action": "fulfillment.request", "after_seq": after}
            )
            response.raise_for_status()
            for entry in response.json()["entries"]:
                after = max(after, entry["seq"])
                if entry["order_id"] in expected:
                    held.add(entry["order_id"])
            if held < expected:
                if time.monotonic() - last_said > 5:
                    self.say(f"waiting: {len(held)}/{len(expected)} held at the node")
                    last_said = time.monotonic()
                await asyncio.sleep(HELD_POLL_S)
        return held


@dataclass
class _Phase:
    """The orders of a phase and what the report says about them."""

    orders: list[Placed]
    phase: OrdersPhase


def _orders_phase(
    orders: list[Placed],
    concurrency: int,
    poller: StatusPoller,
    cpu_percent: dict[str, float],
    rss: Rss,
    loadavg: list[float],
) -> OrdersPhase:
    answers = Counter(p.answer or "not sent" for p in orders)
    completed = [p for p in orders if p.outcome == "completed"]
    seconds = None
    if completed:
        first_sent = min(p.sent_at for p in orders if p.sent_at is not None)
        seconds = max(p.finished_at for p in completed if p.finished_at is not None) - first_sent
    return OrdersPhase(
        orders=len(orders),
        concurrency=concurrency,
        answers=dict(answers),
        share_202=answers.get("202", 0) / len(orders) if orders else 0.0,
        accept_ms=Latency.of([s for p in orders if (s := p.accept_s) is not None]),
        completed=len(completed),
        outcomes=dict(Counter(p.outcome or "unfinished" for p in orders)),
        seconds=seconds,
        completed_per_s=len(completed) / seconds if seconds else None,
        complete_ms=Latency.of([s for p in completed if (s := p.complete_s) is not None]),
        status_polls=poller.polls,
        cpu_percent=cpu_percent,
        worker_rss_mb=rss,
        loadavg_before=loadavg,
    )


def _mean_counts(tallies: list[Tally]) -> EventCounts:
    fields = EventCounts.model_fields
    return EventCounts(**{name: sum(getattr(t, name) for t in tallies) / len(tallies) for name in fields})


def _ratio(load: _Phase | None, baseline: BaselineResult | None) -> float | None:
    if load is None or baseline is None or load.phase.completed_per_s is None or not baseline.workflows_per_s:
        return None
    return load.phase.completed_per_s / baseline.workflows_per_s


def _pool(concurrency: int) -> httpx.Limits:
    # Every caller and the poller need a connection of their own, or they queue inside the client.
    return httpx.Limits(max_connections=concurrency + 10, max_keepalive_connections=concurrency + 10)
