"""Outbound webhooks: record an event's deliveries, and make one signed delivery attempt.

Each attempt signs the exact bytes it sends per Standard Webhooks (HMAC-SHA256 over
`{webhook-id}.{webhook-timestamp}.{body}`, keyed with the endpoint's secret, and during a rotation's
grace period with its previous secret too: the header then carries both signatures); the webhook-id is
the event id, stable across attempts, so receivers dedupe by it; the timestamp is the attempt's own.

The destination is checked before every attempt (canonical/outbound_urls.py, the policy may have
changed since registration) and again on the address actually connected to
(activities/guarded_network.py); the POST itself has one deadline and keeps at most 1 KiB of the answer
(activities/bounded_post.py). An unsuccessful answer is not an activity failure: its error category is
recorded and the delivery workflow decides, by its schedule, when to try again; a refused destination
fails the delivery at once. Only store trouble raises (and is retried by Temporal), so an attempt's
outcome is always written down.
"""

import json
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy.orm import Session
from standardwebhooks.webhooks import Webhook
from temporalio import activity

from activities import store_access
from activities.bounded_post import PostOutcome, post_bounded
from activities.guarded_network import guarded_pool
from canonical.events import BusinessEvent
from canonical.outbound_urls import DestinationPolicy
from canonical.settings import Settings, get_settings
from canonical.webhooks import (
    ATTEMPT_DELIVERY_ACTIVITY,
    RECORD_EVENT_ACTIVITY,
    RESPONSE_KEEP_BYTES,
    AttemptDelivery,
    AttemptOutcome,
    EventDeliveries,
    PendingDelivery,
)
from store.models import WebhookEndpoint
from store.secret_box import SecretBox
from store.webhooks import WebhookRepository

log = structlog.get_logger("o2c.webhooks")

USER_AGENT = "o2c-webhooks/1"


class _Outbound:
    """What every attempt shares: the settings, the destination policy, the secrets' keys, the pool."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.policy = DestinationPolicy.from_settings(settings)
        self.box = SecretBox(settings.webhook_secret_keys)
        # Redirects are never followed (httpcore does not): a receiver answers where it was registered.
        self.pool = guarded_pool(self.policy)


_outbound: _Outbound | None = None


def configure(settings: Settings) -> None:
    """Called once by the worker."""
    global _outbound
    _outbound = _Outbound(settings)


async def close() -> None:
    global _outbound
    if _outbound is not None:
        await _outbound.pool.aclose()
        _outbound = None


def _require() -> _Outbound:
    if _outbound is None:
        configure(get_settings())
    assert _outbound is not None
    return _outbound


def _now() -> datetime:
    return datetime.now(UTC)


@activity.defn(name=RECORD_EVENT_ACTIVITY)
async def record_event_deliveries(event: BusinessEvent) -> EventDeliveries:
    """The event, once, and one delivery per active endpoint subscribed to its type (idempotent)."""
    settings = _require().settings
    at = _now()
    rows = await store_access.write(lambda session: [
        PendingDelivery(delivery_id=r.delivery_id, endpoint_id=r.endpoint_id, status=r.status)  # type: ignore[arg-type]
        for r in WebhookRepository(session).record_event(event, at)
    ])
    return EventDeliveries(deliveries=rows, schedule_s=list(settings.webhook_retry_schedule_s),
                           attempt_timeout_s=settings.webhook_delivery_timeout_s)


class _Target:
    def __init__(self, url: str, secrets: list[str], event_id: str, body: str) -> None:
        self.url, self.secrets, self.event_id, self.body = url, secrets, event_id, body


def signing_secrets(box: SecretBox, endpoint: WebhookEndpoint, at: datetime) -> list[str]:
    """The current secret, and the previous one while its grace period lasts."""
    secrets = [box.open(endpoint.secret_sealed, endpoint.id)]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret_sealed and expires is not None and at < expires:
        secrets.append(box.open(endpoint.previous_secret_sealed, endpoint.id))
    return secrets


def _load(session: Session, inp: AttemptDelivery, box: SecretBox) -> _Target | AttemptOutcome:
    repo = WebhookRepository(session)
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
    return _Target(endpoint.url, signing_secrets(box, endpoint, _now()), delivery.event_id, body)


def signed_headers(secrets: list[str], event_id: str, body: str, at: datetime) -> dict[str, str]:
    """Standard Webhooks headers; several secrets give several space-separated signatures."""
    return {
        "webhook-id": event_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": " ".join(Webhook(secret).sign(event_id, at, body) for secret in secrets),
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }


async def _send(outbound: _Outbound, target: _Target) -> PostOutcome:
    if outbound.policy.url_refusal(target.url) is not None:
        return PostOutcome(None, b"", "destination_refused")
    headers = signed_headers(target.secrets, target.event_id, target.body, _now())
    return await post_bounded(outbound.pool, target.url, target.body.encode(), headers,
                              deadline_s=outbound.settings.webhook_delivery_timeout_s,
                              keep_bytes=RESPONSE_KEEP_BYTES)


@activity.defn(name=ATTEMPT_DELIVERY_ACTIVITY)
async def attempt_webhook_delivery(inp: AttemptDelivery) -> AttemptOutcome:
    outbound = _require()
    target = await store_access.read(lambda session: _load(session, inp, outbound.box))
    if isinstance(target, AttemptOutcome):
        if target.outcome == "endpoint_disabled":
            reason = target.error or "endpoint disabled"
            await store_access.write(lambda session: WebhookRepository(session).fail(inp.delivery_id, reason, _now()))
        return target
    bound = log.bind(delivery_id=inp.delivery_id, event_id=target.event_id, run=inp.run, attempt=inp.attempt)
    sent = await _send(outbound, target)
    status_code, error = sent.status_code, sent.error
    response_text = sent.text if status_code is not None else None
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

        def gone(session: Session) -> None:
            repo = WebhookRepository(session)
            repo.record_attempt(inp.delivery_id, status="failed", status_code=410, response=response_text,
                                error=error, at=done, next_attempt_at=None)
            delivery = repo.delivery(inp.delivery_id)
            if delivery is not None:
                repo.disable_endpoint(delivery.endpoint_id, reason, done)

        await store_access.write(gone)
        bound.warning("webhook.endpoint_gone")
        return AttemptOutcome(outcome="endpoint_disabled", status_code=410, error=error)

    # A refused destination stays refused: retrying would only knock on the same door.
    final = inp.next_delay_s is None or error == "destination_refused"
    next_at = None if final else done + timedelta(seconds=inp.next_delay_s or 0.0)
    await store_access.write(lambda session: WebhookRepository(session).record_attempt(
        inp.delivery_id, status="failed" if final else "pending", status_code=status_code, response=response_text,
        error=error, at=done, next_attempt_at=next_at))
    bound.warning("webhook.attempt_failed", status=status_code, error=error, final=final)
    return AttemptOutcome(outcome="failed" if final else "retry", status_code=status_code, error=error)
