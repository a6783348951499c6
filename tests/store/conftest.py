"""The store tests run on SQLite and on PostgreSQL (design §11).

PostgreSQL is found through O2C_TEST_DATABASE_URL (default: the project machines' local server).
Each test gets a schema of its own, dropped afterwards, so tests never see each other's rows. When
PostgreSQL is unreachable its tests are skipped, unless O2C_REQUIRE_POSTGRES=1 (CI): then they fail.
"""

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import make_url

from store import migrate
from store.engine import Store

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def pg_url() -> str:
    return os.environ.get("O2C_TEST_DATABASE_URL") or DEFAULT_PG_URL


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _pg_unreachable() -> str | None:
    try:
        with psycopg.connect(_libpq(pg_url()), connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return f"PostgreSQL at {make_url(pg_url()).render_as_string()} is unreachable: {exc}"


@pytest.fixture(scope="session")
def postgres_available() -> None:
    problem = _pg_unreachable()
    if problem is None:
        return
    if os.environ.get("O2C_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"{problem} (O2C_REQUIRE_POSTGRES=1)")
    pytest.skip(problem)


@pytest.fixture
def pg_schema_url(postgres_available: None) -> Iterator[str]:
    """A URL whose connections live in a fresh, empty schema."""
    schema = f"o2c_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_libpq(pg_url()), autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield (
            make_url(pg_url())
            .update_query_dict({"options": f"-csearch_path={schema}"})
            .render_as_string(hide_password=False)
        )
    finally:
        with psycopg.connect(_libpq(pg_url()), autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of either kind."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/store.db"
    return str(request.getfixturevalue("pg_schema_url"))


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    """A database of either kind, migrated to the newest schema."""
    migrate.upgrade(database_url)
    s = Store(database_url, pool_size=10)
    yield s
    s.dispose()
