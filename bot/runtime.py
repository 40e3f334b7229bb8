"""`paperbot run`: one process, one asyncio loop, the bot and the scheduled jobs on it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Protocol

import aiohttp
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.app import (
    HEARTBEAT_EVERY,
    App,
    CatalogCorrupt,
    CatalogFull,
    CatalogLocked,
    CatalogStorageError,
    CatalogUnavailable,
    ForgeError,
    PollReport,
    PublishError,
)
from bot.settings import ConfigError, Settings
from feeds.errors import PaperbotError

log = logging.getLogger(__name__)

SHUTDOWN_GRACE = 8.0  # seconds a poll under way may take to finish after SIGTERM


class Frontend(Protocol):
    """Where the scheduled jobs' results reach people (the Discord client implements it)."""

    @property
    def ready(self) -> bool: ...

    async def after_poll(self, report: PollReport) -> None: ...

    async def after_expire(self, expired: list[str]) -> None: ...

    async def post_digest(self) -> None: ...

    async def tell_admins(self, lines: Sequence[str]) -> None: ...


class Worker:
    """The scheduled jobs: they call the core, and tell the front end when there is one."""

    def __init__(
        self,
        app: App,
        frontend: Frontend | None = None,
        *,
        feeds: list[str] | None = None,
        dry_run: bool = False,
    ) -> None:
        self.app = app
        self.frontend = frontend
        self.feeds = feeds
        self.dry_run = dry_run
        self._poll_lock = asyncio.Lock()
        # Set by `run`: a damaged catalog ends the service (restarting would only repeat it).
        self.on_fatal: Callable[[PaperbotError], None] | None = None

    @contextlib.asynccontextmanager
    async def _job(self, name: str) -> AsyncIterator[None]:
        try:
            yield
        except CatalogStorageError as exc:
            if isinstance(exc, CatalogLocked | CatalogFull):
                # Passing: another process's long write, a disk that fills and empties. The
                # job wrote nothing (every write is a transaction); its next run tries again.
                log.error("%s job: %s; the next run tries again", name, exc)
                return
            if isinstance(exc, CatalogCorrupt | CatalogUnavailable) and self.on_fatal is not None:
                log.error("%s job: %s", name, exc)
                self.on_fatal(exc)
                return
            raise

    async def wait_idle(self, grace: float) -> None:
        """Let a poll under way finish (every write is a transaction, so stopping is safe)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(grace), self._poll_lock:
                return

    async def poll(self) -> PollReport | None:
        """Poll, store, then post and check feed health. Overlapping runs are skipped."""
        if self._poll_lock.locked():
            log.info("a poll is already running; skipping this one")
            return None
        try:
            async with self._job("poll"):
                return await self._poll()
            return None
        except asyncio.CancelledError:
            # Shutdown while polling: nothing half-written survives a transaction, and the
            # next poll redoes the work, so this is news, not an error with a traceback.
            log.info("poll interrupted by shutdown")
            return None

    async def _poll(self) -> PollReport:
        async with self._poll_lock:
            if not self.dry_run:
                await self.app.note_poll_started()  # the health check reads it
            report = await self.app.poll(self.feeds, dry_run=self.dry_run)
            if not self.dry_run and self.app.ranker.model is None:
                # Cold start: the first poll brings the background the model contrasts with.
                await self.retrain()
            if self.frontend is not None and self.frontend.ready:
                await self.frontend.after_poll(report)
            return report

    async def heartbeat(self) -> None:
        """What `paperbot doctor --service` reads: the jobs run and the catalog takes writes."""
        async with self._job("heartbeat"):
            await self.app.note_alive()

    async def started(self) -> None:
        async with self._job("heartbeat"):
            await self.app.note_started()

    async def digest(self) -> None:
        if self.frontend is not None and self.frontend.ready:
            async with self._job("digest"):
                await self.frontend.post_digest()

    async def expire(self) -> None:
        if self.dry_run:
            return
        async with self._job("expire"):
            expired = await self.app.expire()
            if self.frontend is not None and self.frontend.ready:
                await self.frontend.after_expire(expired)

    async def retrain(self) -> None:
        if self.dry_run or not self.app.settings.model.enabled:
            return
        async with self._job("retrain"):
            await self.app.retrain()

    async def publish(self) -> None:
        """The scheduled publish: the branch and pull request brought level; a failure is
        one line in the log and the admin channel, and the next run tries again."""
        if self.dry_run:
            return
        async with self._job("publish"):
            try:
                result = await self.app.publish(by_hand=False)
            except (PublishError, ForgeError) as exc:
                log.error("publish job: %s; the next run tries again", exc)
                await self._tell([f"publishing failed: {exc}"])
                return
            pull = result.pull
            said = [pull.line] if pull and pull.action in ("opened", "updated", "closed") else []
            await self._tell(result.news + said)

    async def sync(self) -> None:
        """The scheduled sync: follow the list's repository, tell the admins what changed."""
        if self.dry_run:
            return
        async with self._job("sync"):
            try:
                result = await self.app.sync()
            except (PublishError, ForgeError) as exc:
                log.error("sync job: %s; the next run tries again", exc)
                await self._tell([f"following the list failed: {exc}"])
                return
            await self._tell(result.lines)

    async def _tell(self, lines: list[str]) -> None:
        if lines and self.frontend is not None and self.frontend.ready:
            await self.frontend.tell_admins(lines)


