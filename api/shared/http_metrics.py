"""The API's Prometheus metrics: requests by method, route and status, and their durations, on GET /metrics.

`route` is the route template (`/v1/orders/{order_id}`), never the path a caller sent, so one label value
stands for every order and a scanner cannot grow the series. A plain ASGI middleware (not
BaseHTTPMiddleware): it sits on the checkout's hot path, and, outermost, it also counts the answers no route
gave (413 from the body limit, under `route="unrouted"`).

GET /metrics is public, like /healthz and /readyz (design §5): figures only, no order, customer or key. Each
app has its own registry, so apps made side by side (tests) do not count each other's requests. Each API
process counts its own: behind `uvicorn --workers N` one scrape sees one process; run one process per
container (or scrape each) for whole figures.
"""

import time
from typing import Any

from fastapi import FastAPI
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PATH = "/metrics"
UNROUTED = "unrouted"
"""The route label of a request no route took: a 404, or an answer given before routing (413 from the body
limit). One value, whatever the path."""
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class HttpMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "o2c_http_requests", "HTTP requests answered, by method, route template and status",
            ["method", "route", "status"], registry=self.registry)
        self.duration = Histogram(
            "o2c_http_request_duration_seconds", "Time from request to the end of the answer, by route template",
            ["method", "route"], registry=self.registry)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        method = method if method in _METHODS else "other"
        self.requests.labels(method, route, str(status)).inc()
        self.duration.labels(method, route).observe(seconds)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


def route_template(scope: Scope) -> str:
    """The template of the route that took the request (the router notes it in the scope)."""
    route: Any = scope.get("route")
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    return str(template) if template else UNROUTED


class HttpMetricsMiddleware:
    def __init__(self, app: ASGIApp, metrics: HttpMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # unless an answer starts: an exception that escapes everything is a 500 to the caller

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            self.metrics.observe(scope["method"], route_template(scope), status,
                                 time.perf_counter() - started)


def install(app: FastAPI) -> HttpMetrics:
    """Count every request of `app` and serve the figures on GET /metrics. Add it last: outermost, it
    measures the whole answer, the other middleware's included."""
    metrics = HttpMetrics()
    app.add_middleware(HttpMetricsMiddleware, metrics=metrics)

    # Not in the OpenAPI document: it is Prometheus' text format for a scraper, not part of the JSON API.
    @app.get(PATH, include_in_schema=False)
    async def prometheus_metrics() -> Response:
        return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    return metrics
