"""Helpers for the outbound-webhook end-to-end tests: endpoints through the admin API, the sandbox
marketing receiver wired to one, a tiny local receiver, and waiting for deliveries."""

import asyncio
import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from e2e_support import RECEIVER_PORT, Stack

from canonical.webhooks import EVENT_TYPES

ADMIN = {"Authorization": "Bearer admin-dev-key"}


async def create_endpoint(stack: Stack, url: str, event_types: list[str] | None = None) -> dict[str, Any]:
    response = await stack.api.post("/v1/webhook-endpoints", headers=ADMIN,
                                    json={"url": url, "event_types": event_types or list(EVENT_TYPES)})
    assert response.status_code == 201, response.text
    endpoint: dict[str, Any] = response.json()
    return endpoint


async def delete_endpoint(stack: Stack, endpoint_id: str) -> None:
    response = await stack.api.delete(f"/v1/webhook-endpoints/{endpoint_id}", headers=ADMIN)
    assert response.status_code in (204, 404), response.text


async def marketing_endpoint(stack: Stack, event_types: list[str] | None = None) -> dict[str, Any]:
    """The sandbox marketing receiver as an endpoint, holding the endpoint's secret (as `o2c run` does)."""
    receiver = str(stack.sandbox.base_url).rstrip("/") + "/marketing/events"
    endpoint = await create_endpoint(stack, receiver, event_types)
    (await stack.sandbox.put("/_sandbox/marketing/secret", json={"secret": endpoint["secret"]})).raise_for_status()
    return endpoint


async def endpoint_view(stack: Stack, endpoint_id: str) -> dict[str, Any]:
    response = await stack.api.get("/v1/webhook-endpoints", headers=ADMIN)
    response.raise_for_status()
    return next(e for e in response.json()["items"] if e["id"] == endpoint_id)


async def deliveries(stack: Stack, endpoint_id: str, order_id: str) -> list[dict[str, Any]]:
    response = await stack.api.get(f"/v1/webhook-endpoints/{endpoint_id}/deliveries", headers=ADMIN,
                                   params={"order_id": order_id, "limit": 200})
    response.raise_for_status()
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def wait_deliveries(stack: Stack, endpoint_id: str, order_id: str,
                          done: Callable[[list[dict[str, Any]]], bool], timeout: float = 30.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    items: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        items = await deliveries(stack, endpoint_id, order_id)
        if done(items):
            return items
        await asyncio.sleep(0.2)
    raise AssertionError(f"deliveries of {order_id} to {endpoint_id} not as expected in {timeout}s: "
                         f"{[(d['event_type'], d['status'], d['attempts']) for d in items]}")


def all_delivered(types: set[str]) -> Callable[[list[dict[str, Any]]], bool]:
    """Every expected event type has a delivery, and every delivery is delivered."""
    return lambda items: types <= {d["event_type"] for d in items} and all(d["status"] == "delivered" for d in items)


async def marketing_ledger(stack: Stack, order_id: str) -> list[dict[str, Any]]:
    """What the marketing receiver recorded for the order, in the order it recorded it."""
    response = await stack.sandbox.get("/_sandbox/ledger", params={"order_id": order_id, "action": "marketing.event"})
    response.raise_for_status()
    return sorted(response.json()["entries"], key=lambda e: e["seq"])


async def marketing_events(stack: Stack, order_id: str) -> Counter[str]:
    """webhook-id → how many times the marketing receiver recorded it (its ledger, by dedupe key)."""
    return Counter(e["idempotency_key"] for e in await marketing_ledger(stack, order_id))


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Receiver:
    """A bare HTTP/1.1 server in the test's event loop, on RECEIVER_PORT (the stack allows outbound webhooks
    there): records every request, answers `status`."""

    status: int = 200
    answer: bytes = b'{"ok":true}'
    requests: list[Received] = field(default_factory=list)
    _server: asyncio.AbstractServer | None = None

    async def start(self) -> "Receiver":
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", RECEIVER_PORT)
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    @property
    def url(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/hooks"

    def of_order(self, order_id: str) -> list[Received]:
        return [r for r in self.requests if json.loads(r.body).get("order_id") == order_id]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
            headers = {k.strip().lower(): v.strip() for k, v in (ln.split(":", 1) for ln in head[1:] if ":" in ln)}
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            self.requests.append(Received(headers, body, time.time()))
            writer.write(f"HTTP/1.1 {self.status} Answer\r\ncontent-type: application/json\r\n"
                         f"content-length: {len(self.answer)}\r\nconnection: close\r\n\r\n".encode() + self.answer)
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
