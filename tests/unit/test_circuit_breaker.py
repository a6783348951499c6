"""The per-vendor circuit breaker on a fake clock: when it opens, what it refuses, how a probe decides."""

from datetime import UTC, datetime

from activities.circuit_breaker import (
    PROBE_WAIT_S,
    Admission,
    BreakerConfig,
    Breakers,
    CircuitBreaker,
    State,
)

CONFIG = BreakerConfig(failures=5, window_s=10.0, failure_ratio=0.5, open_s=5.0)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def call(breaker: CircuitBreaker, *, failed: bool) -> Admission:
    admission = breaker.admit()
    if admission.wait is None:
        breaker.record(admission, failed=failed, detail="payments service_unavailable: down" if failed else None)
    return admission


def breaker(clock: Clock, changes: list[State] | None = None) -> CircuitBreaker:
    return CircuitBreaker(CONFIG, clock, changes.append if changes is not None else None)


def test_opens_at_the_threshold_of_transient_failures() -> None:
    clock, changes = Clock(), []
    b = breaker(clock, changes)
    for _ in range(4):
        call(b, failed=True)
    assert b.state is State.CLOSED
    call(b, failed=True)
    assert b.state is State.OPEN and changes == [State.OPEN]
    refused = b.admit()
    assert refused.wait == CONFIG.open_s
    clock.now += 2
    assert b.admit().wait == CONFIG.open_s - 2


def test_failures_among_many_successes_do_not_open_it() -> None:
    clock = Clock()
    b = breaker(clock)
    for _ in range(6):
        call(b, failed=False)
        call(b, failed=True)
        call(b, failed=False)
    assert b.state is State.CLOSED  # 6 failures, but a third of the calls


def test_failures_older_than_the_window_are_forgotten() -> None:
    clock = Clock()
    b = breaker(clock)
    for _ in range(4):
        call(b, failed=True)
    clock.now += CONFIG.window_s + 1
    for _ in range(4):
        call(b, failed=True)
    assert b.state is State.CLOSED
    call(b, failed=True)
    assert b.state is State.OPEN


def open_breaker(clock: Clock, changes: list[State] | None = None) -> CircuitBreaker:
    b = breaker(clock, changes)
    for _ in range(CONFIG.failures):
        call(b, failed=True)
    assert b.state is State.OPEN
    return b


def test_after_the_open_time_exactly_one_probe_goes_through() -> None:
    clock = Clock()
    b = open_breaker(clock)
    clock.now += CONFIG.open_s
    probe = b.admit()
    assert probe.wait is None and probe.probe and b.state is State.HALF_OPEN
    others = [b.admit() for _ in range(3)]
    assert all(o.wait == PROBE_WAIT_S and not o.probe for o in others)
    b.record(probe, failed=False)
    assert b.state is State.CLOSED
    assert b.admit().wait is None


def test_a_failed_probe_opens_it_again_for_the_full_time() -> None:
    clock, changes = Clock(), []
    b = open_breaker(clock, changes)
    clock.now += CONFIG.open_s + 3
    probe = b.admit()
    b.record(probe, failed=True, detail="payments timeout: timed out")
    assert b.state is State.OPEN and b.admit().wait == CONFIG.open_s
    assert changes == [State.OPEN, State.HALF_OPEN, State.OPEN]
    assert b.last_failure == "payments timeout: timed out"


def test_an_abandoned_probe_lets_the_next_call_probe() -> None:
    clock = Clock()
    b = open_breaker(clock)
    clock.now += CONFIG.open_s
    probe = b.admit()
    b.abandon(probe)
    again = b.admit()
    assert again.probe and again.wait is None


def test_calls_let_through_before_it_opened_do_not_decide_it() -> None:
    clock = Clock()
    b = breaker(clock)
    early = b.admit()
    for _ in range(CONFIG.failures):
        call(b, failed=True)
    b.record(early, failed=False)  # answered after the breaker opened
    assert b.state is State.OPEN


def test_a_closed_breaker_starts_counting_afresh() -> None:
    clock = Clock()
    b = open_breaker(clock)
    clock.now += CONFIG.open_s
    b.record(b.admit(), failed=False)
    for _ in range(CONFIG.failures - 1):
        call(b, failed=True)
    assert b.state is State.CLOSED


def test_registry_reports_transitions_and_open_until() -> None:
    clock = Clock()
    breakers = Breakers(CONFIG, clock)
    heard: list[tuple[str, State]] = []
    breakers.listen(lambda vendor, state: heard.append((vendor, state)))
    payments = breakers.get("payments")
    assert payments is not None and breakers.get("marketing") is None
    for _ in range(CONFIG.failures):
        call(payments, failed=True)
    assert heard == [("payments", State.OPEN)]
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    clock.now += 1
    by_vendor = {s.vendor: s for s in breakers.snapshot(now)}
    assert by_vendor["payments"].state is State.OPEN
    assert by_vendor["payments"].open_until is not None
    assert (by_vendor["payments"].open_until - now).total_seconds() == CONFIG.open_s - 1
    assert by_vendor["erp"].state is State.CLOSED and by_vendor["erp"].open_until is None


def test_an_open_breaker_past_its_time_is_reported_half_open() -> None:
    clock = Clock()
    breakers = Breakers(CONFIG, clock)
    payments = breakers.get("payments")
    assert payments is not None
    for _ in range(CONFIG.failures):
        call(payments, failed=True)
    clock.now += CONFIG.open_s
    [snapshot] = [s for s in breakers.snapshot() if s.vendor == "payments"]
    assert snapshot.state is State.HALF_OPEN and snapshot.open_until is None


def test_an_uncalled_open_breaker_turns_half_open_when_its_time_is_over() -> None:
    clock, changes = Clock(), []
    b = open_breaker(clock, changes)
    b.expire()
    assert b.state is State.OPEN
    clock.now += CONFIG.open_s
    b.expire()
    b.expire()
    assert b.state is State.HALF_OPEN and changes == [State.OPEN, State.HALF_OPEN]
    probe = b.admit()
    assert probe.probe and b.admit().wait == PROBE_WAIT_S
