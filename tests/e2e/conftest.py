"""One local stack (real Temporal dev server, sandbox over HTTP, worker and API processes) per session."""

from collections.abc import AsyncIterator, Iterator

import pytest
from e2e_support import Stack, make_stack
from temporalio.client import Client

from deploy.stack import LocalStack
from runtime.temporal import connect


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with make_stack(tmp_path_factory.mktemp("stack")) as stack:
        yield stack


@pytest.fixture(scope="session")
async def stack(local_stack: LocalStack) -> AsyncIterator[Stack]:
    clients = Stack(local_stack.api_url, local_stack.sandbox_url)
    yield clients
    await clients.aclose()


@pytest.fixture(scope="session")
async def temporal(local_stack: LocalStack) -> Client:
    return await connect(local_stack.settings)


@pytest.fixture(autouse=True)
async def _no_faults_left(stack: Stack) -> AsyncIterator[None]:
    yield
    await stack.sandbox.delete("/_sandbox/faults")
    await stack.sandbox.put("/_sandbox/erp/posting-window", json={"open": True})
