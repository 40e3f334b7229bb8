"""The daily digest and feed-health alerts."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import discord
from discord.ext import commands

from bot.embeds import escape, jump_link, split_messages, truncate
from bot.pipeline import now_utc

if TYPE_CHECKING:
    from bot.client import PaperBot

log = logging.getLogger("paperbot.digest")

LAST_DIGEST = "last_digest_at"
LAST_ANNOUNCEMENT = "last_announcement_at"


@dataclass
class DigestInput:
    since: datetime
    now: datetime
    new: list[Any] = field(default_factory=list)
    approved: list[Any] = field(default_factory=list)
    rejected: list[Any] = field(default_factory=list)
    expiring: list[Any] = field(default_factory=list)
    votes: dict[str, tuple[int, int]] = field(default_factory=dict)
    announced: bool = True  # arXiv announced something since `since`
    guild_id: int = 0

    @property
    def empty(self) -> bool:
        return not (self.new or self.approved or self.rejected or self.expiring)


def _link(candidate: Any, guild_id: int) -> str:
    title = escape(truncate(" ".join(candidate.title.split()), 120))
    if candidate.message_id and candidate.channel_id:
        return f"[{title}]({jump_link(guild_id, candidate.channel_id, candidate.message_id)})"
    return f"{title} (https://arxiv.org/abs/{candidate.arxiv_id})"


def build_digest(data: DigestInput, *, timezone: Any) -> list[str]:
    """The digest as Discord messages (each within 2000 characters); [] when nothing to say."""
    day = data.now.astimezone(timezone).strftime("%A %d %B %Y")
    blocks: list[str] = [f"**paperbot digest — {day}**"]
    if not data.announced and not data.new:
        blocks.append("arXiv announced nothing since the last digest (a weekend or a holiday).")
    if data.new:
        blocks.append(f"__{len(data.new)} new candidate(s)__")
        grouped: dict[str, list[Any]] = defaultdict(list)
        for c in data.new:
            grouped[c.effective_section or "No section"].append(c)
        for section in sorted(grouped):
            blocks.append(f"**{escape(section)}**")
            for c in sorted(grouped[section], key=lambda c: -(c.score or 0)):
                up, down = data.votes.get(c.arxiv_id, (0, 0))
                blocks.append(f"• {_link(c, data.guild_id)} — score {c.score:.2f}, votes +{up}/−{down}")
    elif data.announced:
        blocks.append("No new candidates.")
    if data.approved:
        blocks.append(f"__Approved ({len(data.approved)})__")
        blocks.extend(
            f"• {_link(c, data.guild_id)} → {escape(c.effective_section or '-')}"
            for c in data.approved
        )
    if data.rejected:
        blocks.append(f"__Rejected ({len(data.rejected)})__")
        blocks.extend(f"• {_link(c, data.guild_id)}" for c in data.rejected)
    if data.expiring:
        blocks.append(f"__Expiring soon ({len(data.expiring)}) — vote now__")
        blocks.extend(f"• {_link(c, data.guild_id)}" for c in data.expiring)
    return split_messages(blocks)


def stale(last_changed: datetime | None, now: datetime, announcement_days: int) -> bool:
    """More than `announcement_days` weekday announcements passed without the feed changing."""
    if last_changed is None:
        return False
    days = 0
    cursor = last_changed
    while cursor < now:
        cursor += timedelta(days=1)
        # arXiv announces Sunday to Thursday evenings (US Eastern): weekday mornings in UTC.
        if cursor <= now and cursor.weekday() < 5:
            days += 1
    return days > announcement_days


class DigestCog(commands.Cog):
    def __init__(self, bot: PaperBot) -> None:
        self.bot = bot
        self.catalog = bot.services.catalog

    async def collect(self, now: datetime) -> DigestInput:
        raw_since = await self.catalog.meta_get(LAST_DIGEST)
        since = datetime.fromisoformat(raw_since) if raw_since else now - timedelta(days=1)
        raw_ann = await self.catalog.meta_get(LAST_ANNOUNCEMENT)
        announced = bool(raw_ann) and datetime.fromisoformat(raw_ann) > since
        data = DigestInput(since=since, now=now, announced=announced, guild_id=self.bot.guild_id)
        expire_days = self.bot.settings.discord.expire_days
        warn = timedelta(days=max(0, expire_days - self.bot.settings.digest.expiring_within_days))
        for c in await self.catalog.candidates():
            if c.is_open:
                if c.created_at >= since:
                    data.new.append(c)
                elif now - c.created_at >= warn:
                    data.expiring.append(c)
            elif c.decided_at and c.decided_at >= since:
                if c.status == "approved":
                    data.approved.append(c)
                elif c.status == "rejected":
                    data.rejected.append(c)
        for c in data.new:
            tally = await self.catalog.tally(c.arxiv_id)
            both = set(tally.approve) & set(tally.reject)
            data.votes[c.arxiv_id] = (len(set(tally.approve) - both), len(set(tally.reject) - both))
        return data

    async def post_digest(self, *, force: bool = False) -> int:
        """Post the digest; returns how many messages were sent."""
        now = now_utc()
        data = await self.collect(now)
        settings = self.bot.settings.digest
        # A quiet arXiv day is always worth a line; a busy day with nothing for us may be skipped.
        if data.empty and data.announced and not force and settings.when_empty == "skip":
            await self.catalog.meta_set(LAST_DIGEST, now.isoformat())
            return 0
        messages = build_digest(data, timezone=self.bot.settings.digest_zone)
        channel = self.bot.review_channel
        for text in messages:
            await channel.send(text, allowed_mentions=discord.AllowedMentions.none(), suppress_embeds=True)
        await self.catalog.meta_set(LAST_DIGEST, now.isoformat())
        return len(messages)

    async def check_health(self, states: Sequence[Any]) -> None:
        """One alert when a feed fails or stalls, one message when it recovers; never a storm."""
        health = self.bot.settings.health
        now = now_utc()
        for state in states:
            if state.url not in self.bot.settings.arxiv.feeds:
                continue
            failing = state.consecutive_failures >= health.max_failures
            stalled = stale(state.last_changed, now, health.stale_announcement_days)
            if (failing or stalled) and not state.alerted:
                if failing:
                    text = (f"⚠️ Feed {state.url} failed {state.consecutive_failures} times in a row: "
                            f"{state.last_error or 'unknown error'}")
                else:
                    text = (f"⚠️ Feed {state.url} has not changed since "
                            f"{state.last_changed:%Y-%m-%d %H:%M} UTC")
                await self._alert(text)
                state.alerted = True
                await self.catalog.save_feed_state(state)
            elif state.alerted and not failing and not stalled:
                await self._alert(f"✅ Feed {state.url} has recovered.")
                state.alerted = False
                await self.catalog.save_feed_state(state)

    async def _alert(self, text: str) -> None:
        await self.bot.admin_channel.send(
            truncate(text, 1900), allowed_mentions=discord.AllowedMentions.none(), suppress_embeds=True
        )
