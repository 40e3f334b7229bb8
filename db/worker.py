"""The catalog for asyncio code: one thread owns the SQLite connection, the loop never waits on it."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from db.catalog import Catalog

T = TypeVar("T")


class CatalogClosed(RuntimeError):
    """A call on an AsyncCatalog after close()."""


class AsyncCatalog:
    """Every Catalog method as a coroutine, run one at a time on a dedicated thread.

    A sqlite3 connection belongs to the thread that opened it, so the executor's single
    worker opens the Catalog in its initializer and every call is queued to it; calls are
    therefore serialised (no "database is locked" between our own writes) while the event
    loop only awaits futures. `await acat.search("x")` is `await acat.run(lambda c: c.search("x"))`.
    """

    def __init__(self, path: str | Path = ":memory:") -> None:
        self.path = str(path)
        self._catalog: Catalog | None = None
        self._open_error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._closed = False
        self._executor = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="paperbot-catalog", initializer=self._open
        )

    @classmethod
    async def open(cls, path: str | Path = ":memory:") -> AsyncCatalog:
        """Start the thread and open (and migrate) the catalog; errors surface here."""
        acat = cls(path)
        try:
            await acat.run(lambda _: None)
        except BaseException:
            await acat.close()
            raise
        return acat

    def _open(self) -> None:
        # An exception escaping an initializer breaks the pool and hides the cause, so it is
        # kept and raised to the caller of the first call instead.
        self._thread = threading.current_thread()
        try:
            self._catalog = Catalog(self.path)
        except BaseException as exc:
            self._open_error = exc

    def _call(self, fn: Callable[[Catalog], T]) -> T:
        if self._catalog is None:
            if self._open_error is not None:
                raise self._open_error
            raise CatalogClosed(f"catalog {self.path} is closed")
        return fn(self._catalog)

    @property
    def thread(self) -> threading.Thread | None:
        """The thread that owns the connection (None until the first call starts it)."""
        return self._thread

    async def run(self, fn: Callable[[Catalog], T]) -> T:
        """Run fn(catalog) on the catalog thread and await its result (or its exception)."""
        if self._closed:
            raise CatalogClosed(f"catalog {self.path} is closed")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._call, fn)

    def __getattr__(self, name: str) -> Callable[..., Awaitable[Any]]:
        if name.startswith("_") or not callable(getattr(Catalog, name, None)):
            raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

        async def proxy(*args: Any, **kwargs: Any) -> Any:
            return await self.run(lambda cat: getattr(cat, name)(*args, **kwargs))

        proxy.__name__ = name
        proxy.__doc__ = getattr(Catalog, name).__doc__
        return proxy

    async def close(self) -> None:
        """Close the connection on its own thread, then stop the thread; twice is harmless."""
        if self._closed:
            return
        self._closed = True
        loop = asyncio.get_running_loop()

        def shut() -> None:
            if self._catalog is not None:
                self._catalog.close()
                self._catalog = None

        try:
            await loop.run_in_executor(self._executor, shut)
        finally:
            # The queue is empty by now; waiting for the idle thread to exit takes no time,
            # but it is still done off the loop.
            await asyncio.to_thread(self._executor.shutdown, wait=True)

    async def __aenter__(self) -> AsyncCatalog:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
