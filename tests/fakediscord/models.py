"""Records kept by the fake Discord server and the Discord-shaped payloads built from them."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .permissions import Overwrite

DISCORD_EPOCH_MS = 1420070400000

# Intent bits (https://discord.com/developers/docs/events/gateway#gateway-intents).
INTENT_GUILDS = 1 << 0
INTENT_GUILD_MEMBERS = 1 << 1
INTENT_GUILD_PRESENCES = 1 << 8
INTENT_GUILD_MESSAGES = 1 << 9
INTENT_GUILD_MESSAGE_REACTIONS = 1 << 10
INTENT_MESSAGE_CONTENT = 1 << 15
PRIVILEGED_INTENTS = {
    "members": INTENT_GUILD_MEMBERS,
    "presences": INTENT_GUILD_PRESENCES,
    "message_content": INTENT_MESSAGE_CONTENT,
}

# Channel types used here.
CHANNEL_TEXT = 0
CHANNEL_PUBLIC_THREAD = 11
CHANNEL_PRIVATE_THREAD = 12

# Message flags.
FLAG_HAS_THREAD = 1 << 5
FLAG_EPHEMERAL = 1 << 6
FLAG_LOADING = 1 << 7

# Permissions: @everyone gets Discord's default set; the bot's managed role gets what a
# paper-posting bot needs (view, send, embed, attach, history, reactions, threads).
BOT_PERMISSIONS = (
    (1 << 6)  # add reactions
    | (1 << 10)  # view channel
    | (1 << 11)  # send messages
    | (1 << 13)  # manage messages
    | (1 << 14)  # embed links
    | (1 << 15)  # attach files
    | (1 << 16)  # read message history
    | (1 << 31)  # use application commands
    | (1 << 35)  # create public threads
    | (1 << 38)  # send messages in threads
)


def utc_now_iso() -> str:
    """The current time as Discord formats timestamps (ISO 8601 with offset)."""
    return datetime.now(UTC).isoformat()


def snowflake_time(snowflake: str | int) -> datetime:
    """The creation time encoded in a snowflake."""
    ms = (int(snowflake) >> 22) + DISCORD_EPOCH_MS
    return datetime.fromtimestamp(ms / 1000, UTC)


class SnowflakeGenerator:
    """Timestamp-based snowflakes, strictly increasing even within one millisecond."""

    def __init__(self, worker: int = 1, process: int = 0) -> None:
        self._prefix = ((worker & 0x1F) << 17) | ((process & 0x1F) << 12)
        self._increment = 0
        self._last = 0

    def next(self) -> str:
        ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
        value = (ms << 22) | self._prefix | (self._increment & 0xFFF)
        self._increment += 1
        # Ordering matters more than encoding the exact millisecond: ids sort messages.
        if value <= self._last:
            value = self._last + 1
        self._last = value
        return str(value)


@dataclass
class User:
    """A Discord user account (the bot itself or a simulated human)."""

    id: str
    username: str
    bot: bool = False

    def payload(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "username": self.username,
            "discriminator": "0",
            "global_name": None if self.bot else self.username,
            "avatar": None,
            "bot": self.bot,
            "system": False,
            "public_flags": 0,
            "flags": 0,
            "banner": None,
            "accent_color": None,
            "avatar_decoration_data": None,
        }


@dataclass
class Role:
    """A guild role; the @everyone role shares the guild's id."""

    id: str
    name: str
    permissions: int
    position: int
    managed: bool = False
    bot_id: str | None = None

    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "icon": None,
            "unicode_emoji": None,
            "position": self.position,
            "permissions": str(self.permissions),
            "managed": self.managed,
            "mentionable": False,
            "flags": 0,
        }
        if self.bot_id is not None:
            data["tags"] = {"bot_id": self.bot_id}
        return data


@dataclass
class Member:
    """A user's membership of the guild."""

    user: User
    roles: list[str]
    joined_at: str = field(default_factory=utc_now_iso)
    nick: str | None = None

    def partial_payload(self) -> dict[str, Any]:
        """The member object as embedded in MESSAGE_CREATE (no `user` key)."""
        return {
            "roles": list(self.roles),
            "joined_at": self.joined_at,
            "nick": self.nick,
            "avatar": None,
            "banner": None,
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "pending": False,
            "flags": 0,
            "communication_disabled_until": None,
        }

    def payload(self) -> dict[str, Any]:
        return {"user": self.user.payload(), **self.partial_payload()}


