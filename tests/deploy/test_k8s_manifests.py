"""deploy/k8s: the dev and prod overlays rendered (tests/deploy/kustomize_lite.py), every manifest valid
against Kubernetes' own schemas (kubernetes-validate, strict: an unknown field is an error), every O2C_*
variable a real setting, and the probes, ports, shutdown timing, secrets and scaling consistent."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from deploy_support import DEPLOY, IMAGE, runs_an_o2c_command, unknown_o2c_variables
from kustomize_lite import Resource, Unsupported, build, merge

from runtime.settings import Settings

K8S = DEPLOY / "k8s"
OVERLAYS = ("dev", "prod")
KUBERNETES_VERSION = "1.33"
"""The oldest release the manifests are checked against (kubernetes-validate ships its schemas)."""
IMAGE_UID = 10001
"""The Dockerfile's USER."""
DEFAULTS = Settings()


@cache
def rendered(overlay: str) -> tuple[Resource, ...]:
    return tuple(build(K8S / "overlays" / overlay))


def one(overlay: str, kind: str, name: str) -> Resource:
    (found,) = [r for r in rendered(overlay) if r["kind"] == kind and r["metadata"]["name"] == name]
    return found


def pod_spec(resource: Resource) -> dict[str, Any]:
    spec: dict[str, Any] = resource["spec"]["template"]["spec"]
    return spec


def containers(resource: Resource) -> Iterator[dict[str, Any]]:
    spec = pod_spec(resource)
    yield from spec.get("initContainers", [])
    yield from spec["containers"]


def workloads(overlay: str) -> list[Resource]:
    return [r for r in rendered(overlay) if r["kind"] in ("Deployment", "Job")]


def config(overlay: str) -> dict[str, str]:
    data: dict[str, str] = one(overlay, "ConfigMap", "o2c-config")["data"]
    return data


def container_port(container: dict[str, Any], name: str) -> int:
    (port,) = [p["containerPort"] for p in container["ports"] if p["name"] == name]
    return int(port)


def test_the_overlays_use_only_what_the_renderer_implements(tmp_path: Path) -> None:
    for overlay in OVERLAYS:
        assert rendered(overlay)
    (tmp_path / "kustomization.yaml").write_text(f"resources: [{K8S / 'base'}]\nnamePrefix: x-\n")
    with pytest.raises(Unsupported, match="namePrefix"):
        build(tmp_path)


