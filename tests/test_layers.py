"""The walls between the layers (docs/architecture.md), checked rather than hoped for.

- workflows/ holds deterministic workflow code only: importing all of it, in a fresh interpreter, loads
  no HTTP client, database driver, cryptography or Temporal client; and its code calls no clock,
  randomness or environment of its own (Temporal's workflow API gives it time, ids and randomness).
- canonical/ is the domain: it imports nothing of ours but canonical, and reads no environment.
- Only adapters know a vendor's wire format: no other activities module calls the vendor HTTP client or
  imports a vendor's SDK, and the ports (activities/ports/) import nothing of ours but canonical and the
  activity contracts.
"""

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OURS = {"activities", "api", "canonical", "deploy", "runtime", "sandbox", "store", "tools", "workflows", "worker"}
WIRE = (
    "httpx", "httpcore", "aiohttp", "sqlalchemy", "psycopg", "cryptography", "temporalio.client", "standardwebhooks",
)
# Attribute chains workflow code must not call: Temporal's workflow.now(), workflow.uuid4(),
# workflow.random() and timers are the deterministic ones.
NONDETERMINISTIC = {
    ("datetime", "now"), ("datetime", "utcnow"), ("datetime", "today"), ("date", "today"),
    ("time", "time"), ("time", "monotonic"), ("time", "perf_counter"), ("time", "sleep"),
    ("uuid", "uuid1"), ("uuid", "uuid4"), ("os", "environ"), ("os", "getenv"), ("os", "urandom"),
    ("asyncio", "sleep"), ("random", "random"), ("random", "randint"), ("random", "choice"),
}


def modules(package: str) -> list[Path]:
    return sorted(p for p in (ROOT / package).rglob("*.py"))


def dotted(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_importing_every_workflow_module_loads_no_wire_code() -> None:
    code = (
        "import importlib, json, sys\n"
        f"for name in {[dotted(p) for p in modules('workflows')]!r}: importlib.import_module(name)\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.startswith({WIRE!r}))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


@pytest.mark.parametrize("path", modules("workflows"), ids=lambda p: p.name)
def test_workflow_code_calls_no_clock_randomness_or_environment(path: Path) -> None:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and (node.value.id, node.attr) in NONDETERMINISTIC
        ):
            found.append(f"line {node.lineno}: {node.value.id}.{node.attr}")
        if isinstance(node, ast.ImportFrom) and node.module in ("random", "time", "uuid", "os"):
            found.append(f"line {node.lineno}: from {node.module} import …")
    assert found == []


@pytest.mark.parametrize("path", modules("canonical"), ids=lambda p: p.name)
def test_canonical_imports_nothing_of_ours_and_reads_no_environment(path: Path) -> None:
    ours = {name for name in imported(path) if name.split(".")[0] in OURS - {"canonical"}}
    assert ours == set()
    text = path.read_text()
    for reader in ("os.environ", "getenv", "pydantic_settings", "BaseSettings"):
        assert reader not in text, f"{path.name} reads the environment ({reader})"


VENDOR_CALLS = {"call", "read_all"}
"""VendorClient's methods that take a vendor path: only activities/adapters/ calls them."""


def vendor_calls(path: Path) -> list[str]:
    """`http.call(...)`, `self._http.read_all(...)` and the like: a request to a vendor path."""
    return [
        f"line {node.lineno}: {ast.unparse(node.func)}"
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in VENDOR_CALLS
        and ast.unparse(node.func.value).split(".")[-1] in ("http", "_http")
    ]


@pytest.mark.parametrize(
    "path",
    [p for p in modules("activities")
     if "adapters" not in p.parts and p.name != "vendor_http.py"],
    ids=lambda p: str(p.relative_to(ROOT / "activities")),
)
def test_only_adapters_call_vendors(path: Path) -> None:
    assert vendor_calls(path) == []


def test_the_adapters_are_seen_calling_vendors() -> None:
    """The check above can fail: it finds the calls where they belong."""
    assert vendor_calls(ROOT / "activities" / "adapters" / "sandbox_loyalty.py")


@pytest.mark.parametrize("path", modules("activities/ports"), ids=lambda p: p.name)
def test_ports_import_only_canonical_and_contracts(path: Path) -> None:
    ours = {name for name in imported(path) if name.split(".")[0] in OURS}
    assert {name for name in ours if not name.startswith(("canonical", "activities.contracts"))} == set()


VENDOR_SDKS = {"stripe": {"activities/adapters/stripe_payments.py"}}
"""Each vendor SDK o2c depends on, and the adapters that may import it."""


def test_a_vendor_sdk_is_imported_by_its_adapters_only() -> None:
    for sdk, adapters in VENDOR_SDKS.items():
        users = {str(path.relative_to(ROOT)) for package in sorted(OURS - {"worker"}) for path in modules(package)
                 if any(name == sdk or name.startswith(f"{sdk}.") for name in imported(path))}
        assert users == adapters, sdk
