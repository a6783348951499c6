"""API keys as O2C_API_KEYS sets them: each key has a name, which histories, views and logs show as
who acted; the key itself is never shown.

`{"support-alice": {"key": "...", "scopes": ["orders:read", "orders:support"]}}`. The older form
`{"<key>": ["scope", ...]}` still works (entries may mix both): such a key is named `key-<digest>`, a
short digest that does not reveal it. No error here ever carries a key: entries are reported by
their position in the object.
"""

import hashlib
import re
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr

MIN_API_KEY_CHARS = 32
"""Production keys are at least this long: a guessable key is no key."""

NAME = re.compile(r"^\w[\w .@+-]{0,63}$")
"""A name fit for a history line and a log field: a person or a system, e.g. `support-alice`."""


class ApiKey(BaseModel):
    model_config = ConfigDict(hide_input_in_errors=True, extra="forbid", frozen=True)

    key: SecretStr = Field(min_length=1)
    """Sent as `Authorization: Bearer <key>`."""
    scopes: list[str]
    """What the key may do (README "Configuration")."""


def _dev(key: str, *scopes: str) -> ApiKey:
    return ApiKey(key=SecretStr(key), scopes=list(scopes))


# DEV DEFAULTS ONLY: O2C_ENV=production refuses to start while any of them is configured.
DEV_API_KEYS: dict[str, ApiKey] = {
    "commerce": _dev("commerce-dev-key", "orders:write", "orders:read"),
    "support": _dev("support-dev-key", "orders:read", "orders:cancel", "orders:support", "codec"),
    "finance": _dev("finance-dev-key", "finance:read", "finance:reconcile"),
    "admin": _dev("admin-dev-key", "webhooks:admin"),
    "ops": _dev("ops-dev-key", "ops:read"),
}
DEV_KEY_VALUES = frozenset(entry.key.get_secret_value() for entry in DEV_API_KEYS.values())

SHAPE = 'must be a JSON object of name -> {"key": "...", "scopes": [...]} (or the older key -> list of scopes)'


def unnamed(key: str) -> str:
    """The name of a key configured without one: stable, and not reversible to the key."""
    return "key-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:12]


def _secret(value: Any) -> str | None:
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    return value if isinstance(value, str) and value else None


def _scopes(value: Any) -> list[str] | None:
    if isinstance(value, list | tuple) and all(isinstance(s, str) for s in value):
        return list(value)
    return None


def _entry(position: int, label: Any, value: Any) -> tuple[str, ApiKey]:
    """One entry as (name, key); ValueError naming its position, never its label (it may be a key)."""
    if isinstance(value, ApiKey):
        entry, name = value, label
    elif (scopes := _scopes(value)) is not None:  # the older form: the label is the key
        key = _secret(label)
        if key is None:
            raise ValueError(f"entry {position} has an empty key")
        return unnamed(key), ApiKey(key=SecretStr(key), scopes=scopes)
    elif isinstance(value, Mapping):
        key, scopes = _secret(value.get("key")), _scopes(value.get("scopes"))
        if key is None or scopes is None or set(value) != {"key", "scopes"}:
            raise ValueError(f'entry {position} must be {{"key": "<key>", "scopes": ["<scope>", ...]}}')
        entry, name = ApiKey(key=SecretStr(key), scopes=scopes), label
    else:
        raise ValueError(f"entry {position} must map its name to a key and scopes (or its key to a list of scopes)")
    if not isinstance(name, str) or not NAME.match(name):
        raise ValueError(f"entry {position}: a name is 1 to 64 letters, digits, spaces or . @ + - characters")
    return name, entry


def named_api_keys(value: Any) -> dict[str, ApiKey]:
    """O2C_API_KEYS in either form as name -> key; ValueError (by position, never a key) when malformed."""
    if not isinstance(value, Mapping):
        raise ValueError(SHAPE)
    named: dict[str, ApiKey] = {}
    seen: dict[str, int] = {}
    for position, (label, raw) in enumerate(value.items(), start=1):
        name, entry = _entry(position, label, raw)
        key = entry.key.get_secret_value()
        if key in seen:
            raise ValueError(f"entries {seen[key]} and {position} have the same key")
        if name in named:
            raise ValueError(f"entry {position} has the name of an earlier entry")
        seen[key] = position
        named[name] = entry
    return named


def production_faults(keys: Mapping[str, ApiKey]) -> list[str]:
    """What O2C_ENV=production refuses in O2C_API_KEYS, never naming a key."""
    values = [entry.key.get_secret_value() for entry in keys.values()]
    faults = []
    if any(k in DEV_KEY_VALUES for k in values):
        faults.append("O2C_API_KEYS holds a committed development key")
    if any(len(k) < MIN_API_KEY_CHARS and k not in DEV_KEY_VALUES for k in values):
        faults.append(f"O2C_API_KEYS holds a key shorter than {MIN_API_KEY_CHARS} characters")
    return faults
