"""The OpenAPI document says what the API really answers, in a form client generators turn into a good client.

FastAPI documents a response given as `{"model": Problem, "content": {"application/problem+json": {}}}`
with the schema under `application/json` and an empty `application/problem+json`, and adds its own
`422 HTTPValidationError` (as `application/json`) to every operation with parameters. The API answers
every error as `application/problem+json` (api/problems.py), so a client generated from the document, or
a schema check, would expect the wrong shape (found by fuzzing, tests/fuzz). This rewrites the document
once, when it is first built:

- every 4xx/5xx response is `application/problem+json` with `Problem` (422: `ValidationProblem`; a route
  that names a more specific problem, such as `PaymentDeclinedProblem`, keeps it);
- a problem's `type` is the `ProblemType` enum, every slug the API answers (problems.TITLES);
- operations with a body also document `400 malformed-json` and `413 payload-too-large` (api/body_limit.py);
  protected operations `401`/`403`, and the scopes a key needs: in the description, as the security
  requirement's roles and as `x-scopes`;
- request body examples (api/shared/request_examples.py);
- the response headers: `X-Correlation-ID` on every answer, `Retry-After` on 503s, `Location` where an
  operation sets it.
"""

import json
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from pydantic import TypeAdapter

from api.shared.auth import route_scopes
from api.shared.problems import PROBLEM_JSON, TITLES
from api.shared.request_examples import REQUEST_EXAMPLES

_REF = "#/components/schemas/"
_TITLES = {"400": "Bad Request", "401": "Unauthorized", "403": "Forbidden", "413": "Content Too Large",
           "422": "Unprocessable Entity"}
_PROBLEM_MODELS = ("Problem", "ValidationProblem", "PaymentDeclinedProblem")
_STRING = {"schema": {"type": "string"}}
CORRELATION_HEADER = {"X-Correlation-ID": {
    "description": "The request's correlation id (the caller's, if it sent a valid one): quote it to support; "
    "it is in every log line of the request.", **_STRING}}
RETRY_AFTER_HEADER = {"Retry-After": {"description": "Seconds to wait before sending the request again.",
                                      "schema": {"type": "integer"}}}
LOCATION_HEADER = {"Location": {"description": "Where to read what was created or started (GET it).", **_STRING}}
LOCATIONS: dict[str, tuple[str, ...]] = {
    "create_order": ("201", "202"),
    "start_reconciliation_run": ("200", "202"),
}
"""Operations that answer a Location header, and with which statuses."""


def operation_id(route: APIRoute) -> str:
    """The handler's name (`create_order`), or the decorator's `operation_id`: what a generated client names
    its functions, instead of FastAPI's `create_order_v1_orders_post`."""
    return route.name


def install(app: FastAPI) -> None:
    build = app.openapi
    fixed: list[dict[str, Any]] = []

    def openapi() -> dict[str, Any]:
        if not fixed:
            doc = problems_everywhere(named_by_title(build()))
            doc = document_scopes(document_headers(doc), operation_scopes(app.routes))
            fixed.append(document_examples(doc))
        return fixed[0]

    app.openapi = openapi  # type: ignore[method-assign]


def inline_schema(model: Any) -> dict[str, Any]:
    """The JSON schema of a pydantic type with its definitions inlined: for a body documented by hand
    (openapi_extra), whose `#/$defs/...` references would otherwise point into the wrong document."""
    schema = TypeAdapter(model).json_schema()
    definitions = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return inline(definitions[node["$ref"].rsplit("/", 1)[-1]])
            # A discriminator's mapping names definitions by reference too; each branch's `const` says it.
            return {key: inline(value) for key, value in node.items() if key != "discriminator"}
        if isinstance(node, list):
            return [inline(item) for item in node]
        return node

    inlined: dict[str, Any] = inline(schema)
    return inlined


