"""Clock and id helpers, kept in one place so formats stay identical across vendors."""

from __future__ import annotations

import json
import secrets
import time
from datetime import UTC, datetime
from typing import Any


def now() -> float:
    return time.time()


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def loads(text: str) -> Any:
    return json.loads(text)
