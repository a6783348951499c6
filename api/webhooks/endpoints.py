"""/v1/webhook-endpoints (webhooks:admin): who receives the canonical events, and how each delivery went.

An endpoint is a URL and the event types it wants; it gets a signing secret of its own (Standard
Webhooks, `whsec_…`), shown once, when it is made, and kept sealed in the store (store/secret_box.py).
Rotating it makes a new one and keeps the old one signing too for a grace period, so receivers can
switch over without losing an event. Deliveries are listed per endpoint with their last answer; a
failed one can be retried by hand, which starts a fresh delivery run in Temporal (the same workflow
the automatic retries run). The API reads and writes the store and talks to Temporal; it never calls
a receiver itself.

A URL that points inside (loopback, private, link-local, metadata...) or, when O2C_WEBHOOK_ALLOWED_HOSTS
is set, outside the allowlist is refused with a 422 naming `url`; a host name is resolved and each of
its addresses checked. Every delivery attempt checks again, where it connects (DNS rebinding).
"""

import asyncio
import base64
import secrets
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlsplit

import structlog
from fastapi import APIRouter, Body, Depends, FastAPI, Path, Query, Request, Response
from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, field_validator

from activities.guarded_network import DestinationRefused, vetted_addresses
from api.shared.auth import Principal, require_scope
from api.shared.cursors import IdCursor
from api.shared.problems import PROBLEM, ProblemError, ValidationProblem, validation_problem
from api.shared.store import store
from canonical.events import EventType
from canonical.outbound_urls import DEFAULT_PORTS, DestinationPolicy
from canonical.webhooks import DeliveryStatus, EndpointStatus
from runtime.settings import Settings, destination_policy
from store.engine import Store
from store.models import WebhookDelivery, WebhookEndpoint
from store.secret_box import SecretBox
from store.webhooks import WebhookRepository

log = structlog.get_logger("o2c.api")

router = APIRouter(prefix="/v1/webhook-endpoints", tags=["webhook endpoints"])

VALIDATION = {"model": ValidationProblem, "content": {"application/problem+json": {}}}
Admin = Annotated[Principal, Depends(require_scope("webhooks:admin"))]
EndpointId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,40}$")]

DEFAULT_LIMIT = 50
_CURSOR = IdCursor(b"dlv:")
RESOLVE_TIMEOUT_S = 2.0
MAX_GRACE_S = 7 * 24 * 3600


def install(app: FastAPI, settings: Settings) -> None:
    """The routes, and what they share; built here so a malformed allowlist or key fails the start."""
    app.state.webhook_destinations = destination_policy(settings)
    app.state.webhook_secret_box = SecretBox(settings.webhook_secret_keys)
    app.include_router(router)


# ---- bodies ----------------------------------------------------------------------------------


class EndpointCreate(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True, extra="forbid")

    url: AnyHttpUrl = Field(description="Where events are POSTed (http or https)")
    event_types: list[EventType] = Field(min_length=1, description="The canonical event types to receive")

    @field_validator("url")
    @classmethod
    def _plain_url(cls, url: AnyHttpUrl) -> AnyHttpUrl:
        if len(str(url)) > 2000:
            raise ValueError("at most 2000 characters")
        if url.username or url.password:
            raise ValueError("credentials in the URL are not allowed; the signature authenticates us")
        if url.fragment:
            raise ValueError("a fragment is never sent; leave it out")
        return url


class SecretRotation(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True, extra="forbid")

    grace_period_s: int | None = Field(default=None, ge=0, le=MAX_GRACE_S)
    """How long the current secret keeps signing next to the new one; default O2C_WEBHOOK_SECRET_GRACE_S,
    0 to drop it at once (a leaked secret)."""


