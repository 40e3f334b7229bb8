"""Posting candidates: one post per candidate, its reactions and thread, repaired soon."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

import discord

from bot.app import App, Candidate
from bot.discord.editing import REPAIR_AFTER, PostEditor
from bot.discord.embeds import candidate_embed, truncate, view_of
from db.awesome import match_section
from db.types import CandidateStatus
from feeds.errors import PaperbotError

log = logging.getLogger(__name__)


class Poster:
    """The review channels' posts: made once per candidate (recorded before anything else),
    decorated with the vote reactions (and a thread), repaired within `repair_after` when
    Discord refused a decoration, and adopted after a crash instead of posted twice."""

    def __init__(self, client: discord.Client, app: App, editor: PostEditor) -> None:
        self.client = client
        self.app = app
        self.editor = editor
        self.settings = app.settings.discord
        self._post_lock = asyncio.Lock()
        # Posts whose reactions or thread could not be added yet, repaired soon.
        self._undecorated: dict[str, discord.Message] = {}
        self.repair_after = REPAIR_AFTER
        self._repairing: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def review_channel(self) -> discord.TextChannel:
        channel = self.client.get_channel(self.settings.review_channel_id)
        assert isinstance(channel, discord.TextChannel)
        return channel

    @property
    def channel_ids(self) -> set[int]:
        """Every channel candidates are posted in: the review channel and any per-section one."""
        return {self.settings.review_channel_id, *map(int, self.settings.section_channels.values())}

    def _by_section(self, table: Mapping[str, int], section: str | None) -> int | None:
        if not section:
            return None
        # The table's names are the operator's: matched as forgivingly as a typed section.
        key = match_section(section, list(table))
        return int(table[key]) if key is not None else None

    def channel_for(self, candidate: Candidate) -> discord.TextChannel:
        """The section's own review channel when one is configured, else the review channel."""
        channel_id = self._by_section(self.settings.section_channels, candidate.effective_section)
        channel = self.client.get_channel(channel_id) if channel_id else None
        return channel if isinstance(channel, discord.TextChannel) else self.review_channel

    @property
    def me(self) -> int | None:
        user = self.client.user
        return user.id if user is not None else None

    async def decorate_or_repair(self, message: discord.Message, candidate: Candidate) -> None:
        """Add the post's reactions (and thread); when Discord refuses, repair it soon."""
        try:
            await self._decorate(message, candidate)
        except discord.HTTPException as exc:
            self._undecorated[candidate.arxiv_id] = message
            self._repair_soon()
            log.warning("could not decorate the post of %s: %s", candidate.arxiv_id, exc)

    async def post_pending(self) -> int:
        """Post the best waiting candidates, at most max_posts_per_poll; the rest wait.

        A post Discord refuses is left waiting for the next cycle, and a post whose
        reactions or thread could not be added is repaired then: one failed call costs one
        candidate a cycle, never the rest of the poll.
        """
        posted = 0
        async with self._post_lock:
            await self._repair_decorations()
            for candidate in await self.app.to_post(self.settings.max_posts_per_poll):
                try:
                    await self._post(candidate)
                except discord.HTTPException as exc:
                    log.warning(
                        "could not post %s (retried next cycle): %s", candidate.arxiv_id, exc
                    )
                    continue
                posted += 1
        if posted:
            log.info("posted %d candidate(s)", posted)
        return posted

    async def post_one(self, arxiv_id: str) -> bool:
        """Post one waiting candidate now (a member's submission), whatever its rank."""
        async with self._post_lock:
            candidate = await self.app.candidate(arxiv_id)
            if candidate is None or candidate.status != "new" or candidate.message_id:
                return False
            await self._post(candidate)
            return True

    async def _post(self, candidate: Candidate) -> None:
        channel = self.channel_for(candidate)
        embed = candidate_embed(view_of(candidate, entry=await self.app.entry_preview(candidate)))
        role_id = self._by_section(self.settings.section_roles, candidate.effective_section)
        if role_id is not None:
            # The section's role, and nobody else, whatever the title or abstract says.
            role = discord.Object(id=role_id)
            message = await channel.send(
                f"<@&{role_id}>", embed=embed,
                allowed_mentions=discord.AllowedMentions(everyone=False, users=False, roles=[role]),
            )  # fmt: skip
        else:
            message = await channel.send(
                embed=embed, allowed_mentions=discord.AllowedMentions.none()
            )
        # Recorded before anything else, so a crash after this line never reposts.
        await self.app.posted(candidate.arxiv_id, str(channel.id), str(message.id))
        self.editor.saw(candidate.arxiv_id, embed)
        try:
            await self._decorate(message, candidate)
        except discord.HTTPException as exc:
            self._undecorated[candidate.arxiv_id] = message
            self._repair_soon()
            log.warning(
                "post of %s lacks its reactions (repaired in %.0f s): %s",
                candidate.arxiv_id, self.repair_after, exc,
            )  # fmt: skip

    async def _repair_decorations(self) -> None:
        for arxiv_id, message in list(self._undecorated.items()):
            candidate = await self.app.candidate(arxiv_id)
            if candidate is None or not candidate.is_open:
                self._undecorated.pop(arxiv_id, None)
                continue
            try:
                fresh = await message.channel.fetch_message(message.id)
                await self._decorate(fresh, candidate)
            except discord.NotFound:
                self._undecorated.pop(arxiv_id, None)
            except discord.HTTPException as exc:
                log.warning("still cannot decorate the post of %s: %s", arxiv_id, exc)
            else:
                self._undecorated.pop(arxiv_id, None)

    def _repair_soon(self) -> None:
        """Start the repair loop unless it runs: it ends once nothing is left to repair."""
        if self._repairing is None or self._repairing.done():
            self._repairing = asyncio.get_running_loop().create_task(
                self._repair_loop(), name="paperbot-repair"
            )
            self._tasks.add(self._repairing)
            self._repairing.add_done_callback(self._tasks.discard)

    async def _repair_loop(self) -> None:
        while self._undecorated:
            await asyncio.sleep(self.repair_after)
            if self.client.is_closed():
                return
            try:
                async with self._post_lock:
                    await self._repair_decorations()
            except (discord.HTTPException, PaperbotError) as exc:
                log.warning("post repair incomplete (tried again in %.0f s): %s",
                            self.repair_after, exc)  # fmt: skip

    async def _decorate(
        self, message: discord.Message | discord.PartialMessage, candidate: Candidate
    ) -> None:
        mine = (
            {str(r.emoji) for r in message.reactions if r.me}
            if isinstance(message, discord.Message)
            else set()
        )
        for emoji in (self.settings.approve_emoji, self.settings.reject_emoji):
            if emoji not in mine:
                await message.add_reaction(emoji)
        has_thread = isinstance(message, discord.Message) and message.thread is not None
        if (
            self.settings.open_threads
            and isinstance(message, discord.Message)
            and not has_thread
            and not candidate.thread_id
        ):
            name = truncate(candidate.title, 100) or candidate.arxiv_id
            thread = await message.create_thread(name=name)
            await self.app.posted(
                candidate.arxiv_id, str(message.channel.id), str(message.id), str(thread.id)
            )

    async def adopt_orphans(self) -> None:
        """A post made just before a crash, never recorded: find it instead of posting again."""
        waiting = {c.arxiv_id: c for c in await self.app.candidates(CandidateStatus.NEW)}
        me = self.me
        if not waiting or me is None:
            return
        channels = [c for c in map(self.client.get_channel, sorted(self.channel_ids))
                    if isinstance(c, discord.TextChannel)]  # fmt: skip
        for channel in channels:
            if waiting:
                await self._adopt_in(channel, waiting, me)

    async def _adopt_in(
        self, channel: discord.TextChannel, waiting: dict[str, Candidate], me: int
    ) -> None:
        async for message in channel.history(limit=200):
            if message.author.id != me or not message.embeds:
                continue
            url = message.embeds[0].url or ""
            arxiv_id = url.removeprefix("https://arxiv.org/abs/")
            candidate = waiting.pop(arxiv_id, None)
            if candidate is None:
                continue
            log.info("adopting the unrecorded post %s of %s", message.id, arxiv_id)
            await self.app.posted(arxiv_id, str(channel.id), str(message.id))
            self.editor.saw(arxiv_id, message.embeds[0])
            try:
                await self._decorate(message, candidate)
            except discord.HTTPException as exc:
                self._undecorated[arxiv_id] = message
                self._repair_soon()
                log.warning("could not decorate the adopted post of %s: %s", arxiv_id, exc)

    async def drain_tasks(self) -> None:
        """Drop a repair waiting for its next try (the next start's reconcile repairs)."""
        if self._repairing is not None:
            self._repairing.cancel()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=1.0)
