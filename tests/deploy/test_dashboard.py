"""The Grafana dashboard (deploy/grafana/o2c.json): JSON Grafana imports, every panel a Prometheus query,
and every query PromQL that parses (through promtool, as a recording rule, with Grafana's variables given
values)."""

import re
from pathlib import Path

import pytest
import yaml
from monitoring_config import dashboard, dashboard_exprs, dashboard_panels, needs_promtool, promtool

# What Grafana puts in for its variables before the query reaches Prometheus.
VARIABLES = {"$__rate_interval": "1m", "$__interval": "15s", "$__range": "1h", "$vendor": ".*"}


def test_dashboard_is_importable() -> None:
    board = dashboard()
    assert board["uid"] and board["title"] and board["schemaVersion"] >= 36
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    names = {v["name"] for v in board["templating"]["list"]}
    assert "datasource" in names
    cells = [(p["title"], x, y) for p in board["panels"] for x in range(p["gridPos"]["x"], p["gridPos"]["x"] +
             p["gridPos"]["w"]) for y in range(p["gridPos"]["y"], p["gridPos"]["y"] + p["gridPos"]["h"])]
    taken: dict[tuple[int, int], str] = {}
    for title, x, y in cells:
        assert (x, y) not in taken, f"{title} overlaps {taken[x, y]}"
        taken[x, y] = title


def test_every_panel_queries_prometheus() -> None:
    panels = dashboard_panels()
    assert len(panels) >= 10
    for panel in panels:
        assert panel["title"] and panel.get("description"), panel["id"]
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        targets = panel.get("targets") or []
        assert targets and all(t.get("expr", "").strip() for t in targets), panel["title"]
        pos = panel["gridPos"]
        assert pos["x"] >= 0 and pos["x"] + pos["w"] <= 24, panel["title"]


def test_the_dashboard_shows_what_on_call_watches() -> None:
    exprs = "\n".join(dashboard_exprs())
    for family in ("o2c_vendor_calls_total", "o2c_vendor_call_duration_seconds_bucket", "o2c_vendor_circuit_state",
                   "o2c_business_clock_seconds_bucket", "o2c_orders_needing_attention", "o2c_erp_postings_backlog",
                   "o2c_erp_postings_backlog_oldest_age_seconds", "o2c_webhook_deliveries_backlog",
                   "o2c_http_requests_total", "o2c_http_request_duration_seconds_bucket", "temporal_"):
        assert family in exprs, family


@needs_promtool
def test_every_query_is_promql(tmp_path: Path) -> None:
    def concrete(expr: str) -> str:
        return re.sub(r"\$\w+", lambda m: VARIABLES[m.group(0)], expr)

    exprs = [e for e in dashboard_exprs() if not e.startswith("label_values(")]
    rules = [{"record": f"dashboard:query_{n}", "expr": concrete(e)} for n, e in enumerate(exprs)]
    path = tmp_path / "dashboard_rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    try:
        assert f"SUCCESS: {len(rules)} rules found" in promtool("check", "rules", path)
    except KeyError as unknown:
        pytest.fail(f"a query uses {unknown}, which VARIABLES gives no value")
