"""A local reverse proxy in front of the vendor, started in-process for a certification run.

It passes requests through and keeps the vendor's 4xx answers (the error-shape check reads them), or, when
told, answers the next request itself: a 429/503 with Retry-After, or no answer until the adapter has given
up (timeout). Those injected answers never reach the vendor, so the checks of the adapter's side of
Retry-After and timeouts work against any endpoint, Stripe test mode included, and change nothing there.
"""

import asyncio
import contextlib
import json
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

# Per-connection headers a proxy must not pass on (RFC 9110 §7.6.1), and those aiohttp sets itself.
_HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
               "transfer-encoding", "upgrade", "host", "content-length", "content-encoding"}


@dataclass(frozen=True)
class SeenAnswer:
    method: str
    path: str
    status: int
    body: bytes


@dataclass
class _Fault:
    status: int | None = None
    retry_after_s: int | None = None
    hold_s: float | None = None


@dataclass
class FaultProxy:
    upstream: str
    """The vendor's base URL; a request for `/v1/x` goes to `{upstream}/v1/x`."""
    requests: int = 0
    client_errors: list[SeenAnswer] = field(default_factory=list)
    _next: _Fault | None = None
    _runner: web.AppRunner | None = None
    _session: aiohttp.ClientSession | None = None
    url: str = ""

    async def __aenter__(self) -> "FaultProxy":
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        # Cancelled when the adapter gives up on a held request, so closing the proxy waits for nothing.
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        self._session = aiohttp.ClientSession(auto_decompress=True)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    def answer_next(self, status: int, retry_after_s: int) -> None:
        """The next request gets `status` with `Retry-After` from the proxy itself."""
        self._next = _Fault(status=status, retry_after_s=retry_after_s)

    def hold_next(self, seconds: float) -> None:
        """The next request gets no answer for `seconds` (then a 504), and never reaches the vendor."""
        self._next = _Fault(hold_s=seconds)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.requests += 1
        fault, self._next = self._next, None
        if fault is not None and fault.hold_s is not None:
            await asyncio.sleep(fault.hold_s)
            return web.json_response(_injected("held past the vendor timeout"), status=504)
        if fault is not None and fault.status is not None:
            return web.json_response(_injected("injected by the certification proxy"), status=fault.status,
                                     headers={"Retry-After": str(fault.retry_after_s)})
        return await self._forward(request)

    async def _forward(self, request: web.Request) -> web.Response:
        assert self._session is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
        async with self._session.request(request.method, f"{self.upstream.rstrip('/')}{request.path_qs}",
                                         headers=headers, data=await request.read(),
                                         allow_redirects=False) as answer:
            body = await answer.read()
            if 400 <= answer.status < 500:
                self.client_errors.append(SeenAnswer(request.method, request.path, answer.status, body))
            return web.Response(status=answer.status, body=body,
                                headers={k: v for k, v in answer.headers.items() if k.lower() not in _HOP_BY_HOP})


def _injected(message: str) -> dict[str, Any]:
    return {"error": {"type": "api_error", "message": message}}


def body_text(answer: SeenAnswer, limit: int = 200) -> str:
    text = answer.body.decode("utf-8", "replace")
    with contextlib.suppress(ValueError):
        text = json.dumps(json.loads(text), separators=(",", ":"))
    return text if len(text) <= limit else text[:limit] + "…"
