"""Migrations: from empty, down and up again, over a database that already holds postings, and the
models agree with what the migrations build."""

import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from canonical.erp_postings import PostingDraft, posting_id
from store import migrate
from store.engine import Store, make_engine
from store.models import Base
from store.postings import PostingFilters, PostingRepository

TABLES = {
    "erp_postings",
    "reconciliation_runs",
    "reconciliation_findings",
    "webhook_endpoints",
    "webhook_events",
    "webhook_deliveries",
    "inbound_dead_letters",
    "reconciliation_run_orders",
    "vendor_call_buckets",
    "vendor_breaker_states",
}


def tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_upgrade_from_empty_builds_every_table(database_url: str) -> None:
    assert migrate.current_revision(database_url) is None
    migrate.upgrade(database_url)
    assert migrate.current_revision(database_url) == migrate.head_revision()
    assert tables(database_url) >= TABLES
    engine = make_engine(database_url)
    try:
        indexes = {ix["name"] for ix in inspect(engine).get_indexes("erp_postings")}
    finally:
        engine.dispose()
    # One index per filter of GET /v1/erp-postings, and the summary's date.
    assert {
        "ix_erp_postings_order_id",
        "ix_erp_postings_status",
        "ix_erp_postings_kind",
        "ix_erp_postings_posted_at",
        "ix_erp_postings_created_at",
    } <= indexes


def test_downgrade_to_base_and_upgrade_again(database_url: str) -> None:
    migrate.upgrade(database_url)
    migrate.downgrade(database_url, "base")
    assert migrate.current_revision(database_url) is None
    assert tables(database_url) == set()
    migrate.upgrade(database_url)
    assert tables(database_url) >= TABLES
    assert migrate.current_revision(database_url) == migrate.head_revision()


def test_upgrade_keeps_the_postings_a_database_already_holds(database_url: str) -> None:
    migrate.upgrade(database_url, "0001_erp_postings")
    assert tables(database_url) == {"erp_postings"}
    at = datetime(2025, 1, 10, 12, 0, tzinfo=UTC)
    engine = make_engine(database_url)
    try:
        with engine.begin() as conn:  # rows written by the code of revision 0001, in plain SQL
            for n in range(3):
                conn.execute(
                    text(
                        "INSERT INTO erp_postings (posting_id, order_id, kind, reference, amount, currency,"
                        " status, erp_document_number, attempts, created_at, updated_at, status_since,"
                        " posted_at) VALUES (:pid, :oid, 'invoice', :ref, :amount, 'EUR', 'posted', :doc, 1,"
                        " :at, :at, :at, :at)"
                    ),
                    {
                        "pid": posting_id("invoice", f"O-{n}:invoice:S1"),
                        "oid": f"O-{n}",
                        "ref": f"O-{n}:invoice:S1",
                        "amount": 1000 + n,
                        "doc": f"INV-{n}",
                        "at": at if engine.dialect.name != "sqlite" else at.replace(tzinfo=None),
                    },
                )
    finally:
        engine.dispose()

    migrate.upgrade(database_url)

    store = Store(database_url)
    try:
        with store.reading() as session:
            rows = PostingRepository(session).page(PostingFilters(), after=None, limit=10)
        assert [(r.order_id, r.amount, r.erp_document_number, r.posted_at) for r in rows] == [
            (f"O-{n}", 1000 + n, f"INV-{n}", at) for n in range(3)
        ]
        # The upgraded database takes new writes on the same business keys.
        draft = PostingDraft(
            kind="invoice", reference="O-0:invoice:S1", order_id="O-0", amount=1000, currency="EUR"
        )
        with store.writing() as session:
            PostingRepository(session).attempt_failed(
                draft, attempt=2, error="late", will_retry=True, next_attempt_at=at, at=at
            )
        with store.reading() as session:
            row = PostingRepository(session).by_business_key("invoice", "O-0:invoice:S1")
        assert row is not None and row.status == "posted"  # posted stays posted
    finally:
        store.dispose()


