"""The discord.py client: start-up checks, command sync, the review service and its cogs."""

from __future__ import annotations

import asyncio
import gc
import ipaddress
import logging
import re
import sys
import traceback
import urllib.parse
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

import discord
import yarl
from discord import app_commands
from discord.ext import commands

from bot.app import App, PollReport
from bot.discord.cogs.paper import PaperCommands
from bot.discord.cogs.review import ReviewCog
from bot.discord.notices import Notices
from bot.discord.review import ReviewService
from feeds.errors import FeedError, PaperbotError

log = logging.getLogger(__name__)


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
# The admin channel only receives feed-health alerts.
ADMIN_PERMISSIONS = ("view_channel", "send_messages")


def invite_url(application_id: int | None) -> str:
    """The README's invite link with this application's id and every permission the bot uses."""
    permissions = discord.Permissions(
        **dict.fromkeys(REQUIRED_PERMISSIONS + THREAD_PERMISSIONS, True)
    )
    client_id = application_id or "YOUR_APPLICATION_ID"
    return (
        f"https://discord.com/oauth2/authorize?client_id={client_id}"
        f"&scope=bot+applications.commands&permissions={permissions.value}"
    )


# A link in an error told to a user: the addresses of the operator's own set-up (an API
# base, a proxy, a loopback or private host) stay in the log; links anyone can open stay.
_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s)>\]]+", re.IGNORECASE)
# An absolute path on the server (not the path of a URL, which follows its host).
_PATH = re.compile(r"(?<![\w:/.~-])(?:~/|/)(?:[^\s/:;,()'\"]+/)+([^\s/:;,()'\"]+)")


def _internal(url: str, bases: Sequence[str]) -> bool:
    if any(base and url.startswith(base) for base in bases):
        return True
    host = urllib.parse.urlsplit(url).hostname or ""
    if host == "localhost" or host.endswith((".local", ".internal", ".lan")) or "." not in host:
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_private or address.is_loopback or address.is_link_local


def user_text(error: PaperbotError, internal: Sequence[str] = ()) -> str:
    """An error in words for a member of the guild: one line, without internal addresses.

    `internal`: URL prefixes of the set-up (API bases, feeds) that are never shown.
    """
    if isinstance(error, FeedError):
        # The feed or API URL that failed is the operator's business; the reason is not.
        reason = error.reason
        text = reason if reason.lower().startswith("arxiv") else f"asking arXiv failed: {reason}"
    else:
        text = str(error)
    text = _URL.sub(lambda m: "(an internal address)" if _internal(m[0], internal) else m[0], text)
    # The server's own folders are the operator's business too: a file by its name alone.
    text = _PATH.sub(lambda m: m[1], text)
    return " ".join(text.split())


# How long a thread may hold the interpreter before another gets it (Python's default is
# 5 ms). Each time the event loop returns from a socket call it waits that long for a poll's
# parsing, scoring or catalog thread: ten such waits in one loop pass were 50-80 ms of
# lateness during a 2,000-item poll; at 1 ms the worst was under 20 ms.
SWITCH_INTERVAL = 0.001


def settle_heap() -> None:
    """Once per process, when start-up is done: collect, then freeze what survives.

    A full collection walks every object the process holds (discord.py, the libraries,
    the catalog's caches): 130 ms with the loop stopped, at whatever moment a poll's
    allocations trigger it, while interactions wait. Frozen objects are never walked
    again, so the full collections of later polls walk only what was made since start-up
    (about 10 ms). Refcounting still frees frozen objects; only a cycle among what was
    alive at start-up would outlive its use, which is why this is done once.
    """
    global _heap_settled
    if _heap_settled:
        return
    _heap_settled = True
    gc.collect()
    gc.freeze()


_heap_settled = False


# Login, gateway handshake and the guild's arrival normally take seconds; this bounds a
# hung start-up, on top of the configurable wait after the last GUILD_CREATE.
READY_TIMEOUT = 60.0


