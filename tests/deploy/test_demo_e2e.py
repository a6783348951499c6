"""`o2c demo --exit` against the whole local stack, as a user runs it: every demo order ends as expected,
one of them parked for support, and the output (in 100 columns) ends with the dev keys and next steps.

Runs the installed console script on a temporary data directory and free ports, twice: the second
run reuses the data directory, so the same orders are replayed (200) rather than placed again.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from deploy.stack import free_ports
from tools.demo import SCENARIOS

pytestmark = [pytest.mark.e2e]

O2C = Path(sys.executable).parent / "o2c"


def run_o2c_demo(env: dict[str, str], timeout_s: float = 300.0) -> tuple[int, str]:
    proc = subprocess.Popen(
        [str(O2C), "demo", "--exit"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        output, _ = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        # SIGTERM first: o2c then stops its children; a bare SIGKILL would orphan them.
        proc.send_signal(signal.SIGTERM)
        try:
            output, _ = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            output, _ = proc.communicate()
        pytest.fail(f"o2c demo --exit did not finish in {timeout_s}s:\n{output}")
    return proc.returncode, output


def table_rows(output: str) -> dict[str, list[str]]:
    names = {scenario.name for scenario in SCENARIOS}
    rows: dict[str, list[str]] = {}
    for line in output.splitlines():
        cells = re.split(r"\s{2,}", line.strip())
        if cells and cells[0] in names:
            rows[cells[0]] = cells
    return rows


def test_o2c_demo_exit_brings_every_demo_order_to_its_expected_status(tmp_path: Path) -> None:
    api, sandbox, temporal, ui = free_ports(4)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("O2C_", "SANDBOX_"))},
        "O2C_DATA_DIR": str(tmp_path / "data"),
        "O2C_API_PORT": str(api),
        "O2C_SANDBOX_PORT": str(sandbox),
        "O2C_TEMPORAL_PORT": str(temporal),
        "O2C_TEMPORAL_UI_PORT": str(ui),
        "SANDBOX_DISPATCH_DELAY_S": "0.2",
    }

    for attempt in ("first run", "second run on the same data"):
        code, output = run_o2c_demo(env)
        logs = tmp_path / "data" / "logs"
        context = f"{attempt}:\n{output}\n(logs in {logs})"
        assert code == 0, context
        rows = table_rows(output)
        assert set(rows) == {scenario.name for scenario in SCENARIOS}, context
        for scenario in SCENARIOS:
            # scenario, order id, POST, status, ok, money
            row = rows[scenario.name]
            assert row[1] == scenario.order_id, context
            assert row[3] == scenario.expected_status, context
            assert row[4] == "yes", context
        assert rows["parked for support"][5].startswith("at risk EUR "), context
        assert rows["declined card"][5] == rows["customer cancel"][5] == "nothing charged", context
        if attempt.startswith("second"):
            assert rows["happy path"][2] == "200", context  # replayed, not placed twice
            assert rows["parked for support"][2] == "200", context
        # From the demo on (the stack's lines above show paths as long as the data directory's).
        widest = max(output[output.index("POST /v1/orders"):].splitlines(), key=len)
        assert len(widest) <= 100, f"{len(widest)} columns: {widest}\n{context}"
        steps = output[output.index("Next steps:"):]
        assert f"http://127.0.0.1:{ui}/namespaces/default/workflows?query=OrderStatus%3D%22needs_attention%22" in steps
        assert f"http://127.0.0.1:{api}/v1/orders/DEMO-PARKED-1/resolve" in steps, context
        assert f"http://127.0.0.1:{api}/v1/erp-postings > erp-postings.csv" in steps, context
        assert "support-dev-key" in output[output.index("Dev API keys"):], context
