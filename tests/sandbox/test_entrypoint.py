"""`uvicorn sandbox.app:app` runs with nothing configured and keeps its state under .data/."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_uvicorn_entrypoint_with_defaults(tmp_path: Path) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SANDBOX_")}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "sandbox.app:app", "--port", str(port), "--log-level", "warning"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/_sandbox/healthz").json() == {"ok": True}:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                output = proc.stdout.read().decode() if proc.stdout else ""
                pytest.fail(f"sandbox did not start: {output}")
            time.sleep(0.05)
        member = httpx.get(f"http://127.0.0.1:{port}/loyalty/members/m").json()
        assert member["available_points"] == 10_000
        assert (tmp_path / ".data" / "sandbox.db").exists()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
