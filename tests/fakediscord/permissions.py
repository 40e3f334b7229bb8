"""Discord's permission bits and its algorithm for a member's permissions in a channel."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

# Bits (https://discord.com/developers/docs/topics/permissions#permissions-bitwise-permission-flags).
CREATE_INSTANT_INVITE = 1 << 0
ADMINISTRATOR = 1 << 3
ADD_REACTIONS = 1 << 6
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
MANAGE_MESSAGES = 1 << 13
EMBED_LINKS = 1 << 14
ATTACH_FILES = 1 << 15
READ_MESSAGE_HISTORY = 1 << 16
MENTION_EVERYONE = 1 << 17
USE_APPLICATION_COMMANDS = 1 << 31
CREATE_PUBLIC_THREADS = 1 << 35
CREATE_PRIVATE_THREADS = 1 << 36
SEND_MESSAGES_IN_THREADS = 1 << 38
ALL_PERMISSIONS = (1 << 53) - 1
# The bits a channel can grant or deny; without VIEW_CHANNEL a member keeps only the
# guild-wide rest (change nickname, manage guild…), as Discord's clients compute it.
CHANNEL_PERMISSIONS = 0x1E64FDB3F7FF51

# Discord's default for a new guild's @everyone role (what the client shows for a fresh
# server): invites, reactions, view, send, embed, attach, history, mentions, external
# emoji, voice basics, nickname, application commands and the thread permissions.
DEFAULT_EVERYONE_PERMISSIONS = 1071698660929

OverwriteKind = Literal["role", "member"]
OVERWRITE_TYPES: dict[OverwriteKind, int] = {"role": 0, "member": 1}


@dataclass
class Overwrite:
    """A channel permission overwrite for one role or one member."""

    id: str
    kind: OverwriteKind
    allow: int = 0
    deny: int = 0

    def payload(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": OVERWRITE_TYPES[self.kind],
            "allow": str(self.allow),
            "deny": str(self.deny),
        }


def base_permissions(everyone: int, role_permissions: Iterable[int], *, owner: bool) -> int:
    """Guild-level permissions: @everyone OR every role; owners and administrators get all."""
    perms = everyone
    for value in role_permissions:
        perms |= value
    if owner or perms & ADMINISTRATOR:
        return ALL_PERMISSIONS
    return perms


def channel_permissions(
    base: int,
    overwrites: Sequence[Overwrite],
    *,
    guild_id: str,
    member_id: str,
    member_roles: Iterable[str],
) -> int:
    """Apply overwrites in Discord's order: @everyone, then all the member's roles, then the member.

    Without VIEW_CHANNEL nothing else applies; without SEND_MESSAGES neither do the
    permissions that only make sense when sending (mentions, embeds, attachments).
    """
    if base & ADMINISTRATOR or base == ALL_PERMISSIONS:
        return ALL_PERMISSIONS
    perms = base
    by_id = {(o.kind, o.id): o for o in overwrites}
    everyone = by_id.get(("role", guild_id))
    if everyone is not None:
        perms = (perms & ~everyone.deny) | everyone.allow
    allow = deny = 0
    for role_id in member_roles:
        role = by_id.get(("role", role_id))
        if role is not None:
            allow |= role.allow
            deny |= role.deny
    perms = (perms & ~deny) | allow
    member = by_id.get(("member", member_id))
    if member is not None:
        perms = (perms & ~member.deny) | member.allow
    if not perms & VIEW_CHANNEL:
        return perms & ~CHANNEL_PERMISSIONS
    if not perms & SEND_MESSAGES:
        perms &= ~(MENTION_EVERYONE | EMBED_LINKS | ATTACH_FILES)
    return perms
