"""The local stack's marketing receiver as a webhook endpoint, so `o2c run` delivers events with
nothing configured (README "Outbound webhooks").

Through the public API, as an admin would: register the sandbox's `POST /marketing/events` for every
event type, then hand the sandbox the endpoint's signing secret. Idempotent: an active endpoint for
that URL means it was done on an earlier run (the sandbox keeps its secret in its database), so
running the stack again registers nothing twice.
"""

from __future__ import annotations

import httpx

from canonical.webhooks import EVENT_TYPES
from runtime.settings import Settings


def admin_key(settings: Settings) -> str | None:
    admins = (entry.key.get_secret_value() for entry in settings.api_keys.values()
              if "webhooks:admin" in entry.scopes)
    return next(admins, None)


def ensure_marketing_webhook(api_url: str, sandbox_url: str, settings: Settings, *, timeout_s: float = 10.0) -> str:
    """Registers the endpoint unless it exists; returns a line saying what it did."""
    key = admin_key(settings)
    if key is None:
        return "marketing webhook not registered: no API key has the webhooks:admin scope"
    receiver = f"{sandbox_url.rstrip('/')}/marketing/events"
    auth = {"Authorization": f"Bearer {key}"}
    with httpx.Client(timeout=timeout_s) as http:
        listed = http.get(f"{api_url}/v1/webhook-endpoints", headers=auth)
        listed.raise_for_status()
        for endpoint in listed.json()["items"]:
            if endpoint["url"] == receiver and endpoint["status"] == "active":
                return f"marketing webhook {endpoint['id']} already registered for {receiver}"
        created = http.post(f"{api_url}/v1/webhook-endpoints", headers=auth,
                            json={"url": receiver, "event_types": list(EVENT_TYPES)})
        created.raise_for_status()
        endpoint = created.json()
        try:
            http.put(f"{sandbox_url}/_sandbox/marketing/secret", json={"secret": endpoint["secret"]}).raise_for_status()
        except httpx.HTTPError:
            # Without its secret the receiver would refuse every event; let the next run try again.
            http.delete(f"{api_url}/v1/webhook-endpoints/{endpoint['id']}", headers=auth)
            raise
    return f"marketing webhook {endpoint['id']} registered for {receiver}"
