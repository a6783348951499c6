"""`o2c certify` over real HTTP against a sandbox process: the payments suite passes against the sandbox's own
router and its Stripe router, and fails, exit 1, with findings naming the broken checks, against the Stripe
router with its defects on (idempotency ignored, errors in a flat shape the Stripe adapter cannot read). The
loyalty, inventory, fulfilment and ERP suites pass against the sandbox's routers, and fail, naming the checks,
while the vendor is down."""

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from deploy.cli import main
from deploy.ports import free_ports, port_open


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("sandbox")
    [port, nobody] = free_ports(2)
    # The fulfilment suite's dispatch is announced by webhook: to a port nobody listens on, not a stack's API.
    env = {**os.environ, "SANDBOX_DB_PATH": str(data / "sandbox.db"), "O2C_SANDBOX_PORT": str(port),
           "O2C_DATA_DIR": str(data), "O2C_LOG_LEVEL": "WARNING",
           "SANDBOX_WEBHOOK_URL": f"http://127.0.0.1:{nobody}/v1/webhooks/fulfillment"}
    with (data / "log").open("wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "deploy.cli", "sandbox"], env=env, stdout=log,
                                   stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while not port_open("127.0.0.1", port):
            assert process.poll() is None and time.monotonic() < deadline, (data / "log").read_text()
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)


def certify(tmp_path: Path, adapter: str, base_url: str, capsys: pytest.CaptureFixture[str], role: str = "payments"
            ) -> tuple[int, dict[str, Any], str, str]:
    report = tmp_path / "report.json"
    code = main(["certify", role, "--adapter", adapter, "--base-url", base_url, "--vendor-timeout", "1",
                 "--json", str(report), "--certificate", str(tmp_path / "certificate.md")])
    return code, json.loads(report.read_text()), (tmp_path / "certificate.md").read_text(), capsys.readouterr().out


def failing(report: dict[str, Any]) -> dict[str, str]:
    return {f["check"]: f["reason"] for f in report["findings"] if not f["passed"]}


def test_the_sandbox_adapter_passes(sandbox: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, report, certificate, out = certify(tmp_path, "sandbox", f"{sandbox}/payments", capsys)
    assert (code, failing(report)) == (0, {})
    assert report["passed"] and len(report["findings"]) == 16 and report["run_id"].startswith("cert-")
    assert "**PASSED**" in certificate and f"| endpoint | {sandbox}/payments |" in certificate
    assert "payments / sandbox" in out and ": PASSED" in out


def test_stripe_passes_against_the_healthy_router_and_fails_against_the_broken_one(
        sandbox: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, report, _, _ = certify(tmp_path, "stripe", f"{sandbox}/stripe", capsys)
    assert (code, failing(report)) == (0, {})

    httpx.put(f"{sandbox}/_sandbox/stripe/defects", json={"ignore_idempotency": True, "flat_errors": True})
    try:
        code, report, certificate, out = certify(tmp_path, "stripe", f"{sandbox}/stripe", capsys)
    finally:
        httpx.put(f"{sandbox}/_sandbox/stripe/defects", json={"ignore_idempotency": False, "flat_errors": False})
    found = failing(report)
    assert code == 1 and not report["passed"]
    assert {"idempotency.authorize", "idempotency.capture", "error_shape", "rejection.card_declined"} <= set(found)
    assert "two authorizations" in found["idempotency.authorize"]
    assert "not the documented error shape" in found["error_shape"]
    assert "expected business_rejection `card_declined`" in found["rejection.card_declined"]
    assert "**FAILED**" in certificate and "| `error_shape` | **FAIL** |" in certificate
    assert "FAIL" in out and "FAILED (" in out


# The checks each suite must run: a suite that loses one fails here, not silently.
SUITES = {
    "loyalty": {"reserve", "spend", "release", "earn", "take_back", "give_back", "lookup.missing",
                "idempotency.reserve", "idempotency.spend", "rejection.insufficient_points"},
    "inventory": {"allocate", "release.lines", "release.all", "commit", "restock", "lookup.missing",
                  "idempotency.allocate", "idempotency.release", "idempotency.commit", "rejection.out_of_stock"},
    "fulfillment": {"request_shipment", "cancel_shipment_request", "request_return", "lookup.missing",
                    "idempotency.request_shipment", "idempotency.request_return", "rejection.already_dispatched"},
    "erp": {"book_sales_order", "post_invoice", "post_credit_memo", "cancel_sales_order", "lookup.missing",
            "idempotency.sales_order", "idempotency.invoice", "rejection.validation_error",
            "rejection.document_cancelled"},
}
VENDOR_CHECKS = {"error_shape", "retry_after.429", "retry_after.503", "timeout"}


@pytest.mark.parametrize("role", list(SUITES))
def test_each_role_passes_against_the_sandbox_and_fails_while_its_vendor_is_down(
        role: str, sandbox: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, report, certificate, out = certify(tmp_path, "sandbox", f"{sandbox}/{role}", capsys, role)
    assert (code, failing(report)) == (0, {})
    assert {f["check"] for f in report["findings"]} == SUITES[role] | VENDOR_CHECKS
    assert "**PASSED**" in certificate and f"{role} / sandbox" in out and ": PASSED" in out

    httpx.put(f"{sandbox}/_sandbox/faults/{role}", json={"outage": True})
    try:
        code, report, certificate, _ = certify(tmp_path, "sandbox", f"{sandbox}/{role}", capsys, role)
    finally:
        httpx.delete(f"{sandbox}/_sandbox/faults")
    found = failing(report)
    # Every check that reaches the vendor fails and says so; the proxy's own answers still pass.
    assert code == 1 and set(found) == SUITES[role] | {"error_shape"}
    assert found.pop("error_shape").startswith("the vendor gave no 4xx answer to ")
    assert all("transient" in reason and "service_unavailable" in reason and "503" in reason
               for reason in found.values()), found
    assert "**FAILED**" in certificate
