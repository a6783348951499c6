"""`o2c bench` at CI size against a real local stack: the JSON report is complete and adds up.

Structure, internal consistency and issue 11's structural targets (no 202 under load, at most 2 workflow
executions and 80 history events per happy order). No figure is held to an absolute time: timings on a
shared 2-core machine are compared as ratios within one run, by `o2c bench` itself.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from deploy.cli import main
from tools.bench_report import percentile

pytestmark = [pytest.mark.e2e, pytest.mark.serial]

ORDERS, CONCURRENCY, SINGLE, BASELINE, WAITING = 50, 10, 3, 20, 4
# Issue 11's targets that do not depend on the machine's speed.
MAX_EXECUTIONS_PER_ORDER, MAX_HISTORY_EVENTS_PER_ORDER = 2, 80
COUNT_FIELDS = (
    "history_events",
    "activity_tasks",
    "local_activities",
    "timers",
    "child_workflows",
    "signals",
    "updates",
)


def test_percentile_interpolates_between_ranks() -> None:
    assert percentile([], 50) is None
    assert percentile([7.0], 99) == 7.0
    assert percentile([4.0, 1.0, 3.0, 2.0], 50) == 2.5
    assert percentile([float(v) for v in range(1, 101)], 99) == pytest.approx(99.01)


def test_a_small_bench_writes_a_complete_consistent_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "bench.json"
    code = main(
        [
            "bench",
            *("--orders", str(ORDERS), "--concurrency", str(CONCURRENCY), "--single", str(SINGLE)),
            *("--baseline-workflows", str(BASELINE), "--waiting", str(WAITING), "--seed", "11"),
            *("--data-dir", str(tmp_path / "stack"), "--json", str(out)),
        ]
    )
    table = capsys.readouterr().out
    assert code == 0, table
    report = json.loads(out.read_text())

    assert report["stack"]["started_by_bench"] is True
    assert {"temporal", "worker"} <= set(report["stack"]["pids"]), report["stack"]

    for key in ("baseline", "baseline_local"):
        base = report[key]
        counts = (base["workflows"], base["completed"], base["failed"], base["steps"])
        assert counts == (BASELINE, BASELINE, 0, 6), base
        assert base["workflows_per_s"] == pytest.approx(base["completed"] / base["seconds"])
        lat = base["start_to_result_ms"]
        assert lat["count"] == BASELINE and 0 < lat["p50_ms"] <= lat["p99_ms"] <= lat["max_ms"], lat

    single = report["single"]
    _check_phase(single, SINGLE, table)
    assert single["concurrency"] == 1

    load = report["load"]
    _check_phase(load, ORDERS, table)
    assert load["concurrency"] == CONCURRENCY
    assert load["answers"].get("202", 0) == 0, (load["answers"], table)
    assert {"temporal", "worker", "api", "sandbox", "bench"} <= set(load["cpu_percent"]), load["cpu_percent"]
    # Histories are read once the work the load left behind is done, so every execution read has closed.
    assert load["background_drained_s"] is not None, table
    assert report["ratio_to_baseline"] == pytest.approx(
        load["completed_per_s"] / report["baseline"]["workflows_per_s"]
    )
    assert report["ratio_to_local_baseline"] == pytest.approx(
        load["completed_per_s"] / report["baseline_local"]["workflows_per_s"]
    )

    per_order = report["per_order"]
    assert per_order["sample"] == min(report["config"]["sample"], ORDERS)
    assert 1 <= per_order["workflow_executions"] <= MAX_EXECUTIONS_PER_ORDER, table
    assert per_order["still_running"] == 0, per_order
    assert sum(per_order["executions_by_type"].values()) == pytest.approx(per_order["workflow_executions"])
    every, own = per_order["all_executions"], per_order["order_workflow"]
    assert every["history_events"] <= MAX_HISTORY_EVENTS_PER_ORDER, table
    for name in COUNT_FIELDS:
        assert every[name] >= own[name] >= 0, (name, every, own)
    # Every scheduled activity and child start is itself an event of the order's history.
    assert own["history_events"] > own["activity_tasks"] + own["child_workflows"] + own["local_activities"]
    assert own["updates"] >= 1  # the accept decision is an update on the order's workflow
    # Each load order's own workflow started inside the load phase's window.
    assert per_order["server_executions_started"] >= ORDERS

    rss = report["worker_rss_mb"]
    assert 0 < rss["start_mb"] <= rss["peak_mb"] and rss["end_mb"] <= rss["peak_mb"], rss

    waiting = report["waiting"]
    assert waiting["orders"] == WAITING and waiting["held"] == WAITING, waiting
    assert sum(waiting["answers"].values()) == WAITING
    assert waiting["worker_rss_mb_held"] > 0
    assert waiting["background_drained_s"] is not None, table
    _check_phase(waiting["probe"], SINGLE, table)

    for row in ("bare Temporal, 6 activities", "load: ratio to bare Temporal", "per order (mean of"):
        assert row in table, table


def _check_phase(phase: dict[str, Any], orders: int, table: str) -> None:
    assert phase["orders"] == orders
    assert sum(phase["answers"].values()) == orders, phase["answers"]
    assert phase["share_202"] == pytest.approx(phase["answers"].get("202", 0) / orders)
    assert sum(phase["outcomes"].values()) == orders, phase["outcomes"]
    # Happy orders: every one completes.
    assert phase["completed"] == phase["outcomes"].get("completed") == orders, table
    assert phase["completed_per_s"] == pytest.approx(phase["completed"] / phase["seconds"])
    accept, complete = phase["accept_ms"], phase["complete_ms"]
    assert accept["count"] == orders and complete["count"] == orders
    for lat in (accept, complete):
        assert 0 < lat["p50_ms"] <= lat["p99_ms"] <= lat["max_ms"], lat
    # A completion is only known from a status poll.
    assert phase["status_polls"] >= orders
    assert phase["worker_rss_mb"]["peak_mb"] >= phase["worker_rss_mb"]["end_mb"] > 0
