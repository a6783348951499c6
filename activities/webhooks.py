"""Outbound webhooks: record an event's deliveries, and make one signed delivery attempt.

The outbound HTTP adapter lives here. Each attempt signs the exact bytes it sends per Standard
Webhooks (HMAC-SHA256 over `{webhook-id}.{webhook-timestamp}.{body}`, keyed with the endpoint's
secret); the webhook-id is the event id, stable across attempts, so receivers dedupe by it; the
timestamp is the attempt's own. An unsuccessful answer is not an activity failure: it is recorded
and the delivery workflow decides, by its schedule, when to try again. Only store trouble raises
(and is retried by Temporal), so an attempt's outcome is always written down.
"""

import json
from datetime import UTC, datetime, timedelta

import httpx
import structlog
from standardwebhooks.webhooks import Webhook
from temporalio import activity

from activities import store_access
from canonical.events import BusinessEvent
from canonical.settings import Settings, get_settings
from canonical.webhooks import (
    ATTEMPT_DELIVERY_ACTIVITY,
    RECORD_EVENT_ACTIVITY,
    RESPONSE_KEEP_CHARS,
    AttemptDelivery,
    AttemptOutcome,
    EventDeliveries,
    PendingDelivery,
)
from store.webhooks import WebhookRepository

log = structlog.get_logger("o2c.webhooks")

USER_AGENT = "o2c-webhooks/1"

_client: httpx.AsyncClient | None = None
_settings: Settings | None = None


def configure(settings: Settings) -> None:
    """Called once by the worker. Redirects are not followed: a receiver answers where it was registered."""
    global _client, _settings
    _settings = settings
    _client = httpx.AsyncClient(
        timeout=httpx.Timeout(settings.webhook_delivery_timeout_s),
        follow_redirects=False,
        limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
        headers={"user-agent": USER_AGENT},
    )


async def close() -> None:
    global _client
    if _client is not None:
        await _client.aclose()
        _client = None


def _require() -> tuple[httpx.AsyncClient, Settings]:
    if _client is None or _settings is None:
        configure(_settings or get_settings())
    assert _client is not None and _settings is not None
    return _client, _settings


def _now() -> datetime:
    return datetime.now(UTC)


@activity.defn(name=RECORD_EVENT_ACTIVITY)
async def record_event_deliveries(event: BusinessEvent) -> EventDeliveries:
    """The event, once, and one delivery per active endpoint subscribed to its type (idempotent)."""
    _, settings = _require()
    at = _now()
    rows = await store_access.write(lambda session: [
        PendingDelivery(delivery_id=r.delivery_id, endpoint_id=r.endpoint_id, status=r.status)  # type: ignore[arg-type]
        for r in WebhookRepository(session).record_event(event, at)
    ])
    return EventDeliveries(deliveries=rows, schedule_s=list(settings.webhook_retry_schedule_s),
                           attempt_timeout_s=settings.webhook_delivery_timeout_s)


class _Target:
    def __init__(self, url: str, secret: str, event_id: str, body: str) -> None:
        self.url, self.secret, self.event_id, self.body = url, secret, event_id, body


def _load(session: object, inp: AttemptDelivery) -> _Target | AttemptOutcome:
    repo = WebhookRepository(session)  # type: ignore[arg-type]
    delivery = repo.delivery(inp.delivery_id)
    if delivery is None:
        return AttemptOutcome(outcome="stopped", detail="the delivery or its endpoint was deleted")
    if delivery.status == "delivered":
        return AttemptOutcome(outcome="delivered", status_code=delivery.last_status_code, detail="already delivered")
    if delivery.runs != inp.run:
        return AttemptOutcome(outcome="stopped", detail=f"superseded by run {delivery.runs}")
    if delivery.status == "failed":
        return AttemptOutcome(outcome="stopped", error=delivery.last_error, detail="the delivery was failed meanwhile")
    endpoint = repo.endpoint(delivery.endpoint_id)
    if endpoint is None:
        return AttemptOutcome(outcome="stopped", detail="the endpoint was deleted")
    if endpoint.status != "active":
        reason = f"endpoint disabled: {endpoint.disabled_reason or 'no reason given'}"
        return AttemptOutcome(outcome="endpoint_disabled", error=reason)
    # Compact, and the same bytes are signed and sent.
    body = json.dumps(delivery.payload, separators=(",", ":"), ensure_ascii=False)
    return _Target(endpoint.url, endpoint.secret, delivery.event_id, body)


def signed_headers(secret: str, event_id: str, body: str, at: datetime) -> dict[str, str]:
    return {
        "webhook-id": event_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(event_id, at, body),
        "content-type": "application/json",
    }


@activity.defn(name=ATTEMPT_DELIVERY_ACTIVITY)
async def attempt_webhook_delivery(inp: AttemptDelivery) -> AttemptOutcome:
    client, settings = _require()
    target = await store_access.read(lambda session: _load(session, inp))
    if isinstance(target, AttemptOutcome):
        if target.outcome == "endpoint_disabled":
            reason = target.error or "endpoint disabled"
            await store_access.write(lambda session: WebhookRepository(session).fail(inp.delivery_id, reason, _now()))
        return target
    bound = log.bind(delivery_id=inp.delivery_id, event_id=target.event_id, run=inp.run, attempt=inp.attempt)
    at = _now()
    status_code: int | None = None
    response_text: str | None = None
    error: str | None = None
    try:
        response = await client.post(target.url, content=target.body.encode(),
                                     headers=signed_headers(target.secret, target.event_id, target.body, at))
        status_code = response.status_code
        response_text = response.text[:RESPONSE_KEEP_CHARS]
        if not response.is_success:
            error = f"HTTP {status_code}"
    except httpx.TimeoutException:
        error = f"timeout: no answer within {settings.webhook_delivery_timeout_s:g}s"
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}"[:RESPONSE_KEEP_CHARS]
    done = _now()

    if error is None:
        await store_access.write(lambda session: WebhookRepository(session).record_attempt(
            inp.delivery_id, status="delivered", status_code=status_code, response=response_text, error=None,
            at=done, next_attempt_at=None))
        bound.info("webhook.delivered", status=status_code)
        return AttemptOutcome(outcome="delivered", status_code=status_code)

    if status_code == 410:
        # Gone: the receiver asks never to be called again (Standard Webhooks). Disable the endpoint and
        # give up its pending deliveries; an admin registers it again if that was a mistake.
        reason = f"receiver answered 410 Gone at {done.isoformat()}"

        def gone(session: object) -> None:
            repo = WebhookRepository(session)  # type: ignore[arg-type]
            repo.record_attempt(inp.delivery_id, status="failed", status_code=410, response=response_text,
                                error=error, at=done, next_attempt_at=None)
            delivery = repo.delivery(inp.delivery_id)
            if delivery is not None:
                repo.disable_endpoint(delivery.endpoint_id, reason, done)

        await store_access.write(gone)
        bound.warning("webhook.endpoint_gone")
        return AttemptOutcome(outcome="endpoint_disabled", status_code=410, error=error)

    final = inp.next_delay_s is None
    next_at = None if final else done + timedelta(seconds=inp.next_delay_s or 0.0)
    await store_access.write(lambda session: WebhookRepository(session).record_attempt(
        inp.delivery_id, status="failed" if final else "pending", status_code=status_code, response=response_text,
        error=error, at=done, next_attempt_at=next_at))
    bound.warning("webhook.attempt_failed", status=status_code, error=error, final=final)
    return AttemptOutcome(outcome="failed" if final else "retry", status_code=status_code, error=error)
