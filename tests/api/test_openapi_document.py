"""The OpenAPI document reads well in a generated client (issue 14): explicit operation ids, every schema
property described, problem types as a closed enum that covers every slug the code raises, scopes and
response headers per operation, the CSV export its own text/csv operation.
"""

import re
from pathlib import Path
from typing import Any

import pytest

from api.app import create_app
from api.shared.problems import TITLES
from runtime.settings import Settings

API = Path(__file__).resolve().parents[2] / "api"
RAISED_SLUG = re.compile(r"(?:ProblemError|problem_response)\(\s*\d{3},\s*\"([a-z0-9-]+)\"")


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return create_app(Settings(database_url="sqlite://")).openapi()


def _operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method.upper(), path, op) for path, ops in doc["paths"].items() for method, op in ops.items()]


def test_operation_ids_are_the_handlers_names(doc: dict[str, Any]) -> None:
    ids = {f"{m} {p}": op["operationId"] for m, p, op in _operations(doc)}
    assert all(re.fullmatch(r"[a-z]+(_[a-z0-9]+)*", i) and "_v1_" not in i for i in ids.values()), ids
    assert len(set(ids.values())) == len(ids)
    assert ids["POST /v1/orders"] == "create_order"
    assert ids["POST /v1/orders/{order_id}/returns"] == "request_return"
    assert ids["GET /v1/erp-postings/summary"] == "erp_posting_summary"
    assert ids["POST /v1/reconciliation/runs"] == "start_reconciliation_run"


def test_every_schema_property_has_a_description(doc: dict[str, Any]) -> None:
    missing = [f"{name}.{prop}" for name, schema in doc["components"]["schemas"].items()
               for prop, spec in schema.get("properties", {}).items() if not spec.get("description")]
    assert missing == [], f"{len(missing)} properties without a description (an attribute docstring): {missing}"
    unit_price = doc["components"]["schemas"]["OrderLine"]["properties"]["unit_price"]["description"]
    assert "minor units" in unit_price


def test_problem_type_is_an_enum_of_every_slug_the_code_raises(doc: dict[str, Any]) -> None:
    raised = {slug for source in API.rglob("*.py") for slug in RAISED_SLUG.findall(source.read_text())}
    assert raised, "the pattern finds the problems raised"
    assert raised <= set(TITLES), f"slugs raised but missing from problems.TITLES: {raised - set(TITLES)}"
    schemas = doc["components"]["schemas"]
    assert set(schemas["ProblemType"]["enum"]) == set(TITLES)
    for model in ("Problem", "ValidationProblem", "PaymentDeclinedProblem"):
        assert schemas[model]["properties"]["type"]["$ref"] == "#/components/schemas/ProblemType"
    declined = doc["paths"]["/v1/orders"]["post"]["responses"]["402"]["content"]["application/problem+json"]
    assert declined["schema"]["$ref"] == "#/components/schemas/PaymentDeclinedProblem"
    assert "decline_code" in schemas["PaymentDeclinedProblem"]["properties"]


def test_scopes_and_headers_per_operation(doc: dict[str, Any]) -> None:
    cancel = doc["paths"]["/v1/orders/{order_id}/cancel"]["post"]
    assert cancel["x-scopes"] == ["orders:cancel", "orders:support", "orders:write"]
    assert {scope for requirement in cancel["security"] for scope in requirement["HTTPBearer"]} == set(
        cancel["x-scopes"])
    assert "`orders:support`" in cancel["description"]
    for method, path, op in _operations(doc):
        for code, response in op["responses"].items():
            assert "X-Correlation-ID" in response.get("headers", {}), f"{method} {path} {code}"
            if code == "503":
                assert "Retry-After" in response["headers"], f"{method} {path}"
    created = doc["paths"]["/v1/orders"]["post"]["responses"]
    assert "Location" in created["201"]["headers"] and "Location" in created["202"]["headers"]


def test_csv_is_its_own_operation(doc: dict[str, Any]) -> None:
    export = doc["paths"]["/v1/erp-postings/export.csv"]["get"]
    assert list(export["responses"]["200"]["content"]) == ["text/csv"]
    listing = doc["paths"]["/v1/erp-postings"]["get"]
    assert next(iter(listing["responses"]["200"]["content"])) == "application/json"
    assert "accept" not in {p["name"].lower() for p in listing.get("parameters", [])}
