"""The sandbox FastAPI app: ``uvicorn sandbox.app:app --port 8100``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from . import (
    balance_transactions,
    bloomreach,
    control,
    erp,
    finance_control,
    fulfillment,
    inventory,
    loyalty,
    marketing,
    payments,
    stripe,
)
from .context import Runtime
from .errors import install_error_handlers
from .faults import FaultMiddleware
from .settings import SandboxSettings
from .webhook_outbox import BackgroundWorker


def create_app(settings: SandboxSettings | None = None) -> FastAPI:
    runtime = Runtime(settings or SandboxSettings())
    worker = BackgroundWorker(runtime, due_work=[fulfillment.process_due])

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        worker.start()
        try:
            yield
        finally:
            await worker.stop()
            runtime.db.close()

    app = FastAPI(title="o2c vendor sandbox", version="1.0", lifespan=lifespan)
    app.state.runtime = runtime
    app.state.worker = worker
    install_error_handlers(app)
    app.add_middleware(FaultMiddleware, runtime=runtime)
    for module in (loyalty, payments, inventory, fulfillment, erp, marketing, control):
        app.include_router(module.router)
    app.include_router(bloomreach.router)
    app.include_router(bloomreach.control)
    # Reconciliation's reads (balance transactions) and plants (hand-made documents, shipments).
    app.include_router(balance_transactions.router)
    app.include_router(finance_control.router)
    # Stripe's wire protocol over the same payments gateway, and its deliberately broken modes.
    app.include_router(stripe.router)
    app.include_router(stripe.control_router)
    return app


# Module-level app for uvicorn; the database is opened lazily on first request, not at import.
app = create_app()
