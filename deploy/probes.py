"""Readiness probes: how the supervisor tells that a child process is ready to serve.

A probe answers one question quickly and never raises; the supervisor polls it until it says yes,
the process dies or a deadline passes. Probes that need Temporal run their coroutine on a private
event loop in a helper thread, so the supervisor stays synchronous and can be driven from plain
scripts and from inside async tests alike.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Protocol, TypeVar

import httpx

from deploy.ports import port_open

T = TypeVar("T")


@dataclass(frozen=True)
class Launch:
    """What a probe may need to know about the process it is judging."""

    pid: int
    started_at: float  # wall-clock seconds (time.time()) just before the process was spawned


class Probe(Protocol):
    def ready(self, launch: Launch) -> bool: ...

    def __str__(self) -> str: ...


@dataclass(frozen=True)
class TcpProbe:
    host: str
    port: int

    def ready(self, launch: Launch) -> bool:
        return port_open(self.host, self.port)

    def __str__(self) -> str:
        return f"TCP {self.host}:{self.port} accepting connections"


@dataclass(frozen=True)
class HttpProbe:
    url: str
    timeout_s: float = 2.0

    def ready(self, launch: Launch) -> bool:
        try:
            response = httpx.get(self.url, timeout=self.timeout_s)
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    def __str__(self) -> str:
        return f"GET {self.url} answering 200"


@dataclass(frozen=True)
class AliveProbe:
    """For processes with nothing to ask: ready once they have survived their start-up crash window."""

    seconds: float = 1.0

    def ready(self, launch: Launch) -> bool:
        return time.time() - launch.started_at >= self.seconds

    def __str__(self) -> str:
        return f"alive for {self.seconds:g}s"


class AllOf:
    """Ready when every probe is; cheap probes first so expensive ones run only when they can pass."""

    def __init__(self, *probes: Probe) -> None:
        self.probes = probes

    def ready(self, launch: Launch) -> bool:
        return all(probe.ready(launch) for probe in self.probes)

    def __str__(self) -> str:
        return " and ".join(str(probe) for probe in self.probes)


def run_blocking(factory: Callable[[], Awaitable[T]], timeout_s: float) -> T:
    """Run a coroutine to completion from synchronous code, whether or not this thread has a loop."""

    async def bounded() -> T:
        return await asyncio.wait_for(factory(), timeout_s)

    with concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="o2c-probe") as pool:
        return pool.submit(asyncio.run, bounded()).result()


def _host_port(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host, int(port)


@dataclass(frozen=True)
class TemporalProbe:
    """The frontend answers and the namespace has our search attributes.

    An open port alone is not enough: the dev server listens before it has created the namespace
    and registered the search attributes, and a worker or API that connects in that window fails.
    """

    address: str
    namespace: str
    search_attributes: tuple[str, ...] = ()
    timeout_s: float = 3.0

    def ready(self, launch: Launch) -> bool:
        if not port_open(*_host_port(self.address)):
            return False
        try:
            return run_blocking(self._check, self.timeout_s)
        except Exception:
            return False

    async def _check(self) -> bool:
        from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
        from temporalio.client import Client

        client = await Client.connect(self.address, namespace=self.namespace)
        response = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=self.namespace)
        )
        registered = set(response.custom_attributes)
        return all(name in registered for name in self.search_attributes)

    def __str__(self) -> str:
        return f"Temporal at {self.address} serving namespace {self.namespace!r} with search attributes"


@dataclass(frozen=True)
class TaskQueuePollerProbe:
    """This very process polls the task queue.

    Pollers stay listed for a while after they are gone, so after a kill and restart an old entry
    would pass a plain "has pollers" test. We look for the new process: the SDK's default identity
    is ``<pid>@<host>``; an identity set some other way is matched by a poll newer than the launch.
    """

    address: str
    namespace: str
    task_queue: str
    timeout_s: float = 3.0

    def ready(self, launch: Launch) -> bool:
        try:
            return run_blocking(lambda: self._check(launch), self.timeout_s)
        except Exception:
            return False

    async def _check(self, launch: Launch) -> bool:
        from temporalio.api.enums.v1 import TaskQueueKind, TaskQueueType
        from temporalio.api.taskqueue.v1 import TaskQueue
        from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
        from temporalio.client import Client

        client = await Client.connect(self.address, namespace=self.namespace)
        for queue_type in (TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY):
            response = await client.workflow_service.describe_task_queue(
                DescribeTaskQueueRequest(
                    namespace=self.namespace,
                    task_queue=TaskQueue(name=self.task_queue, kind=TaskQueueKind.TASK_QUEUE_KIND_NORMAL),
                    task_queue_type=queue_type,
                )
            )
            if _has_poller_from(response.pollers, launch):
                return True
        return False

    def __str__(self) -> str:
        return f"a poller on Temporal task queue {self.task_queue!r}"


def _has_poller_from(pollers: Iterable[object], launch: Launch) -> bool:
    for poller in pollers:
        identity: str = getattr(poller, "identity", "")
        if identity.startswith(f"{launch.pid}@"):
            return True
        last_access = getattr(poller, "last_access_time", None)
        if last_access is not None and last_access.seconds + last_access.nanos / 1e9 >= launch.started_at:
            return True
    return False
