"""Engines and sessions for the store, with the per-database settings that make it behave.

SQLite (the local stack) gets WAL, a busy timeout and real transactions: pysqlite's legacy mode
neither begins a transaction before DDL nor lets a writer wait for the lock it needs, so we issue
BEGIN ourselves, as IMMEDIATE for writers, which then queue on the busy timeout instead of failing
with "database is locked" halfway through.
"""

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

SQLITE_BUSY_TIMEOUT_S = 30.0


def normalize_url(url: str) -> str:
    """`postgresql://` and `postgres://` mean psycopg 3 here (SQLAlchemy would pick psycopg2)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def insert_for(session: Session, model: type[Any]) -> Any:
    """An INSERT that takes ON CONFLICT clauses, for the session's database."""
    dialect = session.get_bind().dialect.name
    if dialect not in ("postgresql", "sqlite"):
        raise NotImplementedError(f"the store supports PostgreSQL and SQLite, not {dialect}")
    return (postgresql if dialect == "postgresql" else sqlite).insert(model.__table__)


def make_engine(url: str, *, pool_size: int = 5, **kwargs: Any) -> Engine:
    url = normalize_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True, **kwargs)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S}, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we send BEGIN ourselves (see the module doc)
        cursor = dbapi_connection.cursor()
        _use_wal(cursor)
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        immediate = connection.get_execution_options().get("sqlite_immediate", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def _use_wal(cursor: Any) -> None:
    """Switching a new database to WAL needs it to itself for a moment, and SQLite answers "locked" at
    once rather than waiting when several processes open it together (the worker and the API at the
    first start): try again briefly. WAL then stays in the file."""
    for _ in range(100):
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc):
                raise
            time.sleep(0.05)
    cursor.execute("PRAGMA journal_mode=WAL")


class Store:
    """One engine and its sessions. Creating it connects to nothing; the first session does."""

    def __init__(self, url: str, *, pool_size: int = 5) -> None:
        self.url = normalize_url(url)
        self.engine = make_engine(self.url, pool_size=pool_size)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        # Writers take SQLite's write lock up front (BEGIN IMMEDIATE); no effect on PostgreSQL.
        self._writer_sessions = sessionmaker(
            self.engine.execution_options(sqlite_immediate=True), expire_on_commit=False
        )

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def reading(self) -> Iterator[Session]:
        with self._sessions() as session, session.begin():
            yield session

    @contextmanager
    def writing(self) -> Iterator[Session]:
        """A transaction that commits on success and rolls back on any error."""
        with self._writer_sessions() as session, session.begin():
            yield session

    def ping(self) -> None:
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()
