"""Fixtures for the sandbox tests: a fresh app on its own SQLite file per test, an in-process client,
the app's lifespan (background worker) on demand, and a real HTTP webhook receiver."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from fastapi import FastAPI

if TYPE_CHECKING:
    from sandbox_testkit import Api, Receiver

    from sandbox.settings import SandboxSettings

# The repository root (for `sandbox`, in case o2c is not installed) and this folder (for
# `sandbox_testkit`) must be importable before the test modules are; imports below are therefore
# done inside the fixtures.
HERE = Path(__file__).resolve().parent
for entry in (str(HERE.parents[1]), str(HERE)):
    if entry not in sys.path:
        sys.path.insert(0, entry)


@pytest.fixture
def settings(tmp_path: Path) -> SandboxSettings:
    from sandbox_testkit import SECRET

    from sandbox.settings import SandboxSettings

    return SandboxSettings(
        db_path=str(tmp_path / "sandbox.db"),
        dispatch_delay_s=0.05,
        short_auth_s=1.0,
        timeout_hang_s=0.05,
        # Nothing listens on port 9 (discard); webhook tests point this at their receiver.
        webhook_url="http://127.0.0.1:9/webhooks",
        webhook_secret=SECRET,
        webhook_backoff_initial_s=0.05,
        webhook_backoff_max_s=0.2,
        worker_poll_s=0.02,
    )


@pytest.fixture
def make_app() -> Iterator[Callable[[SandboxSettings], FastAPI]]:
    apps: list[FastAPI] = []

    from sandbox.app import create_app

    def factory(s: SandboxSettings) -> FastAPI:
        app = create_app(s)
        apps.append(app)
        return app

    yield factory
    for app in apps:
        app.state.runtime.db.close()


@pytest.fixture
def app(settings: SandboxSettings, make_app: Callable[[SandboxSettings], FastAPI]) -> FastAPI:
    return make_app(settings)


def client_for(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sandbox")


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(app) as c:
        yield c


@pytest.fixture
def new_client() -> Callable[[FastAPI], httpx.AsyncClient]:
    return client_for


@pytest.fixture
def running() -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """Run an app's lifespan (and so its background worker) in the test's event loop."""

    @asynccontextmanager
    async def run(app: FastAPI) -> AsyncIterator[None]:
        async with app.router.lifespan_context(app):
            yield

    return run


@pytest.fixture
def api(client: httpx.AsyncClient) -> Api:
    from sandbox_testkit import Api

    return Api(client)


@pytest.fixture
def eventually() -> Callable[..., Awaitable[None]]:
    from sandbox_testkit import wait_until

    return wait_until


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    from sandbox_testkit import SECRET, Receiver

    r = Receiver(SECRET)
    await r.start()
    yield r
    await r.stop()


@pytest.fixture
async def served(app: FastAPI) -> AsyncIterator[str]:
    """The app behind a real HTTP server on a free port, in this event loop: for clients that do not
    take an in-process transport (the worker's vendor client). Yields its base URL."""
    import asyncio

    import uvicorn

    from deploy.ports import free_ports

    (port,) = free_ports(1)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task
