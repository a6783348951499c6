"""The bench's report: what it measured (pydantic, written as JSON) and the table it prints."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel

from tools.bench import BenchConfig


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0..100) by linear interpolation between the closest ranks."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100.0
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


class Latency(BaseModel):
    count: int
    p50_ms: float | None
    p99_ms: float | None
    mean_ms: float | None
    max_ms: float | None

    @classmethod
    def of(cls, seconds: Sequence[float]) -> Latency:
        ms = [s * 1000.0 for s in seconds]
        p50, p99 = percentile(ms, 50), percentile(ms, 99)
        return cls(
            count=len(ms),
            p50_ms=p50,
            p99_ms=p99,
            mean_ms=sum(ms) / len(ms) if ms else None,
            max_ms=max(ms) if ms else None,
        )


class Rss(BaseModel):
    """The stack worker's resident memory in MiB (None when its pid is unknown)."""

    peak_mb: float | None
    end_mb: float | None


class BaselineResult(BaseModel):
    """Bare Temporal on the same server: a workflow of `steps` no-op activities, on its own task queue."""

    kind: str
    steps: int
    workflows: int
    concurrency: int
    warmup: int
    completed: int
    failed: int
    seconds: float
    workflows_per_s: float
    start_to_result_ms: Latency
    """Each workflow from its start call to its result, at `concurrency` callers."""
    cpu_percent: dict[str, float]


class OrdersPhase(BaseModel):
    """Orders placed through POST /v1/orders and followed through GET /v1/orders/{id} until completed.

    `answers` counts the POST's HTTP status codes (a transport error by its exception name); `accept_ms`
    is POST sent to any answer, 202s included; `outcomes` is how each order ended: `completed`, another
    final status, `refused` (the POST answered neither 200, 201 nor 202) or `unfinished` (still open at the
    deadline). `seconds` runs from the first POST to the last completion seen, and `complete_ms` from each
    POST to its completion as the poller saw it (so within one poll cycle). `background_drained_s` (load
    phase only) is how long after the last completion executions started during the phase, other than the
    orders' own workflows, were still running (event and webhook work an order leaves behind); None when
    they were still running at the bench's drain limit.
    """

    orders: int
    concurrency: int
    answers: dict[str, int]
    share_202: float
    accept_ms: Latency
    completed: int
    outcomes: dict[str, int]
    seconds: float | None
    completed_per_s: float | None
    complete_ms: Latency
    status_polls: int
    cpu_percent: dict[str, float]
    worker_rss_mb: Rss
    loadavg_before: list[float]
    background_drained_s: float | None = None


class EventCounts(BaseModel):
    """Means per order. `activity_tasks` counts ActivityTaskScheduled events, `local_activities` the
    local-activity markers, `child_workflows` StartChildWorkflowExecutionInitiated, `signals` and
    `updates` the signals received and updates accepted."""

    history_events: float
    activity_tasks: float
    local_activities: float
    timers: float
    child_workflows: float
    signals: float
    updates: float


class PerOrder(BaseModel):
    """Means over `sample` completed orders of the load phase (or the single phase without one).

    An order's executions are its own workflow and every workflow started as a child in its history,
    recursively (each continue-as-new run counted), plus any other workflow whose id starts with the
    order's workflow id. `all_executions` sums the events of all of them, `order_workflow` those of the
    order's own workflow. `server_executions_per_order` is every execution the server started during the
    load phase divided by its orders: it also counts work an order causes outside its own tree.
    """

    sample: int
    workflow_executions: float
    executions_by_type: dict[str, float]
    all_executions: EventCounts
    order_workflow: EventCounts
    still_running: int
    server_executions_started: int | None
    server_executions_per_order: float | None


class WaitingPhase(BaseModel):
    """Orders held at the fulfilment node (HOLD- SKUs); then fresh orders one at a time while those wait.

    `seconds_to_hold` runs from the first POST until every accepted order's shipment request is held;
    `background_drained_s` from then until nothing started since the first POST runs but the held orders'
    own workflows (None if that took longer than the drain limit). `worker_rss_mb_held` and the probe come
    after that, so they see the orders waiting, not the work of placing them.
    """

    orders: int
    answers: dict[str, int]
    held: int
    seconds_to_hold: float
    background_drained_s: float | None
    worker_rss_mb_held: float | None
    probe: OrdersPhase
    left_waiting: bool


