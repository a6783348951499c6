"""Per-app runtime and the per-request call context that runs one effect in one transaction.

``CallContext.run`` is the single place where idempotency, the ledger and the state change meet:
look up the stored response, run the effect, store its response, all inside one locked
transaction, so 20 concurrent identical requests produce exactly one effect.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from . import idempotency, ledger
from .db import Database
from .errors import VendorError
from .settings import SandboxSettings
from .util import now


class Runtime:
    def __init__(self, settings: SandboxSettings) -> None:
        self.settings = settings
        self.db = Database(settings.db_path)


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


@dataclass
class Tx:
    """An open transaction plus who is acting, so ledger entries fill themselves in."""

    conn: sqlite3.Connection
    vendor: str
    now: float
    settings: SandboxSettings
    idempotency_key: str | None = None
    correlation_id: str | None = None

    def ledger(
        self,
        action: str,
        *,
        order_id: str | None = None,
        amount: int | None = None,
        points: int | None = None,
        quantity: int | None = None,
        sku: str | None = None,
        reference: str | None = None,
    ) -> None:
        ledger.append(
            self.conn,
            at=self.now,
            vendor=self.vendor,
            action=action,
            order_id=order_id,
            amount=amount,
            points=points,
            quantity=quantity,
            sku=sku,
            reference=reference,
            idempotency_key=self.idempotency_key,
            correlation_id=self.correlation_id,
        )


@dataclass
class Result:
    body: Any
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


Effect = Callable[[Tx], Result]


def error_result(exc: VendorError) -> Result:
    """Answer an error without rolling back what the effect already did (e.g. a lazy expiry)."""
    return Result(exc.body, exc.status, exc.headers)


@dataclass
class CallContext:
    runtime: Runtime
    vendor: str
    method: str
    idempotency_key: str | None
    correlation_id: str | None
    fingerprint: str
    scope: str | None = None
    """Where its idempotency keys live (default: the vendor); Stripe scopes them per API key."""

    def run(self, effect: Effect) -> JSONResponse:
        key = self.idempotency_key if self.method == "POST" else None
        scope = self.scope or self.vendor
        with self.runtime.db.transaction() as conn:
            tx = Tx(conn, self.vendor, now(), self.runtime.settings, key, self.correlation_id)
            if key is not None:
                stored = idempotency.lookup(conn, scope, key)
                if stored is not None:
                    if stored.fingerprint != self.fingerprint:
                        raise VendorError(
                            400,
                            "idempotency_error",
                            "idempotency_error",
                            "Keys for idempotent requests can only be used with the same parameters"
                            " they were first used with.",
                        )
                    headers = {**stored.headers, "Idempotent-Replayed": "true"}
                    return JSONResponse(stored.body, status_code=stored.status, headers=headers)
            # A savepoint lets a business error undo a half-done effect yet still be stored below.
            conn.execute("SAVEPOINT effect")
            try:
                result = effect(tx)
            except VendorError as exc:
                conn.execute("ROLLBACK TO effect")
                result = error_result(exc)
            conn.execute("RELEASE effect")
            # 5xx are transient by definition; storing one would make the retry fail forever.
            if key is not None and result.status < 500:
                idempotency.store(
                    conn,
                    scope,
                    key,
                    idempotency.StoredResponse(self.fingerprint, result.status, result.body, result.headers),
                    tx.now,
                )
        return JSONResponse(result.body, status_code=result.status, headers=result.headers)


def vendor_call(vendor: str) -> Callable[[Request], Any]:
    """FastAPI dependency factory binding a router to its vendor's idempotency scope."""

    async def dependency(request: Request) -> CallContext:
        raw = await request.body()
        return CallContext(
            runtime=get_runtime(request),
            vendor=vendor,
            method=request.method,
            idempotency_key=request.headers.get("idempotency-key") or None,
            correlation_id=request.headers.get("x-correlation-id") or None,
            fingerprint=idempotency.fingerprint(request.method, request.url.path, raw),
        )

    return dependency
