"""Sandbox configuration, read from ``SANDBOX_*`` environment variables.

Every default makes ``uvicorn sandbox.app:app --port 8100`` work next to a local o2c with nothing set.
"""

from __future__ import annotations

import base64

from pydantic_settings import BaseSettings, SettingsConfigDict

# Same dev default as o2c's O2C_FULFILLMENT_WEBHOOK_SECRET, so the local stack verifies out of the box.
DEFAULT_WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"o2c-dev-fulfillment-secret").decode()


class SandboxSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SANDBOX_", extra="ignore")

    db_path: str = ".data/sandbox.db"
    # Floats throughout so tests can run the whole lifecycle in tens of milliseconds.
    dispatch_delay_s: float = 1.0
    short_auth_s: float = 5.0
    auth_ttl_s: float = 604800.0
    timeout_hang_s: float = 30.0
    webhook_url: str = "http://127.0.0.1:8000/v1/webhooks/fulfillment"
    webhook_secret: str = DEFAULT_WEBHOOK_SECRET
    webhook_timeout_s: float = 5.0
    webhook_backoff_initial_s: float = 0.5
    webhook_backoff_max_s: float = 30.0
    worker_poll_s: float = 0.1
    # Unset means /marketing/events rejects everything until PUT /_sandbox/marketing/secret.
    marketing_secret: str | None = None
    # Bloomreach's tracking API (/bloomreach): o2c's dev defaults (O2C_MARKETING_*), so it works out of the box.
    bloomreach_project_token: str = "o2c-sandbox-project"
    bloomreach_api_key_id: str = "o2c-sandbox-key"
    bloomreach_api_secret: str = "o2c-dev-bloomreach-secret"
