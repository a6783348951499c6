"""The backlog gauges on the worker's /metrics: what is waiting for people or for a vendor.

- `o2c_orders_needing_attention`: order workflows running with OrderStatus `needs_attention` (Temporal
  visibility, so it counts every worker's orders);
- `o2c_erp_postings_backlog{status}` (pending, retrying) and `o2c_erp_postings_backlog_oldest_age_seconds`
  (age of the oldest of them, 0 when none);
- `o2c_webhook_deliveries_backlog{status}` (pending, failed).

A small task of the worker refreshes them every O2C_BACKLOG_REPORT_S from Temporal and the store. They are
global figures, not this worker's: with several workers each reports the same value, so alert rules and
dashboards take max() over the instances, never sum(). A read that fails is logged and the gauges keep
their last values; it never stops the worker.
"""

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime

import structlog
from temporalio.client import Client
from temporalio.common import MetricGauge, MetricGaugeFloat, MetricMeter

from activities.store_executor import StoreExecutor
from store.backlog import Backlog, backlog_of
from workflows.search_attributes import PARKED_ORDERS_QUERY

log = structlog.get_logger("o2c.worker.backlog")

_GLOBAL = " (a global figure: every worker reports the same; aggregate with max)"

class BacklogGauges:
    def __init__(self, meter: MetricMeter) -> None:
        self._attention = meter.create_gauge(
            "o2c_orders_needing_attention", "Orders running in needs_attention" + _GLOBAL)
        postings = meter.create_gauge(
            "o2c_erp_postings_backlog", "ERP postings not yet booked, by status" + _GLOBAL)
        self._postings: dict[str, MetricGauge] = {
            status: postings.with_additional_attributes({"status": status}) for status in ("pending", "retrying")}
        self._oldest: MetricGaugeFloat = meter.create_gauge_float(
            "o2c_erp_postings_backlog_oldest_age_seconds",
            "Age of the oldest ERP posting pending or retrying, 0 when none" + _GLOBAL)
        deliveries = meter.create_gauge(
            "o2c_webhook_deliveries_backlog", "Webhook deliveries not delivered, by status" + _GLOBAL)
        self._deliveries: dict[str, MetricGauge] = {
            status: deliveries.with_additional_attributes({"status": status}) for status in ("pending", "failed")}

    def show_attention(self, orders: int) -> None:
        self._attention.set(orders)

    def show_store(self, backlog: Backlog, now: datetime) -> None:
        self._postings["pending"].set(backlog.erp_postings_pending)
        self._postings["retrying"].set(backlog.erp_postings_retrying)
        oldest = backlog.erp_oldest_unposted_at
        self._oldest.set(max((now - oldest).total_seconds(), 0.0) if oldest else 0.0)
        self._deliveries["pending"].set(backlog.webhook_deliveries_pending)
        self._deliveries["failed"].set(backlog.webhook_deliveries_failed)


class BacklogReporter:
    def __init__(self, client: Client, store: StoreExecutor, gauges: BacklogGauges,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._client = client
        self._store = store
        self._gauges = gauges
        self._now = now

    async def refresh(self) -> None:
        """Each source on its own: Temporal being unreachable leaves the store's figures fresh, and back."""
        try:
            counted = await self._client.count_workflows(PARKED_ORDERS_QUERY)
            self._gauges.show_attention(counted.count)
        except Exception as exc:  # keep the last value and the worker; the next round tries again
            log.warning("backlog.attention_read_failed", error_type=type(exc).__name__, error=str(exc))
        try:
            backlog = await self._store.read(backlog_of)
            self._gauges.show_store(backlog, self._now())
        except Exception as exc:  # as above
            log.warning("backlog.store_read_failed", error_type=type(exc).__name__, error=str(exc))

    async def run(self, every_s: float) -> None:
        while True:
            await self.refresh()
            await asyncio.sleep(every_s)


def start_backlog_reporter(client: Client, store: StoreExecutor, meter: MetricMeter,
                           every_s: float) -> "asyncio.Task[None]":
    """The reporter as a task of the worker; cancel it at shutdown."""
    reporter = BacklogReporter(client, store, BacklogGauges(meter))
    return asyncio.create_task(reporter.run(every_s), name="o2c-backlog-reporter")
