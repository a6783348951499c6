"""The supervisor with trivial child processes: start, readiness, crash, restart, orderly stop."""

from __future__ import annotations

import os
import signal
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from deploy.ports import free_ports, port_open
from deploy.probes import AllOf, HttpProbe, TcpProbe
from deploy.processes import ProcessDied, ProcessNotReady, ProcessSpec, StackError, Supervisor


def gone(pid: int) -> bool:
    """No such process, or only a zombie waiting for a reaper (PID 1 in a container may not reap)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z")
    except (OSError, IndexError):
        return True


def wait_logged(supervisor: Supervisor, name: str, text: str, timeout: float = 10.0) -> None:
    """Until the child has written `text` (e.g. once its signal handler is installed)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in supervisor.log_tail(name):
            return
        time.sleep(0.02)
    raise AssertionError(f"{name} never logged {text!r}: {supervisor.log_tail(name)}")


def wait_gone(pid: int, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if gone(pid):
            return True
        time.sleep(0.05)
    return gone(pid)


def python(code: str) -> list[str]:
    return [sys.executable, "-c", textwrap.dedent(code)]


@pytest.fixture
def supervisor(tmp_path: Path) -> Iterator[Supervisor]:
    sup = Supervisor(tmp_path / "logs")
    yield sup
    sup.stop_all()


def http_server(port: int, name: str = "web") -> ProcessSpec:
    return ProcessSpec(
        name,
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        probe=AllOf(TcpProbe("127.0.0.1", port), HttpProbe(f"http://127.0.0.1:{port}/")),
        ready_timeout_s=15,
        stop_grace_s=3,
    )


def test_start_ready_kill_restart_and_stop(supervisor: Supervisor) -> None:
    (port,) = free_ports(1)
    supervisor.start(http_server(port))
    assert httpx.get(f"http://127.0.0.1:{port}/").status_code == 200
    first = supervisor.pid("web")

    assert supervisor.kill("web", signal.SIGKILL) == -signal.SIGKILL
    assert not supervisor.is_running("web")
    assert supervisor.exited() == {"web": -signal.SIGKILL}
    assert not port_open("127.0.0.1", port)

    supervisor.start("web")  # the known spec again, as after a crash
    second = supervisor.pid("web")
    assert second != first
    assert httpx.get(f"http://127.0.0.1:{port}/").status_code == 200

    supervisor.restart("web")
    third = supervisor.pid("web")
    assert third != second and wait_gone(second)
    assert httpx.get(f"http://127.0.0.1:{port}/").status_code == 200

    supervisor.stop_all()
    assert wait_gone(third)
    assert not port_open("127.0.0.1", port)
    # One log, appended across starts, with a header for each.
    assert supervisor.log_path("web").read_text().count("starting web:") == 3


def test_starting_a_running_process_twice_is_refused(supervisor: Supervisor) -> None:
    (port,) = free_ports(1)
    supervisor.start(http_server(port))
    with pytest.raises(StackError, match="already running"):
        supervisor.start("web")


def test_stop_all_takes_down_grandchildren(supervisor: Supervisor, tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild.pid"
    supervisor.start(
        ProcessSpec(
            "parent",
            python(
                f"""
                import subprocess, sys, time
                child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
                open({str(pid_file)!r}, "w").write(str(child.pid))
                time.sleep(120)
                """
            ),
            stop_grace_s=3,
        )
    )
    deadline = time.monotonic() + 10
    while not pid_file.exists() or not pid_file.read_text():
        assert time.monotonic() < deadline, "grandchild never started"
        time.sleep(0.05)
    parent, grandchild = supervisor.pid("parent"), int(pid_file.read_text())
    assert not gone(grandchild)

    supervisor.stop_all()
    assert wait_gone(parent)
    assert wait_gone(grandchild)


def test_stop_all_goes_newest_first(supervisor: Supervisor, tmp_path: Path) -> None:
    journal = tmp_path / "stopped.txt"
    for name in ("first", "second", "third"):
        supervisor.start(
            ProcessSpec(
                name,
                python(
                    f"""
                    import signal, sys, time
                    def stop(*_):
                        with open({str(journal)!r}, "a") as f:
                            f.write({name!r} + "\\n")
                        sys.exit(0)
                    signal.signal(signal.SIGTERM, stop)
                    print("up", flush=True)
                    time.sleep(120)
                    """
                ),
            ),
            wait=False,
        )
    for name in ("first", "second", "third"):
        wait_logged(supervisor, name, "up")  # each has installed its handler
    supervisor.stop_all()
    assert journal.read_text().split() == ["third", "second", "first"]


def test_stop_escalates_to_sigkill_after_the_grace_period(supervisor: Supervisor) -> None:
    supervisor.start(
        ProcessSpec(
            "stubborn",
            python(
                """
                import signal, time
                signal.signal(signal.SIGTERM, signal.SIG_IGN)
                print("ignoring SIGTERM", flush=True)
                time.sleep(120)
                """
            ),
        ),
        wait=False,
    )
    wait_logged(supervisor, "stubborn", "ignoring SIGTERM")
    started = time.monotonic()
    assert supervisor.stop("stubborn", grace_s=0.5) == -signal.SIGKILL
    assert time.monotonic() - started < 5


def test_a_process_that_dies_during_start_is_named_with_its_log_tail(supervisor: Supervisor) -> None:
    (port,) = free_ports(1)
    spec = ProcessSpec(
        "doomed",
        python("print('cannot open the database: disk on fire', flush=True); raise SystemExit(3)"),
        probe=TcpProbe("127.0.0.1", port),
        ready_timeout_s=10,
    )
    started = time.monotonic()
    with pytest.raises(ProcessDied) as info:
        supervisor.start(spec)
    assert time.monotonic() - started < 5  # fails fast, does not sit out the deadline
    message = str(info.value)
    assert "doomed" in message and "code 3" in message
    assert "disk on fire" in message
    assert str(supervisor.log_path("doomed")) in message


def test_a_start_that_loses_a_known_race_is_tried_again(supervisor: Supervisor, tmp_path: Path) -> None:
    (port,) = free_ports(1)
    tries = tmp_path / "tries"
    # Fails like the Temporal dev server losing one of its own ports on the first start, serves on the second.
    code = f"""
        import http.server, pathlib, sys
        tries = pathlib.Path({str(tries)!r})
        tries.write_text(tries.read_text() + "x" if tries.exists() else "x")
        if len(tries.read_text()) == 1:
            print("listen tcp 127.0.0.1:40737: bind: address already in use", flush=True)
            sys.exit(1)
        http.server.HTTPServer(("127.0.0.1", {port}), http.server.SimpleHTTPRequestHandler).serve_forever()
    """
    spec = ProcessSpec(
        "racy",
        python(code),
        probe=TcpProbe("127.0.0.1", port),
        ready_timeout_s=10,
        stop_grace_s=2,
        retry_start_if_log_has="bind: address already in use",
        start_attempts=2,
    )
    supervisor.start(spec)
    assert port_open("127.0.0.1", port)
    assert tries.read_text() == "xx"


def test_a_start_failure_of_another_kind_is_not_retried(supervisor: Supervisor, tmp_path: Path) -> None:
    spec = ProcessSpec(
        "doomed",
        python("print('disk on fire', flush=True); raise SystemExit(3)"),
        probe=TcpProbe("127.0.0.1", free_ports(1)[0]),
        retry_start_if_log_has="bind: address already in use",
        start_attempts=3,
    )
    with pytest.raises(ProcessDied, match="disk on fire"):
        supervisor.start(spec)
    assert supervisor.log_path("doomed").read_text().count("starting doomed") == 1


def test_a_process_that_never_gets_ready_times_out_with_its_log_tail(supervisor: Supervisor) -> None:
    (port,) = free_ports(1)
    spec = ProcessSpec(
        "sleepy",
        python("import time; print('still loading models', flush=True); time.sleep(120)"),
        probe=TcpProbe("127.0.0.1", port),
        ready_timeout_s=1.0,
        stop_grace_s=2,
    )
    with pytest.raises(ProcessNotReady) as info:
        supervisor.start(spec)
    message = str(info.value)
    assert "sleepy" in message and "not ready after 1s" in message
    assert f"127.0.0.1:{port}" in message
    assert "still loading models" in message
    pid = supervisor.pid("sleepy")
    supervisor.stop_all()
    assert wait_gone(pid)


def test_log_tail_shows_only_the_latest_start(supervisor: Supervisor) -> None:
    spec = ProcessSpec("echo", python("import sys; print('run', sys.argv[-1], flush=True)"))
    supervisor.start(spec, wait=False)
    supervisor.popen("echo").wait(5)
    spec.argv = [*spec.argv, "again"]
    supervisor.start(spec, wait=False)
    supervisor.popen("echo").wait(5)
    tail = supervisor.log_tail("echo")
    assert "run again" in tail and "run -c" not in tail


def test_free_ports_are_distinct_and_bindable() -> None:
    import socket

    ports = free_ports(6)
    assert len(set(ports)) == 6
    for port in ports:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))
