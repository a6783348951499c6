import httpx
import pytest

from api.app import create_app
from api.shared.problems import ProblemError, validation_problem

from .conftest import COMMERCE, NoTemporal, assert_problem


@pytest.mark.asyncio
async def test_unknown_route_is_a_404_problem(http):
    r = await http.get("/v2/nothing")
    body = assert_problem(r, 404, "not-found")
    assert body["instance"] == "/v2/nothing"


@pytest.mark.asyncio
async def test_wrong_method_is_a_405_problem(http):
    r = await http.delete("/v1/orders", headers=COMMERCE)
    assert_problem(r, 405, "method-not-allowed")
    assert "allow" in r.headers


def _app_with_route(settings, exc: Exception):
    app = create_app(settings, client=NoTemporal())

    @app.get("/boom")
    async def boom() -> None:
        raise exc

    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api.test")


@pytest.mark.asyncio
async def test_problem_error_renders_rfc9457_with_extensions(settings):
    exc = ProblemError(
        402, "payment-declined", "Your card was declined.", order_id="O-1", decline_code="do_not_honor"
    )
    async with _app_with_route(settings, exc) as http:
        r = await http.get("/boom")
    body = assert_problem(r, 402, "payment-declined")
    assert body == {
        "type": "payment-declined",
        "title": "Payment declined",
        "status": 402,
        "detail": "Your card was declined.",
        "instance": "/boom",
        "order_id": "O-1",
        "decline_code": "do_not_honor",
    }


@pytest.mark.asyncio
async def test_unhandled_error_is_a_500_that_hides_internals(settings):
    async with _app_with_route(settings, RuntimeError("db password is hunter2 for ana@example.com")) as http:
        r = await http.get("/boom", headers={"X-Correlation-ID": "support-ref-1"})
    body = assert_problem(r, 500, "internal-error")
    assert "hunter2" not in r.text and "RuntimeError" not in r.text and "Traceback" not in r.text
    assert body["detail"] == "An unexpected error occurred"
    # The correlation id survives the 500, so support can find the logged error.
    assert r.headers["x-correlation-id"] == "support-ref-1"


def test_json_decode_errors_become_malformed_json():
    problem = validation_problem(
        [
            {
                "type": "json_invalid",
                "loc": ("body", 3),
                "msg": "JSON decode error",
                "ctx": {"error": "Expecting value"},
            }
        ]
    )
    assert (problem.status, problem.type) == (400, "malformed-json")
    assert "Expecting value" in (problem.detail or "")


def test_field_errors_keep_loc_and_msg_but_drop_input():
    problem = validation_problem(
        [
            {
                "type": "string_pattern_mismatch",
                "loc": ("customer", "email"),
                "msg": "bad",
                "input": "ana@example.com",
            }
        ],
        prefix=("body",),
    )
    assert problem.status == 422
    assert problem.extra["errors"] == [{"loc": ["body", "customer", "email"], "msg": "bad"}]
