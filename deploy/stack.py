"""The local all-in-one stack: Temporal dev server, sandbox, worker and API as child processes.

Everything lives under one data directory (``O2C_DATA_DIR``, default ``.data``): the Temporal SQLite
file, the sandbox's SQLite file and the children's logs, so stopping and starting again resumes
where it left off. Ports come from the settings and can be overridden, which lets tests run several
stacks side by side on free ports.

Usage::

    with LocalStack(Settings(), env={"SANDBOX_DISPATCH_DELAY_S": "0.2"}) as stack:
        httpx.post(f"{stack.api_url}/v1/orders", ...)
        stack.kill("worker")          # SIGKILL, like a crash
        stack.start_component("worker")

The supervisor is synchronous; from async code wrap calls in ``asyncio.to_thread``.
"""

from __future__ import annotations

import contextlib
import json
import signal
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from pydantic import BaseModel, SecretBytes, SecretStr
from pydantic_core import to_jsonable_python

from deploy.ports import free_ports, port_open
from deploy.probes import HttpProbe, TaskQueuePollerProbe, TemporalProbe
from deploy.processes import ProcessSpec, StackError, Supervisor, environment
from deploy.temporal_server import dev_server_command, search_attribute_names, temporal_binary
from runtime.settings import Settings

__all__ = ["COMPONENTS", "LocalStack", "StackError", "free_ports", "settings_environment"]

# Start order. Stop is the reverse, so the API stops taking orders before the worker goes, and the
# worker finishes its tasks before Temporal goes.
COMPONENTS: tuple[str, ...] = ("temporal", "sandbox", "worker", "sender", "api")

PROJECT_ROOT = Path(__file__).resolve().parent.parent
LOCALHOST = "127.0.0.1"


