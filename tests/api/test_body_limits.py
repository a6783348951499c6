"""Request bodies are capped before anything parses or authenticates them, and a caller without a key
learns nothing about its body: 413 `payload-too-large` over the limit, 401 for a body that is not JSON."""

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from runtime.settings import Settings

from .conftest import COMMERCE, FINANCE, NoTemporal, assert_problem, signed, valid_order

MIB = 1024 * 1024
CHUNK = 64 * 1024


class CountingBody:
    """A request body streamed in chunks (no Content-Length), counting what the app pulled."""

    def __init__(self, total: int) -> None:
        self.total, self.sent = total, 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while self.sent < self.total:
            self.sent += CHUNK
            yield b" " * CHUNK


def big_order(size: int) -> bytes:
    """A well-formed order whose JSON is `size` bytes (padded with whitespace)."""
    body = json.dumps(valid_order()).encode()
    return body[:-1] + b" " * (size - len(body)) + b"}"


@pytest.mark.parametrize("headers", [{}, COMMERCE], ids=["no key", "commerce key"])
async def test_an_order_over_a_mebibyte_is_413_before_auth(http: httpx.AsyncClient, headers: dict[str, str]) -> None:
    r = await http.post("/v1/orders", content=big_order(2 * MIB),
                        headers={**headers, "content-type": "application/json"})
    problem = assert_problem(r, 413, "payload-too-large")
    assert str(1 * MIB) in problem["detail"]


async def test_a_streamed_body_is_cut_off_at_the_limit(http: httpx.AsyncClient) -> None:
    body = CountingBody(100 * MIB)
    r = await http.post("/v1/orders", content=body, headers={"content-type": "application/json"})
    assert_problem(r, 413, "payload-too-large")
    assert body.sent <= MIB + 2 * CHUNK, f"read {body.sent} bytes of a body refused at {MIB}"


async def test_the_inbound_webhook_limit_is_256_kib_and_comes_before_the_signature(http: httpx.AsyncClient) -> None:
    unsigned = CountingBody(100 * MIB)
    r = await http.post("/v1/webhooks/fulfillment", content=unsigned, headers={"content-type": "application/json"})
    assert_problem(r, 413, "payload-too-large")
    assert unsigned.sent <= 256 * 1024 + 2 * CHUNK
    padded, headers = signed("{" + " " * (300 * 1024) + "}")
    r = await http.post("/v1/webhooks/fulfillment", content=padded, headers=headers)
    assert_problem(r, 413, "payload-too-large")


async def test_the_limits_are_settings(make_http: Callable[..., httpx.AsyncClient], settings: Settings) -> None:
    small = settings.model_copy(update={"max_body_bytes": 2000, "max_webhook_body_bytes": 100})
    async with make_http(NoTemporal(), small) as http:
        r = await http.post("/v1/orders", content=big_order(2001), headers={"content-type": "application/json"})
        assert_problem(r, 413, "payload-too-large")
        r = await http.post("/v1/orders", content=big_order(1999), headers={"content-type": "application/json"})
        assert_problem(r, 401, "unauthorized")
        body, headers = signed("{" + " " * 100 + "}")
        r = await http.post("/v1/webhooks/fulfillment", content=body, headers=headers)
        assert_problem(r, 413, "payload-too-large")


@pytest.mark.parametrize("raw", ['{"order_id": ', "not json at all", "\xff\xfe"])
async def test_a_body_that_is_not_json_without_a_key_is_401(http: httpx.AsyncClient, raw: str) -> None:
    r = await http.post("/v1/orders", content=raw.encode("latin-1"), headers={"content-type": "application/json"})
    assert_problem(r, 401, "unauthorized")


async def test_a_body_that_is_not_json_with_a_key_of_another_scope_is_403(http: httpx.AsyncClient) -> None:
    r = await http.post("/v1/orders", content=b"{", headers={**FINANCE, "content-type": "application/json"})
    assert_problem(r, 403, "forbidden")


async def test_a_body_that_is_not_json_with_the_right_key_is_still_400(http: httpx.AsyncClient) -> None:
    r = await http.post("/v1/orders", content=b"{", headers={**COMMERCE, "content-type": "application/json"})
    assert_problem(r, 400, "malformed-json")


async def test_bodies_under_the_limit_are_served(http: httpx.AsyncClient) -> None:
    body: Any = valid_order(points_to_redeem=10**9)  # invalid, so nothing reaches Temporal
    r = await http.post("/v1/orders", json=body, headers=COMMERCE)
    assert_problem(r, 422, "validation-error")
