"""The business clocks of one order: how long each hand-over of order-to-cash took, in workflow time.

`o2c_business_clock_seconds{clock}` on the worker's /metrics, one observation per hand-over that
happened (a rejected order has no accept, a points-only shipment no capture, a return without money
back no refund):

- order_to_accept: the workflow's start to the accept decision (accepted orders);
- accept_to_dispatch: the accept to the order's first dispatch;
- dispatch_to_capture: per shipment, its dispatch to its capture;
- capture_to_erp_posted: per shipment, its capture to its invoice posted in the ERP;
- return_received_to_refund: per refund of a return, the goods received to the money refunded.

The marks are workflow state rebuilt by replay, so a clock spanning a worker restart still reads right;
the workflow metric meter records nothing while replaying, so an observation is made once. Recording is
not a command: the history stays as it was.
"""

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Literal

from temporalio import workflow
from temporalio.common import MetricHistogramTimedelta

Clock = Literal[
    "order_to_accept", "accept_to_dispatch", "dispatch_to_capture", "capture_to_erp_posted",
    "return_received_to_refund",
]
Recorder = Callable[[Clock, timedelta], None]


class BusinessClocks:
    def __init__(self, now: Callable[[], datetime] = workflow.now, record: Recorder | None = None,
                 started_at: Callable[[], datetime] = lambda: workflow.info().workflow_start_time) -> None:
        self._now = now
        self._record = record or _WorkflowHistogram()
        self._started_at = started_at
        self._accepted_at: datetime | None = None
        self._first_dispatch_seen = False
        self._marks: dict[tuple[str, str], datetime] = {}
        """(event, shipment or return id) → when it happened."""

    def accepted(self) -> None:
        self._accepted_at = self._now()
        self._lap("order_to_accept", self._started_at(), self._accepted_at)

    def dispatched(self, shipment_id: str) -> None:
        at = self._mark("dispatched", shipment_id)
        if not self._first_dispatch_seen and self._accepted_at is not None:
            self._first_dispatch_seen = True
            self._lap("accept_to_dispatch", self._accepted_at, at)

    def captured(self, shipment_id: str) -> None:
        at = self._mark("captured", shipment_id)
        self._since("dispatch_to_capture", ("dispatched", shipment_id), at)

    def invoiced(self, shipment_id: str) -> None:
        self._since("capture_to_erp_posted", ("captured", shipment_id), self._now())

    def return_received(self, return_id: str) -> None:
        self._mark("return received", return_id)

    def refunded(self, return_id: str) -> None:
        self._since("return_received_to_refund", ("return received", return_id), self._now())

    def _mark(self, event: str, key: str) -> datetime:
        """The first time counts: a redelivered event does not restart its clock."""
        return self._marks.setdefault((event, key), self._now())

    def _since(self, clock: Clock, mark: tuple[str, str], at: datetime) -> None:
        start = self._marks.get(mark)
        if start is not None:
            self._lap(clock, start, at)

    def _lap(self, clock: Clock, start: datetime, end: datetime) -> None:
        self._record(clock, max(end - start, timedelta(0)))


class _WorkflowHistogram:
    """o2c_business_clock_seconds on the workflow metric meter, one bound histogram per clock. Made on
    first use: the meter exists only inside a running workflow."""

    def __init__(self) -> None:
        self._by_clock: dict[str, MetricHistogramTimedelta] = {}

    def __call__(self, clock: Clock, elapsed: timedelta) -> None:
        histogram = self._by_clock.get(clock)
        if histogram is None:
            histogram = self._by_clock[clock] = workflow.metric_meter().create_histogram_timedelta(
                "o2c_business_clock", "Time between the hand-overs of order-to-cash, by clock"
            ).with_additional_attributes({"clock": clock})
        histogram.record(elapsed)
