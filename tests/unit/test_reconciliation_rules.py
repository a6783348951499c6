"""The reconciliation rules, one finding type at a time, and the quiet cases that must stay quiet."""

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

from activities.posting_record import next_attempt
from canonical.reconciliation import (
    DispatchFact,
    ErpDocumentFact,
    FindingType,
    MoneyMovement,
    Period,
    PostingFact,
)
from canonical.reconciliation_rules import compare_order, orphan_movements, stuck_postings
from canonical.references import settlement_key

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
PERIOD = Period(start=T0 - timedelta(hours=1), end=T0 + timedelta(hours=1))
OID = "ORD:1"  # order ids may contain colons


def capture(sid: str, amount: int, at: datetime = T0, flow: str = "charge") -> MoneyMovement:
    word = "capture" if flow == "charge" else "refund"
    return MoneyMovement(
        flow=flow,
        source_id=f"src_{sid}_{flow}",
        order_id=OID,
        reference=f"{OID}:{word}:{sid}",
        amount=amount,
        currency="EUR",
        at=at,
    )  # type: ignore[arg-type]


def doc(kind: str, ref: str, amount: int, number: str, at: datetime = T0) -> ErpDocumentFact:
    return ErpDocumentFact(
        document_number=number,
        kind=kind,
        reference=ref,
        order_id=OID,
        amount=amount,  # type: ignore[arg-type]
        currency="EUR",
        status="posted",
        posted_at=at,
    )


def invoice(sid: str, amount: int, number: str = "INV-1", at: datetime = T0) -> ErpDocumentFact:
    return doc("invoice", f"{OID}:invoice:{sid}", amount, number, at)


def posting(
    ref: str, amount: int, status: str = "posted", kind: str = "invoice", since: datetime = T0
) -> PostingFact:
    return PostingFact(
        kind=kind,
        reference=ref,
        order_id=OID,
        amount=amount,
        currency="EUR",
        status=status,  # type: ignore[arg-type]
        attempts=3,
        last_error="erp posting_window_closed: closed",
        status_since=since,
        erp_document_number=None,
    )


def types(findings: list) -> list[str]:  # type: ignore[type-arg]
    return sorted(f.type.value for f in findings)


def test_settlement_keys_pair_captures_with_invoices_and_refunds_with_credit_memos() -> None:
    assert settlement_key(OID, f"{OID}:capture:shp_1") == ("charge", "shp_1")
    assert settlement_key(OID, f"{OID}:invoice:shp_1") == ("charge", "shp_1")
    assert settlement_key(OID, f"{OID}:credit-memo:shp_1") == ("refund", "shp_1")
    assert settlement_key(OID, f"{OID}:sales-order") is None
    assert settlement_key(OID, "typed by hand") is None


def test_a_clean_order_has_no_findings() -> None:
    so = doc("sales_order", f"{OID}:sales-order", 3000, "SO-1")
    findings = compare_order(
        OID,
        PERIOD,
        [capture("A", 1000), capture("B", 2000), capture("A", 400, flow="refund")],
        [
            so,
            invoice("A", 1000),
            invoice("B", 2000, "INV-2"),
            doc("credit_memo", f"{OID}:credit-memo:A", 400, "CM-1"),
        ],
        [
            DispatchFact(order_id=OID, shipment_id="A", units=1, dispatched_at=T0),
            DispatchFact(order_id=OID, shipment_id="B", units=2, dispatched_at=T0),
        ],
        [posting(f"{OID}:invoice:A", 1000), posting(f"{OID}:invoice:B", 2000)],
    )
    assert findings == []


def test_shipments_paid_with_points_owe_nothing() -> None:
    shipped = [DispatchFact(order_id=OID, shipment_id="A", units=1, dispatched_at=T0)]
    # Booked at zero, neither captured nor invoiced.
    assert (
        compare_order(OID, PERIOD, [], [doc("sales_order", f"{OID}:sales-order", 0, "SO-1")], shipped, []) == []
    )
    # Invoiced at zero (what older orders did).
    assert compare_order(OID, PERIOD, [], [invoice("A", 0)], shipped, []) == []


def test_each_mismatch_type() -> None:
    assert types(compare_order(OID, PERIOD, [capture("A", 1000)], [], [], [])) == ["capture_without_invoice"]
    assert types(compare_order(OID, PERIOD, [], [invoice("A", 1000)], [], [])) == ["invoice_without_capture"]
    [mismatch] = compare_order(
        OID, PERIOD, [capture("A", 1000)], [invoice("A", 900)], [], [posting(f"{OID}:invoice:A", 1000)]
    )
    assert (mismatch.type, mismatch.provider_amount, mismatch.erp_amount, mismatch.store_amount) == (
        FindingType.AMOUNT_MISMATCH,
        1000,
        900,
        1000,
    )
    assert types(
        compare_order(
            OID, PERIOD, [capture("A", 1000)], [invoice("A", 1000)], [], [posting(f"{OID}:invoice:A", 1200)]
        )
    ) == ["amount_mismatch"]
    dup = compare_order(
        OID, PERIOD, [capture("A", 1000)], [invoice("A", 1000), invoice("A", 1000, "INV-9")], [], []
    )
    assert types(dup) == ["duplicate_erp_document"] and "INV-9" in dup[0].detail
    assert types(
        compare_order(
            OID, PERIOD, [capture("A", 1000), capture("A", 300, flow="refund")], [invoice("A", 1000)], [], []
        )
    ) == ["refund_without_credit_memo"]
    assert types(
        compare_order(OID, PERIOD, [], [doc("credit_memo", f"{OID}:credit-memo:A", 5, "CM-1")], [], [])
    ) == ["credit_memo_without_refund"]
    [lost] = compare_order(
        OID, PERIOD, [], [], [DispatchFact(order_id=OID, shipment_id="A", units=3, dispatched_at=T0)], []
    )
    assert (lost.type, lost.reference, lost.provider_amount) == (FindingType.DISPATCHED_NOT_CAPTURED, "A", 0)


