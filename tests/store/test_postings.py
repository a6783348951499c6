"""The ERP posting repository: status transitions, one row per business posting under any number
of (concurrent) attempts, filters, cursor pages, the daily summary."""

import random
import threading
from datetime import UTC, date, datetime, timedelta

import pytest

from canonical.erp_postings import PostingDraft
from store.engine import Store
from store.postings import PageKey, PostingFilters, PostingRepository

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def draft(
    ref: str = "O-1:invoice:S1", kind: str = "invoice", order_id: str = "O-1", amount: int = 1999
) -> PostingDraft:
    return PostingDraft(
        kind=kind,
        reference=ref,
        order_id=order_id,
        amount=amount,
        currency="EUR",  # type: ignore[arg-type]
        shipment_id="S1" if kind == "invoice" else None,
    )


def write(store: Store, fn) -> None:  # type: ignore[no-untyped-def]
    with store.writing() as session:
        fn(PostingRepository(session))


def read(store: Store, ref: str = "O-1:invoice:S1", kind: str = "invoice"):  # type: ignore[no-untyped-def]
    with store.reading() as session:
        return PostingRepository(session).by_business_key(kind, ref)  # type: ignore[arg-type]


def test_pending_then_retrying_then_posted(store: Store) -> None:
    d = draft()
    write(store, lambda r: r.attempt_started(d, T0))
    row = read(store)
    assert (row.status, row.attempts, row.erp_document_number, row.posting_id) == (
        "pending",
        1,
        None,
        d.posting_id,
    )
    assert row.created_at == T0 and row.created_at.tzinfo is not None

    write(
        store,
        lambda r: r.attempt_failed(
            d,
            attempt=1,
            error="erp posting_window_closed: closed",
            will_retry=True,
            next_attempt_at=T0 + timedelta(seconds=2),
            at=T0 + timedelta(seconds=1),
        ),
    )
    write(store, lambda r: r.attempt_started(d, T0 + timedelta(seconds=3)))
    write(
        store,
        lambda r: r.attempt_failed(
            d,
            attempt=2,
            error="erp posting_window_closed: still",
            will_retry=True,
            next_attempt_at=T0 + timedelta(seconds=6),
            at=T0 + timedelta(seconds=4),
        ),
    )
    row = read(store)
    assert (row.status, row.attempts, row.last_error) == ("retrying", 2, "erp posting_window_closed: still")
    assert row.next_attempt_at == T0 + timedelta(seconds=6)
    assert row.status_since == T0 + timedelta(seconds=1), "retrying since the first failure"

    posted_at = T0 + timedelta(seconds=7)
    write(store, lambda r: r.posted(d, "INV-000042", posted_at, 3, T0 + timedelta(seconds=8)))
    row = read(store)
    assert (row.status, row.attempts, row.erp_document_number, row.posted_at) == (
        "posted",
        3,
        "INV-000042",
        posted_at,
    )
    assert row.next_attempt_at is None
    assert row.created_at == T0


def test_posted_is_final(store: Store) -> None:
    d = draft()
    write(store, lambda r: r.posted(d, "INV-1", T0, 1, T0))
    write(store, lambda r: r.attempt_started(d, T0 + timedelta(seconds=1)))
    write(
        store,
        lambda r: r.attempt_failed(
            d, attempt=5, error="stale", will_retry=False, next_attempt_at=None, at=T0
        ),
    )
    write(store, lambda r: r.posted(d, "INV-2", T0 + timedelta(seconds=9), 6, T0))
    row = read(store)
    assert (row.status, row.erp_document_number, row.posted_at, row.last_error) == (
        "posted",
        "INV-1",
        T0,
        None,
    )


def test_no_next_attempt_means_failed(store: Store) -> None:
    d = draft()
    write(
        store,
        lambda r: r.attempt_failed(
            d, attempt=1, error="erp validation_error: bad", will_retry=False, next_attempt_at=None, at=T0
        ),
    )
    row = read(store)
    assert (row.status, row.attempts, row.next_attempt_at) == ("failed", 1, None)


