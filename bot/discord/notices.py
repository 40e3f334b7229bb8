"""Messages that are not candidate posts: the daily digest and feed-health alerts."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import discord

from bot.app import App
from bot.discord.embeds import build_digest, truncate

log = logging.getLogger(__name__)


class Notices:
    """Sends the digest to the review channel and health alerts to the admin channel."""

    def __init__(self, client: discord.Client, app: App) -> None:
        self.client = client
        self.app = app

    def _channel(self, channel_id: int) -> discord.TextChannel | None:
        channel = self.client.get_channel(channel_id)
        return channel if isinstance(channel, discord.TextChannel) else None

    @property
    def review_channel(self) -> discord.TextChannel:
        channel = self._channel(self.app.settings.discord.review_channel_id)
        assert channel is not None
        return channel

    @property
    def admin_channel(self) -> discord.TextChannel:
        d = self.app.settings.discord
        return (
            self._channel(d.admin_channel_id) if d.admin_channel_id else None
        ) or self.review_channel

    async def post_digest(self, *, force: bool = False) -> int:
        """Post the digest; returns how many messages were sent."""
        data = await self.app.digest_data()
        if not self.app.digest_wanted(data, force=force):
            await self.app.digest_sent(data)
            return 0
        messages = build_digest(
            data,
            guild_id=self.app.settings.discord.guild_id,
            timezone=self.app.settings.digest_zone,
        )
        channel = self.review_channel
        for text in messages:
            await channel.send(
                text, allowed_mentions=discord.AllowedMentions.none(), suppress_embeds=True
            )
        await self.app.digest_sent(data)
        log.info("digest posted (%d message(s))", len(messages))
        return len(messages)

    async def tell_admins(self, lines: Sequence[str]) -> None:
        """One message to the admin channel, a line per change (what a sync found)."""
        if lines:
            await self.admin_channel.send(
                truncate("\n".join(lines), 1900),
                allowed_mentions=discord.AllowedMentions.none(),
                suppress_embeds=True,
            )

    async def send_alerts(self) -> None:
        """The feed-health alerts the core says are due; each recorded once it is sent."""
        for alert in await self.app.health_alerts():
            await self.admin_channel.send(
                truncate(alert.text, 1900),
                allowed_mentions=discord.AllowedMentions.none(),
                suppress_embeds=True,
            )
            await self.app.alert_sent(alert)
            log.info("feed %s: %s alert sent", alert.url, alert.kind)
