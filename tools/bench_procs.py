"""What a process costs, read from /proc: resident memory and CPU time (Linux only; elsewhere, nothing).

The bench reads the stack's own processes by pid, so the figures are the worker's and the server's,
not the machine's, which other people share.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def rss_mb(pid: int) -> float | None:
    """VmRSS of the process in MiB, or None when it is gone or /proc is not there."""
    with contextlib.suppress(OSError, ValueError), open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024  # kB
    return None


def cpu_seconds(pid: int) -> float | None:
    """User plus system CPU time the process has used so far."""
    with (
        contextlib.suppress(OSError, ValueError, IndexError),
        open(f"/proc/{pid}/stat", encoding="ascii") as f,
    ):
        # The command name (field 2) may hold spaces and parentheses; the rest follows its last ')'.
        fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime
    return None


class CpuMeter:
    """CPU share of each named process over an interval, in percent of one core (two busy cores = 200)."""

    def __init__(self, pids: Mapping[str, int], clock: float) -> None:
        self._pids = dict(pids)
        self._started_at = clock
        self._start = {name: cpu_seconds(pid) for name, pid in self._pids.items()}

    def percent(self, clock: float) -> dict[str, float]:
        wall = clock - self._started_at
        shares: dict[str, float] = {}
        for name, pid in self._pids.items():
            before, now = self._start[name], cpu_seconds(pid)
            if before is not None and now is not None and wall > 0:
                shares[name] = 100.0 * (now - before) / wall
        return shares


@dataclass
class RssWindow:
    peak_mb: float | None = None
    last_mb: float | None = None

    def add(self, value: float) -> None:
        self.peak_mb = value if self.peak_mb is None else max(self.peak_mb, value)
        self.last_mb = value


@dataclass
class RssSampler:
    """Samples one process's RSS every `interval_s` into the whole run's window and the current phase's."""

    pid: int | None
    interval_s: float = 0.5
    run: RssWindow = field(default_factory=RssWindow)
    phase: RssWindow = field(default_factory=RssWindow)
    first_mb: float | None = None

    def sample(self) -> float | None:
        value = rss_mb(self.pid) if self.pid is not None else None
        if value is not None:
            if self.first_mb is None:
                self.first_mb = value
            self.run.add(value)
            self.phase.add(value)
        return value

    def end_phase(self) -> RssWindow:
        """Closes the current phase with a sample taken now and starts the next one."""
        self.sample()
        ended, self.phase = self.phase, RssWindow()
        return ended

    async def run_forever(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(self.interval_s)
