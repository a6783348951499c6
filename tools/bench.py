"""`o2c bench`: the full saga through the public API against bare Temporal, on one server, in one run.

Phases, in order (each can be sized or skipped):

1. **Baseline**: a workflow of 6 no-op activities on its own task queue, run by a worker inside this
   process against the stack's Temporal server; N workflows at concurrency C, workflows/s completed
   (start of the first to the end of the last; a few warm-up workflows first are not counted). Then the
   same with 6 local activities, as a second reference.
2. **Single orders**: happy orders one at a time through `POST /v1/orders`, each followed until
   `GET /v1/orders/{id}` says `completed` before the next is sent: accept latency with nothing else going on.
3. **Load**: N orders (default 300) by C callers (default 50). A caller sends an order, takes the answer
   (201, 200, or 202 when the decision took longer than the API's accept timeout) and sends the next one;
   a single poller walks the open orders with `GET /v1/orders/{id}`, one request at a time, so polling does
   not become the load. Completed orders/s is orders completed over the time from the first POST to the
   last completion seen; the ratio is that over the 6-activity baseline's workflows/s.
4. **Per order, from Temporal**: for a sample of the completed orders, the executions an order caused (its
   workflow, every child workflow initiated in its history, recursively, and any workflow whose id starts
   with the order's workflow id), their activity tasks (ActivityTaskScheduled), local activities
   (local-activity markers) and history events. Nothing here knows the saga's workflow types, so the counts
   stay right when the saga changes.
5. **Waiting** (`--waiting N`): N orders whose lines all use `HOLD-` SKUs, which the sandbox's fulfilment
   node accepts but does not dispatch; once every one is held at the node, the worker's RSS, then fresh
   happy orders one at a time while they wait. They are left waiting: a stack the bench started is stopped
   and its data dir removed; on a running stack they stay held until the dispatch SLA compensates them or
   `POST /_sandbox/fulfillment/release` lets them go.

Throughout: the stack worker's RSS (VmRSS every 0.5 s: peak and end, per phase and for the run) and,
during each timed phase, the CPU share of the Temporal server, worker, API, sandbox and the bench itself.
Pids are known for a stack the bench starts; for a running one pass `--worker-pid` / `--temporal-pid`.

Without `--api-url` the bench starts the local stack on free ports in a scratch data dir (like `o2c chaos`)
with the sandbox dispatch delay lowered (`--dispatch-delay`, 0.05 s) and the marketing receiver registered
for every event type, as `o2c run` does. Progress goes to stderr, the table to stdout.

This module only declares the command; the run is imported when it starts, so `o2c --help` stays light.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field


class BenchConfig(BaseModel):
    orders: int = Field(300, ge=0)
    concurrency: int = Field(50, ge=1)
    single: int = Field(20, ge=0)
    baseline_workflows: int = Field(300, ge=0)
    baseline_steps: int = Field(6, ge=1)
    waiting: int = Field(0, ge=0)
    sample: int = Field(50, ge=0)
    """Completed orders whose Temporal histories are read for the per-order figures."""
    seed: int = 7
    """Decides the orders' contents; their ids also carry a tag of the run, so a running stack never
    sees the same id twice."""
    dispatch_delay_s: float = 0.05
    marketing: bool = True
    timeout_s: float = 1800.0
    """How long one phase's orders may take to complete."""
    api_url: str | None = None
    temporal_address: str | None = None
    sandbox_url: str | None = None
    api_key: str = "commerce-dev-key"
    worker_pid: int | None = None
    temporal_pid: int | None = None
    data_dir: Path | None = None
    keep_data: bool = False
    workers: int = Field(1, ge=1)
    """Worker processes of a stack the bench starts."""


