"""A new, empty PostgreSQL database for one run (a chaos run, the e2e suite), dropped afterwards: runs
never see each other's rows, and nothing is left behind on a shared server."""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import sql
from sqlalchemy import make_url

from store.engine import normalize_url


def _libpq(url: str) -> str:
    return make_url(normalize_url(url)).set(drivername="postgresql").render_as_string(hide_password=False)


@contextmanager
def scratch_database(server_url: str, prefix: str, *, keep: bool = False) -> Iterator[str]:
    """The SQLAlchemy URL of a database made on the server of `server_url` (whose own database is used
    only to run CREATE and DROP); `keep` leaves it for a post-mortem."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(_libpq(server_url), autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield make_url(normalize_url(server_url)).set(database=name).render_as_string(hide_password=False)
    finally:
        if not keep:
            with psycopg.connect(_libpq(server_url), autocommit=True) as admin:
                admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
