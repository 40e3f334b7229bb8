"""Candidate posts and reaction voting: post, count, decide, edit, expire, reconcile."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import discord
from discord.ext import commands

from bot.embeds import CandidateView, candidate_embed, truncate
from bot.pipeline import now_utc
from bot.voting import judge

if TYPE_CHECKING:
    from bot.client import PaperBot

log = logging.getLogger("paperbot.review")



def view_of(candidate: Any, tally: Any = None, runner_up: str | None = None) -> CandidateView:
    approvals = rejections = 0
    if tally is not None:
        both = set(tally.approve) & set(tally.reject)
        approvals = len(set(tally.approve) - both)
        rejections = len(set(tally.reject) - both)
    return CandidateView(
        arxiv_id=candidate.arxiv_id,
        version=candidate.version,
        title=candidate.title,
        authors=candidate.authors or [],
        abstract=candidate.abstract or "",
        categories=candidate.categories or [],
        section=candidate.effective_section,
        score=candidate.score or 0.0,
        reasons=candidate.reasons or [],
        status=candidate.status,
        runner_up=runner_up,
        approvals=approvals,
        rejections=rejections,
        decided_by=candidate.decided_by,
        submitted_by=candidate.submitted_by,
    )


class ReviewCog(commands.Cog):
    """Owns the review channel: one post per candidate, votes by reaction."""

    def __init__(self, bot: PaperBot) -> None:
        self.bot = bot
        self.catalog = bot.services.catalog
        self.settings = bot.settings.discord
        self._post_lock = asyncio.Lock()
        # Votes on one candidate are judged one at a time, so two racing events cannot
        # both decide, nor one decide on a stale tally.
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        # Without the members intent discord.py caches no members: what a reaction event or
        # a fetch told us about a voter is kept here (curator or not, display name).
        self._curators: dict[int, bool] = {}
        self._names: dict[int, str] = {}
        # Post edits are coalesced: a burst of votes costs a few edits, not one each
        # (Discord allows about five message edits per five seconds in a channel).
        self._edit_locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._edits_wanted: defaultdict[str, int] = defaultdict(int)
        self._edits_covered: defaultdict[str, int] = defaultdict(int)
        self._closed: set[str] = set()  # decided in this process: later votes are ignored
        # Reaction handlers under way, so a shutdown can let them finish their writes/edits.
        self._inflight = 0
        self._idle = asyncio.Event()
        self._idle.set()

    # -- posting -----------------------------------------------------------------------

    async def post_pending(self) -> int:
        """Post the best waiting candidates, at most max_posts_per_poll; the rest wait."""
        posted = 0
        async with self._post_lock:
            for candidate in await self.catalog.to_post(self.settings.max_posts_per_poll):
                await self._post(candidate)
                posted += 1
        return posted

    async def post_one(self, arxiv_id: str) -> bool:
        """Post one waiting candidate now (a member's submission), whatever its rank."""
        async with self._post_lock:
            candidate = await self.catalog.get_candidate(arxiv_id)
            if candidate is None or candidate.status != "new" or candidate.message_id:
                return False
            await self._post(candidate)
            return True

    async def _post(self, candidate: Any) -> None:
        channel = self.bot.review_channel
        message = await channel.send(
            embed=candidate_embed(view_of(candidate)),
            allowed_mentions=discord.AllowedMentions.none(),
        )
        # Recorded before anything else, so a crash after this line never reposts.
        await self.catalog.mark_posted(
            candidate.arxiv_id, str(channel.id), str(message.id), None, now_utc()
        )
        await self._decorate(message, candidate)

    async def _decorate(self, message: discord.Message | discord.PartialMessage, candidate: Any) -> None:
        for emoji in (self.settings.approve_emoji, self.settings.reject_emoji):
            await message.add_reaction(emoji)
        if self.settings.open_threads and isinstance(message, discord.Message):
            thread = await message.create_thread(name=truncate(candidate.title, 100) or candidate.arxiv_id)
            await self.catalog.mark_posted(
                candidate.arxiv_id, str(message.channel.id), str(message.id), str(thread.id), now_utc()
            )

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
        candidate = await self.catalog.get_candidate(arxiv_id)
        if candidate is None or not candidate.message_id or not candidate.channel_id:
            return
        tally = await self.catalog.tally(arxiv_id)
        channel = self.bot.get_channel(int(candidate.channel_id))
        if not isinstance(channel, discord.TextChannel | discord.Thread):
            return
        try:
            await channel.get_partial_message(int(candidate.message_id)).edit(
                embed=candidate_embed(view_of(candidate, tally))
            )
        except discord.NotFound:
            log.warning("post of %s was deleted; the candidate stays in the catalog", arxiv_id)
        except discord.HTTPException as exc:
            log.warning("could not edit the post of %s: %s", arxiv_id, exc)

    # -- voting ------------------------------------------------------------------------

    def _choice(self, payload: discord.RawReactionActionEvent) -> str | None:
        if payload.guild_id != self.bot.guild_id or payload.channel_id != self.settings.review_channel_id:
            return None
        if self.bot.user is not None and payload.user_id == self.bot.user.id:
            return None
        name = str(payload.emoji)
        if name == self.settings.approve_emoji:
            return "approve"
        if name == self.settings.reject_emoji:
            return "reject"
        return None

    @commands.Cog.listener()
    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        if payload.member is not None:
            self._remember(payload.member)
        await self._on_reaction(payload, present=True)

    @commands.Cog.listener()
    async def on_raw_reaction_remove(self, payload: discord.RawReactionActionEvent) -> None:
        await self._on_reaction(payload, present=False)

    @contextlib.contextmanager
    def _busy(self) -> Iterator[None]:
        self._inflight += 1
        self._idle.clear()
        try:
            yield
        finally:
            self._inflight -= 1
            if not self._inflight:
                self._idle.set()

    async def drain(self, timeout: float) -> None:  # noqa: ASYNC109
        """Let the vote handlers under way finish (bounded), e.g. before closing the connection."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), timeout)

    async def _on_reaction(self, payload: discord.RawReactionActionEvent, *, present: bool) -> None:
        choice = self._choice(payload)
        if choice is None:
            return
        with self._busy():
            await self._count(payload, choice, present)

    async def _count(self, payload: discord.RawReactionActionEvent, choice: str, present: bool) -> None:
        candidate = await self.catalog.candidate_by_message(str(payload.message_id))
        if candidate is None or not candidate.is_open:
            return
        arxiv_id = candidate.arxiv_id
        async with self._locks[arxiv_id]:
            # Checked again under the lock: a vote queued behind the deciding one must not
            # count (nor be recorded) once the candidate is decided.
            if arxiv_id in self._closed:
                return
            tally = await self.catalog.set_vote(
                arxiv_id, str(payload.user_id), choice, present, now_utc()
            )
            await self._judge(arxiv_id, tally)
        # Outside the lock, so the next votes are counted while this edit is in flight.
        await self.refresh_post(arxiv_id)

    def _remember(self, member: discord.Member) -> None:
        self._curators[member.id] = self.bot.is_curator(member)
        self._names[member.id] = member.display_name

    async def _is_curator(self, user_id: str) -> bool:
        key = int(user_id)
        if key not in self._curators:
            guild = self.bot.get_guild(self.bot.guild_id)
            member = guild.get_member(key) if guild else None
            if member is None and guild is not None:
                try:
                    member = await guild.fetch_member(key)
                except discord.HTTPException:
                    member = None
            if member is not None:
                self._remember(member)
            else:
                self._curators[key] = False  # left the guild: a plain vote
        return self._curators[key]

    async def _judge(self, arxiv_id: str, tally: Any) -> None:
        """Decide if the votes say so; the caller holds the candidate's lock and refreshes the post."""
        voters = set(tally.approve) | set(tally.reject)
        curators = {u for u in voters if await self._is_curator(u)}
        verdict = judge(
            tally.approve,
            tally.reject,
            curators,
            approve_threshold=self.settings.approve_threshold,
            reject_threshold=self.settings.reject_threshold,
        )
        if verdict is None:
            return
        actor = await self._actor_name(verdict.actor) if verdict.reason == "curator" else "vote"
        decision = await self.catalog.decide(
            arxiv_id, verdict.approved, actor, verdict.reason, now_utc()
        )
        self._closed.add(arxiv_id)
        if decision.changed:
            log.info("%s %s by %s", arxiv_id, decision.status, actor)
            self.bot.note_decision()

    async def _actor_name(self, user_id: str) -> str:
        await self._is_curator(user_id)  # fetches the member once if no event carried it
        return self._names.get(int(user_id), f"user {user_id}")

    # -- restart safety ----------------------------------------------------------------

    async def reconcile(self) -> None:
        """Make the catalog agree with Discord after downtime: adopt orphan posts, recount votes."""
        await self._adopt_orphans()
        for candidate in await self.catalog.candidates(status="posted"):
            try:
                await self._recount(candidate)
            except discord.HTTPException as exc:
                log.warning("could not recount %s: %s", candidate.arxiv_id, exc)

    async def _adopt_orphans(self) -> None:
        """A post made just before a crash, never recorded: find it instead of posting again."""
        waiting = {c.arxiv_id: c for c in await self.catalog.candidates(status="new")}
        if not waiting or self.bot.user is None:
            return
        channel = self.bot.review_channel
        async for message in channel.history(limit=200):
            if message.author.id != self.bot.user.id or not message.embeds:
                continue
            url = message.embeds[0].url or ""
            arxiv_id = url.removeprefix("https://arxiv.org/abs/")
            candidate = waiting.pop(arxiv_id, None)
            if candidate is None:
                continue
            log.info("adopting the unrecorded post %s of %s", message.id, arxiv_id)
            await self.catalog.mark_posted(arxiv_id, str(channel.id), str(message.id), None, now_utc())
            mine = {str(r.emoji) for r in message.reactions if r.me}
            if {self.settings.approve_emoji, self.settings.reject_emoji} - mine:
                await self._decorate(message, candidate)

    async def _recount(self, candidate: Any) -> None:
        channel = self.bot.get_channel(int(candidate.channel_id))
        if not isinstance(channel, discord.TextChannel):
            return
        try:
            message = await channel.fetch_message(int(candidate.message_id))
        except discord.NotFound:
            log.warning("post of %s is gone; votes stay as recorded", candidate.arxiv_id)
            return
        votes: dict[str, set[str]] = defaultdict(set)
        mine: set[str] = set()
        for reaction in message.reactions:
            name = str(reaction.emoji)
            choice = {
                self.settings.approve_emoji: "approve",
                self.settings.reject_emoji: "reject",
            }.get(name)
            if choice is None:
                continue
            async for user in reaction.users(limit=None):
                if self.bot.user is not None and user.id == self.bot.user.id:
                    mine.add(name)
                    continue
                votes[str(user.id)].add(choice)
                if isinstance(user, discord.Member):
                    self._remember(user)
        if {self.settings.approve_emoji, self.settings.reject_emoji} - mine:
            await self._decorate(message, candidate)
        async with self._locks[candidate.arxiv_id]:
            tally = await self.catalog.replace_votes(candidate.arxiv_id, dict(votes), now_utc())
            await self._judge(candidate.arxiv_id, tally)
        await self.refresh_post(candidate.arxiv_id)

    # -- expiry ------------------------------------------------------------------------

    async def expire(self) -> list[str]:
        expired = await self.catalog.expire(now_utc(), self.settings.expire_days)
        for arxiv_id in expired:
            await self.refresh_post(arxiv_id)
        return expired
