import re

import pytest

from api.shared.correlation import accept_or_generate

from .conftest import assert_problem


@pytest.mark.asyncio
async def test_valid_correlation_id_is_echoed(http):
    r = await http.get("/healthz", headers={"X-Correlation-ID": "chk-42:web.1_A"})
    assert r.headers["x-correlation-id"] == "chk-42:web.1_A"


@pytest.mark.asyncio
async def test_missing_correlation_id_is_generated(http):
    r = await http.get("/healthz")
    assert re.fullmatch(r"[0-9a-f]{32}", r.headers["x-correlation-id"])


@pytest.mark.asyncio
@pytest.mark.parametrize("bad", ["a" * 65, "has space", "<script>", "a\tb", "ok\u00e9"])
async def test_malformed_correlation_id_is_replaced(http, bad):
    r = await http.get("/healthz", headers={"X-Correlation-ID": bad.encode()})
    assert r.headers["x-correlation-id"] != bad
    assert re.fullmatch(r"[0-9a-f]{32}", r.headers["x-correlation-id"])


@pytest.mark.asyncio
async def test_correlation_id_is_echoed_on_problems(http):
    r = await http.post("/v1/orders", json={}, headers={"X-Correlation-ID": "req-1"})
    assert_problem(r, 401, "unauthorized")
    assert r.headers["x-correlation-id"] == "req-1"
    r = await http.get("/nowhere", headers={"X-Correlation-ID": "req-2"})
    assert r.headers["x-correlation-id"] == "req-2"


def test_accept_or_generate():
    assert accept_or_generate("abc") == "abc"
    assert accept_or_generate(None) != accept_or_generate(None)
    assert len(accept_or_generate("x" * 64)) == 64