class WebhookEndpointView(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    id: str
    """The endpoint's id."""
    url: str
    """Where events are POSTed."""
    event_types: list[str]
    """The canonical event types it receives."""
    status: EndpointStatus
    """`active`, or `disabled` after deliveries kept failing."""
    disabled_reason: str | None
    """Why it was disabled."""
    created_at: datetime
    """When it was registered (UTC)."""
    disabled_at: datetime | None
    """When it was disabled (UTC)."""
    previous_secret_expires_at: datetime | None
    """Until then deliveries carry a signature with the secret before the last rotation too."""

    @classmethod
    def of(cls, row: WebhookEndpoint) -> "WebhookEndpointView":
        return cls.model_validate(row, from_attributes=True)


class CreatedWebhookEndpoint(WebhookEndpointView):
    secret: str
    """The signing secret (Standard Webhooks `whsec_…`): shown this once; store it with the receiver."""


class RotatedSecret(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    id: str
    """The endpoint's id."""
    secret: str
    """The new signing secret: shown this once."""
    previous_secret_expires_at: datetime | None
    """The secret before this rotation signs too until then (None: not at all)."""


class WebhookEndpointList(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    items: list[WebhookEndpointView]
    """Every endpoint, without secrets."""


class DeliveryView(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    delivery_id: str
    """The delivery's id."""
    endpoint_id: str
    """The endpoint delivered to."""
    event_id: str
    """Sent as `webhook-id`: the same on every attempt, so receivers dedupe by it."""
    event_type: str
    """The canonical event type."""
    order_id: str
    """The order the event is about."""
    status: DeliveryStatus
    """`pending`, `delivered` or `failed` (gave up; retry by hand)."""
    attempts: int
    """Attempts so far, over every run."""
    runs: int
    """1 for the automatic schedule, one more per manual retry."""
    last_status_code: int | None
    """The receiver's last HTTP status; null when it could not be reached."""
    last_response: str | None
    """The start of the receiver's last answer."""
    last_error: str | None
    """Why the last attempt failed."""
    last_attempt_at: datetime | None
    """When the last attempt was made (UTC)."""
    next_attempt_at: datetime | None
    """When the next attempt is due (UTC); null when none is."""
    created_at: datetime
    """When the event was queued for the endpoint (UTC)."""
    delivered_at: datetime | None
    """When the receiver accepted it (UTC)."""
    payload: dict[str, Any]
    """The event as sent."""

    @classmethod
    def of(cls, row: WebhookDelivery) -> "DeliveryView":
        return cls.model_validate(row, from_attributes=True)


class DeliveryPage(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    items: list[DeliveryView]
    """Deliveries, oldest first."""
    next_cursor: str | None
    """Pass as `cursor` to get the next page; null on the last page."""


class RetryAccepted(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    delivery_id: str
    """The delivery retried."""
    status: DeliveryStatus
    """Always `pending`: the retry schedule starts again."""
    run: int
    """Which run of the retry schedule this is."""


# ---- helpers ---------------------------------------------------------------------------------


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def _not_found(endpoint_id: str) -> ProblemError:
    return ProblemError(404, "not-found", f"No webhook endpoint {endpoint_id}", endpoint_id=endpoint_id)


async def _check_destination(request: Request, url: str) -> None:
    """422 naming `url` for a destination the policy refuses, judged on the URL and on every address its
    host resolves to now. A name that does not resolve yet is let through: each attempt checks again."""
    policy: DestinationPolicy = request.app.state.webhook_destinations
    refusal = policy.url_refusal(url)
    if refusal is None:
        parts = urlsplit(url)
        try:
            async with asyncio.timeout(RESOLVE_TIMEOUT_S):
                port = parts.port or DEFAULT_PORTS[parts.scheme]
                await vetted_addresses(policy, parts.hostname or "", port)
        except DestinationRefused as refused:
            refusal = str(refused)
        except (OSError, TimeoutError):
            pass
    if refusal is not None:
        raise validation_problem([{"loc": ("body", "url"), "msg": f"the URL {refusal}"}])


def _endpoint_or_404(repo: WebhookRepository, endpoint_id: str) -> WebhookEndpoint:
    endpoint = repo.endpoint(endpoint_id)
    if endpoint is None:
        raise _not_found(endpoint_id)
    return endpoint


# ---- endpoints -------------------------------------------------------------------------------


@router.post("", status_code=201, operation_id="create_webhook_endpoint", response_model=CreatedWebhookEndpoint,
             summary="Register a webhook endpoint",
             responses={401: PROBLEM, 403: PROBLEM, 422: VALIDATION, 503: PROBLEM})
async def create_endpoint(request: Request, _: Admin, body: EndpointCreate) -> CreatedWebhookEndpoint:
    url = str(body.url)
    await _check_destination(request, url)
    s: Store = store(request)
    box: SecretBox = request.app.state.webhook_secret_box
    event_types = list(dict.fromkeys(body.event_types))
    endpoint_id, secret = "ep_" + secrets.token_hex(12), new_secret()

    def write() -> CreatedWebhookEndpoint:
        with s.writing() as session:
            row = WebhookRepository(session).create_endpoint(
                endpoint_id=endpoint_id, url=url, event_types=event_types,
                sealed_secret=box.seal(secret, endpoint_id), at=datetime.now(UTC))
            return CreatedWebhookEndpoint(**WebhookEndpointView.of(row).model_dump(), secret=secret)

    created = await asyncio.to_thread(write)
    log.info("webhook_endpoint.created", endpoint_id=created.id, event_types=event_types)
    return created


@router.post("/{endpoint_id}/rotate-secret", response_model=RotatedSecret, operation_id="rotate_webhook_secret",
             summary="Rotate the signing secret; the current one keeps signing for a grace period",
             responses={401: PROBLEM, 403: PROBLEM, 404: PROBLEM, 422: VALIDATION, 503: PROBLEM})
def rotate_secret(request: Request, _: Admin, endpoint_id: EndpointId,
                  body: Annotated[SecretRotation | None, Body()] = None) -> RotatedSecret:
    settings: Settings = request.app.state.settings
    box: SecretBox = request.app.state.webhook_secret_box
    grace = settings.webhook_secret_grace_s
    if body is not None and body.grace_period_s is not None:
        grace = body.grace_period_s
    now = datetime.now(UTC)
    secret = new_secret()
    with store(request).writing() as session:
        row = WebhookRepository(session).rotate_secret(
            endpoint_id, sealed_secret=box.seal(secret, endpoint_id),
            previous_until=now + timedelta(seconds=grace))
        if row is None:
            raise _not_found(endpoint_id)
    expires = now + timedelta(seconds=grace) if grace > 0 else None
    log.info("webhook_endpoint.secret_rotated", endpoint_id=endpoint_id, grace_period_s=grace)
    return RotatedSecret(id=endpoint_id, secret=secret, previous_secret_expires_at=expires)


@router.get("", response_model=WebhookEndpointList, operation_id="list_webhook_endpoints",
            summary="List webhook endpoints (without secrets)",
            responses={401: PROBLEM, 403: PROBLEM, 503: PROBLEM})
def list_endpoints(request: Request, _: Admin) -> WebhookEndpointList:
    with store(request).reading() as session:
        return WebhookEndpointList(items=[WebhookEndpointView.of(e) for e in WebhookRepository(session).endpoints()])


@router.delete("/{endpoint_id}", status_code=204, operation_id="delete_webhook_endpoint",
               summary="Delete an endpoint and its deliveries",
               responses={401: PROBLEM, 403: PROBLEM, 404: PROBLEM, 503: PROBLEM})
def delete_endpoint(request: Request, _: Admin, endpoint_id: EndpointId) -> Response:
    with store(request).writing() as session:
        if not WebhookRepository(session).delete_endpoint(endpoint_id):
            raise _not_found(endpoint_id)
    log.info("webhook_endpoint.deleted", endpoint_id=endpoint_id)
    return Response(status_code=204)


@router.get("/{endpoint_id}/deliveries", response_model=DeliveryPage, operation_id="list_webhook_deliveries",
            summary="An endpoint's deliveries",
            responses={401: PROBLEM, 403: PROBLEM, 404: PROBLEM, 422: VALIDATION, 503: PROBLEM})
def list_deliveries(
    request: Request,
    _: Admin,
    endpoint_id: EndpointId,
    status: DeliveryStatus | None = None,
    order_id: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9._:-]{1,64}$")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> DeliveryPage:
    after = _CURSOR.after_id(cursor)
    with store(request).reading() as session:
        repo = WebhookRepository(session)
        _endpoint_or_404(repo, endpoint_id)
        rows = repo.deliveries(endpoint_id, status=status, order_id=order_id, after_id=after, limit=limit + 1)
        items = [DeliveryView.of(r) for r in rows[:limit]]
        more = len(rows) > limit
        next_cursor = _CURSOR.encode(rows[limit - 1].id) if more else None
    return DeliveryPage(items=items, next_cursor=next_cursor)


@router.post("/{endpoint_id}/deliveries/{delivery_id}/retry", status_code=202, response_model=RetryAccepted,
             operation_id="retry_webhook_delivery",
             summary="Retry a failed delivery now (a fresh run of the retry schedule)",
             responses={401: PROBLEM, 403: PROBLEM, 404: PROBLEM, 409: PROBLEM, 503: PROBLEM})
async def retry_delivery(
    request: Request,
    _: Admin,
    endpoint_id: EndpointId,
    delivery_id: Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,40}$")],
) -> RetryAccepted:
    s: Store = store(request)

    def claim() -> int:
        """Failed → pending, under the store's row lock: of concurrent retries exactly one gets a run."""
        with s.writing() as session:
            repo = WebhookRepository(session)
            endpoint = _endpoint_or_404(repo, endpoint_id)
            delivery = repo.delivery(delivery_id)
            if delivery is None or delivery.endpoint_id != endpoint_id:
                raise ProblemError(404, "not-found", f"No delivery {delivery_id} of endpoint {endpoint_id}",
                                   delivery_id=delivery_id)
            if endpoint.status != "active":
                raise ProblemError(409, "endpoint-disabled",
                                   f"The endpoint is disabled ({endpoint.disabled_reason}); register it again",
                                   title="Webhook endpoint disabled")
            run = repo.start_manual_retry(delivery_id, datetime.now(UTC))
            if run is None:
                raise ProblemError(409, "delivery-not-failed",
                                   f"Only failed deliveries can be retried; this one is {delivery.status}",
                                   title="Delivery is not failed", delivery_status=delivery.status)
            return run

    run = await asyncio.to_thread(claim)
    # The workers' delivery loop picks it up at once: the schedule starts again from its first attempt.
    log.info("webhook_delivery.retry_started", delivery_id=delivery_id, run=run)
    return RetryAccepted(delivery_id=delivery_id, status="pending", run=run)
