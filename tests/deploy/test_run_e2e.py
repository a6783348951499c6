"""`o2c run` in the foreground: it serves until told to stop, and stopping it leaves nothing behind."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from deploy.stack import free_ports

pytestmark = [pytest.mark.e2e]

O2C = Path(sys.executable).parent / "o2c"


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


class Foreground:
    """`o2c run --no-demo` as a user runs it, with its output readable line by line."""

    def __init__(self, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [str(O2C), "run", "--no-demo"],
            env=env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            # Restore default SIGINT handling even if the test runner was started in the background.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.output: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)

    def wait_for(self, text: str, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                if self.proc.poll() is not None and self.lines.empty():
                    break
                continue
            self.output.append(line)
            if text in line:
                return
        pytest.fail(f"never saw {text!r}:\n{''.join(self.output)}")

    def finish(self, timeout: float = 60.0) -> tuple[int, str]:
        code = self.proc.wait(timeout=timeout)
        time.sleep(0.1)
        while not self.lines.empty():
            self.output.append(self.lines.get())
        return code, "".join(self.output)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    api, sandbox, temporal, ui = free_ports(4)
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("O2C_", "SANDBOX_"))},
        "O2C_DATA_DIR": str(tmp_path / "data"),
        "O2C_API_PORT": str(api),
        "O2C_SANDBOX_PORT": str(sandbox),
        "O2C_TEMPORAL_PORT": str(temporal),
        "O2C_TEMPORAL_UI_PORT": str(ui),
    }


@pytest.fixture
def running(env: dict[str, str]) -> Iterator[Foreground]:
    fg = Foreground(env)
    try:
        fg.wait_for("serving")
        yield fg
    finally:
        if fg.proc.poll() is None:
            fg.proc.send_signal(signal.SIGTERM)
            fg.proc.wait(timeout=60)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_a_stop_signal_stops_every_child(running: Foreground, sig: signal.Signals) -> None:
    children = children_of(running.proc.pid)
    assert len(children) == 5  # temporal, sandbox, worker, sender, api
    running.proc.send_signal(sig)
    code, output = running.finish()
    assert code == 0, output
    assert "stopped" in output
    assert not [pid for pid in children if alive(pid)]


def test_a_child_that_dies_while_serving_stops_the_stack_and_says_which(running: Foreground) -> None:
    children = children_of(running.proc.pid)
    worker = next(pid for pid in children if "worker" in Path(f"/proc/{pid}/cmdline").read_text())
    os.kill(worker, signal.SIGKILL)
    code, output = running.finish()
    assert code == 1, output
    assert "worker exited unexpectedly" in output
    assert not [pid for pid in children if alive(pid)]
