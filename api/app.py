"""The FastAPI application factory.

Run with `uvicorn --factory api.app:create_app`: there is deliberately no module-level app, so
importing this module connects to nothing and reads no environment.
"""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from api.finance import reconciliation
from api.finance import routes as finance
from api.ops import health
from api.ops import page as ops_page
from api.ops import vendors as ops_vendors
from api.orders import returns
from api.orders import routes as orders
from api.shared import docs_pages, http_metrics, openapi, problems, request_tracing
from api.shared import store as store_access
from api.shared.auth import Keyring, authorize_route
from api.shared.body_limit import BodyLimitMiddleware
from api.shared.correlation import CorrelationMiddleware
from api.shared.temporal import TemporalGateway
from api.support import codec
from api.webhooks import endpoints as webhook_endpoints
from api.webhooks import inbound as webhooks
from api.webhooks import loyalty as loyalty_webhooks
from runtime.logging import configure_logging
from runtime.settings import Settings, get_settings
from runtime.tracing import API_SERVICE, start_tracing, stop_tracing


def create_app(settings: Settings | None = None, *, client: Any | None = None) -> FastAPI:
    """`client`: an already connected Temporal client to use instead of connecting (tests)."""
    settings = settings or get_settings()
    settings.refuse_unsafe()
    configure_logging(settings.log_level)
    tracer_provider = start_tracing(API_SERVICE)  # before any Temporal client: it carries the traces on

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Connect eagerly so the first order does not pay for it; a Temporal that is not up yet is
        # retried on demand and reported by /readyz rather than failing the API's start.
        await app.state.temporal.connect()
        await app.state.store.startup()
        yield
        await asyncio.to_thread(stop_tracing)  # export the last spans

    app = FastAPI(
        title="o2c",
        summary="Order-to-cash orchestrator: start, follow and cancel orders; fulfilment webhooks",
        version="0.1.0",
        lifespan=lifespan,
        telemetry=request_tracing.telemetry(tracer_provider),
        generate_unique_id_function=openapi.operation_id,
        docs_url=None,  # served from the package's own files instead (docs_pages), not a CDN
        redoc_url=None,
    )
    # State is set here, not in the lifespan, so an app driven without lifespan events (tests over
    # ASGITransport) is complete too.
    app.state.settings = settings
    app.state.keyring = Keyring(settings.api_keys)
    app.state.temporal = TemporalGateway(settings, client)
    app.state.fulfillment_webhook = webhooks.make_verifier(settings)
    store_access.install(app, settings)

    problems.install(app, authorize=authorize_route)
    # Added innermost first: the correlation middleware wraps everything, including the 500s and 413s.
    app.add_middleware(problems.CatchAllMiddleware)
    app.add_middleware(
        BodyLimitMiddleware,
        default_limit=settings.max_body_bytes,
        limits=[(webhooks.router.prefix + "/", settings.max_webhook_body_bytes),
                (codec.PREFIX + "/", codec.MAX_BODY_BYTES)],
    )
    app.add_middleware(CorrelationMiddleware)
    # Outermost: counts every answer, the 413s and 500s above included (GET /metrics).
    http_metrics.install(app)

    app.include_router(health.router)
    app.include_router(ops_vendors.router)
    app.include_router(ops_page.router)
    app.include_router(orders.router)
    app.include_router(returns.router)
    app.include_router(webhooks.router)
    app.include_router(loyalty_webhooks.router)
    app.include_router(finance.router)
    app.include_router(reconciliation.router)
    webhook_endpoints.install(app, settings)
    # After the middleware above, so its CORS grant wraps every /codec answer, errors included.
    codec.install(app, settings)
    docs_pages.install(app)
    # Last, once every route is in: errors are documented as the problem+json they are.
    openapi.install(app)
    return app
