"""Outbound webhooks: the outbox's send side, run by the sender process (`o2c sender`), one or several.

Orders write their events and one delivery per subscribed endpoint into the store (activities/events.py).
`DeliveryLoop` drains the due deliveries: it claims them in the store (a conditional update, so of
several senders only one attempts a delivery), and `WebhookSender` makes each attempt. Each attempt
signs the exact bytes it sends per Standard Webhooks (HMAC-SHA256 over `{webhook-id}.{webhook-timestamp}.
{body}`, keyed with the endpoint's secret, and during a rotation's grace period with its previous secret
too); the webhook-id is the event id, stable across attempts, so receivers dedupe by it.

Everything that must survive a restart is in the store: the retry schedule's position (`run_attempts`)
and the next attempt's time, so the Standard Webhooks schedule (O2C_WEBHOOK_RETRY_SCHEDULE_S) goes on
across restarts. A receiver gets an order's events in order; 410 disables its endpoint; a delivery
whose schedule is used up is kept failed with its last answer, for a manual retry (a fresh run).

With O2C_MARKETING_ADAPTER=bloomreach one more destination is built in (activities/marketing_destination.py):
its deliveries are made by the marketing adapter (activities/ports/marketing.py) instead of a signed POST,
with the same claims, schedule, failed state and vendor health figures.

The destination is checked before every attempt (canonical/outbound_urls.py) and again on the address
actually connected to (activities/guarded_network.py); the POST has one deadline and keeps at most 1 KiB
of the answer (activities/bounded_post.py). Each endpoint has a few attempts in flight at most, so
receivers that hang cannot take every sender from the others.
"""

import asyncio
import contextlib
import json
import signal
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy.orm import Session
from standardwebhooks.webhooks import Webhook

from activities.bounded_post import PostOutcome, post_bounded
from activities.guarded_network import guarded_pool
from activities.marketing_destination import BLOOMREACH
from activities.ports.marketing import MarketingTracker
from activities.store_executor import StoreExecutor
from activities.vendor_health import CallTally, VendorHealth, VendorHealthReporter
from activities.vendors import marketing_tracker
from canonical.events import BusinessEvent
from canonical.webhooks import RESPONSE_KEEP_BYTES
from runtime.settings import Settings, destination_policy
from store.models import WebhookEndpoint
from store.secret_box import SecretBox
from store.webhooks import Claim, WebhookRepository

log = structlog.get_logger("o2c.webhooks")

USER_AGENT = "o2c-webhooks/1"
PER_ENDPOINT_IN_FLIGHT = 4
"""Attempts one endpoint may have in flight: a hanging receiver holds at most this many senders."""
IN_FLIGHT = 64
POLL_S = 0.25
MARKETING = "marketing"


def _now() -> datetime:
    return datetime.now(UTC)


class _Target:
    def __init__(self, url: str, secrets: list[str], event_id: str, body: str, tracked: BusinessEvent | None = None,
                 ) -> None:
        self.url, self.secrets, self.event_id, self.body = url, secrets, event_id, body
        self.tracked = tracked
        """The event, when the destination is the marketing adapter's rather than a signed webhook POST."""


def signing_secrets(box: SecretBox, endpoint: WebhookEndpoint, at: datetime) -> list[str]:
    """The current secret, and the previous one while its grace period lasts."""
    secrets = [box.open(endpoint.secret_sealed, endpoint.id)]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret_sealed and expires is not None and at < expires:
        secrets.append(box.open(endpoint.previous_secret_sealed, endpoint.id))
    return secrets


def signed_headers(secrets: list[str], event_id: str, body: str, at: datetime) -> dict[str, str]:
    """Standard Webhooks headers; several secrets give several space-separated signatures."""
    return {
        "webhook-id": event_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": " ".join(Webhook(secret).sign(event_id, at, body) for secret in secrets),
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }


