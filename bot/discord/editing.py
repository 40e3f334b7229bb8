"""Editing the candidate posts: coalesced edits, and a dropped edit tried again."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict

import discord

from bot.app import App
from bot.discord.embeds import candidate_embed, embed_signature, view_of
from feeds.errors import PaperbotError

log = logging.getLogger(__name__)

# A post whose edit Discord dropped (after discord.py's own retries) is tried again this many
# seconds later, and again while it fails: right within a minute of Discord answering again.
REPAIR_AFTER = 20.0


class PostEditor:
    """Keeps each post showing the catalog: one edit for a burst of changes, none when the
    post already shows it, and a dropped edit made again."""

    def __init__(self, client: discord.Client, app: App) -> None:
        self.client = client
        self.app = app
        # Post edits are coalesced: a burst of votes costs a few edits, not one each
        # (Discord allows about five message edits per five seconds in a channel).
        self._edit_locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._edits_wanted: defaultdict[str, int] = defaultdict(int)
        self._edits_covered: defaultdict[str, int] = defaultdict(int)
        # What each post shows (a signature of its embed): a post is edited only when that
        # changes, so a restart with nothing new costs no edits.
        self._rendered: dict[str, str] = {}
        self._stale: set[str] = set()  # posts whose last edit Discord dropped
        self.repair_after = REPAIR_AFTER
        self._retrying: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def saw(self, arxiv_id: str, embed: discord.Embed) -> None:
        """The post of `arxiv_id` shows `embed` (just sent, or read back from Discord)."""
        self._rendered[arxiv_id] = embed_signature(embed)

    async def refresh_post(self, arxiv_id: str) -> None:
        """Re-render a candidate's post from the catalog (votes, section, decision, update).

        When this returns, the post shows the catalog as it was at the call or later;
        calls made while an edit is under way share the one edit that follows it.
        """
        self._edits_wanted[arxiv_id] += 1
        wanted = self._edits_wanted[arxiv_id]
        async with self._edit_locks[arxiv_id]:
            if self._edits_covered[arxiv_id] >= wanted:
                return  # an edit that read the catalog after this call already went out
            self._edits_covered[arxiv_id] = self._edits_wanted[arxiv_id]
            await self._edit_post(arxiv_id)

    async def _edit_post(self, arxiv_id: str) -> None:
        candidate = await self.app.candidate(arxiv_id)
        if candidate is None or not candidate.message_id or not candidate.channel_id:
            return
        tally = await self.app.tally(arxiv_id)
        channel = self.client.get_channel(int(candidate.channel_id))
        if not isinstance(channel, discord.TextChannel | discord.Thread):
            return
        entry = await self.app.entry_preview(candidate) if candidate.is_open else None
        embed = candidate_embed(view_of(candidate, tally, entry=entry))
        signature = embed_signature(embed)
        if self._rendered.get(arxiv_id) == signature:
            return  # the post already shows exactly this
        try:
            await channel.get_partial_message(int(candidate.message_id)).edit(embed=embed)
            self._rendered[arxiv_id] = signature
        except discord.NotFound:
            log.warning("post of %s was deleted; the candidate stays in the catalog", arxiv_id)
        except discord.HTTPException as exc:
            self._stale.add(arxiv_id)
            self._retry_soon()
            log.warning(
                "could not edit the post of %s (tried again in %.0f s): %s",
                arxiv_id, self.repair_after, exc,
            )  # fmt: skip
        else:
            self._stale.discard(arxiv_id)

    async def refresh_all(self, arxiv_ids: list[str]) -> None:
        for arxiv_id in arxiv_ids:
            await self.refresh_post(arxiv_id)

    def refresh_later(self, arxiv_id: str) -> None:
        """Refresh a post in the background (after a command has answered its user)."""
        task = asyncio.get_running_loop().create_task(
            self.refresh_post(arxiv_id), name=f"paperbot-refresh-{arxiv_id}"
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _retry_soon(self) -> None:
        """Start the retry loop unless it runs: it ends once no edit is left to make."""
        if self._retrying is None or self._retrying.done():
            self._retrying = asyncio.get_running_loop().create_task(
                self._retry_loop(), name="paperbot-retry-edits"
            )
            self._tasks.add(self._retrying)
            self._retrying.add_done_callback(self._tasks.discard)

    async def _retry_loop(self) -> None:
        while self._stale:
            await asyncio.sleep(self.repair_after)
            if self.client.is_closed():
                return
            for arxiv_id in sorted(self._stale):
                self._stale.discard(arxiv_id)
                self._rendered.pop(arxiv_id, None)  # what it shows is unknown: edit
                try:
                    await self.refresh_post(arxiv_id)
                except PaperbotError as exc:
                    self._stale.add(arxiv_id)
                    log.warning("post of %s not refreshed (tried again in %.0f s): %s",
                                arxiv_id, self.repair_after, exc)  # fmt: skip

    async def drain_tasks(self, timeout: float) -> None:  # noqa: ASYNC109
        """Let background refreshes finish (bounded), e.g. before closing the connection; an
        edit waiting for its next try is dropped (the next start's recount redoes it)."""
        if self._retrying is not None:
            self._retrying.cancel()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)