class StackInfo(BaseModel):
    started_by_bench: bool
    api_url: str
    temporal_address: str
    sandbox_url: str
    data_dir: str | None
    dispatch_delay_s: float | None
    marketing_webhook: bool | None
    pids: dict[str, int]


class RunRss(BaseModel):
    start_mb: float | None
    peak_mb: float | None
    end_mb: float | None


class BenchReport(BaseModel):
    config: BenchConfig
    run_tag: str
    stack: StackInfo
    cpus: int
    loadavg_start: list[float]
    loadavg_end: list[float]
    baseline: BaselineResult | None
    baseline_local: BaselineResult | None
    single: OrdersPhase | None
    load: OrdersPhase | None
    ratio_to_baseline: float | None
    ratio_to_local_baseline: float | None
    per_order: PerOrder | None
    worker_rss_mb: RunRss
    waiting: WaitingPhase | None
    duration_s: float

    @property
    def ok(self) -> bool:
        """Every order placed completed (a 202 is a slow answer, not a failure)."""
        phases = [self.single, self.load, self.waiting.probe if self.waiting else None]
        return all(p.completed == p.orders for p in phases if p is not None)

    def table(self) -> str:
        return "\n".join(_table_lines(self))


# -- the printed table ---------------------------------------------------------------------------

Row = tuple[str, str]


def _table_lines(r: BenchReport) -> list[str]:
    c, delay = r.config, r.stack.dispatch_delay_s
    rows: list[Row] = []
    for base in (r.baseline, r.baseline_local):
        if base is not None:
            kind = base.kind.replace("_", " ")
            rows.append(
                (
                    f"bare Temporal, {base.steps} {kind} ({base.workflows} at {base.concurrency})",
                    f"{base.workflows_per_s:.1f} workflows/s{_failed(base.failed)}",
                )
            )
            rows.append((f"bare Temporal, {base.steps} {kind}: start to result p50 / p99",
                         _p50_p99(base.start_to_result_ms)))
    if r.single is not None:
        rows += _single_rows("single order", r.single)
    if r.load is not None:
        rows += _load_rows(r)
    if r.per_order is not None:
        rows += _per_order_rows(r.per_order)
    rss = r.worker_rss_mb
    rows.append(
        ("worker RSS start / peak / end", f"{_mb(rss.start_mb)} / {_mb(rss.peak_mb)} / {_mb(rss.end_mb)}")
    )
    if r.waiting is not None:
        rows += _waiting_rows(r.waiting)
    return [
        f"o2c bench: {c.orders} orders at {c.concurrency}, {c.single} single, baseline "
        f"{c.baseline_workflows} workflows at {c.concurrency}, {c.waiting} waiting, seed {c.seed}, "
        "dispatch delay " + (f"{delay:g} s" if delay is not None else "the stack's own"),
        f"load average before {_loadavg(r.loadavg_start)}, after {_loadavg(r.loadavg_end)} ({r.cpus} cores)",
        "",
        *_grid(("figure", "value"), rows),
    ]


def _single_rows(label: str, p: OrdersPhase) -> list[Row]:
    return [
        (f"{label}: accept p50 / p99 (n={p.accept_ms.count})", _p50_p99(p.accept_ms)),
        (f"{label}: POST to completed p50 / p99", _p50_p99(p.complete_ms) + _not_completed(p)),
    ]


def _load_rows(r: BenchReport) -> list[Row]:
    p = r.load
    assert p is not None
    rows = [
        (f"load: accept p50 / p99 ({p.orders} at {p.concurrency})", _p50_p99(p.accept_ms)),
        ('load: 202 "received" answers', f"{p.answers.get('202', 0)} of {p.orders} ({p.share_202:.0%})"),
    ]
    refused = _refused(p.answers)
    if refused:
        rows.append(("load: other answers", refused))
    rate = "none completed"
    if p.completed_per_s is not None and p.seconds is not None:
        rate = f"{p.completed_per_s:.2f} orders/s ({p.completed} in {p.seconds:.1f} s)"
    rows.append(("load: completed orders/s", rate + _not_completed(p)))
    drained = p.background_drained_s
    rows.append(
        (
            "load: background work done after last completion",
            f"{drained:.1f} s later" if drained is not None else "not within the drain limit",
        )
    )
    if r.ratio_to_baseline is not None:
        local = r.ratio_to_local_baseline
        of_local = f" ({local:.2f} of local)" if local is not None else ""
        rows.append(("load: ratio to bare Temporal", f"{r.ratio_to_baseline:.2f}{of_local}"))
    rows.append(("load: status polls (GET /v1/orders/{id})", str(p.status_polls)))
    if p.cpu_percent:
        shares = ", ".join(f"{name} {share:.0f}" for name, share in p.cpu_percent.items())
        rows.append(("load: CPU, % of one core", shares))
    return rows


