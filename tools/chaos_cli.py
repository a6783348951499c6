"""`o2c chaos` on the command line: its options, registered by deploy/cli.py."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from tools.chaos import ChaosConfig, run_chaos
from tools.chaos_scenarios import BY_NAME


def add_chaos_command(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "chaos",
        help="place many orders while vendors fail and the worker and Temporal are killed; check money",
        description="Start a private local stack, inject faults on every vendor, SIGKILL the worker at "
        "random moments, restart Temporal once, close the ERP posting window once, place N orders of mixed "
        "scenarios through the API, drive each to a settled end, and check the money invariants against the "
        "sandbox ledger and the finance store. Exits non-zero on any violation.",
    )
    d = ChaosConfig()
    parser.add_argument(
        "--orders", type=int, default=d.orders, metavar="N", help=f"orders to place ({d.orders})"
    )
    parser.add_argument("--seed", type=int, help="random seed (default: random, printed)")
    parser.add_argument(
        "--concurrency", type=int, default=d.concurrency, help=f"orders in flight at once ({d.concurrency})"
    )
    parser.add_argument("--kills", type=int, default=d.kills, help=f"worker SIGKILLs ({d.kills})")
    parser.add_argument(
        "--temporal-restarts",
        type=int,
        default=d.temporal_restarts,
        help=f"Temporal dev server restarts ({d.temporal_restarts})",
    )
    parser.add_argument(
        "--erp-closure",
        type=float,
        default=d.erp_closure_s,
        metavar="SECONDS",
        help=f"how long the ERP posting window is closed, once; 0: never ({d.erp_closure_s:g})",
    )
    parser.add_argument("--error-rate", type=float, default=d.error_rate, help="5xx share per vendor call")
    parser.add_argument(
        "--timeout-rate",
        type=float,
        default=d.timeout_rate,
        help="timeout share per vendor call (the effect happens, the answer is held)",
    )
    parser.add_argument("--latency-ms", type=int, default=d.latency_ms, help="latency jitter 0..N ms")
    parser.add_argument(
        "--settle-timeout",
        type=float,
        default=d.settle_timeout_s,
        metavar="SECONDS",
        help="how long orders may take to settle",
    )
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
    parser.add_argument("--data-dir", type=Path, help="the stack's data dir (default: a new temporary one)")
    parser.add_argument(
        "--keep-data", action="store_true", help="keep the data dir (logs, databases) afterwards"
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the report as JSON")
    parser.set_defaults(handler=_chaos_command)


def _chaos_command(args: Any) -> int:
    config = ChaosConfig(
        orders=args.orders,
        seed=args.seed,
        concurrency=args.concurrency,
        kills=args.kills,
        temporal_restarts=args.temporal_restarts,
        erp_closure_s=args.erp_closure,
        error_rate=args.error_rate,
        timeout_rate=args.timeout_rate,
        latency_ms=args.latency_ms,
        settle_timeout_s=args.settle_timeout,
        data_dir=args.data_dir,
        keep_data=args.keep_data,
        marketing=args.marketing,
        scenarios=args.scenarios,
    )
    report = asyncio.run(run_chaos(config))
    print(report.table(), flush=True)
    if args.json:
        args.json.write_text(json.dumps(report.to_dict(), indent=2, default=str))
    return 0 if report.ok else 1
