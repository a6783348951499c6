"""Marketing automation (`/marketing`), modelled on an event-ingest API such as Bloomreach's.

It is the receiving end of o2c's outbound webhooks: verifies the Standard Webhooks signature and
records each event once per ``webhook-id``, so tests can assert exactly-once delivery by the ledger.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, ValidationError
from standardwebhooks.webhooks import EmptyWebhookSecretError, Webhook, WebhookVerificationError

from .context import CallContext, Result, Tx, vendor_call
from .db import kv_get
from .errors import VendorError, error_body

VENDOR = "marketing"
SECRET_KEY = "marketing.secret"

router = APIRouter(prefix="/marketing", tags=["marketing"])
call = vendor_call(VENDOR)
# Annotated, so FastAPI injects it without a call in a default argument.
Ctx = Annotated[CallContext, Depends(call)]


class MarketingEvent(BaseModel):
    # Receivers of webhooks must tolerate fields the sender adds later.
    model_config = ConfigDict(extra="allow")

    type: str
    timestamp: str | None = None
    data: dict[str, Any] = {}


@router.post("/events")
async def receive_event(ctx: Ctx, request: Request) -> JSONResponse:
    raw = await request.body()
    with ctx.runtime.db.transaction() as conn:
        secret = kv_get(conn, SECRET_KEY) or ctx.runtime.settings.marketing_secret
    try:
        if not secret:
            raise ValueError("no marketing secret configured")
        Webhook(secret).verify(raw, dict(request.headers))
    # A malformed header (ValueError from parsing) or secret is just as unauthenticated as a bad MAC.
    except (WebhookVerificationError, EmptyWebhookSecretError, ValueError) as exc:
        return JSONResponse(
            error_body("authentication_error", "invalid_signature", f"Webhook verification failed: {exc}"),
            status_code=401,
        )
    try:
        event = MarketingEvent.model_validate_json(raw)
    except ValidationError as exc:
        raise VendorError(422, "validation_error", "validation_error", str(exc)) from exc
    webhook_id = request.headers["webhook-id"]

    def effect(tx: Tx) -> Result:
        cur = tx.conn.execute(
            "INSERT OR IGNORE INTO marketing_events(webhook_id, type, received_at, body) VALUES (?,?,?,?)",
            (webhook_id, event.type, tx.now, raw.decode()),
        )
        duplicate = cur.rowcount == 0
        if not duplicate:
            order_id = event.data.get("order_id")
            # The receiver's dedupe key is the webhook-id: the entry carries it, so exactly-once can be
            # checked per event.
            tx.idempotency_key = webhook_id
            tx.ledger(
                "marketing.event", order_id=None if order_id is None else str(order_id), reference=event.type
            )
        return Result({"received": True, "webhook_id": webhook_id, "duplicate": duplicate})

    return ctx.run(effect)
