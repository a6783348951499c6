"""The ``o2c`` command.

    o2c run                 the whole local stack in the foreground, with the demo orders; Ctrl-C stops it
    o2c demo --exit         the same, but exit after the demo table (0 only if every order ended as expected)
    o2c demo --api-url URL  only the demo, against a stack that is already running
    o2c worker | api | sandbox | temporal    one component in the foreground (what containers run)

Subcommands register themselves through ``SUBCOMMANDS``: a later one (``o2c db upgrade``,
``o2c chaos``, ``o2c bench``) is a function that adds its parser and sets ``handler``, appended to that tuple.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import inspect
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from types import FrameType
from typing import TYPE_CHECKING

from deploy.db_cli import add_db_command
from deploy.processes import StackError
from runtime.settings import Settings
from tools.bench import add_bench_command
from tools.certify import add_certify_command
from tools.chaos_cli import add_chaos_command

if TYPE_CHECKING:
    from deploy.stack import LocalStack

Handler = Callable[[argparse.Namespace], int]


class Shutdown(Exception):
    """SIGTERM, turned into an exception so the stack unwinds like it does on Ctrl-C."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    return handler(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="o2c", description="Durable order-to-cash orchestrator on Temporal."
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in SUBCOMMANDS:
        add(subparsers)
    return parser


# -- run / demo --------------------------------------------------------------------------------


def _add_run(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "run",
        help="start the local stack (Temporal, sandbox, worker, API), place the demo orders, "
        "serve until Ctrl-C",
        description="Start the local all-in-one stack in the foreground. State lives in O2C_DATA_DIR "
        "(default .data), so running it again resumes where it stopped.",
    )
    parser.add_argument("--no-demo", action="store_true", help="do not place the demo orders")
    parser.add_argument("--workers", type=int, default=1, metavar="N",
                        help="worker processes (default 1; each further one serves /metrics on the next port)")
    parser.add_argument("--api-processes", type=int, default=1, metavar="N",
                        help="API processes on the one API port (default 1)")
    _add_demo_options(parser)
    parser.set_defaults(handler=_run, exit_after_demo=False)


def _add_demo(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "demo",
        help="start the local stack and place the demo orders (--exit: stop afterwards)",
        description="Place the demo orders and print how each ended. Without --api-url the local stack is "
        "started first; with --exit it is stopped after the table and the exit code says whether every "
        "order reached its expected status.",
    )
    parser.add_argument(
        "--exit",
        dest="exit_after_demo",
        action="store_true",
        help="exit after the demo table: 0 if every order reached its expected status, else 1",
    )
    parser.add_argument(
        "--api-url", help="run the demo against this already running API instead of starting a stack"
    )
    parser.add_argument("--sandbox-url", help="the sandbox of that stack (default: O2C_SANDBOX_URL)")
    _add_demo_options(parser)
    parser.set_defaults(handler=_demo, no_demo=False)


def _add_demo_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--timeout",
        type=float,
        default=90.0,
        metavar="SECONDS",
        help="how long to wait for the demo orders to settle (default 90)",
    )


def _demo(args: argparse.Namespace) -> int:
    if args.api_url:
        from tools.demo import run_demo

        settings = Settings()
        result = run_demo(
            args.api_url,
            args.sandbox_url or settings.sandbox_url,
            timeout_s=args.timeout,
            temporal_ui_url=settings.temporal_ui_url,
            namespace=settings.temporal_namespace,
            api_keys=settings.api_keys,
        )
        return 0 if result.ok else 1
    return _run(args)


def _run(args: argparse.Namespace) -> int:
    from deploy.stack import LocalStack
    from tools.demo import run_demo

    _install_stop_handlers()
    # The UI shows decoded payloads. The store is O2C_DATABASE_URL when set (PostgreSQL), else SQLite.
    stack = LocalStack(Settings(), ui_codec=True, workers=getattr(args, "workers", 1),
                       api_processes=getattr(args, "api_processes", 1))
    try:
        _say(f"starting the o2c local stack in {stack.data_dir} ...")
        started = time.monotonic()
        stack.start()
        _say(f"stack ready in {time.monotonic() - started:.1f}s")
        _print_urls(stack.urls())
        if stack.settings.local_marketing_webhook:
            _register_marketing_webhook(stack)
        ok = True
        if not args.no_demo:
            result = run_demo(
                stack.api_url,
                stack.sandbox_url,
                timeout_s=args.timeout,
                temporal_ui_url=stack.temporal_ui_url,
                namespace=stack.settings.temporal_namespace,
                api_keys=stack.settings.api_keys,
            )
            ok = result.ok
        if args.exit_after_demo:
            return 0 if ok else 1
        _say(f"\nTemporal UI: {stack.temporal_ui_url}   API: {stack.api_url}/docs")
        _say("serving; press Ctrl-C to stop")
        return _serve(stack)
    except (KeyboardInterrupt, Shutdown):
        # Interrupted while serving is the normal way to stop; during a one-shot demo it is not.
        return 130 if args.exit_after_demo else 0
    except StackError as exc:
        print(f"o2c: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        # A second Ctrl-C while children shut down must not leave half of them running.
        _ignore_stop_signals()
        _say("stopping the o2c local stack ...")
        stack.stop()
        _say("stopped")


def _register_marketing_webhook(stack: LocalStack) -> None:
    """Events reach the sandbox's marketing receiver with nothing configured (once per data dir)."""
    import httpx

    from deploy.marketing import ensure_marketing_webhook

    try:
        _say(ensure_marketing_webhook(stack.api_url, stack.sandbox_url, stack.settings))
    except httpx.HTTPError as exc:  # the stack is still useful without it; say why
        _say(f"marketing webhook not registered: {type(exc).__name__}: {exc}")


def _serve(stack: LocalStack) -> int:
    while True:
        # A child that dies would leave a stack that looks up but is not; say so and stop.
        dead = stack.supervisor.exited()
        if dead:
            for name, code in dead.items():
                print(
                    f"o2c: {name} exited unexpectedly (code {code}); last lines of {stack.log_path(name)}:",
                    file=sys.stderr,
                )
                print(stack.log_tail(name), file=sys.stderr, flush=True)
            return 1
        time.sleep(1.0)


def _print_urls(urls: dict[str, str]) -> None:
    width = max(len(label) for label in urls)
    for label, url in urls.items():
        _say(f"  {label.ljust(width)}  {url}")


def _install_stop_handlers() -> None:
    # The children run in their own sessions, so a closed terminal (SIGHUP) or a SIGTERM reaches
    # only us; both must unwind through the code that stops them. Ctrl-C arrives as KeyboardInterrupt.
    def on_signal(signum: int, frame: FrameType | None) -> None:
        raise Shutdown(signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)


def _ignore_stop_signals() -> None:
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)


