"""Bloomreach Engagement's tracking API (`/bloomreach`), for the subset o2c uses: add one customer event.

`POST /bloomreach/track/v2/projects/{projectToken}/customers/events` with HTTP Basic auth (API key id and
secret, SANDBOX_BLOOMREACH_*). Answers as Bloomreach's single-event endpoints do: `{"success": true}`, or a
4xx with `{"success": false, "errors": [...]}`. Bloomreach has no idempotency key here; o2c puts the
canonical event id in `properties.event_id`, and this receiver records each event id once (ledger vendor
`marketing`, action `marketing.event`, reference = the event type), so tests can assert exactly-once.
Fault injection applies under vendor `marketing`.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .context import CallContext, Result, Tx, get_runtime, vendor_call
from .context import Runtime as SandboxRuntime
from .settings import SandboxSettings
from .util import loads

VENDOR = "marketing"

router = APIRouter(prefix="/bloomreach", tags=["bloomreach"])
control = APIRouter(prefix="/_sandbox/bloomreach", tags=["control"])
Ctx = Annotated[CallContext, Depends(vendor_call(VENDOR))]
RuntimeDep = Annotated[SandboxRuntime, Depends(get_runtime)]


class CustomerEvent(BaseModel):
    # The request's four fields are fixed; `properties` is free (new keys become new event attributes).
    model_config = ConfigDict(extra="forbid")

    customer_ids: dict[str, str] = Field(min_length=1)
    event_type: str = Field(min_length=1, max_length=255)
    properties: dict[str, Any] = {}
    timestamp: float | None = None


def failure(status: int, *errors: str) -> JSONResponse:
    return JSONResponse({"success": False, "errors": list(errors)}, status_code=status)


def _credentials_ok(settings: SandboxSettings, header: str | None) -> bool:
    scheme, _, encoded = (header or "").partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        key_id, _, secret = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return False
    return hmac.compare_digest(key_id.encode(), settings.bloomreach_api_key_id.encode()) & hmac.compare_digest(
        secret.encode(), settings.bloomreach_api_secret.encode())


def _validation_errors(err: ValidationError) -> list[str]:
    return [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in err.errors()]


@router.post("/track/v2/projects/{project_token}/customers/events")
async def add_event(ctx: Ctx, request: Request, project_token: str) -> JSONResponse:
    settings = ctx.runtime.settings
    if not _credentials_ok(settings, request.headers.get("authorization")):
        return failure(401, "Access key not found or secret does not match")
    if project_token != settings.bloomreach_project_token:
        return failure(404, f"Project {project_token} not found")
    try:
        event = CustomerEvent.model_validate_json(await request.body())
    except ValidationError as err:
        return failure(400, *_validation_errors(err))
    event_id = str(event.properties.get("event_id") or f"anonymous-{uuid.uuid4().hex}")
    customer_id = event.customer_ids.get("registered") or next(iter(event.customer_ids.values()))
    raw = event.model_dump_json()

    def effect(tx: Tx) -> Result:
        cur = tx.conn.execute(
            "INSERT OR IGNORE INTO bloomreach_events(event_id, customer_id, event_type, received_at, body)"
            " VALUES (?,?,?,?,?)", (event_id, customer_id, event.event_type, tx.now, raw))
        if cur.rowcount:
            order_id = event.properties.get("order_id")
            tx.idempotency_key = event_id  # the ledger entry carries the dedupe key, for exactly-once checks
            tx.ledger("marketing.event", order_id=None if order_id is None else str(order_id),
                      reference=event.event_type)
        return Result({"success": True})

    return ctx.run(effect)


@control.get("/events")
async def tracked_events(runtime: RuntimeDep, customer_id: Annotated[str | None, Query()] = None,
                         ) -> dict[str, list[dict[str, Any]]]:
    """Every customer event recorded (once each), oldest first, with the body as received."""
    query = "SELECT event_id, received_at, body FROM bloomreach_events"
    params: tuple[str, ...] = ()
    if customer_id is not None:
        query, params = query + " WHERE customer_id = ?", (customer_id,)
    with runtime.db.transaction() as conn:
        rows = conn.execute(query + " ORDER BY seq", params).fetchall()
    return {"events": [{"event_id": r["event_id"], "received_at": r["received_at"], "body": loads(r["body"])}
                       for r in rows]}
