"""The worker's backlog reporter: a failing source is logged and its gauges keep their last values, the
other source still refreshes, and nothing escapes to the worker. Temporal and the store are stand-ins here;
on the real stack: tests/e2e/test_business_metrics.py."""

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from activities.backlog_metrics import BacklogReporter
from store.backlog import Backlog
from workflows.search_attributes import PARKED_ORDERS_QUERY

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class Source:
    """Answers with its value, or raises what it was given."""

    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.queries: list[str] = []

    def _give(self) -> Any:
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer

    async def count_workflows(self, query: str) -> Any:
        self.queries.append(query)
        return SimpleNamespace(count=self._give())

    async def read(self, work: Any) -> Any:
        return self._give()


class Gauges:
    def __init__(self) -> None:
        self.attention: int | None = None
        self.store: tuple[Backlog, datetime] | None = None

    def show_attention(self, orders: int) -> None:
        self.attention = orders

    def show_store(self, backlog: Backlog, now: datetime) -> None:
        self.store = (backlog, now)


def backlog(pending: int) -> Backlog:
    return Backlog(erp_postings_pending=pending, erp_postings_retrying=1, erp_oldest_unposted_at=NOW - timedelta(1),
                   webhook_deliveries_pending=0, webhook_deliveries_failed=2)


async def test_a_failing_source_keeps_its_last_values_and_the_other_refreshes() -> None:
    temporal, store, gauges = Source(3), Source(backlog(5)), Gauges()
    reporter = BacklogReporter(temporal, store, gauges, now=lambda: NOW)  # type: ignore[arg-type]
    await reporter.refresh()
    assert (gauges.attention, gauges.store) == (3, (backlog(5), NOW))
    assert temporal.queries == [PARKED_ORDERS_QUERY]
    assert "OrderStatus = 'needs_attention'" in PARKED_ORDERS_QUERY
    assert "ExecutionStatus = 'Running'" in PARKED_ORDERS_QUERY

    temporal.answer = RuntimeError("visibility unavailable")
    store.answer = backlog(7)
    await reporter.refresh()
    assert (gauges.attention, gauges.store) == (3, (backlog(7), NOW))

    temporal.answer, store.answer = 4, OSError("database is down")
    await reporter.refresh()
    assert (gauges.attention, gauges.store) == (4, (backlog(7), NOW))
