"""One local stack (real Temporal dev server, sandbox over HTTP, worker and API processes) per session; a
second one, started on first use, whose worker speaks Stripe's protocol (O2C_PAYMENTS_ADAPTER=stripe)."""

import os
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

import pytest
from e2e_support import Stack, make_stack
from temporalio.client import Client

from deploy.stack import LocalStack
from runtime.temporal import connect
from tools.scratch_database import scratch_database

PAYMENTS_ADAPTERS = ("sandbox", "stripe")


@contextmanager
def _store(prefix: str) -> Iterator[str | None]:
    """O2C_E2E_STORE=postgres (CI) runs a stack on a fresh PostgreSQL database at O2C_TEST_DATABASE_URL's
    server; otherwise the stack keeps the store in SQLite, as `o2c run` does."""
    choice = os.environ.get("O2C_E2E_STORE", "sqlite")
    if choice == "sqlite":
        yield None
        return
    if choice != "postgres":
        raise ValueError(f"O2C_E2E_STORE must be sqlite or postgres, not {choice!r}")
    server = os.environ.get("O2C_TEST_DATABASE_URL") or "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    with scratch_database(server, prefix) as url:
        yield url


@contextmanager
def _stack(tmp_path_factory: pytest.TempPathFactory, prefix: str, **env: str) -> Iterator[LocalStack]:
    with _store(prefix) as store_url, make_stack(
        tmp_path_factory.mktemp(prefix), **env, **({"O2C_DATABASE_URL": store_url} if store_url else {})
    ) as stack:
        yield stack


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with _stack(tmp_path_factory, "o2c_e2e") as stack:
        yield stack


@pytest.fixture(scope="session")
def stripe_local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """The same stack with the Stripe payments adapter, which talks to the sandbox's Stripe router."""
    # Stripe's search lags its writes (up to a minute): the sandbox's does too here, so no path may depend on it.
    with _stack(tmp_path_factory, "o2c_e2e_stripe", O2C_PAYMENTS_ADAPTER="stripe",
                SANDBOX_STRIPE_SEARCH_LAG_S="60") as stack:
        yield stack


@pytest.fixture(scope="session")
async def default_stack(local_stack: LocalStack) -> AsyncIterator[Stack]:
    async with Stack(local_stack.api_url, local_stack.sandbox_url) as clients:
        yield clients


@pytest.fixture(scope="session")
async def stripe_stack(stripe_local_stack: LocalStack) -> AsyncIterator[Stack]:
    async with Stack(stripe_local_stack.api_url, stripe_local_stack.sandbox_url) as clients:
        yield clients


@pytest.fixture(scope="session")
def stack(default_stack: Stack) -> Stack:
    """The stack a test drives. Modules that must hold for every payments adapter override it with
    `each_payments_adapter`."""
    return default_stack


@pytest.fixture(params=PAYMENTS_ADAPTERS)
def each_payments_adapter(request: pytest.FixtureRequest) -> Stack:
    return request.getfixturevalue("default_stack" if request.param == "sandbox" else "stripe_stack")


@pytest.fixture(scope="session")
async def temporal(local_stack: LocalStack) -> Client:
    return await connect(local_stack.settings)


@pytest.fixture(autouse=True)
async def _no_faults_left(stack: Stack) -> AsyncIterator[None]:
    yield
    await stack.sandbox.delete("/_sandbox/faults")
    await stack.sandbox.put("/_sandbox/erp/posting-window", json={"open": True})
    await stack.sandbox.delete("/_sandbox/stripe/defects")
