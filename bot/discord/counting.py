"""Counting the votes: one reaction at a time per candidate, recounted after downtime."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator

import discord

from bot.app import App, Candidate
from bot.discord.editing import PostEditor
from bot.discord.members import is_curator
from bot.discord.posting import Poster
from db.types import CandidateStatus, VoteChoice

log = logging.getLogger(__name__)

# Messages read per channel at a recount, newest open post back to the oldest; posts
# further back (a busy channel) are fetched one by one.
HISTORY_WINDOW = 1000
REACTION_PAGE = 100  # Discord's largest page of a reaction's users
MEMBER_BATCH = 100  # user ids per gateway member request (Discord's limit)
MEMBER_WAIT = 5.0  # seconds to wait for the members' chunk


class VoteCounter:
    """The votes: each reaction event is one core call (`App.vote`) under the candidate's
    lock; a recount after downtime makes the catalog agree with the posts. It answers the
    core's questions about voters (`bot.app.Members`): curator or not, display name."""

    def __init__(
        self, client: discord.Client, app: App, poster: Poster, editor: PostEditor
    ) -> None:
        self.client = client
        self.app = app
        self.poster = poster
        self.editor = editor
        self.settings = app.settings.discord
        # Votes on one candidate are judged one at a time, so two racing events cannot
        # both decide, nor one decide on a stale tally.
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        # Without the members intent discord.py caches no members: what a reaction event or
        # a fetch told us about a voter is kept here (curator or not, display name).
        self._curators: dict[int, bool] = {}
        self._names: dict[int, str] = {}
        self._closed: set[str] = set()  # decided in this process: later votes are ignored
        # Reaction handlers under way, so a shutdown can let them finish their writes/edits.
        self._inflight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        # Vote events received and not yet counted, by post: a recount must not decide on
        # its snapshot while one of them waits, since Discord has already moved past it.
        self._unapplied: defaultdict[int, int] = defaultdict(int)

    def choice_of(self, payload: discord.RawReactionActionEvent) -> VoteChoice | None:
        """The vote a reaction event carries, or None when it is not a vote on a post."""
        d = self.settings
        if payload.guild_id != d.guild_id or payload.channel_id not in self.poster.channel_ids:
            return None
        if payload.user_id == self.poster.me:
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
        self._unapplied[payload.message_id] += 1
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
        try:
            candidate = await self.app.candidate_of_post(str(payload.message_id))
            if candidate is None or not candidate.is_open:
                return
            arxiv_id = candidate.arxiv_id
            async with self._locks[arxiv_id]:
                # Checked again under the lock: a vote queued behind the deciding one must
                # not count (nor be recorded) once the candidate is decided.
                if arxiv_id in self._closed:
                    return
                outcome = await self.app.vote(arxiv_id, str(payload.user_id), choice, present, self)
                if outcome.decision is not None:
                    self._closed.add(arxiv_id)
        finally:
            self._applied(payload.message_id)
        # Outside the lock, so the next votes are counted while this edit is in flight.
        await self.editor.refresh_post(arxiv_id)

    def _applied(self, message_id: int) -> None:
        self._unapplied[message_id] -= 1
        if self._unapplied[message_id] <= 0:
            del self._unapplied[message_id]

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

    async def _learn(self, user_ids: Iterable[str]) -> None:
        """Curator or not, for the voters a recount met: a hundred per gateway request.

        One REST look-up per voter would be five a second (Discord's member bucket): a
        recount of 200 new voters would hold the candidate's lock for 40 s. What is still
        unknown afterwards (the request failed) is looked up one by one when judged.
        """
        unknown = sorted({int(u) for u in user_ids} - self._curators.keys())
        guild = self.client.get_guild(self.settings.guild_id)
        if not unknown or guild is None:
            return
        for start in range(0, len(unknown), MEMBER_BATCH):
            batch = unknown[start : start + MEMBER_BATCH]
            try:
                members = await asyncio.wait_for(
                    guild.query_members(user_ids=batch, limit=MEMBER_BATCH, cache=False),
                    MEMBER_WAIT,
                )
            except (TimeoutError, discord.ClientException) as exc:
                log.warning("could not ask the gateway for %d voter(s): %s", len(batch), exc)
                return
            for member in members:
                self._remember(member)
            for left in set(batch) - {m.id for m in members}:
                self._curators[left] = False  # not (or no longer) a member: a plain vote

    async def is_curator(self, user_id: str) -> bool:
        return await self._is_curator(user_id)

    async def display_name(self, user_id: str) -> str:
        await self._is_curator(user_id)  # fetches the member once if no event carried it
        return self._names.get(int(user_id), f"user {user_id}")

    async def reconcile(self) -> None:
        """Make the catalog agree with Discord after downtime: adopt orphan posts, recount votes."""
        await self.poster.adopt_orphans()
        candidates = await self.app.candidates(CandidateStatus.POSTED)
        recent = await self._recent_posts(candidates)
        for candidate in candidates:
            message = recent.get(int(candidate.message_id)) if candidate.message_id else None
            try:
                await self._recount(candidate, message)
            except discord.HTTPException as exc:
                log.warning("could not recount %s: %s", candidate.arxiv_id, exc)

    async def _recent_posts(self, candidates: list[Candidate]) -> dict[int, discord.Message]:
        """The open posts as the channels' history shows them, a hundred per request.

        Discord allows about five message reads per second in a channel: reading 40 posts
        one by one would cost 8 s, their history one request. A post older than the
        window is fetched on its own by the recount.
        """
        wanted: defaultdict[int, set[int]] = defaultdict(set)
        for c in candidates:
            if c.channel_id and c.message_id:
                wanted[int(c.channel_id)].add(int(c.message_id))
        found: dict[int, discord.Message] = {}
        for channel_id, ids in wanted.items():
            channel = self.client.get_channel(channel_id)
            if not isinstance(channel, discord.TextChannel):
                continue
            after = discord.Object(id=min(ids) - 1)
            try:
                async for message in channel.history(limit=HISTORY_WINDOW, after=after):
                    if message.id in ids:
                        found[message.id] = message
                        if len(found) == len(ids):
                            break
            except discord.HTTPException as exc:
                log.warning("could not read the history of #%s: %s", channel.name, exc)
        return found

    async def _recount(self, candidate: Candidate, message: discord.Message | None = None) -> None:
        """Replace the stored votes by what the post shows, composed with live events.

        The candidate's lock is held from before the voters are read until the tally is
        judged: a reaction event arriving meanwhile waits, then applies on top of the
        snapshot (adding a vote the snapshot has is a no-op, removing one it lacks too),
        so the catalog ends equal to Discord; and while such an event waits, the snapshot
        decides nothing. `message` (from the history) only says which voter lists to read.
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
                if message is None:
                    message = await channel.fetch_message(int(candidate.message_id))
                counted = await self._recount_message(candidate, message)
                if not counted:
                    # A vote is recorded for an emoji the earlier read did not show at all.
                    message = await channel.fetch_message(int(candidate.message_id))
                    await self._recount_message(candidate, message, fresh=True)
            except discord.NotFound:
                log.warning("post of %s is gone; votes stay as recorded", candidate.arxiv_id)
                return
        # In the background: the next posts are read while this edit waits for its bucket.
        self.editor.refresh_later(candidate.arxiv_id)

    async def _recount_message(
        self, candidate: Candidate, message: discord.Message, *, fresh: bool = False
    ) -> bool:
        """Recount from `message`; False (nothing changed) when it is too old to be used.

        An emoji nobody but the bot holds, on Discord when `message` was read and in the
        catalog now, has no voters to read: a vote given since is either recorded already
        (then the list is read) or waits behind the lock. Every other list is read now.
        """
        arxiv_id = candidate.arxiv_id
        by_emoji = {
            self.settings.approve_emoji: VoteChoice.APPROVE,
            self.settings.reject_emoji: VoteChoice.REJECT,
        }
        tally = await self.app.tally(arxiv_id)
        recorded = {VoteChoice.APPROVE: bool(tally.approve), VoteChoice.REJECT: bool(tally.reject)}
        reactions = {str(r.emoji): r for r in message.reactions if str(r.emoji) in by_emoji}
        if not fresh and any(recorded[c] and e not in reactions for e, c in by_emoji.items()):
            return False
        if message.embeds:
            self.editor.saw(arxiv_id, message.embeds[0])
        votes: dict[str, set[VoteChoice]] = defaultdict(set)
        mine = {name for name, r in reactions.items() if r.me}
        for name, reaction in reactions.items():
            choice = by_emoji[name]
            if reaction.count - int(reaction.me) <= 0 and not recorded[choice]:
                continue
            for user_id in await self._voters(message, name):
                if user_id == self.poster.me:
                    mine.add(name)
                else:
                    votes[str(user_id)].add(choice)
        await self._learn(votes)
        # A reaction event that arrived while the voters were read: the snapshot may be
        # behind Discord, so the event, applied next under this lock, judges instead.
        follows = bool(self._unapplied.get(message.id))
        if follows:
            log.info("recount of %s: a vote event follows, it decides", arxiv_id)
        outcome = await self.app.recount(arxiv_id, dict(votes), self, judge_now=not follows)
        if outcome.decision is not None:
            self._closed.add(arxiv_id)
        if set(by_emoji) - mine:
            await self.poster.decorate_or_repair(message, candidate)
        return True

    async def _voters(self, message: discord.Message, emoji: str) -> list[int]:
        """Everyone holding `emoji` on `message` now, paged like Discord (100 by user id).

        Not `Reaction.users()`: it reads only as many as the message's reaction count said
        when the message was read, so a voter who came since would be missed; and it asks
        once more for an empty page after a short one.
        """
        found: list[int] = []
        after: int | None = None
        while True:
            page = await self.client.http.get_reaction_users(
                message.channel.id, message.id, emoji, REACTION_PAGE, after=after
            )
            found.extend(int(user["id"]) for user in page)
            if len(page) < REACTION_PAGE:
                return found
            after = found[-1]