class WebhookSender:
    """One attempt of one claimed delivery, and its outcome written down."""

    def __init__(self, settings: Settings, store: StoreExecutor, tally: CallTally | None = None,
                 tracker: MarketingTracker | None = None) -> None:
        self._settings = settings
        self._store = store
        self._tally = tally or CallTally()
        self._tracker = tracker
        self._policy = destination_policy(settings)
        self._box = SecretBox(settings.webhook_secret_keys)
        # Redirects are never followed (httpcore does not): a receiver answers where it was registered.
        self._pool = guarded_pool(self._policy)
        self._schedule = list(settings.webhook_retry_schedule_s)

    async def aclose(self) -> None:
        await self._pool.aclose()
        if self._tracker is not None:
            await self._tracker.aclose()

    def next_delay(self, attempt: int) -> float | None:
        """Delay after the run's `attempt`-th attempt (1-based); None once the schedule is used up."""
        return self._schedule[attempt] if attempt < len(self._schedule) else None

    async def attempt(self, claim: Claim) -> None:
        target = await self._store.read(lambda session: self._load(session, claim))
        if target is None:
            return
        attempt = claim.run_attempts + 1
        bound = log.bind(delivery_id=claim.delivery_id, event_id=target.event_id, run=claim.run, attempt=attempt)
        started = time.monotonic()
        sent = await self._send(target)
        done = _now()
        outcome = delivery_outcome(sent)
        if outcome is not None:  # deliveries are the marketing vendor's calls in its health figures
            self._tally.observe(MARKETING, outcome, time.monotonic() - started)
        if sent.error is None:
            await self._record(claim, sent, "delivered", done, None)
            bound.info("webhook.delivered", status=sent.status_code)
        elif sent.status_code == 410 and target.tracked is None:
            await self._gone(claim, sent, done)
            bound.warning("webhook.endpoint_gone")
        else:
            # A refused destination stays refused: retrying would only knock on the same door.
            delay = None if sent.error == "destination_refused" else self.next_delay(attempt)
            next_at = None if delay is None else done + timedelta(seconds=delay)
            await self._record(claim, sent, "failed" if next_at is None else "pending", done, next_at)
            bound.warning("webhook.attempt_failed", status=sent.status_code, error=sent.error, final=next_at is None)

    def _load(self, session: Session, claim: Claim) -> _Target | None:
        """What to send; None (with the delivery failed) if its endpoint was disabled or deleted meanwhile."""
        repo = WebhookRepository(session)
        delivery = repo.delivery(claim.delivery_id)
        if delivery is None or delivery.status != "pending" or delivery.runs != claim.run:
            return None
        endpoint = repo.endpoint(delivery.endpoint_id)
        if endpoint is None or endpoint.status != "active":
            reason = f"endpoint disabled: {endpoint.disabled_reason or 'no reason given'}" if endpoint else "deleted"
            repo.fail(claim.delivery_id, reason, _now())
            return None
        if endpoint.kind == BLOOMREACH:
            return _Target(endpoint.url, [], delivery.event_id, "", BusinessEvent.model_validate(delivery.payload))
        # Compact, and the same bytes are signed and sent.
        body = json.dumps(delivery.payload, separators=(",", ":"), ensure_ascii=False)
        return _Target(endpoint.url, signing_secrets(self._box, endpoint, _now()), delivery.event_id, body)

    async def _send(self, target: _Target) -> PostOutcome:
        if target.tracked is not None:
            if self._tracker is None:  # a sender started before O2C_MARKETING_ADAPTER changed; the next one will do
                return PostOutcome(None, b"", "unreachable")
            return await self._tracker.track(target.tracked)
        if self._policy.url_refusal(target.url) is not None:
            return PostOutcome(None, b"", "destination_refused")
        headers = signed_headers(target.secrets, target.event_id, target.body, _now())
        return await post_bounded(self._pool, target.url, target.body.encode(), headers,
                                  deadline_s=self._settings.webhook_delivery_timeout_s, keep_bytes=RESPONSE_KEEP_BYTES)

    async def _record(self, claim: Claim, sent: PostOutcome, status: str, at: datetime,
                      next_at: datetime | None) -> None:
        response = sent.text if sent.status_code is not None else None
        await self._store.write(lambda session: WebhookRepository(session).record_attempt(
            claim.delivery_id, status=status, status_code=sent.status_code, response=response,  # type: ignore[arg-type]
            error=sent.error, at=at, next_attempt_at=next_at))

    async def _gone(self, claim: Claim, sent: PostOutcome, at: datetime) -> None:
        """410 Gone: the receiver asks never to be called again (Standard Webhooks). Disable the endpoint
        and give up its pending deliveries; an admin registers it again if that was a mistake."""
        reason = f"receiver answered 410 Gone at {at.isoformat()}"

        def gone(session: Session) -> None:
            repo = WebhookRepository(session)
            repo.record_attempt(claim.delivery_id, status="failed", status_code=410, response=sent.text,
                                error=sent.error, at=at, next_attempt_at=None)
            repo.disable_endpoint(claim.endpoint_id, reason, at)

        await self._store.write(gone)


