"""Fault injection for vendor routes, configured per vendor through /_sandbox/faults.

Kept as raw ASGI middleware (not a FastAPI dependency) because two modes act *after* the handler:
"timeout" holds a finished response, "after_effect" swaps it for a 500, so the caller cannot tell
whether the effect happened; that ambiguity is what the orchestrator's retries must survive.
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .context import Runtime
from .errors import error_body
from .util import dumps, loads

VENDORS: tuple[str, ...] = ("loyalty", "payments", "inventory", "fulfillment", "erp", "marketing")
KINDS: tuple[str, ...] = ("error", "timeout", "outage", "after_effect")
ROUTER_VENDOR: dict[str, str] = {"stripe": "payments", "bloomreach": "marketing"}
"""Routers that speak a real vendor's protocol for a role: their faults are that role's."""


class FaultConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    error_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    timeout_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    latency_ms: int = Field(default=0, ge=0)
    outage: bool = False
    after_effect_error_rate: float = Field(default=0.0, ge=0.0, le=1.0)

    def is_quiet(self) -> bool:
        return self == FaultConfig()


def get_config(conn: sqlite3.Connection, vendor: str) -> FaultConfig:
    row = conn.execute("SELECT config FROM faults WHERE vendor = ?", (vendor,)).fetchone()
    return FaultConfig() if row is None else FaultConfig.model_validate(loads(row["config"]))


def set_config(conn: sqlite3.Connection, vendor: str, config: FaultConfig) -> None:
    conn.execute(
        "INSERT INTO faults(vendor, config) VALUES (?, ?)"
        " ON CONFLICT(vendor) DO UPDATE SET config = excluded.config",
        (vendor, dumps(config.model_dump())),
    )


def clear(conn: sqlite3.Connection) -> None:
    conn.execute("DELETE FROM faults")
    conn.execute("DELETE FROM fault_counters")


def bump(conn: sqlite3.Connection, vendor: str, kind: str) -> None:
    conn.execute(
        "INSERT INTO fault_counters(vendor, kind, n) VALUES (?, ?, 1) "
        "ON CONFLICT(vendor, kind) DO UPDATE SET n = n + 1",
        (vendor, kind),
    )


def snapshot(conn: sqlite3.Connection) -> dict[str, Any]:
    injected = {vendor: dict.fromkeys(KINDS, 0) for vendor in VENDORS}
    for row in conn.execute("SELECT vendor, kind, n FROM fault_counters"):
        injected.setdefault(row["vendor"], dict.fromkeys(KINDS, 0))[row["kind"]] = row["n"]
    return {
        "faults": {vendor: get_config(conn, vendor).model_dump() for vendor in VENDORS},
        "injected": injected,
    }


def vendor_of(path: str) -> str | None:
    first = path.lstrip("/").split("/", 1)[0]
    first = ROUTER_VENDOR.get(first, first)
    return first if first in VENDORS else None


def _injected(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse(error_body("api_error", code, message), status_code=status)


class FaultMiddleware:
    def __init__(self, app: ASGIApp, runtime: Runtime) -> None:
        self.app = app
        self.runtime = runtime

    def _bump(self, vendor: str, kind: str) -> None:
        with self.runtime.db.transaction() as conn:
            bump(conn, vendor, kind)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        vendor = vendor_of(scope["path"]) if scope["type"] == "http" else None
        if vendor is None:
            await self.app(scope, receive, send)
            return
        with self.runtime.db.transaction() as conn:
            config = get_config(conn, vendor)
        if config.is_quiet():
            await self.app(scope, receive, send)
            return

        if config.outage:
            self._bump(vendor, "outage")
            await _injected(503, "service_unavailable", f"{vendor} is unavailable (injected outage)")(
                scope, receive, send
            )
            return
        if config.latency_ms:
            await asyncio.sleep(random.uniform(0, config.latency_ms / 1000))
        if random.random() < config.error_rate:
            self._bump(vendor, "error")
            await _injected(500, "injected_fault", "Injected fault before processing")(scope, receive, send)
            return

        hang = random.random() < config.timeout_rate
        swap = not hang and random.random() < config.after_effect_error_rate
        if not hang and not swap:
            await self.app(scope, receive, send)
            return

        held: list[Message] = []

        async def hold(message: Message) -> None:
            held.append(message)

        await self.app(scope, receive, hold)
        if hang:
            self._bump(vendor, "timeout")
            await asyncio.sleep(self.runtime.settings.timeout_hang_s)
            for message in held:
                await send(message)
            return
        self._bump(vendor, "after_effect")
        await _injected(500, "injected_fault", "Injected fault after processing")(scope, receive, send)
