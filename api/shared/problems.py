"""RFC 9457 problem details: every error the API answers is `application/problem+json`.

Clients branch on the stable `type` slug (e.g. `payment-declined`), never on `title` or `detail`,
which are for humans. Validation problems add `errors: [{loc, msg}]`; `loc` is the path into the
request (`["body", "lines", 0, "unit_price"]`) so a client can point at the offending field.
"""

import traceback
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from temporalio.client import RPCTimeoutOrCancelledError
from temporalio.service import RPCError, RPCStatusCode

log = structlog.get_logger("o2c.api")

PROBLEM_JSON = "application/problem+json"

TITLES: dict[str, str] = {
    "bad-request": "Bad request",
    "malformed-json": "Malformed JSON",
    "validation-error": "Invalid request",
    "unauthorized": "Authentication required",
    "forbidden": "Insufficient scope",
    "not-found": "Not found",
    "method-not-allowed": "Method not allowed",
    "invalid-signature": "Invalid webhook signature",
    "order-id-conflict": "Order id already used by a different order",
    "not-cancellable": "Order can no longer be cancelled",
    "payment-declined": "Payment declined",
    "insufficient-points": "Insufficient loyalty points",
    "payment-unavailable": "Payment temporarily unavailable",
    "vendor-unavailable": "A provider checkout needs is unavailable",
    "order-failed": "Order could not be processed",
    "temporal-unavailable": "Order service temporarily unavailable",
    "status-unavailable": "Order status temporarily unavailable",
    "payload-too-large": "Payload too large",
    "internal-error": "Internal server error",
    # Raised with these titles by the code that raises them, or titled from the slug (the same words):
    "not-acceptable": "Not acceptable",
    "unsupported-media-type": "Unsupported media type",
    "too-many-requests": "Too many requests",
    "service-unavailable": "Service unavailable",
    "http-error": "Http error",
    "database-unavailable": "Finance store temporarily unavailable",
    "not-resolvable": "Not resolvable",
    "not-returnable": "Not returnable",
    "over-return": "Over return",
    "return-id-conflict": "Return id conflict",
    "order-closed": "Order closed",
    "endpoint-disabled": "Webhook endpoint disabled",
    "delivery-not-failed": "Delivery is not failed",
    "invalid-payloads": "Invalid payloads",
    "codec-error": "Codec error",
}
"""Every problem `type` the API answers, with its usual title: the OpenAPI document lists these slugs as the
`ProblemType` enum (api/shared/openapi.py), and tests/api/test_openapi_document.py fails on a slug raised in
the code but missing here."""

# Slugs for HTTP errors raised by the framework itself (unknown route, wrong method, ...).
_SLUG_BY_STATUS: dict[int, str] = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    406: "not-acceptable",
    413: "payload-too-large",
    415: "unsupported-media-type",
    429: "too-many-requests",
    500: "internal-error",
    503: "service-unavailable",
}


