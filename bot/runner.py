"""`paperbot run`: one process, one asyncio loop, the bot and the scheduled jobs on it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger

from bot.pipeline import Services, now_utc, poll_feeds
from bot.settings import ConfigError, Settings
from feeds.errors import PaperbotError

log = logging.getLogger("paperbot.run")

SHUTDOWN_GRACE = 8.0  # seconds a poll under way may take to finish after SIGTERM


class Worker:
    """The scheduled jobs; with a bot, their results reach Discord too."""

    def __init__(
        self,
        services: Services,
        bot: Any | None = None,
        *,
        feeds: list[str] | None = None,
        dry_run: bool = False,
    ) -> None:
        self.services = services
        self.bot = bot
        self.feeds = feeds
        self.dry_run = dry_run
        self._poll_lock = asyncio.Lock()

    async def wait_idle(self, grace: float) -> None:
        """Let a poll under way finish (every write is a transaction, so stopping is safe)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(grace), self._poll_lock:
                return

    async def poll(self) -> Any:
        """Poll, store, then post and check feed health. Overlapping runs are skipped."""
        if self._poll_lock.locked():
            log.info("a poll is already running; skipping this one")
            return None
        try:
            return await self._poll()
        except asyncio.CancelledError:
            # Shutdown while polling: nothing half-written survives a transaction, and the
            # next poll redoes the work, so this is news, not an error with a traceback.
            log.info("poll interrupted by shutdown")
            return None

    async def _poll(self) -> Any:
        async with self._poll_lock:
            report = await poll_feeds(self.services, self.feeds, dry_run=self.dry_run)
            catalog = self.services.catalog
            if any(f.status == "ok" and f.items for f in report.feeds) and not self.dry_run:
                from bot.cogs.digest import LAST_ANNOUNCEMENT

                await catalog.meta_set(LAST_ANNOUNCEMENT, now_utc().isoformat())
            for outcome in report.feeds:
                log.info("poll %s: %s, %d items, %d candidates%s", outcome.url, outcome.status,
                         outcome.items, outcome.candidates,
                         f" ({outcome.error})" if outcome.error else "")
            if not self.dry_run and self.services.ranker.model is None:
                # Cold start: the first poll brings the background the model contrasts with.
                await self.retrain()
            if self.bot is not None and self.bot.ready_checked.is_set():
                review = self.bot.get_cog("ReviewCog")
                if report.stored is not None:
                    for arxiv_id in report.stored.updated:
                        await review.refresh_post(arxiv_id)
                await review.post_pending()
                digest = self.bot.get_cog("DigestCog")
                await digest.check_health(await catalog.feed_states())
            return report

    async def digest(self) -> None:
        if self.bot is not None and self.bot.ready_checked.is_set():
            await self.bot.get_cog("DigestCog").post_digest()

    async def expire(self) -> None:
        if self.bot is not None and self.bot.ready_checked.is_set():
            await self.bot.get_cog("ReviewCog").expire()
        else:
            await self.services.catalog.expire(now_utc(), self.services.settings.discord.expire_days)

    async def retrain(self) -> None:
        if not self.services.settings.model.enabled:
            return
        from bot.learning import retrain

        await retrain(self.services)


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
    scheduler.add_job(worker.expire, CronTrigger(minute=5, timezone="UTC"), id="expire", **defaults)
    if settings.model.enabled:
        scheduler.add_job(worker.retrain, retrain_trigger, id="retrain", **defaults)
    return scheduler


async def run(
    settings: Settings,
    *,
    discord: bool = True,
    feeds: list[str] | None = None,
    dry_run: bool = False,
) -> int:
    """Run until SIGTERM/SIGINT; 0 on a clean stop, 1 when start-up fails."""
    if discord and not settings.discord_token:
        print(
            "paperbot: DISCORD_TOKEN is not set; running the scheduled worker alone "
            "(candidates are stored, nothing is posted). Set DISCORD_TOKEN to run the bot.",
            file=sys.stderr,
        )
        discord = False
    services = await Services.open(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    bot = None
    if discord:
        from bot.client import PaperBot, apply_endpoints

        apply_endpoints(settings.discord_api_base, settings.discord_gateway_url)
        bot = PaperBot(settings, services)
    worker = Worker(services, bot, feeds=feeds, dry_run=dry_run)
    scheduler = build_scheduler(settings, worker)
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    code = 0
    try:
        if bot is None:
            scheduler.start()
            log.info("worker running: %s", ", ".join(j.id for j in scheduler.get_jobs()))
            print("paperbot: worker running; next poll "
                  f"{scheduler.get_job('poll').next_run_time:%Y-%m-%d %H:%M %Z}", file=sys.stderr)
            await stop.wait()
        else:
            import discord as discord_lib

            bot.scheduler = scheduler
            bot.worker = worker
            runner = asyncio.create_task(bot.start(settings.discord_token or ""))
            stopper = asyncio.create_task(stop.wait())
            done, _ = await asyncio.wait({runner, stopper}, return_when=asyncio.FIRST_COMPLETED)
            if runner in done:
                exc = runner.exception()
                if isinstance(exc, discord_lib.LoginFailure):
                    raise PaperbotError("Discord refused the token (DISCORD_TOKEN)") from exc
                if isinstance(exc, discord_lib.PrivilegedIntentsRequired):
                    raise PaperbotError("Discord requires an intent the application lacks") from exc
                if exc is not None:
                    raise PaperbotError(f"the Discord connection failed: {exc}") from exc
                if bot.startup_error:
                    print(f"paperbot: error: {bot.startup_error}", file=sys.stderr)
                    code = 1
            stopper.cancel()
    finally:
        if scheduler.running:
            scheduler.shutdown(wait=False)
        await worker.wait_idle(SHUTDOWN_GRACE)
        if bot is not None and not bot.is_closed():
            await bot.close()
        await services.close()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
    return code