def _operations(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [operation for operations in doc.get("paths", {}).values() for operation in operations.values()]


def _problem_model(code: str, response: dict[str, Any]) -> str:
    named = response.get("content", {}).get("application/json", {}).get("schema", {}).get("$ref", "")
    model = named.removeprefix(_REF)
    if model in _PROBLEM_MODELS:
        return model
    return "ValidationProblem" if code == "422" else "Problem"


def named_by_title(doc: dict[str, Any]) -> dict[str, Any]:
    """`ReturnDecision-Input` → its title (`ReturnResolveBody`): two models of one name get FastAPI's -Input and
    -Output keys, which generators name by title and then refuse as duplicates."""
    schemas: dict[str, Any] = doc.get("components", {}).get("schemas", {})
    renames = {key: schema["title"] for key, schema in schemas.items()
               if key.endswith(("-Input", "-Output")) and schema.get("title") and schema["title"] not in schemas}
    if len(set(renames.values())) != len(renames):
        return doc  # titles clash too: leave FastAPI's keys
    text = json.dumps(doc)
    for key, title in renames.items():
        text = text.replace(f'"{_REF}{key}"', f'"{_REF}{title}"')
    renamed: dict[str, Any] = json.loads(text)
    found = renamed.get("components", {}).get("schemas", {})
    for key, title in renames.items():
        found[title] = found.pop(key)
    return renamed


def problems_everywhere(doc: dict[str, Any]) -> dict[str, Any]:
    for operation in _operations(doc):
        responses: dict[str, Any] = operation.setdefault("responses", {})
        if "requestBody" in operation:
            responses.setdefault("400", {})
            responses.setdefault("413", {})
        if operation.get("security"):
            responses.setdefault("401", {})
            responses.setdefault("403", {})
        for code, response in responses.items():
            if code[:1] in ("4", "5"):
                model = _problem_model(code, response)
                response.setdefault("description", _TITLES.get(code, "Error"))
                response["content"] = {PROBLEM_JSON: {"schema": {"$ref": _REF + model}}}
    schemas: dict[str, Any] = doc.get("components", {}).get("schemas", {})
    if "ValidationProblem" in schemas or "Problem" in schemas:
        for unused in ("HTTPValidationError", "ValidationError"):
            schemas.pop(unused, None)
        schemas["ProblemType"] = {
            "title": "ProblemType",
            "type": "string",
            "enum": sorted(TITLES),
            "description": "A problem's `type`: what went wrong, as a slug to branch on.\n\n"
            + "\n".join(f"- `{slug}`: {title}" for slug, title in sorted(TITLES.items())),
        }
        for model in _PROBLEM_MODELS:
            typed = schemas.get(model, {}).get("properties", {}).get("type")
            if typed is not None:
                typed.pop("type", None)
                typed["$ref"] = _REF + "ProblemType"
    return doc


def document_headers(doc: dict[str, Any]) -> dict[str, Any]:
    for operation in _operations(doc):
        locations = LOCATIONS.get(operation.get("operationId", ""), ())
        for code, response in operation.get("responses", {}).items():
            headers = response.setdefault("headers", {})
            headers.update(CORRELATION_HEADER)
            if code == "503":
                headers.update(RETRY_AFTER_HEADER)
            if code in locations:
                headers.update(LOCATION_HEADER)
    return doc


def operation_scopes(routes: list[Any]) -> dict[str, list[str]]:
    """Operation id -> the scopes of which a key needs one, read from each route's ScopeGuard."""
    found: dict[str, list[str]] = {}
    for route in routes:
        if hasattr(route, "effective_candidates"):  # an included router (FastAPI keeps them nested)
            found.update(operation_scopes(route.effective_candidates()))
            continue
        original = getattr(route, "original_route", route)
        if isinstance(original, APIRoute) and (scopes := route_scopes(original.dependant)):
            found[route.unique_id] = scopes
    return found


def document_scopes(doc: dict[str, Any], scopes: dict[str, list[str]]) -> dict[str, Any]:
    for operation in _operations(doc):
        needed = scopes.get(operation.get("operationId", ""))
        if not needed or not operation.get("security"):
            continue
        operation["x-scopes"] = needed
        # Alternatives: a key with any one of these roles may call the operation.
        operation["security"] = [{name: [scope]} for scope in needed for name in operation["security"][0]]
        listed = ", ".join(f"`{scope}`" for scope in needed)
        need = f"Scope: {listed}." if len(needed) == 1 else f"Scopes: a key with one of {listed}."
        operation["description"] = (operation.get("description", "") + "\n\n" + need).strip()
    return doc


def document_examples(doc: dict[str, Any]) -> dict[str, Any]:
    for operation in _operations(doc):
        examples = REQUEST_EXAMPLES.get(operation.get("operationId", ""))
        body = operation.get("requestBody", {}).get("content", {}).get("application/json")
        if examples and body is not None:
            body["examples"] = examples
    return doc
