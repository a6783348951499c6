"""The built-in Bloomreach destination (O2C_MARKETING_ADAPTER=bloomreach), kept in the store's endpoints.

Every canonical event then gets a delivery to it in the transaction that records the event
(store/webhooks.py record_events), and the sender delivers it with the marketing adapter: the outbox's
claims, retry schedule and failed state, with nothing to configure. Each worker makes sure of it at start,
once its migrations have run (idempotent; several at once make one). With another adapter it is disabled, so its
pending deliveries fail with the reason rather than wait for an adapter that is not there.
"""

import secrets
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from activities.store_executor import StoreExecutor
from canonical.webhooks import EVENT_TYPES
from runtime.settings import Settings
from store.secret_box import SecretBox
from store.webhooks import WebhookRepository

BLOOMREACH_ENDPOINT_ID = "we_bloomreach"
BLOOMREACH = "bloomreach"


async def ensure_marketing_destination(settings: Settings, store: StoreExecutor) -> str:
    """Registers (or disables) the Bloomreach destination per the settings; returns what it did."""
    at = datetime.now(UTC)
    if settings.marketing_adapter != BLOOMREACH:
        disabled = await store.write(lambda session: WebhookRepository(session).disable_endpoint(
            BLOOMREACH_ENDPOINT_ID, f"O2C_MARKETING_ADAPTER is {settings.marketing_adapter}", at))
        return f"bloomreach destination not in use ({disabled} pending deliveries failed)"
    # The schema wants a signing secret; this destination authenticates with the settings' API key instead.
    sealed = SecretBox(settings.webhook_secret_keys).seal(secrets.token_urlsafe(24), BLOOMREACH_ENDPOINT_ID)
    url = settings.vendor_url("marketing")

    def ensure(session: Session) -> str:
        return WebhookRepository(session).ensure_builtin_endpoint(
            endpoint_id=BLOOMREACH_ENDPOINT_ID, kind=BLOOMREACH, url=url, event_types=EVENT_TYPES,
            sealed_secret=sealed, at=at)

    return f"bloomreach destination {BLOOMREACH_ENDPOINT_ID} {await store.write(ensure)} for {url}"
