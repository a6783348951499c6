"""Large orders against a real Temporal: 20 lines of 100,000 units made a 4 MB workflow input and a 500
(issue 10); priced in closed form it is a few kilobytes and the order is accepted. Whatever Temporal
still refuses as too large is a 413 problem, never a 500 or a 503 the client would retry forever."""

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from e2e_support import COMMERCE, SUPPORT, Stack, order
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from deploy.temporal_server import temporal_binary
from runtime.codec import encrypted_data_converter
from runtime.settings import Settings
from workflows.search_attributes import DEV_SERVER_FLAGS

pytestmark = [pytest.mark.e2e]

BLOB_LIMIT = 4096


async def test_twenty_lines_of_100000_units_is_a_small_input_and_accepted(stack: Stack, temporal: Client) -> None:
    body = order([(f"HOLD-BIG-{n}", 100_000, 1) for n in range(20)], points=9_973)
    response = await stack.place(body)
    assert response.status_code == 201, response.text
    assert response.json()["amount_due"] == 2_000_000 - 9_973
    history = await temporal.get_workflow_handle(f"order-{body['order_id']}").fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    assert started.input.ByteSize() < 20_000
    cancel = await stack.api.post(f"/v1/orders/{body['order_id']}/cancel", json={"reason": "test done"},
                                  headers=SUPPORT)
    assert cancel.status_code == 202, cancel.text


@pytest.fixture
async def small_blob_temporal() -> AsyncIterator[Client]:
    """A dev server that refuses payloads over BLOB_LIMIT bytes (its default is 2 MB)."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(temporal_binary()),
        data_converter=encrypted_data_converter(Settings().codec_keys),
        dev_server_extra_args=[
            "--dynamic-config-value", f"limit.blobSize.error={BLOB_LIMIT}",
            "--dynamic-config-value", f"limit.blobSize.warn={BLOB_LIMIT // 2}",
            *[arg for flag in DEV_SERVER_FLAGS for arg in ("--search-attribute", flag)],
        ],
    )
    try:
        yield env.client
    finally:
        await env.shutdown()


async def test_a_payload_temporal_refuses_as_too_large_is_413(small_blob_temporal: Client, tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path}/o2c.db", accept_timeout_s=5)
    app = create_app(settings, client=small_blob_temporal)
    body = order([(f"SKU-{n}", 1, 100) for n in range(60)])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
                                 base_url="http://api.test") as http:
        response = await http.post("/v1/orders", json=body, headers=COMMERCE)
    assert response.status_code == 413, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "payload-too-large"
