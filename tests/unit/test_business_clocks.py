"""The business clocks read the hand-overs of one order off the workflow's own times: each clock once per
hand-over that happened, from the first time its start was seen, and nothing for a hand-over whose start
never happened. (On the real worker: tests/e2e/test_business_metrics.py.)"""

from datetime import UTC, datetime, timedelta

from workflows.clocks import BusinessClocks, Clock

START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


class Workflow:
    """Workflow time that the test moves, and what the clocks recorded."""

    def __init__(self) -> None:
        self.at = START
        self.recorded: list[tuple[Clock, timedelta]] = []

    def clocks(self) -> BusinessClocks:
        return BusinessClocks(now=lambda: self.at, record=lambda c, d: self.recorded.append((c, d)),
                              started_at=lambda: START)

    def after(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)


def test_one_order_through_every_hand_over() -> None:
    wf = Workflow()
    clocks = wf.clocks()
    wf.after(2)
    clocks.accepted()
    wf.after(30)
    clocks.dispatched("S1")
    wf.after(5)
    clocks.dispatched("S2")
    clocks.dispatched("S1")  # redelivered: its clock keeps the first dispatch
    wf.after(1)
    clocks.captured("S1")
    wf.after(3)
    clocks.invoiced("S1")
    clocks.captured("S2")
    wf.after(4)
    clocks.invoiced("S2")
    wf.after(100)
    clocks.return_received("R1")
    wf.after(7)
    clocks.refunded("R1")
    clocks.refunded("R1")  # a second refund of the same return (another shipment)

    seconds = [(c, d.total_seconds()) for c, d in wf.recorded]
    assert seconds == [
        ("order_to_accept", 2), ("accept_to_dispatch", 30),
        ("dispatch_to_capture", 6), ("capture_to_erp_posted", 3),
        ("dispatch_to_capture", 4), ("capture_to_erp_posted", 4),
        ("return_received_to_refund", 7), ("return_received_to_refund", 7),
    ]


def test_no_clock_for_a_hand_over_whose_start_never_happened() -> None:
    wf = Workflow()
    clocks = wf.clocks()
    clocks.dispatched("S1")  # no accept (a late dispatch would not even get here)
    clocks.invoiced("S2")  # never captured (points only, or settled outside)
    clocks.refunded("R9")  # never received
    assert wf.recorded == []
