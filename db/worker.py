"""The catalog for asyncio code: one thread owns the SQLite connection, the loop never waits on it."""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Concatenate, Generic, ParamSpec, TypeVar, overload

from db.catalog import Catalog
from db.errors import CatalogClosed

__all__ = ["AsyncCatalog", "CatalogClosed", "on_thread"]

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")


class on_thread(Generic[P, R]):
    """`decide = on_thread(Catalog.decide)`: the method as a coroutine run on the catalog thread.

    The signature is Catalog's own, so a wrong call is a type error where it is written.
    """

    def __init__(self, method: Callable[Concatenate[Catalog, P], R]) -> None:
        self.method = method
        self.name = method.__name__
        self.__doc__ = method.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> on_thread[P, R]: ...
    @overload
    def __get__(
        self, obj: AsyncCatalog, owner: type | None = None
    ) -> Callable[P, Awaitable[R]]: ...
    def __get__(
        self, obj: AsyncCatalog | None, owner: type | None = None
    ) -> on_thread[P, R] | Callable[P, Awaitable[R]]:
        if obj is None:
            return self
        method = self.method

        @functools.wraps(method)
        async def call(*args: P.args, **kwargs: P.kwargs) -> R:
            return await obj.run(lambda cat: method(cat, *args, **kwargs))

        return call


class AsyncCatalog:
    """Every Catalog method as a coroutine, run one at a time on a dedicated thread.

    A sqlite3 connection belongs to the thread that opened it, so the executor's single
    worker opens the Catalog in its initializer and every call is queued to it; calls are
    therefore serialised (no "database is locked" between our own writes) while the event
    loop only awaits futures. `await acat.search("x")` is `await acat.run(lambda c: c.search("x"))`.
    """

    def __init__(
        self,
        path: str | Path = ":memory:",
        *,
        write_wait_ms: int | None = None,
        on_write_wait: Callable[[int | None], None] | None = None,
    ) -> None:
        self.path = str(path)
        self._write_wait_ms = write_wait_ms
        self._on_write_wait = on_write_wait
        self._catalog: Catalog | None = None
        self._open_error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._closed = False
        self._executor = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="paperbot-catalog", initializer=self._open
        )

    @classmethod
    async def open(
        cls,
        path: str | Path = ":memory:",
        *,
        write_wait_ms: int | None = None,
        on_write_wait: Callable[[int | None], None] | None = None,
    ) -> AsyncCatalog:
        """Start the thread and open (and migrate) the catalog; errors surface here.
        `write_wait_ms` and `on_write_wait` are the Catalog's (a write waiting for another
        process's lock)."""
        acat = cls(path, write_wait_ms=write_wait_ms, on_write_wait=on_write_wait)
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
            self._catalog = Catalog(
                self.path,
                write_wait_ms=self._write_wait_ms,
                on_write_wait=self._on_write_wait,
            )
        except BaseException as exc:
            self._open_error = exc

    def _call(self, fn: Callable[[Catalog], T]) -> T:
        if self._catalog is None:
            if self._open_error is not None:
                raise self._open_error
            raise CatalogClosed(f"{self.path}: the catalog is closed")
        return fn(self._catalog)

    @property
    def thread(self) -> threading.Thread | None:
        """The thread that owns the connection (None until the first call starts it)."""
        return self._thread

    async def run(self, fn: Callable[[Catalog], T]) -> T:
        """Run fn(catalog) on the catalog thread and await its result (or its exception)."""
        if self._closed:
            raise CatalogClosed(f"{self.path}: the catalog is closed")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._call, fn)

    # -- every public Catalog method but close(), which is this class's own -----------------
    # candidates
    store_candidates = on_thread(Catalog.store_candidates)
    add_candidate = on_thread(Catalog.add_candidate)
    get_candidate = on_thread(Catalog.get_candidate)
    candidate_by_message = on_thread(Catalog.candidate_by_message)
    candidates = on_thread(Catalog.candidates)
    to_post = on_thread(Catalog.to_post)
    mark_posted = on_thread(Catalog.mark_posted)
    expire = on_thread(Catalog.expire)
    # votes and decisions
    tally = on_thread(Catalog.tally)
    set_vote = on_thread(Catalog.set_vote)
    replace_votes = on_thread(Catalog.replace_votes)
    decide = on_thread(Catalog.decide)
    set_section = on_thread(Catalog.set_section)
    # papers, audit, background
    import_entries = on_thread(Catalog.import_entries)
    remove_imported = on_thread(Catalog.remove_imported)
    apply_import = on_thread(Catalog.apply_import)
    set_entry_text = on_thread(Catalog.set_entry_text)
    get_paper = on_thread(Catalog.get_paper)
    papers = on_thread(Catalog.papers)
    recent = on_thread(Catalog.recent)
    stats = on_thread(Catalog.stats)
    audit_log = on_thread(Catalog.audit_log)
    audit = on_thread(Catalog.audit)
    background = on_thread(Catalog.background)
    # search
    search = on_thread(Catalog.search)
    rebuild_search_index = on_thread(Catalog.rebuild_search_index)
    # feed state, meta, models, the stored list
    feed_state = on_thread(Catalog.feed_state)
    feed_states = on_thread(Catalog.feed_states)
    save_feed_state = on_thread(Catalog.save_feed_state)
    forget_feed = on_thread(Catalog.forget_feed)
    meta_get = on_thread(Catalog.meta_get)
    meta_set = on_thread(Catalog.meta_set)
    save_model = on_thread(Catalog.save_model)
    latest_model = on_thread(Catalog.latest_model)
    model_info = on_thread(Catalog.model_info)
    save_list = on_thread(Catalog.save_list)
    current_list = on_thread(Catalog.current_list)

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


def forwarded() -> frozenset[str]:
    """Names AsyncCatalog forwards to the catalog thread."""
    return frozenset(
        name for name, value in vars(AsyncCatalog).items() if isinstance(value, on_thread)
    )
