"""The API's one connection to Temporal, and the small helpers every endpoint needs around it.

The client is connected at startup, but a Temporal server that is not up yet does not stop the API
from starting: requests then try to connect on demand and answer 503 while it stays unreachable,
and /readyz reports it. Tests inject a client (or a sentinel that fails on any use).
"""

import asyncio
import contextlib
from collections.abc import Awaitable
from datetime import timedelta
from typing import Any, TypeVar

import structlog
from fastapi import Request
from temporalio.client import Client, WorkflowExecutionDescription, WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode

from api.shared.problems import ProblemError
from runtime.settings import Settings
from runtime.temporal import connect

log = structlog.get_logger("o2c.api")

T = TypeVar("T")

CONNECT_TIMEOUT_S = 5.0


class TemporalGateway:
    def __init__(self, settings: Settings, client: Any | None = None) -> None:
        self._settings = settings
        self._client = client
        self._lock = asyncio.Lock()

    @property
    def connected(self) -> bool:
        return self._client is not None

    async def connect(self) -> None:
        """Connect if not yet connected; failures are logged and leave the gateway disconnected."""
        with contextlib.suppress(ProblemError):
            await self.client()

    async def client(self) -> Client:
        if self._client is not None:
            return self._client
        async with self._lock:
            if self._client is None:
                try:
                    self._client = await asyncio.wait_for(connect(self._settings), CONNECT_TIMEOUT_S)
                    log.info(
                        "temporal.connected",
                        address=self._settings.temporal_address,
                        namespace=self._settings.temporal_namespace,
                    )
                except Exception as exc:  # RuntimeError from the bridge, TimeoutError, OSError...
                    log.warning(
                        "temporal.connect_failed",
                        address=self._settings.temporal_address,
                        error_type=type(exc).__name__,
                    )
                    raise unavailable() from exc
        return self._client

    async def healthy(self) -> bool:
        if self._client is None:
            await self.connect()
        if self._client is None:
            return False
        try:
            return bool(await self._client.service_client.check_health(timeout=timedelta(seconds=2)))
        except Exception:
            return False


def unavailable(
    detail: str = "The order service cannot reach its workflow engine; retry shortly",
) -> ProblemError:
    return ProblemError(503, "temporal-unavailable", detail, headers={"Retry-After": "2"})


def gateway(request: Request) -> TemporalGateway:
    return request.app.state.temporal


async def temporal_client(request: Request) -> Client:
    """Called inside handlers, after validation, so invalid requests never reach Temporal."""
    return await gateway(request).client()


def is_not_found(err: BaseException) -> bool:
    return isinstance(err, RPCError) and err.status == RPCStatusCode.NOT_FOUND


async def describe_or_none(handle: WorkflowHandle[Any, Any]) -> WorkflowExecutionDescription | None:
    """The workflow's description, or None when no workflow with this id ever existed."""
    try:
        return await handle.describe()
    except RPCError as err:
        if is_not_found(err):
            return None
        raise


class DeadlineExceeded(Exception):
    pass


async def within(seconds: float, awaitable: Awaitable[T]) -> T:
    """Await with a deadline; on expiry the call is abandoned and DeadlineExceeded is raised.

    Not asyncio.wait_for: the Temporal client turns the cancellation of an update call into its own
    WorkflowUpdateRPCTimeoutOrCancelledError, which wait_for would re-raise instead of a timeout.
    Abandoning the client call does not cancel the update on the server; it carries on there.
    """
    task = asyncio.ensure_future(awaitable)
    try:
        done, _ = await asyncio.wait({task}, timeout=seconds)
    except asyncio.CancelledError:  # the HTTP caller went away
        _abandon(task)
        raise
    if task in done:
        return task.result()
    _abandon(task)
    await asyncio.wait({task}, timeout=1.0)  # let the client call unwind before answering
    raise DeadlineExceeded()


def _abandon(task: "asyncio.Future[Any]") -> None:
    task.cancel()
    # Retrieve the abandoned call's outcome so asyncio does not report it as "never retrieved".
    task.add_done_callback(lambda t: t.cancelled() or t.exception())
