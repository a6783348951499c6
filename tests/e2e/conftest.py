"""One local stack (real Temporal dev server, sandbox over HTTP, worker and API processes) per session."""

import os
from collections.abc import AsyncIterator, Iterator

import pytest
from e2e_support import Stack, make_stack
from temporalio.client import Client

from deploy.stack import LocalStack
from runtime.temporal import connect
from tools.scratch_database import scratch_database


@pytest.fixture(scope="session")
def store_url() -> Iterator[str | None]:
    """O2C_E2E_STORE=postgres (CI) runs the stack on a fresh PostgreSQL database at O2C_TEST_DATABASE_URL's
    server; otherwise the stack keeps the store in SQLite, as `o2c run` does."""
    choice = os.environ.get("O2C_E2E_STORE", "sqlite")
    if choice == "sqlite":
        yield None
        return
    if choice != "postgres":
        raise ValueError(f"O2C_E2E_STORE must be sqlite or postgres, not {choice!r}")
    server = os.environ.get("O2C_TEST_DATABASE_URL") or "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    with scratch_database(server, "o2c_e2e") as url:
        yield url


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory, store_url: str | None) -> Iterator[LocalStack]:
    env = {"O2C_DATABASE_URL": store_url} if store_url else {}
    with make_stack(tmp_path_factory.mktemp("stack"), **env) as stack:
        yield stack


@pytest.fixture(scope="session")
async def stack(local_stack: LocalStack) -> AsyncIterator[Stack]:
    async with Stack(local_stack.api_url, local_stack.sandbox_url) as clients:
        yield clients


@pytest.fixture(scope="session")
async def temporal(local_stack: LocalStack) -> Client:
    return await connect(local_stack.settings)


@pytest.fixture(autouse=True)
async def _no_faults_left(stack: Stack) -> AsyncIterator[None]:
    yield
    await stack.sandbox.delete("/_sandbox/faults")
    await stack.sandbox.put("/_sandbox/erp/posting-window", json={"open": True})
