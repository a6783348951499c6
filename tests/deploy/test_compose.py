"""deploy/compose/compose.yaml, without a Docker engine: valid against the compose specification's JSON
schema (vendored: tests/deploy/schemas/compose-spec.json, schema/compose-spec.json of
github.com/compose-spec/compose-spec at 170098ba07d9f53c383a41bfd4c5166b0a4529a6, 2026-06-23), every
O2C_* variable a real setting, and the services, ports and replicas consistent with each other and with o2c."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml
from deploy_support import DEPLOY, ROOT, runs_an_o2c_command, unknown_o2c_variables
from monitoring_config import needs_promtool, promtool

from api.support.codec import PREFIX as CODEC_PREFIX
from runtime.settings import Settings
from workflows.search_attributes import DEV_SERVER_FLAGS

COMPOSE_DIR = DEPLOY / "compose"
COMPOSE = COMPOSE_DIR / "compose.yaml"
SCHEMA = ROOT / "tests" / "deploy" / "schemas" / "compose-spec.json"
O2C_SERVICES = ("migrate", "api", "worker", "sender", "sandbox")
DEFAULTS = Settings()


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def services() -> dict[str, dict[str, Any]]:
    return compose()["services"]


def env_file_variables(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if line and not line.startswith("#"))
    return {name: value for name, value in pairs}


def published(service: dict[str, Any]) -> dict[int, int]:
    """Host port -> container port, ranges expanded ("8000-8001:8000" is one per replica)."""
    ports: dict[int, int] = {}
    for spec in service.get("ports", []):
        host, container = str(spec).rsplit(":", 1)
        first, _, last = host.partition("-")
        for port in range(int(first), int(last or first) + 1):
            ports[port] = int(container)
    return ports


def port_of(url: str) -> int:
    port = urlsplit(url).port
    assert port is not None, url
    return port


def test_the_file_is_valid_against_the_compose_specification() -> None:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(compose()), key=str)
    assert [f"{list(e.absolute_path)}: {e.message}" for e in errors] == []


def test_the_schema_check_can_fail() -> None:
    broken = compose()
    broken["services"]["api"]["replica"] = 2  # misspelt: compose would reject it, so must the test
    assert not jsonschema.Draft7Validator(json.loads(SCHEMA.read_text())).is_valid(broken)


def test_every_o2c_variable_set_anywhere_is_a_setting() -> None:
    names = [name for service in services().values() for name in service.get("environment", {})]
    for env_file in ("dev.env", "o2c.env.example"):
        names += env_file_variables(COMPOSE_DIR / env_file)
    assert any(name.startswith("O2C_") for name in names)
    assert unknown_o2c_variables(names) == []


def test_the_o2c_services_run_one_image_with_real_commands() -> None:
    images = {services()[name]["image"] for name in O2C_SERVICES}
    assert len(images) == 1
    for name in O2C_SERVICES:
        assert runs_an_o2c_command(services()[name]["command"]), name
        assert services()[name]["build"]["dockerfile"] == "deploy/container/Dockerfile"
        assert (COMPOSE_DIR / services()[name]["build"]["context"] / "deploy/container/Dockerfile").is_file()


def test_every_image_is_pinned() -> None:
    for name, service in services().items():
        if name in O2C_SERVICES:
            continue
        image = service["image"]
        tag = image.rsplit(":", 1)[-1] if ":" in image else ""
        assert tag and tag != "latest" and re.search(r"\d", tag), f"{name}: {image}"


def test_temporal_runs_on_postgresql_with_the_official_images() -> None:
    assert services()["temporal"]["image"].startswith("temporalio/server:")
    assert services()["temporal"]["environment"]["DB"] == "postgres12"
    assert services()["temporal"]["environment"]["POSTGRES_SEEDS"] == "postgresql"
    for setup in ("temporal-schema", "temporal-namespace"):
        assert services()[setup]["image"].startswith("temporalio/admin-tools:")
    assert services()["temporal-ui"]["image"].startswith("temporalio/ui:")
    assert services()["postgresql"]["image"].startswith("postgres:")


def test_the_namespace_job_registers_the_search_attributes_the_workflows_set() -> None:
    job = services()["temporal-namespace"]["environment"]
    assert job["SEARCH_ATTRIBUTES"].split() == DEV_SERVER_FLAGS
    assert job["NAMESPACE"] == services()["api"]["environment"]["O2C_TEMPORAL_NAMESPACE"]


@pytest.mark.parametrize("script", ["temporal-schema.sh", "temporal-namespace.sh"])
def test_the_setup_scripts_parse(script: str) -> None:
    done = subprocess.run(["sh", "-n", str(COMPOSE_DIR / script)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_two_api_and_two_worker_replicas_after_the_migration() -> None:
    for name in ("api", "worker"):
        service = services()[name]
        assert service["deploy"]["replicas"] == 2
        assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert service["depends_on"]["temporal-namespace"]["condition"] == "service_completed_successfully"
        assert service["environment"]["O2C_DATABASE_AUTO_UPGRADE"] == "false"
        assert service["environment"]["O2C_TEMPORAL_ADDRESS"] == "temporal:7233"
    assert services()["migrate"]["command"] == ["db", "upgrade"]
    # One host port per API replica, each to the port the API listens on.
    assert sorted(published(services()["api"])) == [DEFAULTS.api_port, DEFAULTS.api_port + 1]
    assert set(published(services()["api"]).values()) == {DEFAULTS.api_port}


def test_the_sandbox_is_a_profile_the_rest_does_not_need() -> None:
    assert services()["sandbox"]["profiles"] == ["sandbox"]
    assert [name for name, service in services().items() if "sandbox" in service.get("depends_on", {})] == []
    assert port_of(services()["worker"]["environment"]["O2C_SANDBOX_URL"]) == DEFAULTS.sandbox_port
    webhook = services()["sandbox"]["environment"]["SANDBOX_WEBHOOK_URL"]
    assert urlsplit(webhook).hostname == "api" and port_of(webhook) == DEFAULTS.api_port


def test_the_ui_decodes_through_the_api_codec_endpoint_from_the_browser() -> None:
    ui = services()["temporal-ui"]
    endpoint = urlsplit(ui["environment"]["TEMPORAL_CODEC_ENDPOINT"])
    assert endpoint.path == CODEC_PREFIX
    assert endpoint.hostname == "localhost" and endpoint.port in published(services()["api"])
    ui_origin = services()["api"]["environment"]["O2C_UI_ORIGIN"]
    assert port_of(ui_origin) in published(ui)
    assert env_file_variables(COMPOSE_DIR / "dev.env")["O2C_CODEC_DEV_TRUST_UI_ORIGIN"] == "true"
    assert env_file_variables(COMPOSE_DIR / "o2c.env.example")["O2C_CODEC_DEV_TRUST_UI_ORIGIN"] == "false"


def test_health_checks_ask_the_ports_the_processes_serve() -> None:
    api_check = " ".join(services()["api"]["healthcheck"]["test"])
    assert f":{DEFAULTS.api_port}/readyz" in api_check
    worker_check = " ".join(services()["worker"]["healthcheck"]["test"])
    assert f":{DEFAULTS.worker_metrics_port}/metrics" in worker_check


def test_workers_get_longer_to_stop_than_they_take_to_drain() -> None:
    grace = services()["worker"]["stop_grace_period"]
    assert grace.endswith("s") and float(grace[:-1]) > DEFAULTS.graceful_shutdown_s


def test_secrets_are_dev_defaults_marked_as_such_or_come_from_outside() -> None:
    lines = COMPOSE.read_text().splitlines()
    for number, line in enumerate(lines):
        if "o2c-dev-password" in line:
            assert "DEV DEFAULT" in line or "DEV DEFAULT" in lines[number - 1], f"line {number + 1}"
            assert "${POSTGRES_PASSWORD:-o2c-dev-password}" in line, f"line {number + 1}: not overridable"
    for service in services().values():
        for name, value in service.get("environment", {}).items():
            if re.search(r"PASSWORD|PWD|SECRET|_KEYS?$", name):
                assert str(value).startswith("${"), name
    for entry in ("deploy/compose/o2c.env", "deploy/compose/.env"):
        assert entry in (ROOT / ".gitignore").read_text().splitlines()


def test_prometheus_loads_the_alert_rules_and_scrapes_every_replica() -> None:
    prometheus = services()["prometheus"]
    # Container path -> the file on the host, for the bind mounts.
    mounts = {target: (COMPOSE_DIR / source).resolve() for source, target, *_ in
              (volume.split(":") for volume in prometheus["volumes"]) if source.startswith(".")}
    assert mounts["/etc/prometheus/prometheus.yml"] == COMPOSE_DIR / "prometheus.yml"
    assert mounts["/etc/prometheus/alerts.yml"] == DEPLOY / "prometheus" / "alerts.yml"
    assert "--config.file=/etc/prometheus/prometheus.yml" in prometheus["command"]
    config = yaml.safe_load((COMPOSE_DIR / "prometheus.yml").read_text())
    assert config["rule_files"] == ["alerts.yml"]  # relative to the configuration file: /etc/prometheus
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    # The alert rules select these job names (up{job=~"o2c-api|o2c-worker"}).
    for job, service, port in (("o2c-api", "api", DEFAULTS.api_port),
                               ("o2c-worker", "worker", DEFAULTS.worker_metrics_port)):
        (discovery,) = jobs[job]["dns_sd_configs"]
        assert discovery["names"] == [service] and discovery["type"] == "A" and discovery["port"] == port


@needs_promtool
def test_promtool_accepts_the_compose_prometheus_configuration(tmp_path: Path) -> None:
    shutil.copy(COMPOSE_DIR / "prometheus.yml", tmp_path / "prometheus.yml")
    shutil.copy(DEPLOY / "prometheus" / "alerts.yml", tmp_path / "alerts.yml")
    assert "SUCCESS" in promtool("check", "config", tmp_path / "prometheus.yml")