def build_scheduler(settings: Settings, worker: Worker) -> AsyncIOScheduler:
    """The jobs, on the running loop; a late job runs once, never piled up."""
    scheduler = AsyncIOScheduler(timezone="UTC")
    defaults = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 600}
    try:
        poll_trigger = CronTrigger.from_crontab(settings.arxiv.poll_cron, timezone="UTC")
        retrain_trigger = CronTrigger.from_crontab(settings.model.retrain_cron, timezone="UTC")
    except ValueError as exc:
        raise ConfigError(f"bad cron expression in the config: {exc}") from exc
    hour, minute = (int(x) for x in settings.digest.time.split(":"))
    digest_trigger = CronTrigger(hour=hour, minute=minute, timezone=settings.digest_zone)
    scheduler.add_job(worker.poll, poll_trigger, id="poll", **defaults)
    if settings.arxiv.poll_on_start:
        # One poll as soon as the scheduler starts: a fresh install shows something at once,
        # and conditional GET makes it nearly free on a restart.
        scheduler.add_job(worker.poll, id="poll-on-start", **defaults)
    scheduler.add_job(worker.digest, digest_trigger, id="digest", **defaults)
    if not worker.dry_run:
        # First thing once started, then every minute: a health check can tell a service
        # whose jobs run from one that waits for Discord or cannot write its catalog.
        scheduler.add_job(worker.started, id="started", **defaults)
        scheduler.add_job(
            worker.heartbeat, IntervalTrigger(seconds=HEARTBEAT_EVERY), id="heartbeat", **defaults
        )
    if not worker.dry_run:
        # A dry run writes nothing anywhere: no expiry, no retrain.
        scheduler.add_job(
            worker.expire, CronTrigger(minute=5, timezone="UTC"), id="expire", **defaults
        )
        if settings.model.enabled:
            scheduler.add_job(worker.retrain, retrain_trigger, id="retrain", **defaults)
        for job, cron in ((worker.publish, settings.publish.cron),
                          (worker.sync, settings.publish.sync_cron)):  # fmt: skip
            if cron:
                trigger = CronTrigger.from_crontab(cron, timezone="UTC")
                scheduler.add_job(job, trigger, id=job.__name__, **defaults)
    return scheduler


async def run(
    settings: Settings,
    *,
    discord: bool = True,
    feeds: list[str] | None = None,
    dry_run: bool = False,
) -> int:
    """Run until SIGTERM/SIGINT; 0 on a clean stop, 1 when start-up fails."""
    if discord and not settings.token:
        print(
            "paperbot: DISCORD_TOKEN is not set; running the scheduled worker alone "
            "(candidates are stored, nothing is posted). Set DISCORD_TOKEN to run the bot.",
            file=sys.stderr,
        )
        discord = False
    app = await App.open(settings, dry_run=dry_run)
    if not dry_run:
        # Approvals whose entries a stop interrupted: completed in the background.
        await app.complete_pending()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    bot = None
    worker = Worker(app, feeds=feeds, dry_run=dry_run)
    scheduler = build_scheduler(settings, worker)
    if discord:
        from bot.discord.client import PaperBot, apply_endpoints

        apply_endpoints(settings.discord_api_base, settings.discord_gateway_url)
        bot = PaperBot(app, on_started=scheduler.start)
        worker.frontend = bot
    fatal: list[PaperbotError] = []

    def on_fatal(exc: PaperbotError) -> None:
        fatal.append(exc)
        stop.set()

    worker.on_fatal = on_fatal
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    code = 0
    try:
        if bot is None:
            scheduler.start()
            log.info("worker running: %s", ", ".join(j.id for j in scheduler.get_jobs()))
            job = scheduler.get_job("poll")
            when = f"{job.next_run_time:%Y-%m-%d %H:%M %Z}" if job and job.next_run_time else "-"
            # The poll at start runs now: "next poll" alone would name the one after it.
            now = "polling now, then " if scheduler.get_job("poll-on-start") else ""
            print(f"paperbot: worker running; {now}next poll {when}", file=sys.stderr)
            await stop.wait()
        else:
            from bot.discord.client import PaperBot

            delay = 5.0
            while True:
                try:
                    code = await bot.serve(settings.token or "", stop)
                    break
                except PaperbotError as exc:
                    if (
                        not isinstance(exc.__cause__, OSError | aiohttp.ClientError)
                        or stop.is_set()
                    ):
                        raise
                    # Discord unreachable (network down, DNS): wait and try again, not exit.
                    log.warning(
                        "Discord unreachable (%s); retrying in %.0f s", exc.__cause__, delay
                    )
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), timeout=delay)
                    if stop.is_set():
                        code = 0
                        break
                    delay = min(delay * 2, 300.0)
                    if not bot.is_closed():
                        await bot.close()
                    bot = PaperBot(app, on_started=scheduler.start)
                    worker.frontend = bot
            if bot.startup_error:
                print(f"paperbot: error: {bot.startup_error}", file=sys.stderr)
    finally:
        if scheduler.running:
            scheduler.shutdown(wait=False)
        await worker.wait_idle(SHUTDOWN_GRACE)
        if bot is not None and not bot.is_closed():
            await bot.close()
        await app.close()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
    if fatal:
        raise fatal[0]
    return code
