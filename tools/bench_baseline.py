"""Bare Temporal as the bench's yardstick: a workflow of N no-op activities, nothing else.

Runs on its own task queue with a worker inside the bench process (SDK defaults, sandboxed workflows as
the SDK ships them), against the same server as the saga, with a plain client (no payload codec).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Self

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import Worker

STEP_TIMEOUT = timedelta(seconds=30)


@activity.defn(name="bench_noop")
async def noop() -> None:
    return None


@workflow.defn(name="BenchActivitiesWorkflow")
class ActivitiesWorkflow:
    @workflow.run
    async def run(self, steps: int) -> None:
        for _ in range(steps):
            await workflow.execute_activity(noop, start_to_close_timeout=STEP_TIMEOUT)


@workflow.defn(name="BenchLocalActivitiesWorkflow")
class LocalActivitiesWorkflow:
    @workflow.run
    async def run(self, steps: int) -> None:
        for _ in range(steps):
            await workflow.execute_local_activity(noop, start_to_close_timeout=STEP_TIMEOUT)


KINDS: dict[str, type] = {"activities": ActivitiesWorkflow, "local_activities": LocalActivitiesWorkflow}


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
            workflows=list(KINDS.values()),
            activities=[noop],
        )
        self._running = asyncio.create_task(self.worker.run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.worker.shutdown()
        await self._running

    async def run(
        self, kind: str, workflows: int, concurrency: int, steps: int, progress: Callable[[str], None]
    ) -> tuple[int, int, float]:
        """(completed, failed, seconds from the first start to the last end)."""
        workflow_class = KINDS[kind]
        gate = asyncio.Semaphore(concurrency)
        done = failed = 0

        async def one() -> None:
            nonlocal done, failed
            async with gate:
                try:
                    await self.client.execute_workflow(
                        workflow_class.run,  # type: ignore[attr-defined]
                        steps,
                        id=f"bench-{self.tag}-{kind}-{uuid.uuid4().hex[:12]}",
                        task_queue=self.task_queue,
                    )
                    done += 1
                except Exception:  # noqa: BLE001 - a failed workflow is counted, not fatal to the run
                    failed += 1
                if (done + failed) % max(1, workflows // 5) == 0:
                    progress(f"baseline {kind}: {done + failed}/{workflows} done")

        started = time.monotonic()
        await asyncio.gather(*(one() for _ in range(workflows)))
        return done, failed, time.monotonic() - started

    async def warm_up(self, kind: str, workflows: int, steps: int) -> None:
        """Workflows that are not timed: the worker's first tasks pay for imports and the sandbox's setup."""
        await self.run(kind, workflows, workflows, steps, progress=lambda _: None)
