"""`o2c db upgrade | downgrade REV | current`: the store's schema (Alembic migrations in store/).

The worker and the API upgrade at start unless O2C_DATABASE_AUTO_UPGRADE=false; where that is off
(several replicas, a release pipeline), run `o2c db upgrade` once per release instead.
"""

from __future__ import annotations

import argparse
import sys

from runtime.settings import Settings, UnsafeConfiguration


def add_db_command(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "db",
        help="the finance store's schema: upgrade, downgrade, current (O2C_DATABASE_URL)",
        description="Run the store's migrations against O2C_DATABASE_URL (default: SQLite in O2C_DATA_DIR).",
    )
    actions = parser.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    upgrade = actions.add_parser("upgrade", help="migrate to the newest schema (or --revision)")
    upgrade.add_argument("--revision", default="head", help="target revision (default: head)")
    upgrade.set_defaults(handler=_upgrade)
    downgrade = actions.add_parser("downgrade", help="migrate back to REVISION ('base' drops everything)")
    downgrade.add_argument("revision")
    downgrade.set_defaults(handler=_downgrade)
    current = actions.add_parser("current", help="print the schema's revision")
    current.set_defaults(handler=_current)


def _url() -> str:
    return Settings().store_url()


def _upgrade(args: argparse.Namespace) -> int:
    from store import migrate

    settings = Settings()
    try:
        # Production data must not be written under a development key (webhook secrets are encrypted here).
        settings.refuse_unsafe()
    except UnsafeConfiguration as refused:
        print(f"o2c db upgrade: {refused}", file=sys.stderr)
        return 2
    migrate.upgrade(settings.store_url(), args.revision, secret_keys=settings.webhook_secret_keys)
    print(f"store at {migrate.current_revision(_url())}")
    return 0


def _downgrade(args: argparse.Namespace) -> int:
    from store import migrate

    migrate.downgrade(_url(), args.revision)
    print(f"store at {migrate.current_revision(_url()) or 'base (empty)'}")
    return 0


def _current(args: argparse.Namespace) -> int:
    from store import migrate

    current = migrate.current_revision(_url())
    head = migrate.head_revision()
    print(f"{current or 'base (empty)'}{' (head)' if current == head else f' (head is {head})'}")
    return 0 if current == head else 1