@dataclass
class Channel:
    """A guild text channel or a thread (threads carry parent/owner/metadata)."""

    id: str
    guild_id: str
    name: str
    type: int = CHANNEL_TEXT
    position: int = 0
    topic: str | None = None
    parent_id: str | None = None
    owner_id: str | None = None
    last_message_id: str | None = None
    message_count: int = 0
    auto_archive_duration: int = 1440
    archived: bool = False
    locked: bool = False
    created_at: str = field(default_factory=utc_now_iso)
    overwrites: list[Overwrite] = field(default_factory=list)

    @property
    def is_thread(self) -> bool:
        return self.type in (CHANNEL_PUBLIC_THREAD, CHANNEL_PRIVATE_THREAD, 10)

    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "type": self.type,
            "guild_id": self.guild_id,
            "name": self.name,
            "parent_id": self.parent_id,
            "last_message_id": self.last_message_id,
            "rate_limit_per_user": 0,
            "flags": 0,
        }
        if self.is_thread:
            data.update(
                owner_id=self.owner_id,
                message_count=self.message_count,
                total_message_sent=self.message_count,
                member_count=1,
                thread_metadata={
                    "archived": self.archived,
                    "auto_archive_duration": self.auto_archive_duration,
                    "archive_timestamp": self.created_at,
                    "locked": self.locked,
                    "create_timestamp": self.created_at,
                },
            )
        else:
            data.update(
                position=self.position,
                permission_overwrites=[o.payload() for o in self.overwrites],
                topic=self.topic,
                nsfw=False,
                default_auto_archive_duration=1440,
            )
        return data


@dataclass
class Attachment:
    """An uploaded file; the bytes stay on the server and are served at `url`."""

    id: str
    filename: str
    data: bytes
    url: str
    content_type: str | None = None
    description: str | None = None

    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "filename": self.filename,
            "size": len(self.data),
            "url": self.url,
            "proxy_url": self.url,
        }
        if self.content_type:
            data["content_type"] = self.content_type
        if self.description:
            data["description"] = self.description
        return data


@dataclass
class Message:
    """A stored message. Reactions map an emoji key to reacting user ids, in order."""

    id: str
    channel_id: str
    guild_id: str | None
    author_id: str
    content: str = ""
    embeds: list[dict[str, Any]] = field(default_factory=list)
    components: list[dict[str, Any]] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    timestamp: str = field(default_factory=utc_now_iso)
    edited_timestamp: str | None = None
    type: int = 0
    flags: int = 0
    tts: bool = False
    pinned: bool = False
    nonce: str | int | None = None
    allowed_mentions: dict[str, Any] | None = None
    mentions: list[str] = field(default_factory=list)
    mention_roles: list[str] = field(default_factory=list)
    mention_everyone: bool = False
    message_reference: dict[str, Any] | None = None
    reactions: dict[str, list[str]] = field(default_factory=dict)
    reaction_emoji: dict[str, dict[str, Any]] = field(default_factory=dict)
    webhook_id: str | None = None
    application_id: str | None = None
    interaction_metadata: dict[str, Any] | None = None
    thread_id: str | None = None
    deleted: bool = False

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & FLAG_EPHEMERAL)


def parse_emoji(raw: str) -> tuple[str, dict[str, Any]]:
    """Normalise an emoji as it appears in a reaction URL: (key, partial emoji payload).

    Unicode emoji are their own key; custom emoji arrive as `name:id` (or `a:name:id`,
    `<:name:id>` when a caller passes a mention string).
    """
    text = raw.strip().removeprefix("<").removesuffix(">")
    animated = False
    if text.startswith("a:"):
        animated, text = True, text[2:]
    elif text.startswith(":"):
        text = text[1:]
    name, sep, emoji_id = text.rpartition(":")
    if sep and emoji_id.isdigit() and name:
        return f"{name}:{emoji_id}", {"id": emoji_id, "name": name, "animated": animated}
    return raw, {"id": None, "name": raw}
