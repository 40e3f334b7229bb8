"""The review service: one post per candidate, votes by reaction, reconciling after downtime."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Iterator, Mapping

import discord

from bot.app import App
from bot.app.curation import section_key
from bot.discord.embeds import candidate_embed, embed_signature, truncate, view_of
from bot.discord.members import is_curator
from db.catalog import Candidate, Tally
from db.types import CandidateStatus, VoteChoice

log = logging.getLogger(__name__)


class ReviewService:
    """Owns the review channel; built and owned by the client, called by cogs and the scheduler."""

    def __init__(self, client: discord.Client, app: App) -> None:
        self.client = client
        self.app = app
        self.catalog = app.catalog
        self.settings = app.settings.discord
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
        # What each post shows (a signature of its embed): a post is edited only when that
        # changes, so a restart with nothing new costs no edits.
        self._rendered: dict[str, str] = {}
        # Posts whose reactions or thread could not be added yet, repaired next cycle.
        self._undecorated: dict[str, discord.Message] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        # Reaction handlers under way, so a shutdown can let them finish their writes/edits.
        self._inflight = 0
        self._idle = asyncio.Event()
        self._idle.set()

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
        wanted = section_key(section)
        return next((int(v) for k, v in table.items() if section_key(k) == wanted), None)

    def channel_for(self, candidate: Candidate) -> discord.TextChannel:
        """The section's own review channel when one is configured, else the review channel."""
        channel_id = self._by_section(self.settings.section_channels, candidate.effective_section)
        channel = self.client.get_channel(channel_id) if channel_id else None
        return channel if isinstance(channel, discord.TextChannel) else self.review_channel

    @property
    def _me(self) -> int | None:
        user = self.client.user
        return user.id if user is not None else None

    # -- posting -----------------------------------------------------------------------

    async def post_pending(self) -> int:
        """Post the best waiting candidates, at most max_posts_per_poll; the rest wait.

        A post Discord refuses is left waiting for the next cycle, and a post whose
        reactions or thread could not be added is repaired then: one failed call costs one
        candidate a cycle, never the rest of the poll.
        """
        posted = 0
        async with self._post_lock:
            await self._repair_decorations()
            for candidate in await self.catalog.to_post(self.settings.max_posts_per_poll):
                try:
                    await self._post(candidate)
                except discord.HTTPException as exc:
                    log.warning("could not post %s (retried next cycle): %s", candidate.arxiv_id, exc)
                    continue
                posted += 1
        if posted:
            log.info("posted %d candidate(s)", posted)
        return posted

    async def post_one(self, arxiv_id: str) -> bool:
        """Post one waiting candidate now (a member's submission), whatever its rank."""
        async with self._post_lock:
            candidate = await self.catalog.get_candidate(arxiv_id)
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
            message = await channel.send(embed=embed, allowed_mentions=discord.AllowedMentions.none())
        # Recorded before anything else, so a crash after this line never reposts.
        await self.catalog.mark_posted(
            candidate.arxiv_id, str(channel.id), str(message.id), None, self.app.clock()
        )
        self._rendered[candidate.arxiv_id] = embed_signature(embed)
        try:
            await self._decorate(message, candidate)
        except discord.HTTPException as exc:
            self._undecorated[candidate.arxiv_id] = message
            log.warning("post of %s lacks its reactions (repaired next cycle): %s", candidate.arxiv_id, exc)

    async def _repair_decorations(self) -> None:
        for arxiv_id, message in list(self._undecorated.items()):
            candidate = await self.catalog.get_candidate(arxiv_id)
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
            await self.catalog.mark_posted(
                candidate.arxiv_id, str(message.channel.id), str(message.id), str(thread.id),
                self.app.clock(),
            )  # fmt: skip

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
            log.warning("could not edit the post of %s: %s", arxiv_id, exc)

    # -- voting ------------------------------------------------------------------------

    def choice_of(self, payload: discord.RawReactionActionEvent) -> VoteChoice | None:
        """The vote a reaction event carries, or None when it is not a vote on a post."""
        d = self.settings
        if payload.guild_id != d.guild_id or payload.channel_id not in self.channel_ids:
            return None
        if payload.user_id == self._me:
            return None
        name = str(payload.emoji)
        if name == d.approve_emoji:
            return VoteChoice.APPROVE
        if name == d.reject_emoji:
            return VoteChoice.REJECT
        return None

    async def on_reaction(self, payload: discord.RawReactionActionEvent, *, present: bool) -> None:
        """Count one reaction added or removed, decide if the votes say so, refresh the post."""
        if present and payload.member is not None:
            self._remember(payload.member)
        choice = self.choice_of(payload)
        if choice is None:
            return
        with self._busy():
            await self._count(payload, choice, present)

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

    async def _count(
        self, payload: discord.RawReactionActionEvent, choice: VoteChoice, present: bool
    ) -> None:
        candidate = await self.catalog.candidate_by_message(str(payload.message_id))
        if candidate is None or not candidate.is_open:
            return
        arxiv_id = candidate.arxiv_id
        async with self._locks[arxiv_id]:
            # Checked again under the lock: a vote queued behind the deciding one must not
            # count (nor be recorded) once the candidate is decided.
            if arxiv_id in self._closed:
                return
            tally = await self.app.record_vote(arxiv_id, str(payload.user_id), choice, present)
            await self._judge(arxiv_id, tally)
        # Outside the lock, so the next votes are counted while this edit is in flight.
        await self.refresh_post(arxiv_id)

    def _remember(self, member: discord.Member) -> None:
        self._curators[member.id] = is_curator(member, self.settings.curator_role)
        self._names[member.id] = member.display_name

    async def _is_curator(self, user_id: str) -> bool:
        key = int(user_id)
        if key not in self._curators:
            guild = self.client.get_guild(self.settings.guild_id)
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

    async def _judge(self, arxiv_id: str, tally: Tally) -> None:
        """Decide if the votes say so; the caller holds the candidate's lock and refreshes the post."""
        voters = set(tally.approve) | set(tally.reject)
        curators = {u for u in voters if await self._is_curator(u)}
        result = await self.app.judge_votes(arxiv_id, tally, curators, self._actor_name)
        if result is not None:
            self._closed.add(arxiv_id)

    async def _actor_name(self, user_id: str) -> str:
        await self._is_curator(user_id)  # fetches the member once if no event carried it
        return self._names.get(int(user_id), f"user {user_id}")

    # -- restart safety ----------------------------------------------------------------

    async def reconcile(self) -> None:
        """Make the catalog agree with Discord after downtime: adopt orphan posts, recount votes."""
        await self._adopt_orphans()
        for candidate in await self.catalog.candidates(status=CandidateStatus.POSTED):
            try:
                await self._recount(candidate)
            except discord.HTTPException as exc:
                log.warning("could not recount %s: %s", candidate.arxiv_id, exc)

    async def _adopt_orphans(self) -> None:
        """A post made just before a crash, never recorded: find it instead of posting again."""
        waiting = {c.arxiv_id: c for c in await self.catalog.candidates(status=CandidateStatus.NEW)}
        me = self._me
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
            await self.catalog.mark_posted(
                arxiv_id, str(channel.id), str(message.id), None, self.app.clock()
            )
            self._rendered[arxiv_id] = embed_signature(message.embeds[0])
            try:
                await self._decorate(message, candidate)
            except discord.HTTPException as exc:
                self._undecorated[arxiv_id] = message
                log.warning("could not decorate the adopted post of %s: %s", arxiv_id, exc)

    async def _recount(self, candidate: Candidate) -> None:
        """Replace the stored votes by what the post shows, composed with live events.

        The candidate's lock is held from before the reactions are read until the tally is
        judged: a reaction event arriving meanwhile waits, then applies on top of the
        snapshot (adding a vote the snapshot has is a no-op, removing one it lacks too),
        so the catalog ends equal to Discord and no decision is taken on a stale tally.
        """
        if not candidate.channel_id or not candidate.message_id:
            return
        channel = self.client.get_channel(int(candidate.channel_id))
        if not isinstance(channel, discord.TextChannel):
            return
        async with self._locks[candidate.arxiv_id]:
            if candidate.arxiv_id in self._closed:
                return
            try:
                message = await channel.fetch_message(int(candidate.message_id))
            except discord.NotFound:
                log.warning("post of %s is gone; votes stay as recorded", candidate.arxiv_id)
                return
            await self._recount_message(candidate, message)
        await self.refresh_post(candidate.arxiv_id)

    async def _recount_message(self, candidate: Candidate, message: discord.Message) -> None:
        if message.embeds:
            self._rendered[candidate.arxiv_id] = embed_signature(message.embeds[0])
        votes: dict[str, set[VoteChoice]] = defaultdict(set)
        mine: set[str] = set()
        by_emoji = {
            self.settings.approve_emoji: VoteChoice.APPROVE,
            self.settings.reject_emoji: VoteChoice.REJECT,
        }
        for reaction in message.reactions:
            name = str(reaction.emoji)
            choice = by_emoji.get(name)
            if choice is None:
                continue
            async for user in reaction.users(limit=None):
                if user.id == self._me:
                    mine.add(name)
                    continue
                votes[str(user.id)].add(choice)
                if isinstance(user, discord.Member):
                    self._remember(user)
        tally = await self.app.replace_votes(candidate.arxiv_id, dict(votes))
        await self._judge(candidate.arxiv_id, tally)
        if set(by_emoji) - mine:
            try:
                await self._decorate(message, candidate)
            except discord.HTTPException as exc:
                self._undecorated[candidate.arxiv_id] = message
                log.warning("could not decorate the post of %s: %s", candidate.arxiv_id, exc)

    # -- expiry ------------------------------------------------------------------------

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

    async def drain_tasks(self, timeout: float) -> None:  # noqa: ASYNC109
        """Let background refreshes finish (bounded), e.g. before closing the connection."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)