def add_bench_command(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "bench",
        help="measure the saga through the API against a bare Temporal workflow on the same server",
        description="Start the local stack (or use a running one), run a bare 6-activity Temporal workflow "
        "as the baseline, then single orders and N orders at concurrency C through POST /v1/orders; print "
        "accept latency, 202s, completed orders/s and its ratio to the baseline, per-order executions, "
        "activities and history events read from Temporal, worker RSS and CPU shares.",
    )
    d = BenchConfig()
    _count(parser, "--orders", d.orders, f"orders in the load phase ({d.orders}); 0 skips it")
    _count(
        parser,
        "--concurrency",
        d.concurrency,
        f"callers at once in the load, baseline and waiting phases ({d.concurrency})",
        "C",
    )
    _count(
        parser,
        "--single",
        d.single,
        f"orders one at a time, before the load and while orders wait ({d.single}); 0 skips them",
    )
    _count(
        parser,
        "--baseline-workflows",
        d.baseline_workflows,
        f"workflows per baseline ({d.baseline_workflows}); 0 skips it",
    )
    parser.add_argument(
        "--no-baseline", dest="baseline_workflows", action="store_const", const=0, help="skip the baseline"
    )
    parser.add_argument("--no-load", dest="orders", action="store_const", const=0, help="skip the load phase")
    _count(
        parser,
        "--waiting",
        d.waiting,
        "also hold N orders before dispatch; measure RSS and accept latency while they wait",
    )
    _count(parser, "--sample", d.sample, f"completed orders whose histories are read ({d.sample})")
    parser.add_argument("--seed", type=int, default=d.seed, help=f"seed of the orders' contents ({d.seed})")
    parser.add_argument(
        "--dispatch-delay",
        dest="dispatch_delay_s",
        type=float,
        default=d.dispatch_delay_s,
        metavar="SECONDS",
        help=f"sandbox dispatch delay of a stack the bench starts ({d.dispatch_delay_s:g})",
    )
    _count(parser, "--workers", d.workers, f"worker processes of a stack the bench starts ({d.workers})")
    parser.add_argument(
        "--no-marketing",
        dest="marketing",
        action="store_false",
        help="do not register the marketing receiver on a stack the bench starts",
    )
    parser.add_argument(
        "--timeout",
        dest="timeout_s",
        type=float,
        default=d.timeout_s,
        metavar="SECONDS",
        help=f"how long one phase's orders may take ({d.timeout_s:g})",
    )
    parser.add_argument("--api-url", help="use this running API instead of starting a stack")
    parser.add_argument("--temporal-address", help="Temporal of that stack (default: O2C_TEMPORAL_ADDRESS)")
    parser.add_argument("--sandbox-url", help="sandbox of that stack (default: O2C_SANDBOX_URL)")
    parser.add_argument("--api-key", default=d.api_key, help="key with orders:write and orders:read")
    parser.add_argument("--worker-pid", type=int, help="pid of that stack's worker, for its RSS and CPU")
    parser.add_argument("--temporal-pid", type=int, help="pid of that stack's Temporal server, for its CPU")
    parser.add_argument(
        "--data-dir", type=Path, help="data dir of a stack the bench starts (default: a new temporary one)"
    )
    parser.add_argument(
        "--keep-data", action="store_true", help="keep that data dir (logs, databases) afterwards"
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the report as JSON")
    parser.set_defaults(handler=_bench_command)


def _count(parser: argparse.ArgumentParser, flag: str, default: int, help: str, metavar: str = "N") -> None:
    parser.add_argument(flag, type=int, default=default, metavar=metavar, help=help)


def _bench_command(args: argparse.Namespace) -> int:
    import asyncio
    import sys

    from tools.bench_run import run_bench

    fields = BenchConfig.model_fields
    config = BenchConfig(
        **{name: value for name, value in vars(args).items() if name in fields and value is not None}
    )
    report = asyncio.run(run_bench(config, progress=sys.stderr))
    print(report.table(), flush=True)
    if args.json:
        args.json.write_text(report.model_dump_json(indent=2))
    return 0 if report.ok else 1
