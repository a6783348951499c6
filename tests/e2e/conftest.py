"""One local stack (real Temporal dev server, sandbox over HTTP, worker and API processes) per session; a
second one, started on first use, whose worker speaks Stripe's protocol (O2C_PAYMENTS_ADAPTER=stripe)."""

from collections.abc import AsyncIterator, Iterator

import pytest
from e2e_support import Stack, stack_with
from temporalio.client import Client

from deploy.stack import LocalStack
from runtime.temporal import connect

PAYMENTS_ADAPTERS = ("sandbox", "stripe")


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with stack_with(tmp_path_factory, "o2c_e2e") as stack:
        yield stack


@pytest.fixture(scope="session")
def stripe_local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """The same stack with the Stripe payments adapter, which talks to the sandbox's Stripe router."""
    # Stripe's search lags its writes (up to a minute): the sandbox's does too here, so no path may depend on it.
    with stack_with(tmp_path_factory, "o2c_e2e_stripe", O2C_PAYMENTS_ADAPTER="stripe",
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