def test_endpoint_secrets_stored_in_clear_are_sealed_by_the_upgrade(database_url: str) -> None:
    """Revision 0005 encrypts the signing secrets 0003 kept in clear, and its downgrade gives them back."""
    from runtime.settings import Settings
    from store.secret_box import PREFIX, SecretBox
    from store.webhooks import WebhookRepository

    migrate.upgrade(database_url, "0004_posting_id_index")
    at = datetime(2025, 1, 10, 12, 0, tzinfo=UTC)
    clear = "whsec_Y2xlYXItc2VjcmV0LWZyb20tMDAwMw=="
    engine = make_engine(database_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO webhook_endpoints (id, url, event_types, secret, status, created_at)"
                              " VALUES ('ep_old', 'https://crm.example.test/h', '[\"order.completed\"]', :s,"
                              " 'active', :at)"),
                         {"s": clear, "at": at if engine.dialect.name != "sqlite" else at.replace(tzinfo=None)})
    finally:
        engine.dispose()

    migrate.upgrade(database_url)

    def stored() -> list[str]:
        engine = make_engine(database_url)
        try:
            with engine.connect() as conn:
                columns = {c["name"] for c in inspect(conn).get_columns("webhook_endpoints")}
                column = "secret_sealed" if "secret_sealed" in columns else "secret"
                return [str(v) for v in conn.execute(text(f"SELECT {column} FROM webhook_endpoints")).scalars()]
        finally:
            engine.dispose()

    [sealed] = stored()
    assert sealed.startswith(PREFIX) and clear not in sealed
    store = Store(database_url)
    try:
        with store.reading() as session:
            endpoint = WebhookRepository(session).endpoint("ep_old")
            assert endpoint is not None
            assert SecretBox(Settings().webhook_secret_keys).open(endpoint.secret_sealed, "ep_old") == clear
    finally:
        store.dispose()
    migrate.downgrade(database_url, "0004_posting_id_index")
    assert stored() == [clear]


def test_downgrade_one_step_keeps_postings(database_url: str) -> None:
    migrate.upgrade(database_url)
    store = Store(database_url)
    at = datetime.now(UTC)
    try:
        with store.writing() as session:
            PostingRepository(session).attempt_started(
                PostingDraft(
                    kind="sales_order", reference="O-1:sales-order", order_id="O-1", amount=5, currency="EUR"
                ),
                at,
            )
    finally:
        store.dispose()
    migrate.downgrade(database_url, "0001_erp_postings")
    assert tables(database_url) == {"erp_postings"}
    migrate.upgrade(database_url)
    store = Store(database_url)
    try:
        with store.reading() as session:
            assert PostingRepository(session).by_business_key("sales_order", "O-1:sales-order") is not None
    finally:
        store.dispose()


def test_the_models_match_the_migrations(database_url: str) -> None:
    migrate.upgrade(database_url)
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert diff == []


def test_concurrent_upgrades_both_succeed(database_url: str) -> None:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            migrate.upgrade(database_url)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert migrate.current_revision(database_url) == migrate.head_revision()


@pytest.mark.parametrize("url", ["postgresql://u@h/db", "postgres://u@h/db"])
def test_plain_postgres_urls_mean_psycopg3(url: str) -> None:
    from store.engine import normalize_url

    assert normalize_url(url) == "postgresql+psycopg://u@h/db"


def test_o2c_db_commands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from deploy.cli import main

    url = f"sqlite:///{tmp_path}/cli.db"
    monkeypatch.setenv("O2C_DATABASE_URL", url)
    assert main(["db", "current"]) == 1  # empty: not at head
    assert main(["db", "upgrade"]) == 0
    assert main(["db", "current"]) == 0
    assert migrate.current_revision(url) == migrate.head_revision()
    assert main(["db", "downgrade", "0001_erp_postings"]) == 0
    assert migrate.current_revision(url) == "0001_erp_postings"
    assert "0001_erp_postings" in capsys.readouterr().out
