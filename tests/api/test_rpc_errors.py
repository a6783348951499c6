"""Temporal RPC failures become the right problem: a connection lost mid-call (Temporal restarting) is a
503 to retry, found by `o2c chaos`; anything else unexplained stays a 500."""

import httpx
import pytest
from fastapi import FastAPI
from temporalio.client import WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.service import RPCError, RPCStatusCode

from api.shared import problems


def _app(err: Exception) -> FastAPI:
    app = FastAPI()
    problems.install(app)

    @app.get("/boom")
    async def boom() -> None:
        raise err

    return app


@pytest.mark.parametrize(
    ("status", "message", "expected"),
    [
        (RPCStatusCode.UNKNOWN, "transport error", 503),
        (RPCStatusCode.UNAVAILABLE, "tcp connect error", 503),
        (RPCStatusCode.DEADLINE_EXCEEDED, "deadline", 503),
        (RPCStatusCode.UNKNOWN, "something else went wrong", 500),
        (RPCStatusCode.INVALID_ARGUMENT, "bad query", 500),
    ],
)
async def test_rpc_errors_map_to_problems(status: RPCStatusCode, message: str, expected: int) -> None:
    transport = httpx.ASGITransport(app=_app(RPCError(message, status, b"")), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as http:
        response = await http.get("/boom")
    assert response.status_code == expected
    if expected == 503:
        assert response.json()["type"] == "temporal-unavailable"
        assert response.headers["retry-after"] == "2"


async def test_an_update_call_cut_off_by_the_server_is_a_503_not_a_500() -> None:
    # What execute_update raises when Temporal answers DEADLINE_EXCEEDED/CANCELLED, e.g. while restarting.
    app = _app(WorkflowUpdateRPCTimeoutOrCancelledError())
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as http:
        response = await http.get("/boom")
    assert response.status_code == 503
    assert response.json()["type"] == "temporal-unavailable"
