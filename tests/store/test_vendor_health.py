"""Vendor health in the store, on SQLite and PostgreSQL: several workers' reports merge into one view;
flushes are idempotent; old buckets and silent workers are pruned; a worker's reporter writes its tally."""

import asyncio
from datetime import UTC, datetime, timedelta

from activities.store_executor import StoreExecutor
from activities.vendor_health import VendorHealth, VendorHealthReporter
from api.ops.vendors import vendor_health
from canonical.vendor_health import HISTOGRAM_SIZE, VENDORS, latency_bucket
from runtime.settings import Settings
from store.engine import Store
from store.vendor_health import BreakerFigures, BucketFigures, VendorHealthRepository

NOW = datetime.now(UTC).replace(microsecond=0)
LIVE_S = 6.0


def hist(*ms: float) -> list[int]:
    h = [0] * HISTOGRAM_SIZE
    for m in ms:
        h[latency_bucket(m)] += 1
    return h


def closed_except(**states: BreakerFigures) -> list[BreakerFigures]:
    return [states.get(v, BreakerFigures(v, "closed", None)) for v in ("loyalty", "payments", "erp")]


def test_two_workers_merge_into_one_view(store: Store) -> None:
    bucket = NOW - timedelta(seconds=30)
    open_until = NOW + timedelta(seconds=4)
    with store.writing() as session:
        repo = VendorHealthRepository(session)
        repo.report("w1", [BucketFigures("payments", bucket, {"ok": 8, "transient": 2}, hist(*[5.0] * 10))],
                    closed_except(payments=BreakerFigures("payments", "open", open_until, "payments timeout")), NOW)
        repo.report("w2", [BucketFigures("payments", bucket, {"ok": 9, "circuit_open": 1}, hist(*[900.0] * 9))],
                    closed_except(payments=BreakerFigures("payments", "open", open_until + timedelta(seconds=1))),
                    NOW)
    with store.reading() as session:
        report = vendor_health(session, NOW, LIVE_S)
    assert [v.vendor for v in report.vendors] == list(VENDORS)
    payments = next(v for v in report.vendors if v.vendor == "payments")
    assert payments.calls == 20 and payments.success_rate == 0.85 and payments.error_rate == 0.15
    assert payments.latency_p50_ms is not None and payments.latency_p50_ms < 10
    assert payments.latency_p99_ms is not None and payments.latency_p99_ms > 750
    assert payments.circuit == "open" and payments.circuit_detail.live_workers == 2
    assert payments.circuit_detail.retry_after_s is not None and 3 <= payments.circuit_detail.retry_after_s <= 4
    assert payments.circuit_detail.workers[0].last_failure == "payments timeout"
    quiet = next(v for v in report.vendors if v.vendor == "inventory")
    assert quiet.calls == 0 and quiet.success_rate is None and quiet.circuit == "closed"


def test_a_flush_sent_again_replaces_its_totals(store: Store) -> None:
    bucket = NOW - timedelta(seconds=10)
    for counts in ({"ok": 3}, {"ok": 5, "transient": 1}, {"ok": 5, "transient": 1}):
        with store.writing() as session:
            VendorHealthRepository(session).report("w1", [BucketFigures("erp", bucket, counts, hist(1, 2))],
                                                   closed_except(), NOW)
    with store.reading() as session:
        erp = next(v for v in vendor_health(session, NOW, LIVE_S).vendors if v.vendor == "erp")
    assert erp.calls == 6


def test_old_buckets_and_silent_workers_are_left_out_then_pruned(store: Store) -> None:
    old = NOW - timedelta(hours=2)
    with store.writing() as session:
        repo = VendorHealthRepository(session)
        repo.report("gone", [BucketFigures("loyalty", old, {"transient": 50}, hist(3000))],
                    closed_except(loyalty=BreakerFigures("loyalty", "open", old)), old)
        repo.report("w1", [BucketFigures("loyalty", NOW, {"ok": 1}, hist(3))], closed_except(), NOW)
    with store.reading() as session:
        loyalty = next(v for v in vendor_health(session, NOW, LIVE_S).vendors if v.vendor == "loyalty")
    assert loyalty.calls == 1 and loyalty.circuit == "closed" and loyalty.circuit_detail.live_workers == 1
    with store.writing() as session:
        VendorHealthRepository(session).prune(NOW - timedelta(hours=1))
    with store.reading() as session:
        reports = VendorHealthRepository(session).breakers(["loyalty"])
        rows = VendorHealthRepository(session).since(old - timedelta(seconds=1))
    assert {r.worker_id for r in reports} == {"w1"}
    assert rows["loyalty"].counts == [{"ok": 1, "business_rejection": 0, "transient": 0, "contract_violation": 0,
                                       "circuit_open": 0}]


def test_backlog_is_work_waiting_for_erp_and_marketing(store: Store) -> None:
    with store.reading() as session:
        report = vendor_health(session, NOW, LIVE_S)
    assert {v.vendor: v.backlog for v in report.vendors} == dict.fromkeys(VENDORS, 0)


async def test_the_reporter_writes_its_tally_and_every_breaker(store: Store) -> None:
    health = VendorHealth(Settings(breaker_failures=2))
    payments = health.breakers.get("payments") if health.breakers else None
    assert payments is not None
    for _ in range(2):
        payments.record(payments.admit(), failed=True, detail="payments http_503: down")
        health.tally.observe("payments", "transient", 0.01)
    executor = StoreExecutor(store.url, pool_size=2)
    try:
        reporter = VendorHealthReporter(health, executor, interval_s=0.05, worker_id="w-test")
        stop = asyncio.Event()
        task = asyncio.create_task(reporter.run(stop))
        await asyncio.sleep(0.3)
        stop.set()
        await asyncio.wait_for(task, 10)
    finally:
        executor.close()
    with store.reading() as session:
        report = vendor_health(session, datetime.now(UTC), LIVE_S)
    payments_row = next(v for v in report.vendors if v.vendor == "payments")
    assert payments_row.calls == 2 and payments_row.error_rate == 1.0
    assert payments_row.circuit == "open"
    assert [w.worker_id for w in payments_row.circuit_detail.workers] == ["w-test"]
    assert {v.vendor: v.circuit_detail.live_workers for v in report.vendors} == {
        **dict.fromkeys(VENDORS, 1), "marketing": 0}
