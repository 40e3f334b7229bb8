"""The parts every use case shares: settings, the catalog thread, the fetcher, the ranker."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from bot.settings import Settings
from db.worker import AsyncCatalog

if TYPE_CHECKING:
    from feeds.fetch import Fetcher
    from feeds.ranking import Ranker

log = logging.getLogger(__name__)

Progress = Callable[[str], None]


def quiet(_: str) -> None:
    """A progress callback that says nothing."""
    return None


def now_utc() -> datetime:
    return datetime.now(UTC)


class Core:
    """What every use case shares: the settings, the catalog thread, the clock, the fetcher,
    the ranker (the one piece of state that changes: a retrain or a new list replaces it),
    and the background tasks. The collaborators of `App` receive it at construction."""

    def __init__(
        self,
        settings: Settings,
        catalog: AsyncCatalog,
        fetcher: Fetcher | Callable[[], Fetcher],
        ranker: Ranker | Callable[[], Ranker],
        *,
        clock: Callable[[], datetime] = now_utc,
    ) -> None:
        """`fetcher` and `ranker` are the objects, or how to make them on first use (a command
        that only reads the catalog never loads the HTTP client or the numerics)."""
        self.settings = settings
        self.catalog = catalog
        self._fetcher: Fetcher | None = None if callable(fetcher) else fetcher
        self._make_fetcher = fetcher if callable(fetcher) else None
        self._ranker: Ranker | None = None if callable(ranker) else ranker
        self._make_ranker = ranker if callable(ranker) else None
        self.clock = clock
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def fetcher(self) -> Fetcher:
        """The HTTP client for arXiv (made on first use when `open` was told to wait)."""
        if self._fetcher is None:
            assert self._make_fetcher is not None
            self._fetcher = self._make_fetcher()
        return self._fetcher

    @property
    def ranker(self) -> Ranker:
        """The rules and the model that rank papers (made on first use, then kept)."""
        if self._ranker is None:
            assert self._make_ranker is not None
            self._ranker = self._make_ranker()
        return self._ranker

    @ranker.setter
    def ranker(self, ranker: Ranker) -> None:
        self._ranker = ranker

    @property
    def has_ranker(self) -> bool:
        """Whether the ranker was made (False for a command that only reads)."""
        return self._ranker is not None

    async def close_fetcher(self) -> None:
        """Close the HTTP session, if one was opened."""
        if self._fetcher is not None:
            await self._fetcher.close()

    def cancel_tasks(self, prefix: str) -> None:
        """Cancel the background tasks whose name starts with `prefix`."""
        for task in list(self._tasks):
            if task.get_name().startswith(prefix):
                task.cancel()

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """Run `coro` in the background; the task is kept, logged if it fails, awaited on close."""
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task %s failed", task.get_name(), exc_info=task.exception())

    async def wait_tasks(self, timeout: float = 30.0) -> None:  # noqa: ASYNC109
        """Let background tasks (a retrain) finish, cancelling what outlives `timeout`."""
        if not self._tasks:
            return
        _, pending = await asyncio.wait(set(self._tasks), timeout=timeout)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)


class Part:
    """A collaborator of `App`: one group of use cases over the shared `Core`."""

    def __init__(self, core: Core) -> None:
        self.core = core

    @property
    def settings(self) -> Settings:
        return self.core.settings

    @property
    def catalog(self) -> AsyncCatalog:
        return self.core.catalog

    def clock(self) -> datetime:
        return self.core.clock()

    @property
    def ranker(self) -> Ranker:
        return self.core.ranker

    @ranker.setter
    def ranker(self, ranker: Ranker) -> None:
        self.core.ranker = ranker

    @property
    def fetcher(self) -> Fetcher:
        return self.core.fetcher

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        return self.core.spawn(coro, name)