class PaperBot(commands.Bot):
    """One process: this client owns the loop; the scheduler's jobs run on it too.

    It builds and owns the review service and the notices; cogs get them at construction.
    To the scheduler it is the front end: `ready`, `after_poll`, `after_expire`, `post_digest`.
    """

    def __init__(self, app: App, *, on_started: Callable[[], None] | None = None) -> None:
        settings = app.settings
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents(),
            allowed_mentions=discord.AllowedMentions.none(),
            help_command=None,
            # How long discord.py waits for further GUILD_CREATEs before declaring itself
            # ready; the bot lives in one guild, so a short wait is enough.
            guild_ready_timeout=settings.discord.guild_ready_timeout,
        )
        self.app = app
        self.settings = settings
        self.review = ReviewService(self, app)
        self.notices = Notices(self, app)
        self._on_started = on_started
        self.startup_error: str | None = None
        self.ready_checked = asyncio.Event()  # start-up checks passed
        self.started = asyncio.Event()  # reconciled, pending posts made, scheduler running
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def guild_id(self) -> int:
        return self.settings.discord.guild_id

    # -- tasks -------------------------------------------------------------------------

    def _spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """A background task that is kept (not garbage-collected mid-run) and awaited on close."""
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # -- start-up ----------------------------------------------------------------------

    async def setup_hook(self) -> None:
        # This client owns the process's loop: the threads working for a poll yield to it.
        sys.setswitchinterval(SWITCH_INTERVAL)
        await self.add_cog(ReviewCog(self.review))
        await self.add_cog(PaperCommands(self.app, self.review, self.notices))
        self.tree.error(self.on_app_command_error)
        if self.guild_id:
            guild = discord.Object(id=self.guild_id)
            self.tree.copy_global_to(guild=guild)
            try:
                synced = await self.tree.sync(guild=guild)
            except discord.Forbidden as exc:
                # A wrong guild id, or an invite without the applications.commands scope.
                raise StartupError(
                    f"cannot register the slash commands in guild {self.guild_id} ({exc.text}):"
                    " check [discord] guild_id, and invite the bot with this link (scopes bot"
                    f" and applications.commands): {invite_url(self.application_id)}"
                ) from exc
            log.info("synced %d command(s) to guild %s", len(synced), self.guild_id)
        self._spawn(self._after_ready(), name="paperbot-startup")

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
        try:
            await self.review.reconcile()
            if not self.settings.arxiv.poll_on_start:
                # Otherwise the poll on start posts them: one cycle, one max_posts_per_poll.
                await self.review.post_pending()
        except (discord.HTTPException, PaperbotError) as exc:
            # The scheduled polls retry posting; reconcile runs again on the next start.
            log.warning("start-up reconcile/post incomplete: %s", exc)
        settle_heap()
        if self._on_started is not None:
            self._on_started()
        self.started.set()
        log.info("bot ready in guild %s", self.guild_id)

    async def on_ready(self) -> None:
        """A new gateway session after the first one: events in the gap are lost, so recount.

        A resumed session replays what it missed and dispatches `on_resumed`, not this.
        """
        if not self.started.is_set():
            return
        log.info("new gateway session: reconciling open candidates")
        # A task of our own, so close() can wait for it instead of cutting its HTTP calls.
        await asyncio.shield(self._spawn(self._reconcile(), name="paperbot-reconcile"))

    async def _reconcile(self) -> None:
        try:
            await self.review.reconcile()
        except (discord.HTTPException, PaperbotError) as exc:
            log.warning("reconcile after reconnect incomplete: %s", exc)

    async def close(self) -> None:
        """Stop after the vote handlers under way have recorded their votes and edited posts."""
        if not self.is_closed():
            await self.review.drain(timeout=5.0)
            await self.review.drain_tasks(timeout=5.0)
        current = asyncio.current_task()
        pending = {t for t in self._tasks if t is not current and not t.done()}
        if pending:
            _, late = await asyncio.wait(pending, timeout=5.0)
            for task in late:
                task.cancel()
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
                f"guild {d.guild_id} is not visible to the bot: invite it with this link:"
                f" {invite_url(self.application_id)}"
            )
        review = REQUIRED_PERMISSIONS + (THREAD_PERMISSIONS if d.open_threads else ())
        channels = [("review", d.review_channel_id, review)]
        channels += [
            (f"{section!r} review", int(cid), review) for section, cid in d.section_channels.items()
        ]
        if d.admin_channel_id:
            channels.append(("admin", d.admin_channel_id, ADMIN_PERMISSIONS))
        for name, channel_id, wanted in channels:
            channel = guild.get_channel(channel_id)
            if channel is None:
                raise StartupError(f"{name} channel {channel_id} does not exist in {guild.name}"
                                   " (or the bot cannot see it)")  # fmt: skip
            if not isinstance(channel, discord.TextChannel):
                raise StartupError(
                    f"{name} channel {channel_id} is not a text channel in {guild.name}"
                )
            perms = channel.permissions_for(guild.me)
            missing = [p for p in wanted if not getattr(perms, p)]
            if missing:
                raise StartupError(
                    f"missing permission(s) in #{channel.name}: {', '.join(missing)}"
                )

    async def serve(self, token: str, stop: asyncio.Event) -> int:
        """Run until `stop` is set or the connection ends; 0 on a clean stop, 1 when start-up failed."""
        runner = asyncio.create_task(self.start(token), name="paperbot-discord")
        stopper = asyncio.create_task(stop.wait(), name="paperbot-stop")
        done, _ = await asyncio.wait({runner, stopper}, return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
        if runner not in done:
            return 0
        exc = runner.exception()
        if isinstance(exc, StartupError):
            self.startup_error = str(exc)
            return 1
        if isinstance(exc, discord.LoginFailure):
            raise PaperbotError("Discord refused the token (DISCORD_TOKEN)") from exc
        if isinstance(exc, discord.PrivilegedIntentsRequired):
            raise PaperbotError("Discord requires an intent the application lacks") from exc
        if exc is not None:
            raise PaperbotError(f"the Discord connection failed: {exc}") from exc
        return 1 if self.startup_error else 0

    # -- the front end the scheduler talks to ---------------------------------------------

    @property
    def ready(self) -> bool:
        return self.ready_checked.is_set() and not self.is_closed()

    async def after_poll(self, report: PollReport) -> None:
        """Refresh the posts of updated papers, post what waits, send due health alerts.

        Each step on its own: Discord refusing one does not skip the others.
        """
        steps: list[tuple[str, Callable[[], Coroutine[Any, Any, Any]]]] = [
            ("refresh updated posts",
             lambda: self.review.refresh_all(report.stored.updated if report.stored else [])),
            ("post candidates", self.review.post_pending),
            ("send feed-health alerts", self.notices.send_alerts),
        ]  # fmt: skip
        for what, step in steps:
            try:
                await step()
            except (discord.HTTPException, PaperbotError) as exc:
                log.warning("after the poll, could not %s: %s", what, exc)

    async def after_expire(self, expired: list[str]) -> None:
        await self.review.refresh_all(expired)

    async def post_digest(self) -> None:
        await self.notices.post_digest()

    async def tell_admins(self, lines: Sequence[str]) -> None:
        try:
            await self.notices.tell_admins(lines)
        except (discord.HTTPException, PaperbotError) as exc:
            log.warning("could not tell the admin channel %r: %s", lines[:1], exc)

    # -- errors ------------------------------------------------------------------------

    async def on_error(self, event_method: str, /, *args: Any, **kwargs: Any) -> None:
        """A listener failed: one log record naming the event, with the traceback."""
        log.error("event %s failed:\n%s", event_method, traceback.format_exc().rstrip())

    async def on_app_command_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        """Short words to the user, details to the log; never a traceback in a channel."""
        original = getattr(error, "original", error)
        if isinstance(original, app_commands.CheckFailure):
            message = str(original) or "You are not allowed to use this command."
        elif isinstance(original, PaperbotError):
            log.info("command failed: %s", original)  # the whole text, addresses included
            s = self.settings
            internal = [s.arxiv.api_base, *s.arxiv.feeds, s.discord_api_base or ""]
            message = user_text(original, internal)
        else:
            name = interaction.command.qualified_name if interaction.command else "?"
            log.error("command %s failed", name, exc_info=original)
            message = (
                "Something went wrong on my side; the maintainers can see the details in the log."
            )
        message = message if len(message) <= 1900 else message[:1899] + "…"
        try:
            if interaction.response.is_done():
                await interaction.followup.send(message, ephemeral=True)
            else:
                await interaction.response.send_message(message, ephemeral=True)
        except discord.HTTPException:
            log.warning("could not tell the user about an error", exc_info=True)
