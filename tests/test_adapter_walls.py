"""Ports speak canonical terms only, and a vendor's SDK is known to its adapter alone (README "Adding a
vendor")."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
O2C = ("activities", "api", "canonical", "deploy", "runtime", "store", "tools", "workflows")
VENDOR_SDKS = {"stripe": {"activities/adapters/stripe_payments.py"}}


def imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", sorted((ROOT / "activities" / "ports").glob("*.py")), ids=lambda p: p.name)
def test_a_port_imports_only_canonical_and_contracts(path: Path) -> None:
    ours = {name for name in imports(path) if name.split(".")[0] in O2C}
    assert all(name.startswith(("canonical", "activities.contracts")) for name in ours), ours


def test_a_vendor_sdk_is_imported_by_its_adapter_only() -> None:
    for sdk, allowed in VENDOR_SDKS.items():
        users = {str(path.relative_to(ROOT)) for folder in O2C for path in (ROOT / folder).rglob("*.py")
                 if any(name == sdk or name.startswith(f"{sdk}.") for name in imports(path))}
        assert users == allowed, sdk
