"""The certification's fault proxy over real HTTP: it passes requests through to the upstream's base path and
keeps its 4xx answers, answers the next request itself with Retry-After, or holds it without reaching the
upstream."""

import asyncio
import time

import aiohttp
from aiohttp import web

from activities.certification.fault_proxy import FaultProxy


async def upstream() -> tuple[web.AppRunner, str, list[str]]:
    seen: list[str] = []

    async def handle(request: web.Request) -> web.Response:
        seen.append(f"{request.method} {request.path_qs} {request.headers.get('Idempotency-Key')} "
                    f"{(await request.read()).decode()}")
        status = 404 if request.path.endswith("/missing") else 200
        return web.json_response({"error": {"type": "invalid_request_error"}} if status == 404 else {"ok": True},
                                 status=status)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    return runner, f"http://{host}:{port}/stripe", seen


async def test_passes_through_injects_and_holds() -> None:
    runner, base, seen = await upstream()
    try:
        async with FaultProxy(base) as proxy, aiohttp.ClientSession() as http:
            async with http.post(f"{proxy.url}/v1/x?a=1", data="amount=5", headers={"Idempotency-Key": "k1"}) as r:
                assert r.status == 200 and await r.json() == {"ok": True}
            async with http.get(f"{proxy.url}/v1/missing") as r:
                assert r.status == 404
            proxy.answer_next(429, 2)
            async with http.post(f"{proxy.url}/v1/y") as r:
                assert (r.status, r.headers["Retry-After"]) == (429, "2")
            proxy.hold_next(30)
            started = time.monotonic()
            try:
                async with http.post(f"{proxy.url}/v1/z", timeout=aiohttp.ClientTimeout(total=0.5)):
                    raise AssertionError("a held request was answered")
            except TimeoutError:
                pass
            assert time.monotonic() - started < 2
        assert seen == ["POST /stripe/v1/x?a=1 k1 amount=5", "GET /stripe/v1/missing None "]
        assert proxy.requests == 4
        assert [(a.method, a.path, a.status) for a in proxy.client_errors] == [("GET", "/v1/missing", 404)]
    finally:
        await runner.cleanup()
    await asyncio.sleep(0)