def test_strategic_merge_merges_named_lists_and_replaces_others() -> None:
    base = {"containers": [{"name": "a", "image": "x:1", "args": ["api"]}], "args": [1, 2]}
    patched = merge(base, {"containers": [{"name": "a", "image": "x:2"}, {"name": "b"}], "args": [3]})
    assert patched == {"containers": [{"name": "a", "image": "x:2", "args": ["api"]}, {"name": "b"}], "args": [3]}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_manifest_is_valid_for_kubernetes(overlay: str) -> None:
    problems = []
    for resource in rendered(overlay):
        try:
            kubernetes_validate.validate(resource, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            problems.append(f"{resource['kind']}/{resource['metadata']['name']}: {error.message} at {error.path}")
    assert problems == []


def test_the_validation_can_fail() -> None:
    deployment = dict(one("prod", "Deployment", "o2c-api"))
    deployment["spec"] = {**deployment["spec"], "replica": 3}  # misspelt
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_o2c_variable_set_is_a_setting(overlay: str) -> None:
    names = list(config(overlay))
    for workload in workloads(overlay):
        names += [variable["name"] for container in containers(workload) for variable in container.get("env", [])]
    secrets_example = (K8S / "secrets.env.example").read_text().splitlines()
    names += [line.split("=", 1)[0].lstrip("# ") for line in secrets_example if "=" in line and "O2C_" in line]
    assert unknown_o2c_variables(names) == []
    assert len([n for n in names if n.startswith("O2C_")]) > 10


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_no_secret_is_committed_and_every_o2c_pod_reads_o2c_secrets(overlay: str) -> None:
    assert [r["metadata"]["name"] for r in rendered(overlay) if r["kind"] == "Secret"] == []
    for workload in workloads(overlay):
        if workload["metadata"]["name"] == "o2c-sandbox":
            continue
        for container in containers(workload):
            refs = [source["secretRef"]["name"] for source in container.get("envFrom", []) if "secretRef" in source]
            assert refs == ["o2c-secrets"], container["name"]
    for path in K8S.rglob("*"):
        assert path.suffix != ".env", f"{path}: secrets files are never committed (only *.env.example)"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_images_are_ours_and_tagged_by_the_overlay(overlay: str) -> None:
    tags = {container["image"] for workload in workloads(overlay) for container in containers(workload)}
    assert len(tags) == 1
    (image,) = tags
    assert image.startswith(IMAGE + ":") and not image.endswith(":latest")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_container_runs_an_o2c_command_as_the_image_user(overlay: str) -> None:
    for workload in workloads(overlay):
        security = pod_spec(workload)["securityContext"]
        assert security["runAsNonRoot"] is True and security["runAsUser"] == IMAGE_UID
        for container in containers(workload):
            assert runs_an_o2c_command(container["args"]), container["args"]
            assert container["securityContext"]["allowPrivilegeEscalation"] is False
            assert "memory" in container["resources"]["limits"] and container["resources"]["requests"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_api_probes_are_readyz_and_healthz_on_the_api_port(overlay: str) -> None:
    (api,) = pod_spec(one(overlay, "Deployment", "o2c-api"))["containers"]
    assert api["args"] == ["api"]
    assert container_port(api, "http") == int(config(overlay).get("O2C_API_PORT", DEFAULTS.api_port))
    assert api["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert api["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert config(overlay)["O2C_API_HOST"] == "0.0.0.0"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_worker_probes_its_metrics_port_which_listens_beyond_loopback(overlay: str) -> None:
    (worker,) = pod_spec(one(overlay, "Deployment", "o2c-worker"))["containers"]
    assert worker["args"] == ["worker"]
    port = container_port(worker, "metrics")
    assert port == int(config(overlay).get("O2C_WORKER_METRICS_PORT", DEFAULTS.worker_metrics_port))
    assert config(overlay)["O2C_WORKER_METRICS_HOST"] == "0.0.0.0"
    for probe in ("readinessProbe", "livenessProbe"):
        assert worker[probe]["httpGet"] == {"path": "/metrics", "port": "metrics"}


def _pre_stop_seconds(container: dict[str, Any]) -> float:
    command = container.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", [])
    return float(command[1]) if command[:1] == ["sleep"] else 0.0


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_kubernetes_waits_longer_than_the_worker_drains(overlay: str) -> None:
    drain = float(config(overlay).get("O2C_GRACEFUL_SHUTDOWN_S", DEFAULTS.graceful_shutdown_s))
    for name in ("o2c-worker", "o2c-api"):
        spec = pod_spec(one(overlay, "Deployment", name))
        (container,) = spec["containers"]
        # preStop runs first and counts against the grace period; then SIGTERM starts the drain.
        needed = _pre_stop_seconds(container) + (drain if name == "o2c-worker" else 0.0)
        assert spec["terminationGracePeriodSeconds"] >= needed + 5, name
    assert _pre_stop_seconds(pod_spec(one(overlay, "Deployment", "o2c-api"))["containers"][0]) > 0


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_migrations_run_as_a_job_before_the_pods_start(overlay: str) -> None:
    job = one(overlay, "Job", "o2c-migrate")
    assert [c["args"] for c in pod_spec(job)["containers"]] == [["db", "upgrade"]]
    assert config(overlay)["O2C_DATABASE_AUTO_UPGRADE"] == "false"
    for name in ("o2c-api", "o2c-worker", "o2c-sender"):
        waits = [c["args"] for c in pod_spec(one(overlay, "Deployment", name)).get("initContainers", [])]
        assert waits == [["db", "current"]], name


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_selectors_of_services_budgets_and_the_autoscaler_find_their_pods(overlay: str) -> None:
    deployments = {r["metadata"]["name"]: r for r in rendered(overlay) if r["kind"] == "Deployment"}

    def selected(selector: dict[str, str]) -> list[str]:
        return [name for name, d in deployments.items()
                if selector.items() <= d["spec"]["template"]["metadata"]["labels"].items()]

    for resource in rendered(overlay):
        if resource["kind"] == "Service":
            assert len(selected(resource["spec"]["selector"])) == 1, resource["metadata"]["name"]
        if resource["kind"] == "PodDisruptionBudget":
            assert len(selected(resource["spec"]["selector"]["matchLabels"])) == 1
    for deployment in deployments.values():
        assert deployment["spec"]["selector"]["matchLabels"].items() <= \
            deployment["spec"]["template"]["metadata"]["labels"].items()
    hpa = one(overlay, "HorizontalPodAutoscaler", "o2c-worker")
    assert hpa["spec"]["scaleTargetRef"]["name"] in deployments
    assert 1 <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]
    budgets = {r["metadata"]["name"] for r in rendered(overlay) if r["kind"] == "PodDisruptionBudget"}
    assert budgets == {"o2c-api", "o2c-worker"}


def test_the_overlays_differ_where_they_should() -> None:
    assert one("dev", "Deployment", "o2c-api")["spec"]["replicas"] == 1
    assert one("prod", "Deployment", "o2c-api")["spec"]["replicas"] == 3
    assert config("dev")["O2C_ENV"] == "development" and config("prod")["O2C_ENV"] == "production"
    assert {r["metadata"]["namespace"] for r in rendered("prod")} == {"o2c"}
    assert [r for r in rendered("prod") if r["metadata"]["name"] == "o2c-sandbox"] == []
    sandbox_service = one("dev", "Service", "o2c-sandbox")
    assert config("dev")["O2C_SANDBOX_URL"] == f"http://o2c-sandbox:{sandbox_service['spec']['ports'][0]['port']}"


def test_prod_connects_to_temporal_with_mtls_from_the_mounted_secret() -> None:
    prod = config("prod")
    (worker,) = pod_spec(one("prod", "Deployment", "o2c-worker"))["containers"]
    (mount,) = [m["mountPath"] for m in worker["volumeMounts"] if m["name"] == "temporal-tls"]
    for name in ("O2C_TEMPORAL_TLS_CA_PATH", "O2C_TEMPORAL_TLS_CERT_PATH", "O2C_TEMPORAL_TLS_KEY_PATH"):
        assert prod[name].startswith(mount + "/")
    (volume,) = [v for v in pod_spec(one("prod", "Deployment", "o2c-worker"))["volumes"] if v["name"] == "temporal-tls"]
    assert volume["secret"]["secretName"] == "o2c-temporal-tls"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_scrape_annotations_name_the_ports_that_serve_metrics(overlay: str) -> None:
    for name, port_name in (("o2c-api", "http"), ("o2c-worker", "metrics")):
        deployment = one(overlay, "Deployment", name)
        annotations = deployment["spec"]["template"]["metadata"]["annotations"]
        (container,) = pod_spec(deployment)["containers"]
        assert annotations["prometheus.io/scrape"] == "true"
        assert int(annotations["prometheus.io/port"]) == container_port(container, port_name)
        assert annotations["prometheus.io/path"] == "/metrics"


def test_the_kubernetes_scrape_jobs_are_the_ones_the_alert_rules_select() -> None:
    scrape = yaml.safe_load((K8S / "prometheus.yml").read_text())
    alerts = (DEPLOY / "prometheus" / "alerts.yml").read_text()
    assert 'up{job=~"o2c-api|o2c-worker"}' in alerts
    jobs = {job["job_name"]: job for job in scrape["scrape_configs"]}
    assert set(jobs) == {"o2c-api", "o2c-worker"}
    for job, component in (("o2c-api", "api"), ("o2c-worker", "worker")):
        keeps = {rule["regex"] for rule in jobs[job]["relabel_configs"]
                 if rule.get("source_labels") == ["__meta_kubernetes_pod_label_app_kubernetes_io_component"]}
        assert keeps == {component}