def test_every_attempt_counts_and_attempts_never_go_down(store: Store) -> None:
    d = draft()
    write(store, lambda r: r.attempt_started(d, T0))
    # A worker killed mid-attempt re-runs it from the same attempt number: it still counts.
    write(store, lambda r: r.attempt_started(d, T0))
    assert read(store).attempts == 2
    write(store, lambda r: r.attempt_failed(d, attempt=5, error="x", will_retry=True, next_attempt_at=None, at=T0))
    write(store, lambda r: r.attempt_failed(d, attempt=1, error="x", will_retry=True, next_attempt_at=None, at=T0))
    assert read(store).attempts == 5


def test_naive_timestamps_are_refused(store: Store) -> None:
    with pytest.raises(Exception, match="naive"):
        write(store, lambda r: r.attempt_started(draft(), datetime(2025, 1, 1)))


def test_one_row_per_business_posting_under_concurrent_attempts(store: Store) -> None:
    """Many workers writing every transition of the same postings at once: one row each, posted wins."""
    drafts = [draft(ref=f"O-{n}:invoice:S1", order_id=f"O-{n}") for n in range(5)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    transitions = [
        lambda repo, d, i, at: repo.attempt_started(d, at),
        lambda repo, d, i, at: repo.attempt_failed(d, attempt=i, error="boom", will_retry=True, next_attempt_at=at,
                                                   at=at),
        lambda repo, d, i, at: repo.attempt_failed(d, attempt=i, error="no", will_retry=False, next_attempt_at=None,
                                                   at=at),
        lambda repo, d, i, at: repo.posted(d, f"INV-{d.order_id}", at, i, at),
    ]

    def worker(seed: int) -> None:
        rnd = random.Random(seed)
        try:
            barrier.wait()
            for i in range(25):
                with store.writing() as session:
                    rnd.choice(transitions)(PostingRepository(session), rnd.choice(drafts), i,
                                            T0 + timedelta(milliseconds=i))
        except BaseException as exc:  # asserted below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with store.reading() as session:
        rows = PostingRepository(session).page(PostingFilters(), after=None, limit=100)
    assert sorted(r.reference for r in rows) == sorted(d.reference for d in drafts)
    for row in rows:
        if row.erp_document_number is not None:
            assert row.status == "posted" and row.erp_document_number == f"INV-{row.order_id}"


def seed(store: Store) -> list[PostingDraft]:
    """30 postings of 10 orders: a sales order and two invoices each; some posted on three days."""
    drafts = []
    with store.writing() as session:
        repo = PostingRepository(session)
        for n in range(10):
            oid = f"O-{n:02d}"
            for kind, ref, amount in (
                ("sales_order", f"{oid}:sales-order", 3000 + n),
                ("invoice", f"{oid}:invoice:A", 1000 + n),
                ("invoice", f"{oid}:invoice:B", 2000 + n),
            ):
                d = draft(ref=ref, kind=kind, order_id=oid, amount=amount)
                drafts.append(d)
                created = T0 + timedelta(days=n % 3, minutes=n)
                repo.attempt_started(d, created)
                if n % 4 == 3:
                    repo.attempt_failed(
                        d, attempt=1, error="erp down", will_retry=True, next_attempt_at=created, at=created
                    )
                elif n % 4 != 2:
                    repo.posted(d, f"DOC-{ref}", created + timedelta(seconds=1), 1, created)
    return drafts


def all_pages(store: Store, filters: PostingFilters, limit: int) -> list[str]:
    seen: list[str] = []
    after = None
    while True:
        with store.reading() as session:
            rows = PostingRepository(session).page(filters, after=after, limit=limit)
        seen += [r.reference for r in rows]
        if len(rows) < limit:
            return seen
        after = PageKey.of(rows[-1])


def test_cursor_pages_cover_every_row_once_in_order(store: Store) -> None:
    drafts = seed(store)
    assert all_pages(store, PostingFilters(), limit=7) == [d.reference for d in drafts]
    with store.reading() as session:
        assert [r.reference for r in PostingRepository(session).stream(PostingFilters(), batch=4)] == [
            d.reference for d in drafts
        ]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (PostingFilters(order_id="O-03"), {"O-03:sales-order", "O-03:invoice:A", "O-03:invoice:B"}),
        (PostingFilters(status="retrying", kind="sales_order"), {"O-03:sales-order", "O-07:sales-order"}),
        (
            PostingFilters(status="pending", kind="invoice", order_id="O-06"),
            {"O-06:invoice:A", "O-06:invoice:B"},
        ),
        (
            PostingFilters(
                kind="invoice", posted_from=T0 + timedelta(days=1), posted_to=T0 + timedelta(days=2)
            ),
            {"O-01:invoice:A", "O-01:invoice:B", "O-04:invoice:A", "O-04:invoice:B"},
        ),
        # posted_from is inclusive, posted_to exclusive
        (
            PostingFilters(posted_from=T0 + timedelta(seconds=1), posted_to=T0 + timedelta(seconds=2)),
            {"O-00:sales-order", "O-00:invoice:A", "O-00:invoice:B"},
        ),
        (
            PostingFilters(
                posted_from=T0 + timedelta(seconds=1, microseconds=1), posted_to=T0 + timedelta(minutes=1)
            ),
            set(),
        ),
    ],
)
def test_filters(store: Store, filters: PostingFilters, expected: set[str]) -> None:
    seed(store)
    assert set(all_pages(store, filters, limit=2)) == expected


