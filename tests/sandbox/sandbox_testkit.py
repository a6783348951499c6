"""Helpers shared by the sandbox tests (importable because conftest puts this folder on sys.path)."""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

SECRET = "whsec_" + "dGVzdC1zZWNyZXQtZm9yLXNhbmRib3g="  # base64("test-secret-for-sandbox")


_keys = itertools.count()


class Api:
    """Thin helper: every POST gets a fresh Idempotency-Key unless the test passes one."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def post(
        self, path: str, json: Any = None, key: str | None = None, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        hdrs = {"Idempotency-Key": key or f"key-{uuid.uuid4()}-{next(_keys)}", **(headers or {})}
        return await self.client.post(path, json=json, headers=hdrs)

    async def get(self, path: str, **params: Any) -> httpx.Response:
        return await self.client.get(path, params={k: v for k, v in params.items() if v is not None})

    async def put(self, path: str, json: Any) -> httpx.Response:
        return await self.client.put(path, json=json)

    async def ledger(self, **params: Any) -> list[dict[str, Any]]:
        response = await self.get("/_sandbox/ledger", **params)
        assert response.status_code == 200
        entries: list[dict[str, Any]] = response.json()["entries"]
        return entries

    async def outbox(self, order_id: str | None = None) -> list[dict[str, Any]]:
        response = await self.get("/_sandbox/webhooks", order_id=order_id)
        data: list[dict[str, Any]] = response.json()["data"]
        return data


async def wait_until(
    predicate: Callable[[], Awaitable[bool]], timeout: float = 5.0, interval: float = 0.02
) -> None:
    deadline = time.monotonic() + timeout
    while not await predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(interval)


@dataclass
class Delivery:
    webhook_id: str
    timestamp: str
    body: dict[str, Any]
    at: float


@dataclass
class Receiver:
    """A bare asyncio HTTP/1.1 server: verifies Standard Webhooks signatures like o2c will.

    ``fail_first`` makes the first N attempts of every webhook-id answer 500, so redelivery is
    exercised for every event; ``status_for`` can force another status (e.g. 400).
    """

    secret: str
    fail_first: int = 1
    status_for: Callable[[dict[str, Any]], int | None] = lambda _body: None
    attempts: list[Delivery] = field(default_factory=list)
    accepted: list[Delivery] = field(default_factory=list)
    bad_signatures: int = 0
    url: str = ""
    _server: asyncio.base_events.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/v1/webhooks/fulfillment"

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode().split("\r\n")
            headers = {}
            for line in lines[1:]:
                if ":" in line:
                    name, value = line.split(":", 1)
                    headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            status = self._decide(headers, body)
            writer.write(f"HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode())
            await writer.drain()
        finally:
            writer.close()

    def _decide(self, headers: dict[str, str], body: bytes) -> int:
        try:
            payload = Webhook(self.secret).verify(body, headers)
        except (WebhookVerificationError, ValueError):
            self.bad_signatures += 1
            return 401
        delivery = Delivery(headers["webhook-id"], headers["webhook-timestamp"], payload, time.monotonic())
        self.attempts.append(delivery)
        forced = self.status_for(payload)
        if forced is not None:
            return forced
        if sum(1 for a in self.attempts if a.webhook_id == delivery.webhook_id) <= self.fail_first:
            return 500
        self.accepted.append(delivery)
        return 200
