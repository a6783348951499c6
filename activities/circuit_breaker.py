"""A circuit breaker per vendor, per worker process: stop hammering a vendor that is down.

closed -> open: within the rolling window (O2C_BREAKER_WINDOW_S, 10 s) at least O2C_BREAKER_FAILURES (5)
transient failures, which are at least O2C_BREAKER_FAILURE_RATIO (50 %) of the calls that ended in it.
Both conditions: a handful of failures among many successes is a flaky vendor, not a down one; one
failing call retried fast is not enough to count as an outage.
open: calls fail at once without touching the vendor, with a transient error whose retry delay is the
open time left (O2C_BREAKER_OPEN_S, 5 s), so Temporal backs off instead of retrying into the outage.
half_open: once the open time is over, exactly one call goes through as a probe while the others keep
failing fast; its success closes the breaker, a transient failure opens it again for another period.

Business rejections and contract violations are answers: the vendor is up, so they count as successes
here. Pure logic on an injected monotonic clock; the vendor client (activities/vendor_http.py) drives it.
"""

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from runtime.settings import Settings

BREAKER_VENDORS: tuple[str, ...] = ("loyalty", "payments", "inventory", "fulfillment", "erp")
"""The vendors called through the vendor client. Outbound webhooks (marketing) have no breaker: their
durable retry schedule already spaces attempts out."""

PROBE_WAIT_S = 1.0
"""Retry delay of the calls refused while a probe is out: the probe decides within a vendor timeout."""
_SLOTS = 10


class State(StrEnum):
    CLOSED = "closed"
    HALF_OPEN = "half_open"
    OPEN = "open"


STATE_VALUE: dict[State, int] = {State.CLOSED: 0, State.HALF_OPEN: 1, State.OPEN: 2}
"""The o2c_vendor_circuit_state gauge's encoding."""


@dataclass(frozen=True)
class BreakerConfig:
    failures: int = 5
    window_s: float = 10.0
    failure_ratio: float = 0.5
    open_s: float = 5.0

    @classmethod
    def of(cls, settings: Settings) -> "BreakerConfig":
        return cls(settings.breaker_failures, settings.breaker_window_s, settings.breaker_failure_ratio,
                   settings.breaker_open_s)


@dataclass(frozen=True)
class Admission:
    """`wait` None: the call may go ahead (`probe` if it decides a half-open breaker); else refused, retry
    after `wait` seconds."""

    wait: float | None = None
    probe: bool = False


GO = Admission()


class CircuitBreaker:
    def __init__(self, config: BreakerConfig, clock: Callable[[], float] = time.monotonic,
                 on_change: Callable[[State], None] | None = None) -> None:
        self.config = config
        self._clock = clock
        self._on_change = on_change
        self.state = State.CLOSED
        self._open_until = 0.0
        self._probing = False
        self._slot_s = config.window_s / _SLOTS
        self._slots: deque[list[int]] = deque()  # [slot number, calls, transient failures]
        self.last_failure: str | None = None

    def open_remaining_s(self) -> float:
        """Open time left; 0 when not open or when the next call would probe."""
        return max(0.0, self._open_until - self._clock()) if self.state is State.OPEN else 0.0

    def expire(self) -> None:
        """An open breaker whose time is over becomes half-open even without a call, so its state (the gauge,
        the store's report) does not say open for as long as the vendor goes uncalled."""
        if self.state is State.OPEN and self.open_remaining_s() == 0:
            self._set(State.HALF_OPEN)

    def admit(self) -> Admission:
        if self.state is State.CLOSED:
            return GO
        if self.state is State.OPEN:
            remaining = self.open_remaining_s()
            if remaining > 0:
                return Admission(wait=remaining)
            self._set(State.HALF_OPEN)
        if self._probing:
            return Admission(wait=min(PROBE_WAIT_S, self.config.open_s))
        self._probing = True
        return Admission(probe=True)

    def record(self, admission: Admission, *, failed: bool, detail: str | None = None) -> None:
        """The outcome of an admitted call: `failed` for a transient failure only."""
        if failed and detail:
            self.last_failure = detail
        if admission.probe:
            self._probing = False
            if self.state is State.HALF_OPEN and failed:
                self._open()
            elif self.state is State.HALF_OPEN:
                self._close()
            return
        if self.state is State.CLOSED:
            calls, failures = self._count(failed)
            if failures >= self.config.failures and failures >= self.config.failure_ratio * calls:
                self._open()
        # A call let through before the breaker opened tells nothing the probe will not.

    def abandon(self, admission: Admission) -> None:
        """The call ended without an answer (cancelled): a probe that never finished frees the slot."""
        if admission.probe:
            self._probing = False

    def _count(self, failed: bool) -> tuple[int, int]:
        slot = int(self._clock() / self._slot_s)
        while self._slots and self._slots[0][0] <= slot - _SLOTS:
            self._slots.popleft()
        if not self._slots or self._slots[-1][0] != slot:
            self._slots.append([slot, 0, 0])
        self._slots[-1][1] += 1
        self._slots[-1][2] += int(failed)
        return sum(s[1] for s in self._slots), sum(s[2] for s in self._slots)

    def _open(self) -> None:
        self._open_until = self._clock() + self.config.open_s
        self._set(State.OPEN)

    def _close(self) -> None:
        self._slots.clear()
        self._set(State.CLOSED)

    def _set(self, state: State) -> None:
        changed = state is not self.state or state is State.OPEN  # a reopening is news too (new open_until)
        self.state = state
        if changed and self._on_change is not None:
            self._on_change(state)


@dataclass(frozen=True)
class BreakerSnapshot:
    vendor: str
    state: State
    open_until: datetime | None
    last_failure: str | None


class Breakers:
    """This process's breakers, one per vendor; `listener(vendor, state)` hears every transition."""

    def __init__(self, config: BreakerConfig, clock: Callable[[], float] = time.monotonic,
                 vendors: tuple[str, ...] = BREAKER_VENDORS) -> None:
        self._clock = clock
        self._listeners: list[Callable[[str, State], None]] = []
        self._by_vendor = {v: CircuitBreaker(config, clock, self._notifier(v)) for v in vendors}

    def _notifier(self, vendor: str) -> Callable[[State], None]:
        def notify(state: State) -> None:
            for listener in self._listeners:
                listener(vendor, state)
        return notify

    def listen(self, listener: Callable[[str, State], None]) -> None:
        self._listeners.append(listener)

    def get(self, vendor: str) -> CircuitBreaker | None:
        return self._by_vendor.get(vendor)

    def expire(self) -> None:
        for breaker in self._by_vendor.values():
            breaker.expire()

    def snapshot(self, now: datetime | None = None) -> list[BreakerSnapshot]:
        """Each breaker with its open time as a wall-clock instant, for other processes to read."""
        now = now or datetime.now(UTC)
        snapshots = []
        for vendor, b in self._by_vendor.items():
            remaining = b.open_remaining_s()
            # Open with no time left is half-open in all but name: the next call is the probe.
            state = State.HALF_OPEN if b.state is State.OPEN and remaining == 0 else b.state
            open_until = now + timedelta(seconds=remaining) if state is State.OPEN else None
            snapshots.append(BreakerSnapshot(vendor, state, open_until, b.last_failure))
        return snapshots
