"""Running the store's Alembic migrations from code: `o2c db upgrade`, and the worker and API at start.

The Alembic configuration is built here rather than read from an alembic.ini, so it works from an
installed package. Several processes may upgrade at once (the local stack starts the worker and the
API together; a cluster starts many workers), so each upgrade runs inside one transaction that first
takes a lock: a PostgreSQL advisory lock, or SQLite's write lock. The second process then waits,
finds the schema current and does nothing.
"""

from collections.abc import Sequence
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text

from runtime.settings import CodecKey
from store.engine import make_engine, normalize_url

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Any constant shared by every o2c process: the key of the advisory lock (ASCII "o2c-migr").
_PG_LOCK_KEY = 0x6F32_632D_6D69_6772


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser interpolation would read a '%' of a URL-encoded password as a reference.
    config.set_main_option("sqlalchemy.url", normalize_url(url).replace("%", "%%"))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head is not None
    return head


def _locked(url: str, revision: str, run: str, secret_keys: Sequence[CodecKey] | None) -> None:
    engine = make_engine(url, pool_size=1)
    try:
        with engine.execution_options(sqlite_immediate=True).begin() as connection:
            _lock(connection)
            config = alembic_config(url)
            config.attributes["connection"] = connection
            # Migrations that encrypt or decrypt endpoint secrets use the caller's keys (else the settings').
            config.attributes["webhook_secret_keys"] = secret_keys
            if run == "upgrade":
                command.upgrade(config, revision)
            else:
                command.downgrade(config, revision)
    finally:
        engine.dispose()


def _lock(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
    # SQLite: the transaction began with BEGIN IMMEDIATE, which already holds the write lock.


def upgrade(url: str, revision: str = "head", *, secret_keys: Sequence[CodecKey] | None = None) -> None:
    _locked(url, revision, "upgrade", secret_keys)


def downgrade(url: str, revision: str, *, secret_keys: Sequence[CodecKey] | None = None) -> None:
    _locked(url, revision, "downgrade", secret_keys)


def current_revision(url: str) -> str | None:
    engine = make_engine(url, pool_size=1)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()
