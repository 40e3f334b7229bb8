"""Who a Discord member is to paperbot: a curator or not, and the name the audit log records."""

from __future__ import annotations

import discord


def is_curator(member: discord.Member | discord.User | None, curator_role: str) -> bool:
    """Administrators, and members holding the curator role (by name or id)."""
    if not isinstance(member, discord.Member):
        return False
    if member.guild_permissions.administrator:
        return True
    return any(str(role.id) == curator_role or role.name == curator_role for role in member.roles)
