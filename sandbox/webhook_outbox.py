"""Durable outbound webhooks (Standard Webhooks) and the background loop that drives them.

Events are rows in ``outbox`` written in the same transaction as the effect that caused them, so an
event exists iff its effect happened, and a restart resumes delivery where it stopped. The same loop
also runs the sandbox's other scheduled work (fulfilment dispatch), which is stored with a
``due_at`` for the same reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
from standardwebhooks import Webhook

from .context import Runtime
from .util import dumps, iso, loads, new_id, now

log = logging.getLogger("sandbox.webhooks")

# Receivers that answer these are overloaded or slow, not refusing the event.
RETRYABLE_4XX = {408, 429}

DueWork = Callable[[Runtime], int]


def enqueue(
    conn: sqlite3.Connection,
    *,
    stream: str,
    event_type: str,
    order_id: str | None,
    data: dict[str, Any],
    at: float,
) -> str:
    """Add an event; ``stream`` groups events that must arrive in order (we use the order id)."""
    webhook_id = new_id("msg")
    body = dumps({"type": event_type, "timestamp": iso(at), "data": data})
    conn.execute(
        "INSERT INTO outbox(webhook_id, stream, type, order_id, body, status, attempts, next_attempt_at,"
        " created_at) VALUES (?,?,?,?,?,'pending',0,?,?)",
        (webhook_id, stream, event_type, order_id, body, at, at),
    )
    return webhook_id


def sign_headers(secret: str, webhook_id: str, body: str, at: float) -> dict[str, str]:
    timestamp = datetime.fromtimestamp(int(at), tz=UTC)
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(at)),
        "webhook-signature": Webhook(secret).sign(webhook_id, timestamp, body),
        "content-type": "application/json",
    }


def list_outbox(conn: sqlite3.Connection, order_id: str | None = None) -> list[dict[str, Any]]:
    sql = (
        "SELECT webhook_id, type, order_id, status, attempts, last_error, created_at, delivered_at, body"
        " FROM outbox" + (" WHERE order_id = ?" if order_id is not None else "") + " ORDER BY id"
    )
    rows = conn.execute(sql, (order_id,) if order_id is not None else ())
    return [
        {
            **{k: row[k] for k in row.keys() if k != "body"},  # noqa: SIM118 - sqlite3.Row iterates values
            "payload": loads(row["body"]),
            "created_at": iso(row["created_at"]),
            "delivered_at": None if row["delivered_at"] is None else iso(row["delivered_at"]),
        }
        for row in rows
    ]


def _retry_after(response: httpx.Response) -> float:
    try:
        return float(response.headers.get("retry-after", "0"))
    except ValueError:
        return 0.0


class BackgroundWorker:
    """Two loops: one works the due requests (dispatches, receipts), one delivers webhooks. Each stream
    (order) is drained by its own task, in order, so a slow receiver answer for one order never holds
    up another's events or the node's work."""

    MAX_STREAMS_IN_FLIGHT = 64

    def __init__(self, runtime: Runtime, due_work: list[DueWork]) -> None:
        self.runtime = runtime
        self.due_work = due_work
        self._tasks: list[asyncio.Task[None]] = []
        self._draining: dict[str, asyncio.Task[int]] = {}

    def start(self) -> None:
        if not self._tasks:
            self._tasks = [asyncio.create_task(self._work_loop(), name="sandbox-due-work"),
                           asyncio.create_task(self._delivery_loop(), name="sandbox-webhooks")]

    async def stop(self) -> None:
        for task in [*self._tasks, *self._draining.values()]:
            task.cancel()
        for task in [*self._tasks, *self._draining.values()]:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks, self._draining = [], {}

    async def _work_loop(self) -> None:
        while True:
            try:
                await asyncio.to_thread(self.process_due_work)
            except Exception:
                # The loop must outlive any single bad row or database hiccup.
                log.exception("due work iteration failed")
            await asyncio.sleep(self.runtime.settings.worker_poll_s)

    async def _delivery_loop(self) -> None:
        async with httpx.AsyncClient(timeout=self.runtime.settings.webhook_timeout_s,
                                     limits=httpx.Limits(max_connections=self.MAX_STREAMS_IN_FLIGHT)) as client:
            while True:
                try:
                    await self.start_due_streams(client)
                except Exception:
                    log.exception("webhook delivery iteration failed")
                await asyncio.sleep(self.runtime.settings.worker_poll_s)

    def process_due_work(self) -> int:
        return sum(work(self.runtime) for work in self.due_work)

    def _heads(self) -> list[sqlite3.Row]:
        """The oldest pending event of each stream, if it is due: later ones wait behind it."""
        with self.runtime.db.transaction() as conn:
            return conn.execute(
                "SELECT o.* FROM outbox o JOIN (SELECT stream, MIN(id) AS id FROM outbox"
                " WHERE status = 'pending' GROUP BY stream) h ON o.id = h.id"
                " WHERE o.next_attempt_at <= ? ORDER BY o.id",
                (now(),),
            ).fetchall()

    def _head_of(self, stream: str) -> sqlite3.Row | None:
        with self.runtime.db.transaction() as conn:
            row: sqlite3.Row | None = conn.execute(
                "SELECT * FROM outbox WHERE stream = ? AND status = 'pending' ORDER BY id LIMIT 1", (stream,)
            ).fetchone()
        if row is None or row["next_attempt_at"] > now():
            return None
        return row

    async def start_due_streams(self, client: httpx.AsyncClient) -> None:
        """A drainer for each due stream that has none, up to the in-flight limit; never waits for them."""
        for stream in [s for s, task in self._draining.items() if task.done()]:
            del self._draining[stream]
        for row in self._heads():
            if len(self._draining) >= self.MAX_STREAMS_IN_FLIGHT:
                break
            if row["stream"] not in self._draining:
                self._draining[row["stream"]] = asyncio.create_task(self._drain(client, row))

    async def deliver_due(self, client: httpx.AsyncClient) -> int:
        """Deliver everything due now and wait for it (tests drive the loop this way)."""
        heads = self._heads()
        delivered = await asyncio.gather(*(self._drain(client, row) for row in heads))
        return sum(delivered)

    async def _drain(self, client: httpx.AsyncClient, row: sqlite3.Row | None) -> int:
        # Streams are independent; within one we keep going until an attempt fails, to keep order.
        count = 0
        while row is not None:
            if not await self._attempt(client, row):
                break
            count += 1
            row = self._head_of(row["stream"])
        return count

    async def _attempt(self, client: httpx.AsyncClient, row: sqlite3.Row) -> bool:
        """One delivery attempt; True when the stream may move on (delivered or dropped)."""
        settings = self.runtime.settings
        attempted_at = now()
        error: str
        retry_floor = 0.0
        try:
            headers = sign_headers(settings.webhook_secret, row["webhook_id"], row["body"], attempted_at)
            response = await client.post(settings.webhook_url, content=row["body"].encode(), headers=headers)
        except Exception as exc:  # whatever stops a delivery is a failed attempt
            error = f"{type(exc).__name__}: {exc}"
        else:
            if response.is_success:
                self._finish(row["id"], "delivered", None)
                return True
            error = f"HTTP {response.status_code}: {response.text[:200]}"
            if 400 <= response.status_code < 500 and response.status_code not in RETRYABLE_4XX:
                log.warning("webhook %s (%s) dropped: %s", row["webhook_id"], row["type"], error)
                self._finish(row["id"], "failed", error)
                return True
            retry_floor = _retry_after(response)
        attempts = row["attempts"] + 1
        delay = min(settings.webhook_backoff_initial_s * 2 ** (attempts - 1), settings.webhook_backoff_max_s)
        delay = max(delay, min(retry_floor, settings.webhook_backoff_max_s))
        log.info(
            "webhook %s attempt %d failed (%s); retrying in %.1fs", row["webhook_id"], attempts, error, delay
        )
        with self.runtime.db.transaction() as conn:
            conn.execute(
                "UPDATE outbox SET attempts = ?, next_attempt_at = ?, last_error = ? WHERE id = ?",
                (attempts, now() + delay, error, row["id"]),
            )
        return False

    def _finish(self, row_id: int, status: str, error: str | None) -> None:
        with self.runtime.db.transaction() as conn:
            conn.execute(
                "UPDATE outbox SET status = ?, attempts = attempts + 1, last_error = ?, delivered_at = ?"
                " WHERE id = ?",
                (status, error, now() if status == "delivered" else None, row_id),
            )
