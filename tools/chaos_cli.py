"""`o2c chaos` on the command line: its options, registered by deploy/cli.py."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from tools.chaos import ChaosConfig, run_chaos
from tools.chaos_scenarios import BY_NAME

# (flag, ChaosConfig field, type, what it sets): each defaults to the field's default.
KNOBS: tuple[tuple[str, str, type, str], ...] = (
    ("--orders", "orders", int, "orders to place"),
    ("--concurrency", "concurrency", int, "orders in flight at once"),
    ("--kills", "kills", int, "worker SIGKILLs"),
    ("--temporal-restarts", "temporal_restarts", int, "Temporal dev server restarts"),
    ("--erp-closure", "erp_closure_s", float, "seconds the ERP posting window is closed, once; 0: never"),
    ("--error-rate", "error_rate", float, "5xx share per vendor call"),
    (
        "--timeout-rate",
        "timeout_rate",
        float,
        "timeout share per vendor call (the effect happens, the answer is held)",
    ),
    ("--latency-ms", "latency_ms", int, "latency jitter 0..N ms"),
    ("--settle-timeout", "settle_timeout_s", float, "seconds orders may take to settle"),
    ("--workers", "workers", int, "worker processes (each kill takes one down)"),
    ("--api-processes", "api_processes", int, "API processes (uvicorn workers on one port)"),
)


def add_chaos_command(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "chaos",
        help="place many orders while vendors fail and the worker and Temporal are killed; check money",
        description="Start a private local stack, inject faults on every vendor, SIGKILL the worker at "
        "random moments, restart Temporal once, close the ERP posting window once, place N orders of mixed "
        "scenarios through the API, drive each to a settled end, and check the money invariants against the "
        "sandbox ledger and the finance store. Exits non-zero on any violation.",
    )
    defaults = ChaosConfig()
    for flag, field, kind, what in KNOBS:
        default = getattr(defaults, field)
        metavar = flag.removeprefix("--").replace("-", "_").upper()
        parser.add_argument(
            flag, dest=field, type=kind, default=default, metavar=metavar, help=f"{what} ({default:g})"
        )
    parser.add_argument("--seed", type=int, help="random seed (default: random, printed)")
    parser.add_argument(
        "--no-marketing",
        dest="marketing",
        action="store_false",
        help="do not register the marketing receiver for outbound webhooks",
    )
    parser.add_argument(
        "--scenario",
        dest="scenarios",
        action="append",
        choices=sorted(BY_NAME),
        metavar="NAME",
        help="only this scenario (repeat for several; default: the whole mix): " + ", ".join(sorted(BY_NAME)),
    )
    parser.add_argument(
        "--postgres",
        dest="postgres_url",
        metavar="URL",
        help="keep the store in a fresh database on this PostgreSQL server, dropped afterwards "
        "(e.g. postgresql://postgres@127.0.0.1:5432/test); default: SQLite in the data dir",
    )
    parser.add_argument("--data-dir", type=Path, help="the stack's data dir (default: a new temporary one)")
    parser.add_argument(
        "--keep-data", action="store_true", help="keep the data dir (logs, databases) afterwards"
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the report as JSON")
    parser.set_defaults(handler=_chaos_command)


def _chaos_command(args: Any) -> int:
    fields = [field for _, field, _, _ in KNOBS]
    fields += ["seed", "marketing", "scenarios", "data_dir", "keep_data", "postgres_url"]
    config = ChaosConfig(**{field: getattr(args, field) for field in fields})
    report = asyncio.run(run_chaos(config))
    print(report.table(), flush=True)
    if args.json:
        args.json.write_text(json.dumps(report.to_dict(), indent=2, default=str))
    return 0 if report.ok else 1
