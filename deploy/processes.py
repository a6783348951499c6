"""A small process supervisor for the local stack.

Each child runs in its own session (so its own process group): a Ctrl-C in the terminal reaches
only us, and we stop the children deliberately, newest first, so the API goes before the worker
and the worker before Temporal. Signals go to the whole group, so anything a child spawned goes
with it. Output goes to ``<log_dir>/<name>.log`` (appended across restarts, with a header per
start) and the tail of that log is what an error shows when a child dies or never gets ready.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import subprocess
import time
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from deploy.probes import AliveProbe, Launch, Probe

LOG_TAIL_LINES = 40


class StackError(RuntimeError):
    """A child process could not be started or did not become ready."""


class ProcessDied(StackError):
    pass


class ProcessNotReady(StackError):
    pass


@dataclass
class ProcessSpec:
    name: str
    argv: Sequence[str]
    env: Mapping[str, str] | None = None  # the complete environment; None inherits ours
    cwd: Path | None = None
    probe: Probe = field(default_factory=AliveProbe)
    ready_timeout_s: float = 30.0
    stop_grace_s: float = 10.0
    # A startup failure known to be a race worth one more try, recognised by a line in the log
    # (the Temporal dev server picks its internal ports itself and may lose one to another process).
    retry_start_if_log_has: str | None = None
    start_attempts: int = 1


@dataclass
class _Child:
    spec: ProcessSpec
    popen: subprocess.Popen[bytes]
    launch: Launch
    log_offset: int  # where this start's output begins in the log file


class Supervisor:
    """Starts, watches and stops named child processes."""

    def __init__(self, log_dir: Path, poll_interval_s: float = 0.1) -> None:
        self.log_dir = Path(log_dir)
        self.poll_interval_s = poll_interval_s
        self._specs: dict[str, ProcessSpec] = {}
        self._children: dict[str, _Child] = {}
        self._order: list[str] = []  # start order; stop walks it backwards
        # Last line of defence against orphans when the caller forgets to stop us (e.g. a test
        # that errors before its teardown): the interpreter kills what is left on exit.
        self._atexit = weakref.WeakMethod(self._kill_leftovers)
        atexit.register(_call_weak, self._atexit)

    # -- lifecycle -----------------------------------------------------------------------------

    def add(self, spec: ProcessSpec) -> None:
        self._specs[spec.name] = spec

    def start(self, spec_or_name: ProcessSpec | str, *, wait: bool = True) -> subprocess.Popen[bytes]:
        """Spawn a process (a new spec, or a known one again after a kill) and optionally wait for it."""
        spec = self._resolve(spec_or_name)
        current = self._children.get(spec.name)
        if current is not None and current.popen.poll() is None:
            raise StackError(f"{spec.name} is already running (pid {current.popen.pid})")

        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_path(spec.name)
        with log_path.open("ab") as log:
            log.write(
                f"\n=== {time.strftime('%Y-%m-%dT%H:%M:%S')} starting {spec.name}: "
                f"{' '.join(spec.argv)}\n".encode()
            )
            log.flush()
            offset = log.tell()
            started_at = time.time()
            popen = subprocess.Popen(
                list(spec.argv),
                cwd=spec.cwd,
                env=dict(spec.env) if spec.env is not None else None,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._children[spec.name] = _Child(spec, popen, Launch(popen.pid, started_at), offset)
        if spec.name in self._order:
            self._order.remove(spec.name)
        self._order.append(spec.name)
        if wait:
            self.wait_ready(spec.name)
        return popen

    def wait_ready(self, name: str, timeout_s: float | None = None) -> None:
        """Poll the probe until it passes; fail fast, with the log tail, if the process exits."""
        child = self._child(name)
        timeout = child.spec.ready_timeout_s if timeout_s is None else timeout_s
        deadline = time.monotonic() + timeout
        interval = self.poll_interval_s
        attempt = 1
        while True:
            code = child.popen.poll()
            if code is not None and attempt < child.spec.start_attempts and self._died_of_known_race(child):
                attempt += 1
                self.start(name, wait=False)
                child = self._child(name)
                deadline = time.monotonic() + timeout
                continue
            if code is not None:
                raise ProcessDied(
                    f"{name} exited with {_describe_exit(code)} before it was ready "
                    f"(waiting for {child.spec.probe}).\n{self._tail_block(child)}"
                )
            if child.spec.probe.ready(child.launch):
                return
            if time.monotonic() >= deadline:
                raise ProcessNotReady(
                    f"{name} (pid {child.popen.pid}) was not ready after {timeout:g}s "
                    f"(waiting for {child.spec.probe}).\n{self._tail_block(child)}"
                )
            time.sleep(interval)
            interval = min(interval * 1.5, 0.5)

    def stop(self, name: str, grace_s: float | None = None) -> int | None:
        """SIGTERM the process group, SIGKILL it after the grace period; returns the exit code."""
        child = self._children.get(name)
        if child is None:
            return None
        grace = child.spec.stop_grace_s if grace_s is None else grace_s
        popen = child.popen
        if popen.poll() is None:
            _signal_group(popen.pid, signal.SIGTERM)
            try:
                popen.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                _signal_group(popen.pid, signal.SIGKILL)
                popen.wait()
        # The leader is gone; take down anything it spawned that outlived it.
        _signal_group(popen.pid, signal.SIGKILL)
        return popen.returncode

    def stop_all(self) -> None:
        """Stop every child, newest first. Keeps going when one of them misbehaves."""
        errors: list[BaseException] = []
        for name in reversed(list(self._order)):
            try:
                self.stop(name)
            except Exception as exc:
                errors.append(exc)
        if errors:
            raise StackError(f"errors while stopping: {errors!r}")

    def restart(self, name: str, *, wait: bool = True) -> subprocess.Popen[bytes]:
        self.stop(name)
        return self.start(name, wait=wait)

    def kill(self, name: str, sig: int = signal.SIGKILL, *, reap: bool = True) -> int | None:
        """Send a signal to the child's group, e.g. SIGKILL to simulate a crash.

        With ``reap`` (the default for fatal signals) waits for the process to exit and returns its
        exit code, so a following ``start(name)`` finds the ports free.
        """
        child = self._child(name)
        _signal_group(child.popen.pid, sig)
        if reap and sig in (signal.SIGKILL, signal.SIGTERM, signal.SIGINT):
            grace = child.spec.stop_grace_s if sig != signal.SIGKILL else 10.0
            try:
                return child.popen.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                return None
        return child.popen.poll()

    # -- inspection ----------------------------------------------------------------------------

    def names(self) -> list[str]:
        return list(self._order)

    def pid(self, name: str) -> int:
        return self._child(name).popen.pid

    def popen(self, name: str) -> subprocess.Popen[bytes]:
        return self._child(name).popen

    def is_running(self, name: str) -> bool:
        child = self._children.get(name)
        return child is not None and child.popen.poll() is None

    def exited(self) -> dict[str, int]:
        """Children that have exited on their own (or been killed) since they were last started."""
        return {
            name: code for name, child in self._children.items() if (code := child.popen.poll()) is not None
        }

    def log_path(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def log_tail(self, name: str, lines: int = LOG_TAIL_LINES) -> str:
        child = self._children.get(name)
        if child is None:
            return _tail(self.log_path(name), 0, lines)
        return _tail(self.log_path(name), child.log_offset, lines)

    # -- internals -----------------------------------------------------------------------------

    def _resolve(self, spec_or_name: ProcessSpec | str) -> ProcessSpec:
        if isinstance(spec_or_name, ProcessSpec):
            self._specs[spec_or_name.name] = spec_or_name
            return spec_or_name
        try:
            return self._specs[spec_or_name]
        except KeyError:
            raise StackError(f"unknown process {spec_or_name!r}; known: {sorted(self._specs)}") from None

    def _child(self, name: str) -> _Child:
        try:
            return self._children[name]
        except KeyError:
            raise StackError(f"{name!r} was never started; started: {self._order}") from None

    def _died_of_known_race(self, child: _Child) -> bool:
        marker = child.spec.retry_start_if_log_has
        if marker is None:
            return False
        return marker in _tail(self.log_path(child.spec.name), child.log_offset, LOG_TAIL_LINES)

    def _tail_block(self, child: _Child) -> str:
        path = self.log_path(child.spec.name)
        tail = _tail(path, child.log_offset, LOG_TAIL_LINES)
        if not tail.strip():
            return f"(no output in {path})"
        return f"--- last lines of {path} ---\n{tail}\n--- end of {path} ---"

    def _kill_leftovers(self) -> None:
        for child in self._children.values():
            if child.popen.poll() is None:
                _signal_group(child.popen.pid, signal.SIGKILL)
                with contextlib.suppress(Exception):
                    child.popen.wait(timeout=5)


def _call_weak(method: weakref.WeakMethod) -> None:  # type: ignore[type-arg]
    bound = method()
    if bound is not None:
        bound()


def _signal_group(pid: int, sig: int) -> None:
    # The child is its session's leader, so its pid is the group id. A group that is already
    # gone (or only a zombie leader we have not reaped) is fine.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def _describe_exit(code: int) -> str:
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"signal {signal.Signals(-code).name}"
        return f"signal {-code}"
    return f"code {code}"


def _tail(path: Path, offset: int, lines: int) -> str:
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            # Only the end matters; a chatty child may have written megabytes.
            start = max(offset, size - 64 * 1024)
            handle.seek(start)
            data = handle.read()
    except OSError:
        return ""
    return "\n".join(data.decode("utf-8", errors="replace").splitlines()[-lines:])


def environment(base: Mapping[str, str] | None = None, **overrides: str) -> dict[str, str]:
    """A child environment: ours (or ``base``) plus overrides; unbuffered so logs are timely."""
    env = dict(os.environ if base is None else base)
    env.setdefault("PYTHONUNBUFFERED", "1")
    env.update(overrides)
    return env
