from types import SimpleNamespace

import pytest

from .conftest import assert_problem


@pytest.mark.asyncio
async def test_healthz_needs_no_key(http):
    r = await http.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}


@pytest.mark.asyncio
async def test_readyz_is_503_when_temporal_is_not_usable(make_http):
    async with make_http(SimpleNamespace()) as http:  # a client without a working service_client
        r = await http.get("/readyz")
    assert_problem(r, 503, "temporal-unavailable")


@pytest.mark.asyncio
async def test_readyz_is_200_when_temporal_answers(make_http):
    class Service:
        async def check_health(self, **_: object) -> bool:
            return True

    async with make_http(SimpleNamespace(service_client=Service())) as http:
        r = await http.get("/readyz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}


@pytest.mark.asyncio
async def test_docs_and_openapi_are_public(http):
    r = await http.get("/openapi.json")
    assert r.status_code == 200
    spec = r.json()
    assert "/v1/orders" in spec["paths"]
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert (await http.get("/docs")).status_code == 200
