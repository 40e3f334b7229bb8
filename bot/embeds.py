"""Discord rendering: candidate embeds, digest messages and text truncation within Discord's limits."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import discord

TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FIELD_NAME_LIMIT = 256
FIELD_VALUE_LIMIT = 1024
FIELDS_LIMIT = 25
FOOTER_LIMIT = 2048
AUTHOR_LIMIT = 256
EMBED_TOTAL_LIMIT = 6000
CONTENT_LIMIT = 2000

COLOUR_OPEN = discord.Colour.blurple()
COLOUR_APPROVED = discord.Colour.green()
COLOUR_REJECTED = discord.Colour.red()
COLOUR_EXPIRED = discord.Colour.light_grey()

# A markdown link, so truncation can treat it as one unbreakable token.
_LINK = re.compile(r"\[[^\]\n]*\]\([^)\s]*\)")
_TOKEN = re.compile(r"\[[^\]\n]*\]\([^)\s]*\)|\S+|\s+")


def truncate(text: str, limit: int, ellipsis: str = "…") -> str:
    """Shorten to at most `limit` characters without cutting a word or a markdown link."""
    if len(text) <= limit:
        return text
    budget = limit - len(ellipsis)
    out: list[str] = []
    used = 0
    for token in _TOKEN.findall(text):
        if used + len(token) > budget:
            break
        out.append(token)
        used += len(token)
    result = "".join(out).rstrip()
    if not result:
        # One word longer than the limit: nothing whole fits, so cut the word itself,
        # unless it is a link, which is dropped rather than broken.
        first = text.lstrip()
        if _LINK.match(first):
            return ellipsis[:limit]
        result = first[:budget]
    return result + ellipsis


def escape(text: str) -> str:
    """Plain text for Discord: markdown and mentions neutralised (allowed_mentions is also none)."""
    text = discord.utils.escape_markdown(text or "")
    return discord.utils.escape_mentions(text)


def short_authors(authors: Sequence[str], limit: int = 200) -> str:
    """`A, B, C et al.` sized for a field; the first and last author matter most to readers."""
    names = [" ".join(a.split()) for a in authors if a and a.strip()]
    if not names:
        return "unknown authors"
    if len(names) <= 4:
        text = ", ".join(names)
    else:
        text = f"{', '.join(names[:3])}, … {names[-1]} ({len(names)} authors)"
    return truncate(escape(text), limit)


@dataclass
class CandidateView:
    """What a candidate post shows; built from a catalog Candidate by the review cog."""

    arxiv_id: str
    version: int | None
    title: str
    authors: Sequence[str]
    abstract: str
    categories: Sequence[str]
    section: str | None
    score: float
    reasons: Sequence[str]
    status: str = "posted"
    runner_up: str | None = None
    approvals: int = 0
    rejections: int = 0
    decided_by: str | None = None
    submitted_by: str | None = None
    announced: datetime | None = None


def candidate_embed(view: CandidateView) -> discord.Embed:
    """The review post for one candidate, within every embed limit whatever the input."""
    colour = {
        "approved": COLOUR_APPROVED,
        "rejected": COLOUR_REJECTED,
        "expired": COLOUR_EXPIRED,
    }.get(view.status, COLOUR_OPEN)
    abs_url = f"https://arxiv.org/abs/{view.arxiv_id}"
    pdf_url = f"https://arxiv.org/pdf/{view.arxiv_id}" + (f"v{view.version}" if view.version else "")
    embed = discord.Embed(
        title=truncate(" ".join(view.title.split()) or view.arxiv_id, TITLE_LIMIT),
        url=abs_url,
        colour=colour,
        description=truncate(escape(" ".join(view.abstract.split())), 700) or None,
    )
    embed.add_field(name="Authors", value=short_authors(view.authors, 300), inline=False)
    section = view.section or "no section suggested"
    if view.runner_up:
        section += f" (or {view.runner_up})"
    embed.add_field(name="Suggested section", value=truncate(escape(section), 200), inline=True)
    embed.add_field(name="Score", value=f"{view.score:.2f}", inline=True)
    if view.categories:
        cats = ", ".join(view.categories[:8])
        embed.add_field(name="Categories", value=truncate(cats, 200), inline=True)
    reasons = "\n".join(f"• {escape(r)}" for r in view.reasons[:8]) or "submitted by a member"
    embed.add_field(name="Why", value=truncate(reasons, FIELD_VALUE_LIMIT), inline=False)
    links = f"[abstract]({abs_url}) · [PDF]({pdf_url})"
    embed.add_field(name="Links", value=links, inline=False)
    status = {
        "approved": f"Approved → {view.section or 'no section'}",
        "rejected": "Rejected",
        "expired": "Expired without a decision",
    }.get(view.status)
    if status and view.decided_by:
        status += f" by {view.decided_by}"
    if status:
        embed.add_field(name="Decision", value=truncate(escape(status), 300), inline=False)
    footer = f"arXiv:{view.arxiv_id}" + (f"v{view.version}" if view.version else "")
    footer += f" · votes +{view.approvals} / −{view.rejections}"
    if view.submitted_by:
        footer += f" · submitted by {view.submitted_by}"
    embed.set_footer(text=truncate(footer, 300))
    return fit_embed(embed)


def fit_embed(embed: discord.Embed) -> discord.Embed:
    """Drop the description's tail, then trailing fields, until the 6000 total holds."""
    while len(embed) > EMBED_TOTAL_LIMIT and embed.description and len(embed.description) > 50:
        embed.description = truncate(embed.description, len(embed.description) // 2)
    while len(embed) > EMBED_TOTAL_LIMIT and embed.fields:
        embed.remove_field(len(embed.fields) - 1)
    return embed


def split_messages(blocks: Iterable[str], limit: int = CONTENT_LIMIT) -> list[str]:
    """Pack text blocks into as few messages as fit `limit`; a block too long alone is cut."""
    messages: list[str] = []
    current = ""
    for block in blocks:
        block = truncate(block, limit)
        joined = f"{current}\n{block}" if current else block
        if len(joined) <= limit:
            current = joined
        else:
            messages.append(current)
            current = block
    if current:
        messages.append(current)
    return messages


def jump_link(guild_id: int | str, channel_id: int | str, message_id: int | str) -> str:
    return f"https://discord.com/channels/{guild_id}/{channel_id}/{message_id}"
