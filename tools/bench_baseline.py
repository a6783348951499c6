"""Bare Temporal as the bench's yardstick: a workflow of N no-op activities, nothing else.

Runs on its own task queue with a worker inside the bench process (SDK defaults, sandboxed workflows as
the SDK ships them), against the same server as the saga, with a plain client (no payload codec).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Self

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import Worker

STEP_TIMEOUT = timedelta(seconds=30)


@activity.defn(name="bench_noop")
async def noop() -> None:
    return None


@dataclass(frozen=True)
class NoopSteps:
    steps: int
    local: bool


@workflow.defn(name="BenchNoopWorkflow")
class NoopWorkflow:
    @workflow.run
    async def run(self, inp: NoopSteps) -> None:
        for _ in range(inp.steps):
            if inp.local:
                await workflow.execute_local_activity(noop, start_to_close_timeout=STEP_TIMEOUT)
            else:
                await workflow.execute_activity(noop, start_to_close_timeout=STEP_TIMEOUT)


# The baseline's kinds: whether the no-op steps run as local activities.
KINDS: dict[str, bool] = {"activities": False, "local_activities": True}


class BaselineRun:
    """One worker on a fresh task queue; `run` times N workflows of one kind at concurrency C."""

    def __init__(self, address: str, namespace: str, tag: str) -> None:
        self.address = address
        self.namespace = namespace
        self.task_queue = f"o2c-bench-baseline-{tag}"
        self.tag = tag

    async def __aenter__(self) -> Self:
        self.client = await Client.connect(self.address, namespace=self.namespace)
        self.worker = Worker(
            self.client,
            task_queue=self.task_queue,
            workflows=[NoopWorkflow],
            activities=[noop],
        )
        self._running = asyncio.create_task(self.worker.run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.worker.shutdown()
        await self._running

    async def run(
        self, kind: str, workflows: int, concurrency: int, steps: int, progress: Callable[[str], None]
    ) -> tuple[int, int, float, list[float]]:
        """(completed, failed, seconds from the first start to the last end, each completed one's seconds).

        A workflow's seconds run from its start call to its result: the least any decision taken inside a
        workflow can cost a caller at this concurrency on this server.
        """
        inp = NoopSteps(steps=steps, local=KINDS[kind])
        gate = asyncio.Semaphore(concurrency)
        failed = 0
        durations: list[float] = []  # one per completed workflow

        async def one() -> None:
            nonlocal failed
            async with gate:
                began = time.monotonic()
                try:
                    await self.client.execute_workflow(
                        NoopWorkflow.run,
                        inp,
                        id=f"bench-{self.tag}-{kind}-{uuid.uuid4().hex[:12]}",
                        task_queue=self.task_queue,
                    )
                    durations.append(time.monotonic() - began)
                except Exception:  # a failed workflow is counted, not fatal to the run
                    failed += 1
                if (len(durations) + failed) % max(1, workflows // 5) == 0:
                    progress(f"baseline {kind}: {len(durations) + failed}/{workflows} done")

        started = time.monotonic()
        await asyncio.gather(*(one() for _ in range(workflows)))
        return len(durations), failed, time.monotonic() - started, durations

    async def warm_up(self, kind: str, workflows: int, steps: int) -> None:
        """Workflows that are not timed: the worker's first tasks pay for imports and the sandbox's setup."""
        await self.run(kind, workflows, workflows, steps, progress=lambda _: None)