def _say(text: str) -> None:
    # Status lines must never be the reason the children are not stopped (e.g. stdout went away
    # with the terminal).
    with contextlib.suppress(OSError, ValueError):
        print(text, flush=True)


# -- single components -------------------------------------------------------------------------


def _add_worker(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("worker", help="run the Temporal worker (workflows and activities)")
    parser.set_defaults(handler=_worker)


def _worker(args: argparse.Namespace) -> int:
    import worker

    outcome = worker.main()
    if inspect.isawaitable(outcome):
        outcome = asyncio.run(_await(outcome))
    return outcome if isinstance(outcome, int) else 0


async def _await(awaitable: object) -> object:
    return await awaitable  # type: ignore[misc]


def _add_sender(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("sender", help="run the outbound webhook sender (drains the event outbox)")
    parser.set_defaults(handler=_sender)


def _sender(args: argparse.Namespace) -> int:
    from activities.webhooks import main as sender_main

    sender_main()
    return 0


def _add_api(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("api", help="run the HTTP API (O2C_API_HOST:O2C_API_PORT)")
    parser.set_defaults(handler=_api)


def _api(args: argparse.Namespace) -> int:
    import uvicorn

    settings = Settings()
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=settings.api_host,
        port=settings.api_port,
        log_level=settings.log_level.lower(),
    )
    return 0


def _add_sandbox(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("sandbox", help="run the vendor simulators (O2C_SANDBOX_HOST:O2C_SANDBOX_PORT)")
    parser.set_defaults(handler=_sandbox)


def _sandbox(args: argparse.Namespace) -> int:
    import uvicorn

    settings = Settings()
    # Same wiring as the local stack unless told otherwise: state in the data dir, webhooks to our API.
    os.environ.setdefault("SANDBOX_DB_PATH", os.path.join(settings.data_dir, "sandbox.db"))
    os.environ.setdefault(
        "SANDBOX_WEBHOOK_URL", f"http://127.0.0.1:{settings.api_port}/v1/webhooks/fulfillment"
    )
    os.environ.setdefault("SANDBOX_WEBHOOK_SECRET", settings.fulfillment_webhook_secret.get_secret_value())
    os.makedirs(os.path.dirname(os.environ["SANDBOX_DB_PATH"]) or ".", exist_ok=True)
    uvicorn.run(
        "sandbox.app:app", host=settings.sandbox_host, port=settings.sandbox_port, log_level=settings.log_level.lower()
    )
    return 0


def _add_temporal(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "temporal", help="run the Temporal dev server with our search attributes (O2C_TEMPORAL_PORT)"
    )
    parser.add_argument("--ui-codec-endpoint", help="remote codec endpoint for the Web UI")
    parser.set_defaults(handler=_temporal)


def _temporal(args: argparse.Namespace) -> int:
    from pathlib import Path

    from deploy.temporal_server import dev_server_command, temporal_binary

    settings = Settings()
    data_dir = Path(settings.data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    argv = dev_server_command(
        binary=temporal_binary(),
        data_dir=data_dir,
        port=settings.temporal_port,
        ui_port=settings.temporal_ui_port,
        namespace=settings.temporal_namespace,
        ui_codec_endpoint=args.ui_codec_endpoint,
    )
    # Become the server, so signals and the exit code are its own.
    os.execv(argv[0], argv)
    return 0  # not reached


SUBCOMMANDS: tuple[Callable[[argparse._SubParsersAction], None], ...] = (  # type: ignore[type-arg]
    _add_run,
    _add_demo,
    _add_worker,
    _add_sender,
    _add_api,
    _add_sandbox,
    _add_temporal,
    add_db_command,
    add_chaos_command,
    add_bench_command,
    add_certify_command,
)


if __name__ == "__main__":
    sys.exit(main())
