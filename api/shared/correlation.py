"""X-Correlation-ID: taken from the caller (if well-formed) or generated, echoed on every response,
bound into every log line of the request, set on the request's span (with the order id, when tracing) and
handed to the workflow, so one id follows an order through API, workflow, activities and vendor calls.

A plain ASGI middleware (not BaseHTTPMiddleware) so the structlog context variables bound here are
the ones the endpoint sees, and the header is added even to error responses.
"""

import re
import time
import uuid

import structlog
from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from runtime.tracing import tag_span_from_log_context

HEADER = "X-Correlation-ID"
_VALID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")

log = structlog.get_logger("o2c.api")


def new_correlation_id() -> str:
    return uuid.uuid4().hex


def accept_or_generate(value: str | None) -> str:
    """Anything else than a short opaque token is replaced, so no caller can inject into our logs."""
    if value and _VALID.match(value):
        return value
    return new_correlation_id()


def correlation_id(request: Request) -> str:
    return getattr(request.state, "correlation_id", None) or new_correlation_id()


class CorrelationMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cid = accept_or_generate(Headers(scope=scope).get(HEADER))
        scope.setdefault("state", {})["correlation_id"] = cid
        started = time.perf_counter()
        status = 500

        async def send_with_header(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)[HEADER] = cid
                # Now, not after the answer: the request span ends with its last byte. By now the route has bound
                # the order id into the log context.
                tag_span_from_log_context()
            await send(message)

        # Start from a clean log context: nothing bound for an earlier request may leak into this one.
        structlog.contextvars.clear_contextvars()
        with structlog.contextvars.bound_contextvars(correlation_id=cid):
            try:
                await self.app(scope, receive, send_with_header)
            finally:
                # Method, route path and status only: never headers (API keys) or bodies (personal data).
                log.info(
                    "http.request",
                    method=scope.get("method"),
                    path=scope.get("path"),
                    status=status,
                    duration_ms=round((time.perf_counter() - started) * 1000, 1),
                )
