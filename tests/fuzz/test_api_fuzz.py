"""Fuzzing the public API with schemathesis: every operation of the app's OpenAPI document, against the
real stack (Temporal dev server, sandbox, worker, API processes), with a key that holds every scope.

Checks per answer: never a 5xx (503 is the documented "try again" of an unreachable dependency and is
allowed only where documented), the body matches the documented schema for its status, and the status
itself is one the operation documents. The schema comes from the app object, so the operations are
known at collection time and each is its own test; examples are bounded so the run stays short.
"""

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.app import create_app
from canonical.settings import DEV_API_KEYS, Settings
from deploy.stack import LocalStack

pytestmark = [pytest.mark.e2e]

FUZZ_KEY = "fuzz-every-scope-key"
SCOPES = sorted({scope for scopes in DEV_API_KEYS.values() for scope in scopes})
MAX_EXAMPLES = 12

# The document as the app serves it at /openapi.json (no process needed to build it).
schema = schemathesis.openapi.from_dict(create_app(Settings(database_url="sqlite://")).openapi())
# The coverage phase's deterministic boundary cases are unbounded by max_examples (hundreds per
# operation); the fuzzing phase, positive and negative, within MAX_EXAMPLES keeps the run short.
schema.config.phases.coverage.enabled = False


@pytest.fixture(scope="module")
def fuzz_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    data = Path(tmp_path_factory.mktemp("fuzz"))
    env = {
        "O2C_API_KEYS": json.dumps({FUZZ_KEY: SCOPES}),
        "O2C_ACCEPT_TIMEOUT_S": "2",
        "SANDBOX_DISPATCH_DELAY_S": "0.2",
        "O2C_WEBHOOK_RETRY_SCHEDULE_S": "[0]",
        "O2C_WEBHOOK_DELIVERY_TIMEOUT_S": "1",
    }
    with LocalStack.on_free_ports(data, Settings(), env=env) as stack:
        yield stack


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_operation(case: schemathesis.Case, fuzz_stack: LocalStack) -> None:
    case.call_and_validate(
        base_url=fuzz_stack.api_url,
        headers={"Authorization": f"Bearer {FUZZ_KEY}"},
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ],
        timeout=30,
    )
