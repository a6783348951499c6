"""O2C_API_KEYS: named keys (who acted), the older key -> scopes form, and errors that never show a key."""

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from runtime.api_keys import DEV_API_KEYS, unnamed
from runtime.settings import Settings

SECRET = "s3cret-key-that-must-never-be-printed-anywhere"
OTHER = "another-secret-key-that-must-stay-hidden-too"


def keys_of(settings: Settings) -> dict[str, tuple[str, list[str]]]:
    return {name: (entry.key.get_secret_value(), entry.scopes) for name, entry in settings.api_keys.items()}


def test_the_named_form_gives_each_key_its_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("O2C_API_KEYS", json.dumps({"support-alice": {"key": SECRET, "scopes": ["orders:support"]}}))
    assert keys_of(Settings()) == {"support-alice": (SECRET, ["orders:support"])}


def test_the_old_form_still_works_and_names_each_key_by_its_digest(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("O2C_API_KEYS", json.dumps({SECRET: ["orders:read"]}))
    [(name, (key, scopes))] = keys_of(Settings()).items()
    assert (name, key, scopes) == (unnamed(SECRET), SECRET, ["orders:read"])
    assert name.startswith("key-") and SECRET not in name


def test_the_forms_may_be_mixed() -> None:
    settings = Settings(api_keys={"finance": {"key": SECRET, "scopes": ["finance:read"]}, OTHER: ["orders:read"]})
    assert keys_of(settings) == {"finance": (SECRET, ["finance:read"]), unnamed(OTHER): (OTHER, ["orders:read"])}


def test_the_dev_keys_have_names() -> None:
    assert set(Settings().api_keys) == set(DEV_API_KEYS) == {"commerce", "support", "finance", "admin", "ops"}
    assert Settings().api_keys["support"].key.get_secret_value() == "support-dev-key"


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ({SECRET: "orders:read"}, "entry 1"),
        ({"fine": {"key": OTHER, "scopes": ["x"]}, "alice": {"key": SECRET}}, "entry 2"),
        ({"alice": {"key": SECRET, "scopes": "orders:read"}}, "entry 1"),
        ({"alice": {"key": "", "scopes": []}}, "entry 1"),
        ({"alice": {"key": SECRET, "scopes": [], "scope": ["x"]}}, "entry 1"),
        ({"al\nice": {"key": SECRET, "scopes": []}}, "entry 1"),
        ({"a": {"key": SECRET, "scopes": []}, "b": {"key": SECRET, "scopes": []}}, "entries 1 and 2"),
        ([SECRET], "JSON object"),
    ],
)
def test_a_malformed_entry_is_reported_by_position_never_by_its_key(value: object, says: str) -> None:
    with pytest.raises(ValidationError) as raised:
        Settings(api_keys=value)
    text = str(raised.value) + repr(raised.value.errors(include_input=False))
    assert says in text
    assert SECRET not in text


def test_production_refuses_dev_keys_and_short_keys_in_either_form() -> None:
    dev = Settings(api_keys={"ops": {"key": "ops-dev-key", "scopes": ["ops:read"]}}).unsafe_for_production()
    assert any("development key" in fault for fault in dev)
    short = Settings(api_keys={"alice": {"key": "short", "scopes": ["x"]}}).unsafe_for_production()
    assert any("shorter than 32" in fault for fault in short)
    strong = Settings(api_keys={"alice": {"key": SECRET, "scopes": ["x"]}, OTHER: ["y"]}).unsafe_for_production()
    assert not any("O2C_API_KEYS" in fault for fault in strong)


@pytest.mark.parametrize("example", ["deploy/compose/o2c.env.example", "deploy/k8s/secrets.env.example"])
def test_the_deploy_examples_show_the_named_form(example: str) -> None:
    root = Path(__file__).resolve().parents[2]
    [line] = [ln for ln in (root / example).read_text().splitlines() if ln.startswith("O2C_API_KEYS=")]
    settings = Settings(api_keys=json.loads(line.partition("=")[2]))
    assert set(settings.api_keys) == {"commerce", "support-alice"}
    assert not [f for f in settings.unsafe_for_production() if "O2C_API_KEYS" in f]  # long enough, no dev key
