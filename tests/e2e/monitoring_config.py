"""The PromQL of the alert rules (deploy/prometheus/alerts.yml) and the Grafana dashboard
(deploy/grafana/o2c.json), and the metric families it names: what tests/deploy checks for form and
tests/e2e/test_metric_names.py checks against a running stack. And promtool, from Debian's `prometheus`
package: without it its tests are skipped, unless O2C_REQUIRE_PROMTOOL=1 (CI) makes that a failure."""

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
PROMETHEUS = DEPLOY / "prometheus"
ALERTS = PROMETHEUS / "alerts.yml"
ALERTS_TEST = PROMETHEUS / "alerts_test.yml"
SCRAPE_CONFIG = PROMETHEUS / "prometheus.yml"
DASHBOARD = DEPLOY / "grafana" / "o2c.json"

PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None and os.environ.get("O2C_REQUIRE_PROMTOOL") != "1",
    reason="promtool not installed (apt-get install prometheus)",
)

BUILT_IN = frozenset({"up"})
"""Series Prometheus makes itself for every target, not exported by o2c."""

# Our metrics and the Temporal SDK's; `up` is Prometheus's own. Label names never start with these, and the
# quoted label values we match on (job="o2c-worker") have a hyphen, not an underscore.
_NAME = re.compile(r"(?<![A-Za-z0-9_:])(o2c_[a-z0-9_]+|temporal_[a-z0-9_]+|up)(?![A-Za-z0-9_:])")
_HISTOGRAM_PARTS = re.compile(r"_(bucket|sum|count)$")
_SELECTOR = re.compile(r"(?<![A-Za-z0-9_:])(o2c_[a-z0-9_]+|temporal_[a-z0-9_]+)\{([^}]*)\}")
_MATCHER = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"([^"]*)"')
_ALTERNATIVES = re.compile(r"^[A-Za-z0-9_-]+(\|[A-Za-z0-9_-]+)*$")
_GROUPING = re.compile(r"(?<![A-Za-z0-9_])(?:by|without|on|ignoring)\s*\(([^)]*)\)")
TARGET_LABELS = frozenset({"job", "instance"})
"""Labels Prometheus attaches from the scrape configuration, not exported by o2c."""


def alert_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def dashboard_panels() -> list[dict[str, Any]]:
    """Every panel, those inside collapsed rows included; rows themselves left out."""
    def walk(panels: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for panel in panels:
            if panel.get("type") == "row":
                yield from walk(panel.get("panels", []))
            else:
                yield panel
    return list(walk(dashboard()["panels"]))


def dashboard_exprs() -> list[str]:
    """The PromQL of every panel target and of the template variables' queries."""
    exprs = [target["expr"] for panel in dashboard_panels() for target in panel.get("targets", [])]
    for variable in dashboard()["templating"]["list"]:
        query = variable.get("query")
        if variable.get("type") == "query":
            exprs.append(query["query"] if isinstance(query, dict) else query)
    return exprs


def rule_exprs() -> list[str]:
    return [rule["expr"] for rule in alert_rules()]


def metric_families(exprs: Iterable[str]) -> set[str]:
    """The metric names the expressions read, a histogram's _bucket/_sum/_count taken as its family."""
    return {_HISTOGRAM_PARTS.sub("", name) for expr in exprs for name in _NAME.findall(expr)}


def selected_label_values(exprs: Iterable[str]) -> set[tuple[str, str, str]]:
    """(family, label, value) for each value a selector matches on: `status="failed"`, or each of
    `ok|business_rejection` in a regular expression. Grafana variables, other regular expressions and
    target labels are left out."""
    found: set[tuple[str, str, str]] = set()
    for expr in exprs:
        for name, matchers in _SELECTOR.findall(expr):
            for label, op, value in _MATCHER.findall(matchers):
                if label in TARGET_LABELS or "$" in value:
                    continue
                if op in ("=", "!="):
                    found.add((_HISTOGRAM_PARTS.sub("", name), label, value))
                elif _ALTERNATIVES.match(value):
                    found |= {(_HISTOGRAM_PARTS.sub("", name), label, v) for v in value.split("|")}
    return found


def grouping_labels(expr: str) -> set[str]:
    """The labels an expression groups or matches on (`by (vendor, le)`, `on (vendor)`), `le` left out: the
    buckets' own."""
    return {label.strip() for labels in _GROUPING.findall(expr) for label in labels.split(",") if label.strip()} - {
        "le"}


def exported_families(sample_names: Iterable[str]) -> set[str]:
    """The families behind the sample names of a scrape, named as metric_families names them."""
    return {_HISTOGRAM_PARTS.sub("", name) for name in sample_names}


def promtool(*args: str | Path) -> str:
    """promtool's output, run from deploy/prometheus (rule_files are relative to it); fails on its failure."""
    if PROMTOOL is None:
        raise AssertionError("O2C_REQUIRE_PROMTOOL=1 but promtool is missing: apt-get install prometheus")
    done = subprocess.run([PROMTOOL, *map(str, args)], cwd=PROMETHEUS, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr
