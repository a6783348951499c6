"""The API's handle on the store (design §3: the API reads the store, it never calls vendors).

Finance endpoints are plain `def` handlers: FastAPI runs them in its thread pool, where the sync
SQLAlchemy session does its blocking I/O. A database that cannot be reached is a 503 the caller may
retry, like an unreachable Temporal.
"""

import asyncio

import structlog
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError

from api.shared.problems import problem_response
from runtime.settings import Settings
from store import migrate
from store.engine import Store

log = structlog.get_logger("o2c.api")

UNAVAILABLE_TITLE = "Finance store temporarily unavailable"


class StoreGateway:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self.store = Store(settings.store_url())

    async def startup(self) -> None:
        """Upgrade the schema (unless a release job does it); a database that is down does not stop
        the API from starting: finance requests answer 503 and /readyz reports it until it is back."""
        if not self._settings.database_auto_upgrade:
            return
        try:
            await asyncio.to_thread(migrate.upgrade, self.store.url,
                                    secret_keys=self._settings.webhook_secret_keys)
        except Exception as exc:  # reported by /readyz and every finance request
            log.error("store.upgrade_failed", error_type=type(exc).__name__)

    def healthy(self) -> bool:
        try:
            self.store.ping()
            return True
        except Exception:  # any failure means not ready
            return False


def store(request: Request) -> Store:
    gateway: StoreGateway = request.app.state.store
    return gateway.store


async def _on_operational_error(request: Request, exc: Exception) -> JSONResponse:
    log.warning("store.unavailable", error_type=type(exc).__name__)
    return problem_response(
        503,
        "database-unavailable",
        "The finance store cannot be reached; retry shortly",
        instance=request.url.path,
        title=UNAVAILABLE_TITLE,
        headers={"Retry-After": "2"},
    )


def install(app: FastAPI, settings: Settings) -> None:
    app.state.store = StoreGateway(settings)
    app.add_exception_handler(OperationalError, _on_operational_error)
