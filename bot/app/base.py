"""The parts every use case shares: settings, the catalog thread, the fetcher, the ranker."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

from bot.settings import Settings
from db.worker import AsyncCatalog
from feeds.fetch import Fetcher
from feeds.ranking import Ranker

log = logging.getLogger(__name__)

Progress = Callable[[str], None]


def quiet(_: str) -> None:
    """A progress callback that says nothing."""
    return None


def now_utc() -> datetime:
    return datetime.now(UTC)


class AppBase:
    """State the use-case mixins of `App` share, and the background tasks it owns."""

    def __init__(
        self,
        settings: Settings,
        catalog: AsyncCatalog,
        fetcher: Fetcher,
        ranker: Ranker,
        *,
        clock: Callable[[], datetime] = now_utc,
    ) -> None:
        self.settings = settings
        self.catalog = catalog
        self.fetcher = fetcher
        self.ranker = ranker
        self.clock = clock
        self._tasks: set[asyncio.Task[Any]] = set()

    async def retrain_quietly(self, progress: Progress = quiet) -> None:
        """Retrain the model, logging rather than raising (the learning mixin's)."""
        return None

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