class LocalStack:
    def __init__(
        self,
        settings: Settings | None = None,
        *,
        data_dir: str | Path | None = None,
        api_port: int | None = None,
        sandbox_port: int | None = None,
        temporal_port: int | None = None,
        temporal_ui_port: int | None = None,
        env: Mapping[str, str] | None = None,
        components: Sequence[str] = COMPONENTS,
        ui_codec_endpoint: str | None = None,
        ui_codec: bool = False,
        python: str = sys.executable,
        workers: int = 1,
        api_processes: int = 1,
        worker_metrics_ports: Sequence[int] | None = None,
    ) -> None:
        unknown = set(components) - set(COMPONENTS)
        if unknown:
            raise ValueError(f"unknown components {sorted(unknown)}; choose from {COMPONENTS}")
        base, remaining_env = _fold_settings_overrides(settings or Settings(), env or {})
        data = Path(data_dir if data_dir is not None else base.data_dir).expanduser().resolve()
        ports = {
            "api_port": api_port or base.api_port,
            "sandbox_port": sandbox_port or base.sandbox_port,
            "temporal_port": temporal_port or base.temporal_port,
            "temporal_ui_port": temporal_ui_port or base.temporal_ui_port,
        }
        # The children must find each other on the ports we chose, whatever the caller's
        # environment said, so the addresses are derived rather than taken from it.
        self.settings: Settings = base.model_copy(
            update={
                **ports,
                "data_dir": str(data),
                "api_host": LOCALHOST,
                "temporal_address": f"{LOCALHOST}:{ports['temporal_port']}",
                "temporal_ui_url": f"http://{LOCALHOST}:{ports['temporal_ui_port']}",
                "sandbox_url": f"http://{LOCALHOST}:{ports['sandbox_port']}",
                "ui_origin": f"http://{LOCALHOST}:{ports['temporal_ui_port']}",
                # Outbound webhooks may reach the sandbox's marketing receiver, and nothing else inside:
                # not the sandbox's control surface (/_sandbox/reset), not another local port.
                "webhook_allowed_hosts": list(dict.fromkeys(
                    [*base.webhook_allowed_hosts, f"{LOCALHOST}:{ports['sandbox_port']}/marketing/events"])),
            }
        )
        if ui_codec:
            # The UI decodes payloads through our API. DEV ONLY: the UI cannot send an API key, so the
            # API lets requests from the UI's origin in without one (README "Support").
            self.settings = self.settings.model_copy(update={"codec_dev_trust_ui_origin": True})
            ui_codec_endpoint = ui_codec_endpoint or f"http://{LOCALHOST}:{ports['api_port']}/codec"
        self.data_dir = data
        # Several workers are several processes (worker, worker-2, …), each killable on its own; several
        # API processes are uvicorn's, on one port.
        self.worker_names = ("worker", *(f"worker-{n}" for n in range(2, workers + 1)))
        # Each worker process serves its own /metrics: the given ports, else O2C_WORKER_METRICS_PORT and the
        # ports after it (0: none).
        first = self.settings.worker_metrics_port
        if worker_metrics_ports is None:
            worker_metrics_ports = [first + n if first else 0 for n in range(workers)]
        self.worker_metrics_ports = tuple(worker_metrics_ports)
        if len(self.worker_metrics_ports) != workers:
            raise ValueError(f"{workers} workers need {workers} metrics ports, not {self.worker_metrics_ports}")
        self.api_processes = api_processes
        self.components = tuple(
            n for name in COMPONENTS if name in components for n in (self.worker_names if name == "worker" else (name,))
        )
        self.extra_env = remaining_env
        self.ui_codec_endpoint = ui_codec_endpoint
        self.python = python
        self.supervisor = Supervisor(self.data_dir / "logs")
        self._specs = {name: self._spec(name) for name in self.components}

    # -- addresses -----------------------------------------------------------------------------

    def _metrics_ports(self) -> dict[str, int]:
        """Each worker process that serves /metrics, and its port."""
        return {name: port for name, port in zip(self.worker_names, self.worker_metrics_ports, strict=True) if port}

    @property
    def api_url(self) -> str:
        return f"http://{LOCALHOST}:{self.settings.api_port}"

    @property
    def sandbox_url(self) -> str:
        return self.settings.sandbox_url

    @property
    def temporal_address(self) -> str:
        return self.settings.temporal_address

    @property
    def temporal_ui_url(self) -> str:
        return self.settings.temporal_ui_url

    def urls(self) -> dict[str, str]:
        return {
            "api": self.api_url,
            "api docs": f"{self.api_url}/docs",
            "temporal ui": self.temporal_ui_url,
            "temporal grpc": self.temporal_address,
            "sandbox": self.sandbox_url,
            **{f"{name} metrics": f"http://{LOCALHOST}:{port}/metrics" for name, port in self._metrics_ports().items()},
            "logs": str(self.supervisor.log_dir),
        }

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> LocalStack:
        """Bring every component up and wait until each is ready; on failure stop what started."""
        self._check_ports_free()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        try:
            # Temporal and the sandbox do not need each other: spawn both, then wait for both.
            # The worker and the API need Temporal; the API's readiness also covers its store.
            for phase in (("temporal", "sandbox"), (*self.worker_names, "sender", "api")):
                wanted = [name for name in phase if name in self._specs]
                for name in wanted:
                    self.supervisor.start(self._specs[name], wait=False)
                for name in wanted:
                    self.supervisor.wait_ready(name)
        except BaseException:
            # The original error is the one worth showing, not a secondary one from stopping.
            with contextlib.suppress(Exception):
                self.stop()
            raise
        return self

    def stop(self) -> None:
        self.supervisor.stop_all()

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start_component(self, name: str, *, wait: bool = True) -> None:
        """Start one component again, e.g. after ``kill``."""
        self.supervisor.start(self._spec_for(name), wait=wait)

    def restart(self, name: str, *, wait: bool = True) -> None:
        self._spec_for(name)
        self.supervisor.restart(name, wait=wait)

    def kill(self, name: str, sig: int = signal.SIGKILL) -> int | None:
        return self.supervisor.kill(name, sig)

    def is_running(self, name: str) -> bool:
        return self.supervisor.is_running(name)

    def log_path(self, name: str) -> Path:
        return self.supervisor.log_path(name)

    def log_tail(self, name: str, lines: int = 40) -> str:
        return self.supervisor.log_tail(name, lines)

    # -- process specs -------------------------------------------------------------------------

    def _spec_for(self, name: str) -> ProcessSpec:
        try:
            return self._specs[name]
        except KeyError:
            raise StackError(f"{name!r} is not part of this stack ({self.components})") from None

    def _spec(self, name: str) -> ProcessSpec:
        s = self.settings
        env = environment(
            None,
            **settings_environment(s),
            SANDBOX_DB_PATH=str(self.data_dir / "sandbox.db"),
            SANDBOX_WEBHOOK_URL=f"{self.api_url}/v1/webhooks/fulfillment",
            # One secret on both ends, so overriding O2C_FULFILLMENT_WEBHOOK_SECRET just works.
            SANDBOX_WEBHOOK_SECRET=_plain(s.fulfillment_webhook_secret),
        )
        env.update(self.extra_env)
        common: dict[str, Any] = {"env": env, "cwd": PROJECT_ROOT}
        if name == "temporal":
            return ProcessSpec(
                name,
                dev_server_command(
                    binary=temporal_binary(),
                    data_dir=self.data_dir,
                    port=s.temporal_port,
                    ui_port=s.temporal_ui_port,
                    namespace=s.temporal_namespace,
                    ui_codec_endpoint=self.ui_codec_endpoint,
                ),
                probe=TemporalProbe(s.temporal_address, s.temporal_namespace, search_attribute_names()),
                ready_timeout_s=60.0,
                stop_grace_s=10.0,
                # Our own ports are checked free before the start; this is one of its internal ones.
                retry_start_if_log_has="bind: address already in use",
                start_attempts=3,
                **common,
            )
        if name == "sandbox":
            return ProcessSpec(
                name,
                [
                    self.python,
                    "-m",
                    "uvicorn",
                    "sandbox.app:app",
                    "--host",
                    LOCALHOST,
                    "--port",
                    str(s.sandbox_port),
                ],
                probe=HttpProbe(f"{s.sandbox_url}/_sandbox/healthz"),
                ready_timeout_s=30.0,
                stop_grace_s=5.0,
                **common,
            )
        if name in self.worker_names:
            common["env"] = {**env, "O2C_WORKER_METRICS_PORT": str(self._metrics_ports().get(name, 0))}
            return ProcessSpec(
                name,
                [self.python, "-m", "worker"],
                probe=TaskQueuePollerProbe(s.temporal_address, s.temporal_namespace, s.task_queue),
                ready_timeout_s=30.0,
                # Let running activities finish (the worker's own graceful shutdown) before SIGKILL.
                stop_grace_s=s.graceful_shutdown_s + 5.0,
                **common,
            )
        if name == "sender":
            return ProcessSpec(
                name,
                [self.python, "-m", "deploy.cli", "sender"],
                ready_timeout_s=30.0,
                stop_grace_s=10.0,
                **common,
            )
        if name == "api":
            return ProcessSpec(
                name,
                [
                    self.python,
                    "-m",
                    "uvicorn",
                    "--factory",
                    "api.app:create_app",
                    "--host",
                    LOCALHOST,
                    "--port",
                    str(s.api_port),
                    "--workers",
                    str(self.api_processes),
                ],
                probe=HttpProbe(f"{self.api_url}/readyz"),
                ready_timeout_s=30.0,
                stop_grace_s=10.0,
                **common,
            )
        raise ValueError(name)

    def _check_ports_free(self) -> None:
        s = self.settings
        wanted = {
            "temporal": [("Temporal gRPC", s.temporal_port), ("Temporal UI", s.temporal_ui_port)],
            "sandbox": [("sandbox", s.sandbox_port)],
            "api": [("API", s.api_port)],
            **{name: [(f"{name} metrics", port)] for name, port in self._metrics_ports().items()},
        }
        taken = [
            f"{label} port {port}"
            for name in self.components
            for label, port in wanted.get(name, [])
            if not self.supervisor.is_running(name) and port_open(LOCALHOST, port)
        ]
        if taken:
            raise StackError(
                f"{', '.join(taken)} already in use on {LOCALHOST}: is another o2c stack running? "
                "Stop it, or pick other ports with O2C_API_PORT, O2C_SANDBOX_PORT, O2C_TEMPORAL_PORT, "
                "O2C_TEMPORAL_UI_PORT, O2C_WORKER_METRICS_PORT."
            )

    @classmethod
    def on_free_ports(
        cls, data_dir: str | Path, settings: Settings | None = None, **kwargs: Any
    ) -> LocalStack:
        """A stack on ports nobody uses right now; what tests want."""
        workers = kwargs.get("workers", 1)
        api, sandbox, temporal, ui, *metrics = free_ports(4 + workers)
        if not (settings or Settings()).worker_metrics_port:  # metrics switched off
            metrics = [0] * workers
        return cls(
            settings,
            data_dir=data_dir,
            api_port=api,
            sandbox_port=sandbox,
            temporal_port=temporal,
            temporal_ui_port=ui,
            worker_metrics_ports=metrics,
            **kwargs,
        )