def _per_order_rows(po: PerOrder) -> list[Row]:
    by_count = sorted(po.executions_by_type.items(), key=lambda kv: -kv[1])
    types = ", ".join(f"{name} {n:g}" for name, n in by_count)
    every, own = po.all_executions, po.order_workflow
    rows = [
        (f"per order (mean of {po.sample}): workflow executions", f"{po.workflow_executions:.1f} ({types})"),
        ("per order: history events, all executions", f"{every.history_events:.1f}"),
        (
            "per order: activity tasks / local activities, all",
            f"{every.activity_tasks:.1f} / {every.local_activities:.1f}",
        ),
        ("per order: history events, order workflow", f"{own.history_events:.1f}"),
        ("per order: order workflow's own", _own_counts(own)),
    ]
    if po.still_running:
        rows.append(("per order: executions still running when read", str(po.still_running)))
    if po.server_executions_per_order is not None:
        rows.append(
            (
                "server: executions started during load / orders",
                f"{po.server_executions_per_order:.1f} ({po.server_executions_started})",
            )
        )
    return rows


def _own_counts(own: EventCounts) -> str:
    parts = [
        (own.activity_tasks, "activities"),
        (own.local_activities, "local"),
        (own.timers, "timers"),
        (own.child_workflows, "children"),
        (own.signals, "signals"),
        (own.updates, "updates"),
    ]
    return ", ".join(f"{n:.1f} {what}" for n, what in parts)


def _waiting_rows(w: WaitingPhase) -> list[Row]:
    held = f"{w.held} of {w.orders} in {w.seconds_to_hold:.0f} s"
    if w.background_drained_s is not None:
        held += f", background work done {w.background_drained_s:.0f} s later"
    got_202 = w.answers.get("202", 0)
    if got_202:
        held += f" ({got_202} answered 202)"
    refused = _refused(w.answers)
    if refused:
        held += f"; {refused}"
    probe_rss = w.probe.worker_rss_mb
    return [
        ("waiting: orders held before dispatch (HOLD- SKUs)", held),
        (
            "waiting: worker RSS held / peak / end",
            f"{_mb(w.worker_rss_mb_held)} / {_mb(probe_rss.peak_mb)} / {_mb(probe_rss.end_mb)}",
        ),
        *_single_rows("waiting: fresh order", w.probe),
    ]


def _grid(head: Row, rows: list[Row]) -> list[str]:
    width = max(len(label) for label, _ in [head, *rows])
    lines = [f"{head[0].ljust(width)}  {head[1]}", f"{'-' * width}  {'-' * 24}"]
    lines += [f"{label.ljust(width)}  {value}" for label, value in rows]
    return lines


def _p50_p99(lat: Latency) -> str:
    if lat.p50_ms is None or lat.p99_ms is None:
        return "-"
    return f"{lat.p50_ms:,.0f} / {lat.p99_ms:,.0f} ms"


def _not_completed(p: OrdersPhase) -> str:
    missing = sorted((k, n) for k, n in p.outcomes.items() if k != "completed")
    return f"; not completed: {', '.join(f'{k} {n}' for k, n in missing)}" if missing else ""


def _refused(answers: dict[str, int]) -> str:
    """Answers other than 200, 201 and 202, e.g. "503 x2, ReadTimeout x1"."""
    others = sorted((k, n) for k, n in answers.items() if k not in ("200", "201", "202"))
    return ", ".join(f"{k} x{n}" for k, n in others)


def _failed(n: int) -> str:
    return f" ({n} failed)" if n else ""


def _mb(value: float | None) -> str:
    return f"{value:.0f} MB" if value is not None else "-"


def _loadavg(values: list[float]) -> str:
    return " ".join(f"{v:.2f}" for v in values)
