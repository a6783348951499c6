"""The worker's handle on the store, for activities that record what they did (design §7).

Deliberately sync SQLAlchemy run on a small thread pool of its own, not an async engine: the API,
the CLI, the benchmark and the tests use the very same repositories; SQLite would need another
driver (aiosqlite) to go async; and each write is one short upsert. The pool's size equals the
connection pool's, so store work queues here rather than on connections, and the event loop that
runs the vendor calls never blocks on the database.
"""

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from sqlalchemy.orm import Session

from canonical.settings import Settings
from store.engine import Store

T = TypeVar("T")

POOL_SIZE = 8

_store: Store | None = None
_executor: ThreadPoolExecutor | None = None


def configure(settings: Settings) -> None:
    """Called once by the worker, after the schema was upgraded."""
    global _store, _executor
    _store = Store(settings.store_url(), pool_size=POOL_SIZE)
    _executor = ThreadPoolExecutor(max_workers=POOL_SIZE, thread_name_prefix="o2c-store")


def close() -> None:
    global _store, _executor
    if _executor is not None:
        _executor.shutdown(wait=True)
    if _store is not None:
        _store.dispose()
    _store = _executor = None


def _require() -> tuple[Store, ThreadPoolExecutor]:
    if _store is None or _executor is None:
        raise RuntimeError("activities.store_access.configure(settings) was not called")
    return _store, _executor


async def write(work: Callable[[Session], T]) -> T:
    """Run `work` in one write transaction, off the event loop."""
    return await _run(work, writing=True)


async def read(work: Callable[[Session], T]) -> T:
    return await _run(work, writing=False)


async def _run(work: Callable[[Session], T], *, writing: bool) -> T:
    store, executor = _require()

    def run() -> T:
        with store.writing() if writing else store.reading() as session:
            return work(session)

    return await asyncio.get_running_loop().run_in_executor(executor, run)