class FieldError(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    loc: list[str | int]
    """Path to the offending field in the request, e.g. `["body", "lines", 0, "unit_price"]`."""
    msg: str
    """What is wrong with it, for humans."""


class Problem(BaseModel):
    """Documented shape of every error body; extension members (decline_code, errors...) are allowed."""

    model_config = ConfigDict(use_attribute_docstrings=True, extra="allow")

    type: str
    """What went wrong, as a stable slug to branch on (one of ProblemType, e.g. `payment-declined`)."""
    title: str
    """Short summary of the problem type, for humans."""
    status: int
    """The HTTP status code."""
    detail: str | None = None
    """What went wrong in this case, for humans; do not parse."""
    instance: str | None = None
    """The request path that failed."""


PROBLEM: dict[str, Any] = {"model": Problem, "content": {PROBLEM_JSON: {}}}
"""How a route documents a problem answer in its `responses`."""


class ValidationProblem(Problem):
    errors: list[FieldError]
    """Each offending field of the request, with what is wrong with it."""


class PaymentDeclinedProblem(Problem):
    """402 `payment-declined`: the card was declined; the order was rejected and nothing is held."""

    order_id: str
    """The rejected order."""
    decline_code: str | None = None
    """The payment provider's reason, e.g. `generic_decline`, `insufficient_funds`, `card_declined`: show the
    customer a matching message; ask for another card."""


class ProblemError(Exception):
    """Raised anywhere in a request to answer with a problem; rendered by the handler below."""

    def __init__(
        self,
        status: int,
        type: str,
        detail: str | None = None,
        *,
        title: str | None = None,
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail or type)
        self.status = status
        self.type = type
        self.title = title or TITLES.get(type) or type.replace("-", " ").capitalize()
        self.detail = detail
        self.headers = dict(headers or {})
        self.extra = extra


def problem_response(
    status: int,
    type: str,
    detail: str | None = None,
    *,
    instance: str | None = None,
    title: str | None = None,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": type,
        "title": title or TITLES.get(type) or type.replace("-", " ").capitalize(),
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    body.update({k: v for k, v in extra.items() if v is not None})
    return JSONResponse(body, status_code=status, headers=dict(headers or {}), media_type=PROBLEM_JSON)


def field_errors(
    errors: Iterable[Mapping[str, Any]], prefix: Sequence[str | int] = ()
) -> list[dict[str, Any]]:
    """Pydantic errors to `{loc, msg}`. The offending `input` is deliberately dropped: it may be
    personal data (an e-mail address, a card token) and the client already has it."""
    return [{"loc": [*prefix, *e.get("loc", ())], "msg": str(e.get("msg", "invalid value"))} for e in errors]


def validation_problem(errors: Sequence[Mapping[str, Any]], prefix: Sequence[str | int] = ()) -> ProblemError:
    """A 400 `malformed-json` when the body is not JSON at all, else a 422 naming each field."""
    for e in errors:
        if e.get("type") == "json_invalid":
            reason = (e.get("ctx") or {}).get("error")
            detail = "The request body is not valid JSON" + (f": {reason}" if reason else "")
            return ProblemError(400, "malformed-json", detail)
    return ProblemError(
        422,
        "validation-error",
        "The request is not valid; see errors for each field",
        errors=field_errors(errors, prefix),
    )


def payload_too_large(err: RPCError) -> bool:
    """Temporal refused what we sent as too big: over its blob size limit, or over gRPC's message limit.
    Sending it again cannot help, so it is a 4xx, not a 503 "retry shortly" (RESOURCE_EXHAUSTED is
    also rate limiting, which is told apart by the message)."""
    message = err.message.lower()
    return (err.status == RPCStatusCode.INVALID_ARGUMENT and "blob data size exceeds limit" in message) or (
        err.status == RPCStatusCode.RESOURCE_EXHAUSTED and "larger than max" in message)


def rpc_unavailable(err: RPCError) -> bool:
    if payload_too_large(err):
        return False
    return err.status in (
        RPCStatusCode.UNAVAILABLE,
        RPCStatusCode.DEADLINE_EXCEEDED,
        RPCStatusCode.RESOURCE_EXHAUSTED,
        RPCStatusCode.CANCELLED,
    ) or _connection_lost(err)


def _connection_lost(err: RPCError) -> bool:
    """A call in flight when the server went away (e.g. restarting) fails as UNKNOWN "transport error"
    (found by `o2c chaos` restarting Temporal); the next call reconnects, so it is a 503, not a 500."""
    return err.status == RPCStatusCode.UNKNOWN and "transport error" in err.message.lower()


async def _on_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ProblemError)
    return problem_response(
        exc.status,
        exc.type,
        exc.detail,
        instance=request.url.path,
        title=exc.title,
        headers=exc.headers,
        **exc.extra,
    )


async def _on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    slug = _SLUG_BY_STATUS.get(exc.status_code, "http-error")  # one of the documented slugs, always
    detail = exc.detail if isinstance(exc.detail, str) else None
    return problem_response(exc.status_code, slug, detail, instance=request.url.path, headers=exc.headers)


Authorize = Callable[[Request], Awaitable[None]]
"""Runs a route's key and scope checks, raising their 401/403 ProblemError."""


Handler = Callable[[Request, Exception], Awaitable[JSONResponse]]


def _on_validation_error(authorize: Authorize | None) -> Handler:
    async def handler(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        # FastAPI parses a JSON body before the route's dependencies run: check the caller first, so
        # someone without the key learns nothing about how the body was read.
        if authorize is not None:
            try:
                await authorize(request)
            except ProblemError as refused:
                return await _on_problem(request, refused)
        return await _on_problem(request, validation_problem(list(exc.errors())))

    return handler


async def _on_rpc_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RPCError)
    if payload_too_large(exc):
        log.warning("temporal.payload_too_large", rpc_status=exc.status.name)
        return problem_response(413, "payload-too-large", "The request is too large for the workflow engine "
                                "to store; send less (fewer lines, shorter texts)", instance=request.url.path)
    if rpc_unavailable(exc):
        return _temporal_unavailable(request, exc.status.name)
    log.error("temporal.rpc_error", rpc_status=exc.status.name)
    return _internal_error(request.url.path)


async def _on_rpc_cut_off(request: Request, exc: Exception) -> JSONResponse:
    # The client turns an update call's DEADLINE_EXCEEDED/CANCELLED (e.g. the server restarting) into its
    # own error, which is not an RPCError.
    assert isinstance(exc, RPCTimeoutOrCancelledError)
    return _temporal_unavailable(request, "TIMEOUT_OR_CANCELLED")


def _temporal_unavailable(request: Request, rpc_status: str) -> JSONResponse:
    # Temporal unreachable or overloaded: the caller may retry (orders are idempotent by id).
    log.warning("temporal.unavailable", rpc_status=rpc_status)
    return problem_response(
        503,
        "temporal-unavailable",
        "The order service cannot reach its workflow engine; retry shortly",
        instance=request.url.path,
        headers={"Retry-After": "2"},
    )


def _internal_error(instance: str | None) -> JSONResponse:
    # Internals (messages, stack traces) stay in the logs; the correlation id links both.
    return problem_response(500, "internal-error", "An unexpected error occurred", instance=instance)


def install(app: FastAPI, authorize: Authorize | None = None) -> None:
    app.add_exception_handler(ProblemError, _on_problem)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error(authorize))
    app.add_exception_handler(RPCError, _on_rpc_error)
    app.add_exception_handler(RPCTimeoutOrCancelledError, _on_rpc_cut_off)


class CatchAllMiddleware:
    """Turns any unhandled exception into a 500 problem that reveals nothing.

    A plain ASGI middleware rather than an `Exception` handler: Starlette runs those in its outermost
    middleware, outside the correlation middleware, so the 500 would lose its X-Correlation-ID.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            # Log where it failed but not the exception message: messages (e.g. of a pydantic
            # ValidationError) can echo request data, which may be personal.
            frames = [f"{f.filename}:{f.lineno} {f.name}" for f in traceback.extract_tb(exc.__traceback__)]
            log.error("http.unhandled_error", error_type=type(exc).__qualname__, frames=frames[-8:])
            if started:
                raise
            await _internal_error(scope.get("path"))(scope, receive, send)
