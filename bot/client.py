"""The discord.py client: start-up checks, command sync, cogs and the scheduler on its loop."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

import discord
import yarl
from discord import app_commands
from discord.ext import commands

from bot.settings import Settings
from feeds.errors import PaperbotError

if TYPE_CHECKING:
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    from bot.pipeline import Services

log = logging.getLogger("paperbot.discord")


class StartupError(PaperbotError):
    """The bot cannot work in the configured guild (channel, permission, role)."""


def apply_endpoints(api_base: str | None, gateway_url: str | None) -> None:
    """Point discord.py at a proxy or a Discord-compatible server instead of discord.com."""
    if api_base:
        discord.http.Route.BASE = api_base.rstrip("/")
    if gateway_url:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)


def intents() -> discord.Intents:
    # No privileged intent: reactions carry the reacting member, and slash commands carry
    # their text, so neither members nor message content is needed.
    wanted = discord.Intents.none()
    wanted.guilds = True
    wanted.guild_messages = True
    wanted.guild_reactions = True
    return wanted


REQUIRED_PERMISSIONS = (
    "view_channel",
    "send_messages",
    "embed_links",
    "attach_files",
    "add_reactions",
    "read_message_history",
)
THREAD_PERMISSIONS = ("create_public_threads", "send_messages_in_threads")

# Login, gateway handshake and the guild's arrival normally take seconds; this bounds a
# hung start-up, on top of the configurable wait after the last GUILD_CREATE.
READY_TIMEOUT = 60.0


class PaperBot(commands.Bot):
    """One process: this client owns the loop; the scheduler's jobs run on it too."""

    def __init__(
        self,
        settings: Settings,
        services: Services,
        scheduler: AsyncIOScheduler | None = None,
    ) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents(),
            allowed_mentions=discord.AllowedMentions.none(),
            help_command=None,
            # How long discord.py waits for further GUILD_CREATEs before declaring itself
            # ready; the bot lives in one guild, so a short wait is enough.
            guild_ready_timeout=settings.discord.guild_ready_timeout,
        )
        self.settings = settings
        self.services = services
        self.scheduler = scheduler
        self.startup_error: str | None = None
        self.ready_checked = asyncio.Event()  # start-up checks passed
        self.started = asyncio.Event()  # reconciled, pending posts made, scheduler running
        self.worker: Any = None  # the scheduled jobs (bot.runner.Worker), set by the runner
        self._decisions = 0
        self._reconciling: asyncio.Task[None] | None = None

    @property
    def guild_id(self) -> int:
        return self.settings.discord.guild_id

    async def setup_hook(self) -> None:
        from bot.cogs.digest import DigestCog
        from bot.cogs.paper import PaperCommands
        from bot.cogs.review import ReviewCog

        await self.add_cog(ReviewCog(self))
        await self.add_cog(DigestCog(self))
        await self.add_cog(PaperCommands(self))
        self.tree.error(self.on_app_command_error)
        if self.guild_id:
            guild = discord.Object(id=self.guild_id)
            self.tree.copy_global_to(guild=guild)
            synced = await self.tree.sync(guild=guild)
            log.info("synced %d command(s) to guild %s", len(synced), self.guild_id)
        self.loop.create_task(self._after_ready(), name="paperbot-startup")

    async def _after_ready(self) -> None:
        timeout = READY_TIMEOUT + self.settings.discord.guild_ready_timeout
        try:
            await asyncio.wait_for(self.wait_until_ready(), timeout=timeout)
            await self.check_guild()
        except TimeoutError:
            await self._fail(f"the gateway was not ready within {timeout:g} s")
            return
        except StartupError as exc:
            await self._fail(str(exc))
            return
        self.ready_checked.set()
        review: Any = self.get_cog("ReviewCog")
        try:
            await review.reconcile()
            await review.post_pending()
        except (discord.HTTPException, PaperbotError) as exc:
            # The scheduled polls retry posting; reconcile runs again on the next start.
            log.warning("start-up reconcile/post incomplete: %s", exc)
        if self.scheduler is not None and not self.scheduler.running:
            self.scheduler.start()
        self.started.set()

    async def on_ready(self) -> None:
        """A new gateway session after the first one: events in the gap are lost, so recount.

        A resumed session replays what it missed and dispatches `on_resumed`, not this.
        """
        if not self.started.is_set():
            return
        log.info("new gateway session: reconciling open candidates")
        # A task of our own, so close() can wait for it instead of cutting its HTTP calls.
        self._reconciling = asyncio.create_task(self._reconcile(), name="paperbot-reconcile")
        await asyncio.shield(self._reconciling)

    async def _reconcile(self) -> None:
        review: Any = self.get_cog("ReviewCog")
        try:
            await review.reconcile()
        except (discord.HTTPException, PaperbotError) as exc:
            log.warning("reconcile after reconnect incomplete: %s", exc)

    async def close(self) -> None:
        """Stop after the vote handlers under way have recorded their votes and edited posts."""
        review: Any = self.get_cog("ReviewCog")
        if review is not None and not self.is_closed():
            await review.drain(timeout=5.0)
        task = self._reconciling
        if task is not None and not task.done():
            _, pending = await asyncio.wait({task}, timeout=5.0)
            for late in pending:
                late.cancel()
        await super().close()

    async def _fail(self, message: str) -> None:
        self.startup_error = message
        log.error("cannot start: %s", message)
        await self.close()

    async def check_guild(self) -> None:
        """Every start-up fact the bot depends on, each failing with one clear line."""
        d = self.settings.discord
        if not d.guild_id or not d.review_channel_id:
            raise StartupError("set [discord] guild_id and review_channel_id in the config file")
        guild = self.get_guild(d.guild_id)
        if guild is None:
            raise StartupError(
                f"guild {d.guild_id} is not visible to the bot: invite it with the README's link"
            )
        for name, channel_id in (("review", d.review_channel_id), ("admin", d.admin_channel_id)):
            if not channel_id:
                continue
            channel = guild.get_channel(channel_id)
            if not isinstance(channel, discord.TextChannel):
                raise StartupError(f"{name} channel {channel_id} is not a text channel in {guild.name}")
            perms = channel.permissions_for(guild.me)
            wanted = REQUIRED_PERMISSIONS + (THREAD_PERMISSIONS if d.open_threads else ())
            missing = [p for p in wanted if not getattr(perms, p)]
            if missing:
                raise StartupError(
                    f"missing permission(s) in #{channel.name}: {', '.join(missing)}"
                )

    @property
    def review_channel(self) -> discord.TextChannel:
        channel = self.get_channel(self.settings.discord.review_channel_id)
        assert isinstance(channel, discord.TextChannel)
        return channel

    @property
    def admin_channel(self) -> discord.TextChannel:
        channel = self.get_channel(self.settings.discord.admin_channel_id)
        if isinstance(channel, discord.TextChannel):
            return channel
        return self.review_channel

    def note_decision(self) -> None:
        """Retrain the relevance model after every N decisions, off the event loop."""
        if not self.settings.model.enabled or self.worker is None:
            return
        self._decisions += 1
        if self._decisions >= self.settings.model.retrain_every:
            self._decisions = 0
            self.loop.create_task(self.worker.retrain(), name="paperbot-retrain")

    def is_curator(self, member: discord.Member | discord.User | None) -> bool:
        if not isinstance(member, discord.Member):
            return False
        wanted = self.settings.discord.curator_role
        if member.guild_permissions.administrator:
            return True
        return any(str(role.id) == wanted or role.name == wanted for role in member.roles)

    async def on_app_command_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        """Short words to the user, details to the log; never a traceback in a channel."""
        original = getattr(error, "original", error)
        if isinstance(error, app_commands.CheckFailure):
            message = str(error) or "You are not allowed to use this command."
        elif isinstance(original, PaperbotError):
            message = str(original)
        else:
            log.error("command %s failed", interaction.command and interaction.command.qualified_name,
                      exc_info=original)
            message = "Something went wrong on my side; the maintainers can see the details in the log."
        message = message if len(message) <= 1900 else message[:1899] + "…"
        try:
            if interaction.response.is_done():
                await interaction.followup.send(message, ephemeral=True)
            else:
                await interaction.response.send_message(message, ephemeral=True)
        except discord.HTTPException:
            log.warning("could not tell the user about an error", exc_info=True)
