"""Benchmark of the finance reads on PostgreSQL: fill a fresh schema with N postings, then time the
queries GET /v1/erp-postings and GET /v1/erp-postings/summary run (through the same repository).

    python -m tools.store_bench [--url postgresql+psycopg://postgres@127.0.0.1:5432/test] [--rows 100000]

Not a test: it prints p50/p99 per query and drops its schema afterwards (--keep to look around).
"""

import argparse
import os
import random
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
from sqlalchemy import make_url, text

from canonical.erp_postings import posting_id
from store import migrate
from store.engine import Store
from store.postings import PageKey, PostingFilters, PostingRepository

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DAYS = 30
START = datetime(2025, 1, 1, tzinfo=UTC)


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _status(created: datetime, rnd: random.Random) -> str:
    """As in production: old postings are settled (a few failed for good); the last two days still
    hold what is pending or retrying, so those rows all sit at the end of the table."""
    roll = rnd.random()
    if created < START + timedelta(days=DAYS - 2):
        return "posted" if roll < 0.998 else "failed"
    return "posted" if roll < 0.80 else "retrying" if roll < 0.95 else "pending"


def _rows(count: int, rnd: random.Random) -> list[dict[str, Any]]:
    """Orders of one sales order and one to three invoices, spread over DAYS."""
    rows: list[dict[str, Any]] = []
    n = 0
    while len(rows) < count:
        n += 1
        order_id = f"BENCH-{n:07d}"
        created = START + timedelta(seconds=rnd.uniform(0, DAYS * 86400))
        kinds = [("sales_order", f"{order_id}:sales-order", None)] + [
            ("invoice", f"{order_id}:invoice:shp_{k}", f"shp_{k}") for k in range(rnd.randint(1, 3))
        ]
        for kind, reference, shipment in kinds:
            status = _status(created, rnd)
            posted = status == "posted"
            rows.append(
                {
                    "posting_id": posting_id(kind, reference),
                    "order_id": order_id,
                    "kind": kind,
                    "reference": reference,
                    "shipment_id": shipment,
                    "amount": rnd.randint(100, 50_000),
                    "currency": "EUR",
                    "status": status,
                    "erp_document_number": f"DOC-{len(rows):07d}" if posted else None,
                    "attempts": 1 if posted else rnd.randint(1, 9),
                    "last_error": None
                    if posted
                    else "erp posting_window_closed: The posting period is closed",
                    "next_attempt_at": created + timedelta(seconds=30) if status == "retrying" else None,
                    "created_at": created,
                    "updated_at": created,
                    "status_since": created,
                    "posted_at": created + timedelta(seconds=rnd.uniform(0.1, 5)) if posted else None,
                }
            )
            created += timedelta(seconds=rnd.uniform(60, 3600))
            if len(rows) == count:
                break
    # Ids grow with time in production (rows are inserted as postings happen); so here too.
    rows.sort(key=lambda r: r["created_at"])
    return rows


def _time(label: str, repeat: int, run: Callable[[int], Any]) -> None:
    for i in range(min(10, repeat)):  # warm caches and the connection pool
        run(i)
    samples = []
    for i in range(repeat):
        started = time.perf_counter()
        run(i)
        samples.append((time.perf_counter() - started) * 1000)
    cuts = statistics.quantiles(samples, n=100)
    print(f"  {label:<62} p50 {cuts[49]:7.2f} ms   p99 {cuts[98]:7.2f} ms   (n={repeat})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", default=os.environ.get("O2C_TEST_DATABASE_URL") or DEFAULT_URL)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=300)
    parser.add_argument("--keep", action="store_true", help="keep the schema (its name is printed)")
    args = parser.parse_args(argv)

    schema = f"o2c_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(_libpq(args.url), autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    url = (
        make_url(args.url)
        .update_query_dict({"options": f"-csearch_path={schema}"})
        .render_as_string(hide_password=False)
    )
    store = Store(url)
    try:
        migrate.upgrade(url)
        rnd = random.Random(42)
        started = time.perf_counter()
        rows = _rows(args.rows, rnd)
        columns = list(rows[0])
        with store.engine.begin() as conn:  # COPY: the fast way in, not what the product does
            cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
            with cursor.copy(f"COPY erp_postings ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row([row[c] for c in columns])
        with store.engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE erp_postings"))
        orders = sorted({r["order_id"] for r in rows})
        print(
            f"{len(rows):,} postings of {len(orders):,} orders over {DAYS} days loaded in "
            f"{time.perf_counter() - started:.1f}s into schema {schema} "
            f"({store.engine.dialect.name} {store.engine.dialect.server_version_info})"
        )

        def day(i: int) -> date:
            return (START + timedelta(days=i % DAYS)).date()

        def listing(filters: Callable[[int], PostingFilters], limit: int = 50) -> Callable[[int], Any]:
            def run(i: int) -> Any:
                with store.reading() as session:
                    return PostingRepository(session).page(filters(i), after=None, limit=limit + 1)

            return run

        def one_day(i: int) -> PostingFilters:
            start = datetime.combine(day(i), datetime.min.time(), tzinfo=UTC)
            return PostingFilters(
                status="posted", kind="invoice", posted_from=start, posted_to=start + timedelta(days=1)
            )

        print("GET /v1/erp-postings (first page of 50, as the API runs it):")
        _time("status=posted&kind=invoice&posted_from=<day>&posted_to=<day+1>", args.repeat, listing(one_day))
        _time("status=retrying", args.repeat, listing(lambda i: PostingFilters(status="retrying")))
        _time(
            "order_id=<random order>",
            args.repeat,
            listing(lambda i: PostingFilters(order_id=orders[(i * 7919) % len(orders)])),
        )
        _time(
            "kind=invoice&status=failed&posted_from=<day>",
            args.repeat,
            listing(
                lambda i: PostingFilters(
                    kind="invoice",
                    status="failed",
                    posted_from=datetime.combine(day(i), datetime.min.time(), tzinfo=UTC),
                )
            ),
        )

        def deep_page(i: int) -> Any:  # a page far into the export: the keyset cursor keeps it flat
            with store.reading() as session:
                return PostingRepository(session).page(
                    PostingFilters(status="posted"), after=PageKey(args.rows // 2 + i), limit=51
                )

        _time("status=posted&cursor=<half way>", args.repeat, deep_page)

        print("GET /v1/erp-postings/summary:")

        def summary(i: int) -> Any:
            with store.reading() as session:
                return PostingRepository(session).summary(day(i))

        _time("date=<day>", args.repeat, summary)
    finally:
        store.dispose()
        if not args.keep:
            with psycopg.connect(_libpq(args.url), autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    return 0


if __name__ == "__main__":
    sys.exit(main())
