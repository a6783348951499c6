"""The chaos run's wire: HTTP to the API (as the commerce platform, support and the fulfilment node), to the
sandbox's control and vendor surfaces, and Temporal's own cancel (as an operator in the UI would).

Every call here is idempotent, so each is simply sent again until it gets an answer to act on: `503`
(Temporal restarting, no worker to answer a query) and transport errors mean "again, a little later",
honouring `Retry-After`. Answers are counted per endpoint and status for the report; any other `5xx`
is kept as an anomaly with its body, which the run reports as a violation.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
from standardwebhooks import Webhook
from temporalio.client import Client

COMMERCE = {"Authorization": "Bearer commerce-dev-key"}
SUPPORT = {"Authorization": "Bearer support-dev-key"}
MAX_BACKOFF_S = 3.0


class ChaosClient:
    def __init__(
        self, api: httpx.AsyncClient, sandbox: httpx.AsyncClient, temporal: Client, webhook_secret: str
    ) -> None:
        self.api = api
        self.sandbox = sandbox
        self.temporal = temporal
        self._webhook = Webhook(webhook_secret)
        self.answers: Counter[str] = Counter()
        self.anomalies: list[str] = []
        self.server_errors = 0

    def note(self, anomaly: str) -> None:
        if anomaly not in self.anomalies:
            self.anomalies.append(anomaly)

    async def call(
        self,
        method: str,
        path: str,
        deadline: float,
        *,
        final: Callable[[httpx.Response], bool],
        headers: dict[str, str],
        **kwargs: Any,
    ) -> httpx.Response | None:
        """Send until `final` says the answer is one to act on; None if the deadline passed first."""
        delay = 0.5
        while time.monotonic() < deadline:
            try:
                response = await self.api.request(method, path, headers=headers, **kwargs)
            except httpx.HTTPError as exc:
                self.answers[type(exc).__name__] += 1
            else:
                self._count(method, path, response)
                if final(response):
                    return response
                delay = _retry_after(response) or delay
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, MAX_BACKOFF_S)
        return None

    async def post(
        self, path: str, deadline: float, headers: dict[str, str], body: dict[str, Any]
    ) -> httpx.Response | None:
        """A POST whose every answer but 503 is the one to act on."""
        return await self.call(
            "POST", path, deadline, final=lambda r: r.status_code != 503, headers=headers, json=body
        )

    async def get_json(self, path: str, deadline: float) -> dict[str, Any] | None:
        """A read the API may answer 404 to (not yet there); None for 404 or the deadline."""
        response = await self.call(
            "GET", path, deadline, final=lambda r: r.status_code in (200, 404), headers=COMMERCE
        )
        return response.json() if response is not None and response.status_code == 200 else None

    async def sandbox_json(self, method: str, path: str, **kwargs: Any) -> Any:
        """The sandbox's control surface, and its vendor endpoints (whose injected faults are retried)."""
        for attempt in range(40):
            try:
                response = await self.sandbox.request(method, path, **kwargs)
                response.raise_for_status()
                return response.json()
            except httpx.HTTPError:
                if attempt == 39:
                    raise
                await asyncio.sleep(0.5)
        raise AssertionError("unreachable")

    async def node_event(self, event_type: str, data: dict[str, Any], deadline: float) -> int | None:
        """What a fulfilment node sends, signed like the sandbox's events; a new webhook id each time (a
        node re-sending an event under a new id), then the same id on every retry of this delivery."""
        payload = json.dumps({"type": event_type, "timestamp": datetime.now(UTC).isoformat(), "data": data})
        msg_id = f"msg_chaos_{uuid.uuid4().hex}"

        def signed() -> dict[str, str]:
            now = datetime.now(UTC)
            return {
                "content-type": "application/json",
                "webhook-id": msg_id,
                "webhook-timestamp": str(int(now.timestamp())),
                "webhook-signature": self._webhook.sign(msg_id, now, payload),
            }

        delay = 0.5
        while time.monotonic() < deadline:
            try:
                response = await self.api.post("/v1/webhooks/fulfillment", content=payload, headers=signed())
            except httpx.HTTPError as exc:
                self.answers[type(exc).__name__] += 1
            else:
                self._count("POST", "/v1/webhooks/fulfillment", response)
                if response.status_code != 503:
                    return response.status_code
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, MAX_BACKOFF_S)
        return None

    async def cancel_workflow(self, workflow_id: str, deadline: float) -> bool:
        """Temporal's own Cancel, as the UI's "Request Cancellation" button sends it."""
        while time.monotonic() < deadline:
            try:
                await self.temporal.get_workflow_handle(workflow_id).cancel()
                return True
            except Exception as exc:  # Temporal restarting: any RPC failure means "again"
                self.answers[f"temporal cancel {type(exc).__name__}"] += 1
                await asyncio.sleep(1.0)
        return False

    def _count(self, method: str, path: str, response: httpx.Response) -> None:
        label = _bucket(method, path, response.status_code)
        self.answers[label] += 1
        if response.status_code >= 500 and response.status_code != 503:
            self.server_errors += 1
            self.note(f"{label} {path}: {response.text[:300]}")


def problem_type(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get("type") if isinstance(body, dict) else None


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    return min(float(value), MAX_BACKOFF_S) if value and value.isdigit() else None


_POSTS = {
    "orders": "POST order",
    "cancel": "POST cancel",
    "returns": "POST return",
    "resolve": "POST resolve",
    "fulfillment": "POST webhook",
}


def _bucket(method: str, path: str, status: int) -> str:
    parts = path.strip("/").split("/")
    if method == "GET":
        what = "GET return" if "returns" in parts else "GET order"
    elif parts[-1] == "resolve" and "returns" in parts:
        what = "POST return resolve"
    else:
        what = _POSTS.get(parts[-1], path)
    return f"{what} {status}"
