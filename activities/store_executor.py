"""The worker's handle on the store, for activities that record what they did (design §7).

Deliberately sync SQLAlchemy run on a small thread pool of its own, not an async engine: the API,
the CLI and the tests use the very same repositories; SQLite would need another driver (aiosqlite) to
go async; and each write is one short upsert. The pool's size equals the connection pool's, so store
work queues here rather than on connections, and the event loop that runs the vendor calls never
blocks on the database.
"""

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from sqlalchemy.orm import Session

from store.engine import Store

T = TypeVar("T")

POOL_SIZE = 8


class StoreExecutor:
    def __init__(self, url: str, pool_size: int = POOL_SIZE) -> None:
        self._store = Store(url, pool_size=pool_size)
        self._executor = ThreadPoolExecutor(max_workers=pool_size, thread_name_prefix="o2c-store")

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        self._store.dispose()

    async def write(self, work: Callable[[Session], T]) -> T:
        """Run `work` in one write transaction, off the event loop."""
        return await self._run(work, writing=True)

    async def read(self, work: Callable[[Session], T]) -> T:
        return await self._run(work, writing=False)

    async def _run(self, work: Callable[[Session], T], *, writing: bool) -> T:
        def run() -> T:
            with self._store.writing() if writing else self._store.reading() as session:
                return work(session)

        return await asyncio.get_running_loop().run_in_executor(self._executor, run)
