"""SQLite storage: one shared connection, serialised by a lock.

One connection (not a pool) because every request does a few short statements; serialising them
under one lock is what makes idempotency and "one request = one transaction" trivially correct,
even with many concurrent identical requests.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS ledger (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    vendor TEXT NOT NULL,
    action TEXT NOT NULL,
    order_id TEXT,
    amount INTEGER,
    points INTEGER,
    quantity INTEGER,
    sku TEXT,
    reference TEXT,
    idempotency_key TEXT,
    correlation_id TEXT
);
CREATE INDEX IF NOT EXISTS ledger_order ON ledger(order_id);

CREATE TABLE IF NOT EXISTS idempotency (
    vendor TEXT NOT NULL,
    key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    status INTEGER NOT NULL,
    body TEXT NOT NULL,
    headers TEXT NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (vendor, key)
);

CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);

-- Document numbers and ids survive /_sandbox/reset: a real system never hands out a number twice.
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);

CREATE TABLE IF NOT EXISTS faults (vendor TEXT PRIMARY KEY, config TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS fault_counters (
    vendor TEXT NOT NULL, kind TEXT NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (vendor, kind)
);

CREATE TABLE IF NOT EXISTS members (
    member_id TEXT PRIMARY KEY,
    available INTEGER NOT NULL,
    blocked INTEGER NOT NULL,
    lifetime INTEGER NOT NULL,
    tier TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS blocks (
    block_id TEXT PRIMARY KEY,
    member_id TEXT NOT NULL,
    reference TEXT NOT NULL UNIQUE,
    order_id TEXT NOT NULL,
    points INTEGER NOT NULL,
    spent INTEGER NOT NULL,
    released INTEGER NOT NULL,
    created_at REAL NOT NULL
);

CREATE TABLE IF NOT EXISTS payment_intents (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    order_id TEXT,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS pi_order ON payment_intents(order_id);
CREATE TABLE IF NOT EXISTS refunds (id TEXT PRIMARY KEY, payment_intent TEXT NOT NULL, doc TEXT NOT NULL);

CREATE TABLE IF NOT EXISTS stock (
    sku TEXT NOT NULL, node TEXT NOT NULL, quantity INTEGER NOT NULL, PRIMARY KEY (sku, node)
);
CREATE TABLE IF NOT EXISTS reservations (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    reservation_id TEXT NOT NULL UNIQUE,
    reference TEXT NOT NULL,
    order_id TEXT NOT NULL,
    doc TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS shipment_requests (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id TEXT NOT NULL UNIQUE,
    reference TEXT NOT NULL,
    order_id TEXT NOT NULL,
    status TEXT NOT NULL,
    held INTEGER NOT NULL,
    due_at REAL,
    correlation_id TEXT,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sr_due ON shipment_requests(status, due_at);
CREATE TABLE IF NOT EXISTS return_requests (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id TEXT NOT NULL UNIQUE,
    reference TEXT NOT NULL,
    order_id TEXT NOT NULL,
    status TEXT NOT NULL,
    due_at REAL,
    correlation_id TEXT,
    doc TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS erp_documents (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    document_number TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    external_reference TEXT NOT NULL,
    order_id TEXT NOT NULL,
    doc TEXT NOT NULL,
    UNIQUE (type, external_reference)
);

CREATE TABLE IF NOT EXISTS marketing_events (
    webhook_id TEXT PRIMARY KEY, type TEXT NOT NULL, received_at REAL NOT NULL, body TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS bloomreach_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    customer_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    received_at REAL NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS bloomreach_events_customer ON bloomreach_events(customer_id, seq);

CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    webhook_id TEXT NOT NULL UNIQUE,
    stream TEXT NOT NULL,
    type TEXT NOT NULL,
    order_id TEXT,
    body TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_at REAL NOT NULL,
    last_error TEXT,
    created_at REAL NOT NULL,
    delivered_at REAL
);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox(status, stream, id);
"""

# Everything /_sandbox/reset wipes; counters stay (see above), sqlite_sequence too so ledger seq and
# row ids keep growing and a poller using after_seq never sees a number twice.
RESETTABLE_TABLES = (
    "ledger",
    "idempotency",
    "kv",
    "faults",
    "fault_counters",
    "members",
    "blocks",
    "payment_intents",
    "refunds",
    "stock",
    "reservations",
    "shipment_requests",
    "return_requests",
    "erp_documents",
    "marketing_events",
    "bloomreach_events",
    "outbox",
)


class Database:
    """Lazily opened so importing ``sandbox.app`` never touches the disk."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    def _open(self) -> sqlite3.Connection:
        if self._conn is None:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            # isolation_level=None: we issue BEGIN/COMMIT ourselves so a transaction spans exactly
            # what the caller's ``with`` block covers.
            conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=5000")
            conn.executescript(SCHEMA)
            self._conn = conn
        return self._conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            conn = self._open()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            else:
                conn.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


def next_counter(conn: sqlite3.Connection, name: str) -> int:
    conn.execute(
        "INSERT INTO counters(name, value) VALUES (?, 1) ON CONFLICT(name) DO UPDATE SET value = value + 1",
        (name,),
    )
    return int(conn.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()[0])


def kv_get(conn: sqlite3.Connection, key: str) -> str | None:
    row = conn.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
    return None if row is None else str(row[0])


def kv_set(conn: sqlite3.Connection, key: str, value: str) -> None:
    conn.execute(
        "INSERT INTO kv(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        (key, value),
    )


def where(filters: Mapping[str, object | None]) -> tuple[str, list[object]]:
    """A WHERE clause for the list endpoints' optional filters; None means "not filtered on".

    Column names come from our own code, never from the request, so formatting them in is safe.
    """
    used = {column: value for column, value in filters.items() if value is not None}
    clause = " AND ".join(f"{column} = ?" for column in used)
    return (f" WHERE {clause}" if clause else ""), list(used.values())