def delivery_outcome(sent: PostOutcome) -> str | None:
    """A delivery attempt in the vendor outcomes' terms; None when nothing was sent (a refused destination)."""
    status = sent.status_code
    if sent.error == "destination_refused":
        return None
    if sent.error is None:
        return "ok"
    if status == 410:
        return "business_rejection"  # the receiver answered, and asked to be left alone
    if status is None or status in (408, 425, 429) or status >= 500:
        return "transient"
    return "contract_violation"


class DeliveryLoop:
    """Claims due deliveries and attempts them, a few per endpoint at a time, until told to stop."""

    def __init__(self, sender: WebhookSender, store: StoreExecutor, lease_s: float) -> None:
        self._sender = sender
        self._store = store
        self._lease = timedelta(seconds=lease_s)
        self._in_flight: set[asyncio.Task[None]] = set()
        self._per_endpoint: dict[str, int] = defaultdict(int)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            claimed = 0
            try:
                claimed = await self._claim_and_start()
            except Exception as exc:  # the store blinked: the schedule is in the store, try again
                log.warning("webhook.loop_store_error", error_type=type(exc).__name__)
            if claimed == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), POLL_S)
        if self._in_flight:
            await asyncio.wait(self._in_flight)

    async def _claim_and_start(self) -> int:
        room = IN_FLIGHT - len(self._in_flight)
        if room <= 0:
            return 0
        now = _now()
        claims = await self._store.write(lambda session: WebhookRepository(session).claim_due(
            now, now + self._lease, room, lambda endpoint_id: PER_ENDPOINT_IN_FLIGHT - self._per_endpoint[endpoint_id]))
        for claim in claims:
            self._per_endpoint[claim.endpoint_id] += 1
            task = asyncio.create_task(self._attempt(claim))
            self._in_flight.add(task)
            task.add_done_callback(self._in_flight.discard)
        return len(claims)

    async def _attempt(self, claim: Claim) -> None:
        try:
            await self._sender.attempt(claim)
        except Exception as exc:  # the lease makes it due again; nothing is lost
            log.warning("webhook.attempt_error", delivery_id=claim.delivery_id, error_type=type(exc).__name__)
        finally:
            self._per_endpoint[claim.endpoint_id] -= 1


async def run_sender(settings: Settings, stop: asyncio.Event) -> None:
    """The outbox's sender process (`o2c sender`): background work apart from the workers, so checkout
    and the saga never wait behind deliveries to slow receivers. Several may run; claims keep them apart."""
    store = StoreExecutor(settings.store_url())
    health = VendorHealth(settings, with_breakers=False)
    tracker = marketing_tracker(settings)
    sender = WebhookSender(settings, store, health.tally, tracker)
    reporter = asyncio.create_task(VendorHealthReporter(health, store, settings.vendor_health_report_s).run(stop))
    log.info("sender.started")
    try:
        await DeliveryLoop(sender, store, lease_s=settings.webhook_delivery_timeout_s + 30).run(stop)
        await reporter
    finally:
        await sender.aclose()
        store.close()
        log.info("sender.stopped")


def main() -> None:
    from runtime.logging import configure_logging

    settings = Settings()
    configure_logging(settings.log_level)

    async def _main() -> None:
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            asyncio.get_running_loop().add_signal_handler(sig, stop.set)
        await run_sender(settings, stop)

    asyncio.run(_main())
