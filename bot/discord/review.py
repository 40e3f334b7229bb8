"""The review service: one post per candidate, votes by reaction, reconciling after downtime.

Three pieces a newcomer can find, composed here: `Poster` (posting.py: posts, their
reactions and threads, repair, adoption after a crash), `PostEditor` (editing.py: each post
kept showing the catalog, edits coalesced, a dropped edit made again) and `VoteCounter`
(counting.py: reaction events, the core's vote call, the recount after downtime).
"""

from __future__ import annotations

import discord

from bot.app import App, Candidate
from bot.discord.counting import VoteCounter
from bot.discord.editing import PostEditor
from bot.discord.posting import Poster


class ReviewService:
    """Owns the review channels; built and owned by the client, called by cogs and the
    scheduler."""

    def __init__(self, client: discord.Client, app: App) -> None:
        self.editor = PostEditor(client, app)
        self.poster = Poster(client, app, self.editor)
        self.counter = VoteCounter(client, app, self.poster, self.editor)

    @property
    def repair_after(self) -> float:
        """Seconds before a refused decoration or a dropped edit is tried again."""
        return self.poster.repair_after

    @repair_after.setter
    def repair_after(self, seconds: float) -> None:
        self.poster.repair_after = self.editor.repair_after = seconds

    def channel_for(self, candidate: Candidate) -> discord.TextChannel:
        """The section's own review channel when one is configured, else the review channel."""
        return self.poster.channel_for(candidate)

    async def post_pending(self) -> int:
        """Post the best waiting candidates, at most max_posts_per_poll; the rest wait."""
        return await self.poster.post_pending()

    async def post_one(self, arxiv_id: str) -> bool:
        """Post one waiting candidate now (a member's submission), whatever its rank."""
        return await self.poster.post_one(arxiv_id)

    async def on_reaction(self, payload: discord.RawReactionActionEvent, *, present: bool) -> None:
        """Count one reaction added or removed, decide if the votes say so, refresh the post."""
        await self.counter.on_reaction(payload, present=present)

    async def reconcile(self) -> None:
        """Make the catalog agree with Discord after downtime: adopt orphan posts, recount votes."""
        await self.counter.reconcile()

    async def refresh_post(self, arxiv_id: str) -> None:
        """Re-render a candidate's post from the catalog."""
        await self.editor.refresh_post(arxiv_id)

    async def refresh_all(self, arxiv_ids: list[str]) -> None:
        await self.editor.refresh_all(arxiv_ids)

    def refresh_later(self, arxiv_id: str) -> None:
        """Refresh a post in the background (after a command has answered its user)."""
        self.editor.refresh_later(arxiv_id)

    async def drain(self, timeout: float) -> None:  # noqa: ASYNC109
        """Let the vote handlers under way finish (bounded), e.g. before closing the connection."""
        await self.counter.drain(timeout)

    async def drain_tasks(self, timeout: float) -> None:  # noqa: ASYNC109
        """Let background refreshes finish (bounded); repairs waiting for a retry are dropped."""
        await self.poster.drain_tasks()
        await self.editor.drain_tasks(timeout)
