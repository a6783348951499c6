"""The OpenAPI document says what the API really answers for errors (found by fuzzing, tests/fuzz).

FastAPI documents a response given as `{"model": Problem, "content": {"application/problem+json": {}}}`
with the schema under `application/json` and an empty `application/problem+json`, and adds its own
`422 HTTPValidationError` (as `application/json`) to every operation with parameters. The API answers
every error as `application/problem+json` (api/problems.py), so a client generated from the document, or
a schema check, would expect the wrong shape. This rewrites the document once, when it is first built:

- every 4xx/5xx response is `application/problem+json` with `Problem` (422: `ValidationProblem`);
- operations with a body also document `400 malformed-json` and `413 payload-too-large` (api/body_limit.py);
  protected operations `401`/`403`.
"""

from typing import Any

from fastapi import FastAPI
from pydantic import TypeAdapter

from api.shared.problems import PROBLEM_JSON

_REF = "#/components/schemas/"
_TITLES = {"400": "Bad Request", "401": "Unauthorized", "403": "Forbidden", "413": "Content Too Large",
           "422": "Unprocessable Entity"}


def install(app: FastAPI) -> None:
    build = app.openapi
    fixed: list[dict[str, Any]] = []

    def openapi() -> dict[str, Any]:
        if not fixed:
            fixed.append(problems_everywhere(build()))
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


def problems_everywhere(doc: dict[str, Any]) -> dict[str, Any]:
    for operations in doc.get("paths", {}).values():
        for operation in operations.values():
            responses: dict[str, Any] = operation.setdefault("responses", {})
            if "requestBody" in operation:
                responses.setdefault("400", {})
                responses.setdefault("413", {})
            if operation.get("security"):
                responses.setdefault("401", {})
                responses.setdefault("403", {})
            for code, response in responses.items():
                if code[:1] in ("4", "5"):
                    model = "ValidationProblem" if code == "422" else "Problem"
                    response.setdefault("description", _TITLES.get(code, "Error"))
                    response["content"] = {PROBLEM_JSON: {"schema": {"$ref": _REF + model}}}
    schemas: dict[str, Any] = doc.get("components", {}).get("schemas", {})
    if "ValidationProblem" in schemas or "Problem" in schemas:
        for unused in ("HTTPValidationError", "ValidationError"):
            schemas.pop(unused, None)
    return doc