def test_summary_counts_and_amounts_by_kind_status_currency(store: Store) -> None:
    seed(store)
    with store.reading() as session:
        rows = PostingRepository(session).summary(date(2025, 3, 1))  # orders 0, 3, 6, 9
    got = {(r.kind, r.status, r.currency): (r.count, r.amount) for r in rows}
    assert got == {
        ("invoice", "posted", "EUR"): (4, 1000 + 2000 + 1009 + 2009),
        ("invoice", "retrying", "EUR"): (2, 1003 + 2003),
        ("invoice", "pending", "EUR"): (2, 1006 + 2006),
        ("sales_order", "posted", "EUR"): (2, 3000 + 3009),
        ("sales_order", "retrying", "EUR"): (1, 3003),
        ("sales_order", "pending", "EUR"): (1, 3006),
    }
    with store.reading() as session:
        assert PostingRepository(session).summary(date(2025, 2, 28)) == []


def test_facts_for_reconciliation(store: Store) -> None:
    seed(store)
    with store.reading() as session:
        repo = PostingRepository(session)
        facts = repo.facts_of_orders(["O-03", "O-04"])
        stuck = repo.retrying_since_before(T0 + timedelta(days=1))
    assert {(f.reference, f.status) for f in facts} == {
        ("O-03:sales-order", "retrying"),
        ("O-03:invoice:A", "retrying"),
        ("O-03:invoice:B", "retrying"),
        ("O-04:sales-order", "posted"),
        ("O-04:invoice:A", "posted"),
        ("O-04:invoice:B", "posted"),
    }
    assert {f.order_id for f in stuck} == {"O-03"}  # O-07 started retrying on day 2


def test_a_posting_time_filter_lists_in_posting_order(store: Store) -> None:
    seed(store)
    with store.reading() as session:
        every = PostingRepository(session).page(PostingFilters(posted_from=T0), after=None, limit=100)
    expected = [r.reference for r in sorted(every, key=lambda r: (r.posted_at, r.id))]
    assert [r.reference for r in every] == expected and len(expected) == 18
    assert expected != sorted(expected, key=lambda ref: next(r.id for r in every if r.reference == ref))
    # Rows posted at the same instant (a sales order and its invoices here) page without loss.
    assert all_pages(store, PostingFilters(posted_from=T0), limit=2) == expected
    with store.reading() as session:
        streamed = PostingRepository(session).stream(
            PostingFilters(posted_to=T0 + timedelta(days=9)), batch=3
        )
        assert [r.reference for r in streamed] == expected
    with pytest.raises(ValueError), store.reading() as session:
        PostingRepository(session).page(PostingFilters(posted_from=T0), after=PageKey(5), limit=2)
