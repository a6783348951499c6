"""The alert rules, their unit tests and the local stack's scrape configuration, through promtool
(Debian's `prometheus` package): rules that parse, alerts that fire when they should and stay silent
when they should not (deploy/prometheus/alerts_test.yml), a configuration Prometheus would load.

Without promtool those are skipped, unless O2C_REQUIRE_PROMTOOL=1 (CI) makes that a failure (monitoring_config).
"""

import yaml
from monitoring_config import (
    ALERTS,
    ALERTS_TEST,
    SCRAPE_CONFIG,
    alert_rules,
    grouping_labels,
    metric_families,
    needs_promtool,
    promtool,
    selected_label_values,
)

SEVERITIES = {"critical", "warning"}
# Alerts about one vendor name it, in their labels and in what on-call reads first.
PER_VENDOR = {"O2CVendorErrorRateHigh", "O2CVendorCircuitOpen"}


@needs_promtool
def test_rules_parse() -> None:
    assert f"SUCCESS: {len(alert_rules())} rules found" in promtool("check", "rules", ALERTS)


@needs_promtool
def test_rules_fire_and_stay_silent_as_their_unit_tests_say() -> None:
    assert "SUCCESS" in promtool("test", "rules", ALERTS_TEST)


@needs_promtool
def test_scrape_config_loads_with_the_rules() -> None:
    out = promtool("check", "config", SCRAPE_CONFIG)
    assert "is valid prometheus config file syntax" in out and "1 rule files found" in out


def test_scrape_config_reaches_the_local_stack() -> None:
    config = yaml.safe_load(SCRAPE_CONFIG.read_text())
    targets = {job["job_name"]: [t for c in job["static_configs"] for t in c["targets"]]
               for job in config["scrape_configs"]}
    assert targets == {"o2c-api": ["127.0.0.1:8000"], "o2c-worker": ["127.0.0.1:9464"]}
    assert config["rule_files"] == [ALERTS.name]


def test_every_alert_says_how_bad_what_and_where_to_look() -> None:
    for rule in alert_rules():
        name, annotations = rule["alert"], rule["annotations"]
        assert rule["labels"]["severity"] in SEVERITIES, name
        assert {"summary", "description", "runbook"} <= set(annotations), name
        assert "/ops" in annotations["runbook"] and "GET /v1/ops/vendors" in annotations["runbook"], name
        if name in PER_VENDOR:
            assert "by (vendor)" in rule["expr"], name
            assert "{{ $labels.vendor }}" in annotations["summary"], name


def test_every_alert_is_unit_tested_firing_and_silent() -> None:
    cases = [case for test in yaml.safe_load(ALERTS_TEST.read_text())["tests"] for case in test["alert_rule_test"]]
    names = {rule["alert"] for rule in alert_rules()}
    firing = {c["alertname"] for c in cases if c["exp_alerts"]}
    silent = {c["alertname"] for c in cases if not c["exp_alerts"]}
    assert firing == names and silent == names, {"not shown firing": names - firing, "not shown silent": names - silent}


def test_metric_names_and_selected_values_are_read_from_promql() -> None:
    exprs = ['histogram_quantile(0.99, sum by (vendor, le) (rate(o2c_vendor_call_duration_seconds_bucket'
             '{vendor=~"$vendor",job="o2c-worker"}[5m])))',
             'sum(rate(o2c_vendor_calls_total{outcome!~"ok|business_rejection"}[5m])) and up == 0',
             'max(temporal_worker_task_slots_available{worker_type="WorkflowWorker"}) > o2c_x_sum{a!="b-c.d"}',
             'o2c_http_requests_total{status=~"5.."}']
    assert metric_families(exprs) == {"o2c_vendor_call_duration_seconds", "o2c_vendor_calls_total", "up",
                                      "temporal_worker_task_slots_available", "o2c_x", "o2c_http_requests_total"}
    assert selected_label_values(exprs) == {
        ("o2c_vendor_calls_total", "outcome", "ok"), ("o2c_vendor_calls_total", "outcome", "business_rejection"),
        ("temporal_worker_task_slots_available", "worker_type", "WorkflowWorker"), ("o2c_x", "a", "b-c.d")}
    assert grouping_labels("max by (vendor) (x) == 2 and on(vendor, job) sum without (le) (y) / sum by (le) (z)") \
        == {"vendor", "job"}
