"""The local stack's wiring, and the real Temporal dev server as the stack starts it."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from deploy.ports import port_open
from deploy.probes import Launch, TaskQueuePollerProbe
from deploy.processes import ProcessSpec, environment
from deploy.stack import COMPONENTS, LocalStack, StackError, settings_environment
from deploy.temporal_server import dev_server_command, search_attribute_names, temporal_binary
from runtime.settings import Settings
from workflows.search_attributes import DEV_SERVER_FLAGS


def test_settings_survive_the_trip_through_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    original = Settings(
        api_port=18000,
        accept_timeout_s=2.5,
        api_keys={"k1": ["orders:read"], "finance-bob": {"key": "k2", "scopes": ["finance:read"]}},
        log_level="DEBUG",
    )
    for key in [k for k in os.environ if k.startswith("O2C_")]:
        monkeypatch.delenv(key)
    for key, value in settings_environment(original).items():
        monkeypatch.setenv(key, value)
    assert Settings() == original
    assert set(original.api_keys) == {"finance-bob", "key-" + hashlib.sha256(b"k1").hexdigest()[:12]}


def test_stack_wires_the_children_to_each_other(tmp_path: Path) -> None:
    stack = LocalStack(
        Settings(temporal_address="elsewhere:7233", accept_timeout_s=3),
        data_dir=tmp_path / "data",
        api_port=18000,
        sandbox_port=18100,
        temporal_port=17233,
        temporal_ui_port=18233,
        env={"SANDBOX_DISPATCH_DELAY_S": "0.2", "O2C_STEP_RETRY_WINDOW_S": "60", "O2C_TEMPORAL_PORT": "1"},
    )
    s = stack.settings
    assert (s.api_port, s.sandbox_port, s.temporal_port, s.temporal_ui_port) == (18000, 18100, 17233, 18233)
    assert s.temporal_address == "127.0.0.1:17233"  # derived from the port, whatever we were told
    assert s.sandbox_url == "http://127.0.0.1:18100"
    assert s.temporal_ui_url == "http://127.0.0.1:18233"
    assert s.data_dir == str((tmp_path / "data").resolve())
    assert s.accept_timeout_s == 3
    assert s.step_retry_window_s == 60  # O2C_* overrides end up in the settings the stack reports
    assert stack.api_url == "http://127.0.0.1:18000"

    env = stack._specs["worker"].env
    assert env is not None
    assert env["O2C_TEMPORAL_ADDRESS"] == "127.0.0.1:17233"
    assert env["O2C_SANDBOX_URL"] == "http://127.0.0.1:18100"
    assert env["O2C_STEP_RETRY_WINDOW_S"] == "60.0"
    assert env["O2C_TEMPORAL_PORT"] == "17233"
    assert env["SANDBOX_DISPATCH_DELAY_S"] == "0.2"
    assert env["SANDBOX_DB_PATH"] == str(tmp_path.resolve() / "data" / "sandbox.db")
    assert env["SANDBOX_WEBHOOK_URL"] == "http://127.0.0.1:18000/v1/webhooks/fulfillment"
    assert env["SANDBOX_WEBHOOK_SECRET"] == s.fulfillment_webhook_secret.get_secret_value()

    argv = {name: list(stack._specs[name].argv) for name in COMPONENTS}
    assert argv["sandbox"][1:] == [
        "-m",
        "uvicorn",
        "sandbox.app:app",
        "--host",
        "127.0.0.1",
        "--port",
        "18100",
    ]
    assert argv["worker"][1:] == ["-m", "worker"]
    assert argv["api"][1:] == [
        "-m",
        "uvicorn",
        "--factory",
        "api.app:create_app",
        "--host",
        "127.0.0.1",
        "--port",
        "18000",
        "--workers",
        "1",
    ]
    assert argv["sender"][1:] == ["-m", "deploy.cli", "sender"]
    assert argv["temporal"][:3] == [str(temporal_binary()), "server", "start-dev"]


def test_unknown_components_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown components"):
        LocalStack(data_dir=tmp_path, components=("temporal", "kafka"))


def test_dev_server_command() -> None:
    argv = dev_server_command(binary=Path("/bin/temporal"), data_dir=Path("/d"), port=7, ui_port=8)
    joined = " ".join(argv)
    assert "--db-filename /d/temporal.db" in joined
    assert "--sqlite-pragma journal_mode=wal --sqlite-pragma synchronous=normal" in joined
    assert "--port 7 --ui-port 8 --ip 127.0.0.1 --log-level warn" in joined
    assert [argv[i + 1] for i, a in enumerate(argv) if a == "--search-attribute"] == DEV_SERVER_FLAGS
    assert "--ui-codec-endpoint" not in argv and "--namespace" not in argv
    with_codec = dev_server_command(
        binary=Path("/bin/temporal"),
        data_dir=Path("/d"),
        port=7,
        ui_port=8,
        namespace="o2c",
        ui_codec_endpoint="http://127.0.0.1:8000/codec",
    )
    assert with_codec[-2:] == ["--ui-codec-endpoint", "http://127.0.0.1:8000/codec"]
    assert "--namespace" in with_codec


def test_the_cli_flags_we_pass_exist() -> None:
    help_text = subprocess.run(
        [str(temporal_binary()), "server", "start-dev", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for flag in (
        "--db-filename",
        "--sqlite-pragma",
        "--ui-port",
        "--ip",
        "--search-attribute",
        "--ui-codec-endpoint",
    ):
        assert flag in help_text
    global_options = subprocess.run(
        [str(temporal_binary()), "options"], capture_output=True, text=True, check=True
    ).stdout
    assert "--log-level" in global_options


@pytest.fixture
def temporal_stack(tmp_path: Path) -> Iterator[LocalStack]:
    stack = LocalStack.on_free_ports(tmp_path / "data", components=("temporal",))
    with stack:
        yield stack


def test_temporal_dev_server_starts_with_our_search_attributes(temporal_stack: LocalStack) -> None:
    listed = subprocess.run(
        [
            str(temporal_binary()),
            "operator",
            "search-attribute",
            "list",
            "--address",
            temporal_stack.temporal_address,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    registered = {line.split()[0]: line.split()[1] for line in listed.splitlines()[1:] if line.split()}
    for flag in DEV_SERVER_FLAGS:
        name, kind = flag.split("=")
        assert registered.get(name) == kind, (name, listed)
    assert (temporal_stack.data_dir / "temporal.db").exists()
    assert port_open("127.0.0.1", temporal_stack.settings.temporal_ui_port)


def test_a_second_stack_on_taken_ports_says_so(temporal_stack: LocalStack, tmp_path: Path) -> None:
    other = LocalStack(temporal_stack.settings, data_dir=tmp_path / "other", components=("temporal",))
    with pytest.raises(StackError, match="already in use"):
        other.start()


def test_stop_leaves_no_process_and_a_restart_resumes_the_same_data(tmp_path: Path) -> None:
    stack = LocalStack.on_free_ports(tmp_path / "data", components=("temporal",))
    with stack:
        first = stack.supervisor.pid("temporal")
    assert not stack.is_running("temporal")
    assert not port_open("127.0.0.1", stack.settings.temporal_port)
    with pytest.raises(ProcessLookupError):
        os.killpg(first, 0)
    with stack:  # same data dir: the server opens the existing database and re-registers nothing twice
        assert stack.is_running("temporal")
    assert "starting temporal" in stack.log_path("temporal").read_text()


def test_worker_readiness_sees_the_new_process_after_a_crash(temporal_stack: LocalStack) -> None:
    """The probe the stack uses for the worker, against a stand-in worker process."""
    s = temporal_stack.settings
    code = textwrap.dedent(
        f"""
        import asyncio
        from temporalio import activity
        from temporalio.client import Client
        from temporalio.worker import Worker

        @activity.defn
        async def nothing() -> None:
            return None

        async def main() -> None:
            client = await Client.connect({s.temporal_address!r})
            await Worker(client, task_queue={s.task_queue!r}, activities=[nothing]).run()

        asyncio.run(main())
        """
    )
    spec = ProcessSpec(
        "stand-in-worker",
        [sys.executable, "-c", code],
        env=environment(),
        probe=TaskQueuePollerProbe(s.temporal_address, s.temporal_namespace, s.task_queue),
        ready_timeout_s=30,
        stop_grace_s=5,
    )
    sup = temporal_stack.supervisor
    sup.start(spec)
    first = sup.pid("stand-in-worker")
    sup.kill("stand-in-worker", signal.SIGKILL)
    # The dead worker is still listed as a poller for a while; that must not count as ready.
    assert not spec.probe.ready(Launch(pid=first + 1_000_000, started_at=time.time()))
    sup.start("stand-in-worker")  # ready means the new pid polls, not the stale entry of the old one
    assert sup.pid("stand-in-worker") != first
    sup.stop("stand-in-worker")


def test_search_attribute_names() -> None:
    assert "OrderStatus" in search_attribute_names()
