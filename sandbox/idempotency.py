"""Stored responses per (vendor, Idempotency-Key), compared by a request fingerprint.

The fingerprint covers method, path and the JSON body in canonical form, so a key reused on another
endpoint or with other parameters is refused (as Stripe does) while whitespace or key order is not
a difference.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from .util import dumps, loads


@dataclass(frozen=True)
class StoredResponse:
    fingerprint: str
    status: int
    body: Any
    headers: dict[str, str]


def fingerprint(method: str, path: str, raw_body: bytes) -> str:
    try:
        canonical = json.dumps(json.loads(raw_body), sort_keys=True) if raw_body.strip() else ""
    except (ValueError, UnicodeDecodeError):
        # Not JSON: such a request fails validation anyway, so the raw bytes are good enough.
        canonical = raw_body.decode("latin-1")
    return hashlib.sha256(f"{method} {path}\n{canonical}".encode()).hexdigest()


def lookup(conn: sqlite3.Connection, vendor: str, key: str) -> StoredResponse | None:
    row = conn.execute(
        "SELECT fingerprint, status, body, headers FROM idempotency WHERE vendor = ? AND key = ?",
        (vendor, key),
    ).fetchone()
    if row is None:
        return None
    return StoredResponse(row["fingerprint"], row["status"], loads(row["body"]), loads(row["headers"]))


def store(
    conn: sqlite3.Connection,
    vendor: str,
    key: str,
    response: StoredResponse,
    at: float,
) -> None:
    conn.execute(
        "INSERT INTO idempotency(vendor, key, fingerprint, status, body, headers, created_at)"
        " VALUES (?,?,?,?,?,?,?)",
        (
            vendor,
            key,
            response.fingerprint,
            response.status,
            dumps(response.body),
            dumps(response.headers),
            at,
        ),
    )