def test_a_capture_typed_by_hand_matches_nothing() -> None:
    manual = MoneyMovement(
        flow="charge", source_id="cap_x", order_id=OID, reference="cap_x", amount=50, currency="EUR", at=T0
    )
    assert types(compare_order(OID, PERIOD, [manual], [invoice("A", 50)], [], [])) == [
        "capture_without_invoice",
        "invoice_without_capture",
    ]


def test_partners_outside_the_period_still_match_and_pairs_outside_are_not_judged() -> None:
    before = T0 - timedelta(hours=3)
    # The capture was before the period, its invoice inside: matched, nothing to say.
    assert compare_order(OID, PERIOD, [capture("A", 1000, at=before)], [invoice("A", 1000)], [], []) == []
    # Nothing of this pair happened in the period: a previous run judged it.
    assert compare_order(OID, PERIOD, [capture("A", 1000, at=before)], [], [], []) == []


def test_stuck_postings_and_orphan_money() -> None:
    stuck = stuck_postings(
        [
            posting(f"{OID}:invoice:A", 1000, "retrying", since=T0 - timedelta(hours=2)),
            posting(f"{OID}:invoice:B", 1000, "retrying", since=T0 - timedelta(minutes=5)),
        ],
        now=T0,
        stuck_after_s=3600,
    )
    assert [(f.type, f.reference, f.store_amount) for f in stuck] == [
        (FindingType.POSTING_STUCK_RETRYING, f"{OID}:invoice:A", 1000)
    ]
    assert "posting_window_closed" in stuck[0].detail
    orphan = MoneyMovement(
        flow="refund", source_id="re_1", order_id=None, reference="re_1", amount=5, currency="EUR", at=T0
    )
    assert types(orphan_movements([orphan], PERIOD)) == ["refund_without_credit_memo"]


def info(
    attempt: int, policy: RetryPolicy | None, schedule_to_close: timedelta | None = None, is_local: bool = False
) -> SimpleNamespace:
    return SimpleNamespace(
        attempt=attempt, retry_policy=policy, schedule_to_close_timeout=schedule_to_close, scheduled_time=T0,
        is_local=is_local,
    )


def test_a_local_activity_out_of_quick_attempts_is_still_retried_by_the_server() -> None:
    quick = RetryPolicy(initial_interval=timedelta(milliseconds=200), maximum_attempts=3,
                        non_retryable_error_types=["BusinessRejection"])
    transient = ApplicationError("erp 503", type="TransientVendorError")
    assert next_attempt(transient, info(3, quick, is_local=True), T0) == (True, None)  # type: ignore[arg-type]
    rejected = ApplicationError("erp said no", type="BusinessRejection", non_retryable=True)
    assert next_attempt(rejected, info(3, quick, is_local=True), T0) == (False, None)  # type: ignore[arg-type]


def test_next_attempt_follows_the_retry_policy() -> None:
    policy = RetryPolicy(
        initial_interval=timedelta(seconds=1),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(seconds=60),
        non_retryable_error_types=["BusinessRejection"],
    )
    transient = ApplicationError("erp 503", type="TransientVendorError")
    assert next_attempt(transient, info(3, policy), T0) == (True, T0 + timedelta(seconds=4))  # type: ignore[arg-type]
    assert next_attempt(transient, info(20, policy), T0) == (True, T0 + timedelta(seconds=60))  # type: ignore[arg-type]
    honoured = ApplicationError("closed", type="TransientVendorError", next_retry_delay=timedelta(seconds=2))
    assert next_attempt(honoured, info(9, policy), T0) == (True, T0 + timedelta(seconds=2))  # type: ignore[arg-type]
    assert next_attempt(ApplicationError("no", type="BusinessRejection"), info(1, policy), T0) == (
        False,
        None,
    )  # type: ignore[arg-type]
    assert next_attempt(ApplicationError("no", non_retryable=True), info(1, policy), T0) == (False, None)  # type: ignore[arg-type]
    # The window ends before the next attempt would start: this was the last one.
    assert next_attempt(transient, info(3, policy, timedelta(seconds=3)), T0) == (False, None)  # type: ignore[arg-type]
    capped = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_attempts=3)
    assert next_attempt(transient, info(3, capped), T0) == (False, None)  # type: ignore[arg-type]
