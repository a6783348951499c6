"""O2C_ENV=production: the API, the worker and `o2c db upgrade` refuse the committed development secrets,
short API keys and the dev-only codec origin trust, naming the setting and never its value; no
validation error of the settings shows a secret."""

import asyncio
import base64
import json
import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from api.app import create_app
from runtime.settings import (
    DEV_API_KEYS,
    DEV_CODEC_KEY,
    DEV_FULFILLMENT_WEBHOOK_SECRET,
    DEV_LOYALTY_WEBHOOK_AUTHORIZATION,
    DEV_WEBHOOK_SECRET_KEY,
    Settings,
    UnsafeConfiguration,
)
from store import migrate

STRONG_KEY = "k" * 40
STRONG_SECRET = "whsec_" + base64.b64encode(os.urandom(32)).decode()


def codec_key(key_id: str) -> dict[str, str]:
    return {"id": key_id, "key": base64.b64encode(os.urandom(32)).decode()}


def production(tmp_path: Path, **overrides: object) -> Settings:
    """A production configuration with real secrets, changed by `overrides`."""
    values: dict[str, object] = {
        "env": "production",
        "database_url": f"sqlite:///{tmp_path}/o2c.db",
        "api_keys": {STRONG_KEY: ["orders:read"]},
        "fulfillment_webhook_secret": STRONG_SECRET,
        "codec_keys": [codec_key("prod-1")],
        "webhook_secret_keys": [codec_key("prod-secrets-1")],
        "loyalty_webhook_authorization": "Bearer " + "w" * 40,
    }
    return Settings.model_validate({**values, **overrides})


def dev_values() -> list[str]:
    return [*(entry.key.get_secret_value() for entry in DEV_API_KEYS.values()), DEV_FULFILLMENT_WEBHOOK_SECRET,
            DEV_CODEC_KEY.key.get_secret_value(), DEV_WEBHOOK_SECRET_KEY.key.get_secret_value(),
            DEV_LOYALTY_WEBHOOK_AUTHORIZATION]


def test_production_with_the_committed_dev_secrets_refuses_to_start_the_api(tmp_path: Path) -> None:
    settings = Settings(env="production", database_url=f"sqlite:///{tmp_path}/o2c.db")
    with pytest.raises(UnsafeConfiguration) as refused:
        create_app(settings)
    message = str(refused.value)
    for name in ("O2C_API_KEYS", "O2C_FULFILLMENT_WEBHOOK_SECRET", "O2C_CODEC_KEYS", "O2C_WEBHOOK_SECRET_KEYS",
                 "O2C_LOYALTY_WEBHOOK_AUTHORIZATION"):
        assert name in message
    assert not any(value in message for value in dev_values())


@pytest.mark.parametrize(
    ("override", "setting"),
    [
        ({"api_keys": {"short-but-not-a-dev-key": ["orders:read"]}}, "O2C_API_KEYS"),
        ({"api_keys": {STRONG_KEY: ["orders:read"], "commerce-dev-key": ["orders:write"]}}, "O2C_API_KEYS"),
        ({"fulfillment_webhook_secret": DEV_FULFILLMENT_WEBHOOK_SECRET}, "O2C_FULFILLMENT_WEBHOOK_SECRET"),
        ({"codec_keys": [codec_key("new"), DEV_CODEC_KEY.model_dump(mode="json") | {
            "key": DEV_CODEC_KEY.key.get_secret_value()}]}, "O2C_CODEC_KEYS"),
        ({"codec_dev_trust_ui_origin": True}, "O2C_CODEC_DEV_TRUST_UI_ORIGIN"),
        ({"loyalty_webhook_authorization": DEV_LOYALTY_WEBHOOK_AUTHORIZATION}, "O2C_LOYALTY_WEBHOOK_AUTHORIZATION"),
        ({"payments_adapter": "stripe"}, "O2C_PAYMENTS_API_KEY"),
        ({"marketing_adapter": "bloomreach"}, "O2C_MARKETING_API_SECRET"),
        ({"webhook_secret_keys": [{"id": "dev-secrets-1",
                                   "key": DEV_WEBHOOK_SECRET_KEY.key.get_secret_value()}]},
         "O2C_WEBHOOK_SECRET_KEYS"),
    ],
)
def test_each_unsafe_setting_is_named(tmp_path: Path, override: dict[str, object], setting: str) -> None:
    with pytest.raises(UnsafeConfiguration) as refused:
        create_app(production(tmp_path, **override))
    assert setting in str(refused.value)
    assert "short-but-not-a-dev-key" not in str(refused.value) and "commerce-dev-key" not in str(refused.value)


def test_production_with_real_secrets_starts(tmp_path: Path) -> None:
    assert create_app(production(tmp_path)).state.settings.env == "production"


def test_development_keeps_the_dev_defaults_working(tmp_path: Path) -> None:
    create_app(Settings(database_url=f"sqlite:///{tmp_path}/o2c.db"))


def test_the_worker_refuses_before_touching_the_store_or_temporal(tmp_path: Path) -> None:
    from worker import run_worker

    settings = Settings(env="production", database_url=f"sqlite:///{tmp_path}/o2c.db",
                        temporal_address="127.0.0.1:1")
    with pytest.raises(UnsafeConfiguration, match="O2C_CODEC_KEYS"):
        asyncio.run(run_worker(settings, asyncio.Event()))
    assert migrate.current_revision(settings.store_url()) is None


def test_o2c_db_upgrade_refuses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                capsys: pytest.CaptureFixture[str]) -> None:
    from deploy.cli import main

    url = f"sqlite:///{tmp_path}/cli.db"
    monkeypatch.setenv("O2C_DATABASE_URL", url)
    monkeypatch.setenv("O2C_ENV", "production")
    assert main(["db", "upgrade"]) == 2
    err = capsys.readouterr().err
    assert "O2C_API_KEYS" in err and not any(value in err for value in dev_values())
    assert migrate.current_revision(url) is None


SECRET_KEY = "a-perfectly-secret-api-key-of-forty-chars"


def test_a_malformed_api_key_entry_does_not_show_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("O2C_API_KEYS", json.dumps({SECRET_KEY: "orders:read"}))  # scopes must be a list
    with pytest.raises(ValidationError) as raised:
        Settings()
    assert "api_keys" in str(raised.value)
    assert SECRET_KEY not in str(raised.value) and SECRET_KEY[:12] not in str(raised.value)


def test_a_malformed_codec_key_entry_does_not_show_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    key = base64.b64encode(os.urandom(32)).decode()
    monkeypatch.setenv("O2C_CODEC_KEYS", json.dumps([key]))  # a bare key instead of {"id", "key"}
    with pytest.raises(ValidationError) as raised:
        Settings()
    text = str(raised.value) + repr(raised.value)
    assert "codec_keys" in text
    assert not any(key[i:i + 8] in text for i in range(len(key) - 8))


def test_secrets_are_not_in_the_settings_repr() -> None:
    settings = Settings(api_keys={SECRET_KEY: ["orders:read"]}, fulfillment_webhook_secret=STRONG_SECRET)
    shown = repr(settings) + str(settings.model_dump())
    assert SECRET_KEY not in shown and STRONG_SECRET not in shown
    assert DEV_CODEC_KEY.key.get_secret_value() not in shown