def settings_environment(settings: Settings) -> dict[str, str]:
    """The settings as O2C_* variables, so each child sees exactly the configuration we hold.

    Passing every field (not only the ones we changed) means a Settings object built in code, e.g.
    by a test with short durations, reaches the children as well. Complex values go as JSON,
    which is how pydantic-settings reads them back.
    """
    prefix = settings.model_config.get("env_prefix", "O2C_")
    out: dict[str, str] = {}
    for name, info in type(settings).model_fields.items():
        value = _plain(getattr(settings, name))
        if value is None:
            continue
        key = info.validation_alias if isinstance(info.validation_alias, str) else f"{prefix}{name}"
        out[key.upper()] = value if isinstance(value, str) else json.dumps(to_jsonable_python(value))
    return out


def _fold_settings_overrides(settings: Settings, env: Mapping[str, str]) -> tuple[Settings, dict[str, str]]:
    """Move O2C_* entries of the extra environment into the settings.

    Then ``stack.settings`` tells the truth about what the children run with, and the addresses
    the stack derives (which must win) are not overridden again by the raw environment.
    """
    prefix = str(settings.model_config.get("env_prefix", "O2C_")).upper()
    fields = type(settings).model_fields
    updates: dict[str, Any] = {}
    remaining: dict[str, str] = {}
    for key, raw in env.items():
        name = key[len(prefix) :].lower() if key.upper().startswith(prefix) else None
        if name is None or name not in fields:
            remaining[key] = raw
            continue
        value: Any = raw
        if raw.lstrip().startswith(("{", "[")):
            # Dicts and lists come as JSON; numbers and booleans validate from their strings.
            with contextlib.suppress(ValueError):
                value = json.loads(raw)
        updates[name] = value
    if not updates:
        return settings, remaining
    current = {name: getattr(settings, name) for name in fields}
    return type(settings).model_validate({**current, **updates}), remaining


def _plain(value: Any) -> Any:
    """The value with every secret in it revealed: the children must get the real keys."""
    if isinstance(value, SecretStr | SecretBytes):
        secret = value.get_secret_value()
        return secret.decode() if isinstance(secret, bytes) else secret
    if isinstance(value, BaseModel):
        return {name: _plain(getattr(value, name)) for name in type(value).model_fields}
    if isinstance(value, dict):
        return {_plain(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
