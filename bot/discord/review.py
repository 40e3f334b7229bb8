"""The review service: one post per candidate, votes by reaction, reconciling after downtime."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping

import discord

from bot.app import App, Candidate
from bot.discord.embeds import candidate_embed, embed_signature, truncate, view_of
from bot.discord.members import is_curator
from db.awesome import match_section
from db.types import CandidateStatus, VoteChoice
from feeds.errors import PaperbotError

log = logging.getLogger(__name__)

# Messages read per channel at a recount, newest open post back to the oldest; posts
# further back (a busy channel) are fetched one by one.
HISTORY_WINDOW = 1000
REACTION_PAGE = 100  # Discord's largest page of a reaction's users
MEMBER_BATCH = 100  # user ids per gateway member request (Discord's limit)
MEMBER_WAIT = 5.0  # seconds to wait for the members' chunk
# A post whose reactions could not be added, or whose edit Discord dropped (after
# discord.py's own retries), is tried again this many seconds later, and again while it
# fails: repaired within a minute of Discord answering again, not at the next poll.
REPAIR_AFTER = 20.0


class ReviewService:
    """Owns the review channel; built and owned by the client, called by cogs and the scheduler."""

    def __init__(self, client: discord.Client, app: App) -> None:
        self.client = client
        self.app = app
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
        self._stale: set[str] = set()  # posts whose last edit Discord dropped
        self.repair_after = REPAIR_AFTER
        self._repairing: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        # Reaction handlers under way, so a shutdown can let them finish their writes/edits.
        self._inflight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        # Vote events received and not yet counted, by post: a recount must not decide on
        # its snapshot while one of them waits, since Discord has already moved past it.
        self._unapplied: defaultdict[int, int] = defaultdict(int)

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
        self._rendered[candidate.arxiv_id] = embed_signature(embed)
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
        while self._undecorated or self._stale:
            await asyncio.sleep(self.repair_after)
            if self.client.is_closed():
                return
            try:
                if self._undecorated:
                    async with self._post_lock:
                        await self._repair_decorations()
                for arxiv_id in sorted(self._stale):
                    self._stale.discard(arxiv_id)
                    self._rendered.pop(arxiv_id, None)  # what it shows is unknown: edit
                    await self.refresh_post(arxiv_id)
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
            self._repair_soon()
            log.warning(
                "could not edit the post of %s (tried again in %.0f s): %s",
                arxiv_id, self.repair_after, exc,
            )  # fmt: skip
        else:
            self._stale.discard(arxiv_id)

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
        await self.refresh_post(arxiv_id)

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

    # -- what the core asks about voters (bot.app.Members) --------------------------------

    async def is_curator(self, user_id: str) -> bool:
        return await self._is_curator(user_id)

    async def display_name(self, user_id: str) -> str:
        await self._is_curator(user_id)  # fetches the member once if no event carried it
        return self._names.get(int(user_id), f"user {user_id}")

    # -- restart safety ----------------------------------------------------------------

    async def reconcile(self) -> None:
        """Make the catalog agree with Discord after downtime: adopt orphan posts, recount votes."""
        await self._adopt_orphans()
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

    async def _adopt_orphans(self) -> None:
        """A post made just before a crash, never recorded: find it instead of posting again."""
        waiting = {c.arxiv_id: c for c in await self.app.candidates(CandidateStatus.NEW)}
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
            await self.app.posted(arxiv_id, str(channel.id), str(message.id))
            self._rendered[arxiv_id] = embed_signature(message.embeds[0])
            try:
                await self._decorate(message, candidate)
            except discord.HTTPException as exc:
                self._undecorated[arxiv_id] = message
                self._repair_soon()
                log.warning("could not decorate the adopted post of %s: %s", arxiv_id, exc)

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
        self.refresh_later(candidate.arxiv_id)

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
            self._rendered[arxiv_id] = embed_signature(message.embeds[0])
        votes: dict[str, set[VoteChoice]] = defaultdict(set)
        mine = {name for name, r in reactions.items() if r.me}
        for name, reaction in reactions.items():
            choice = by_emoji[name]
            if reaction.count - int(reaction.me) <= 0 and not recorded[choice]:
                continue
            for user_id in await self._voters(message, name):
                if user_id == self._me:
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
            try:
                await self._decorate(message, candidate)
            except discord.HTTPException as exc:
                self._undecorated[arxiv_id] = message
                self._repair_soon()
                log.warning("could not decorate the post of %s: %s", arxiv_id, exc)
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
        """Let background refreshes finish (bounded), e.g. before closing the connection; a
        repair waiting for its next try is dropped (the next start's reconcile repairs)."""
        if self._repairing is not None:
            self._repairing.cancel()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)
