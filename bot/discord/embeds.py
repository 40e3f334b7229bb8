"""Discord rendering: candidate embeds, digest messages, feed lines, truncation within Discord's limits."""

from __future__ import annotations

import json
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

import discord

from bot.app import (
    Candidate,
    CatalogPaper,
    CatalogStats,
    DigestData,
    FeedHealth,
    SearchPage,
    Tally,
)

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


def clean(text: str) -> str:
    """Text without control characters or bidi overrides (a feed's title can carry them)."""
    return "".join(
        " " if unicodedata.category(ch) in ("Cc", "Cf") and ch not in "\n" else ch
        for ch in text or ""
    )


def escape(text: str) -> str:
    """Plain text for Discord: markdown and mentions neutralised (allowed_mentions is also none)."""
    text = discord.utils.escape_markdown(clean(text))
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
    """What a candidate post shows; built from a catalog Candidate by `view_of`."""

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
    entry: str | None = None  # the lines approval writes into the list


def _runner_up(candidate: Candidate) -> str | None:
    """The ranking's second section, unless a curator chose it (then it is the section)."""
    runner_up = candidate.runner_up
    return runner_up if runner_up != candidate.effective_section else None


def view_of(
    candidate: Candidate,
    tally: Tally | None = None,
    runner_up: str | None = None,
    entry: str | None = None,
) -> CandidateView:
    """The view of a candidate with its counted votes (a member holding both counts as neither)."""
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
        runner_up=runner_up if runner_up is not None else _runner_up(candidate),
        approvals=tally.approvals if tally is not None else 0,
        rejections=tally.rejections if tally is not None else 0,
        decided_by=candidate.decided_by,
        submitted_by=candidate.submitted_by,
        entry=entry,
    )


def candidate_embed(view: CandidateView) -> discord.Embed:
    """The review post for one candidate, within every embed limit whatever the input."""
    colour = {
        "approved": COLOUR_APPROVED,
        "rejected": COLOUR_REJECTED,
        "expired": COLOUR_EXPIRED,
    }.get(view.status, COLOUR_OPEN)
    abs_url = f"https://arxiv.org/abs/{view.arxiv_id}"
    pdf_url = f"https://arxiv.org/pdf/{view.arxiv_id}" + (
        f"v{view.version}" if view.version else ""
    )
    embed = discord.Embed(
        title=truncate(" ".join(clean(view.title).split()) or view.arxiv_id, TITLE_LIMIT),
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
    if view.entry and view.status in ("new", "posted"):
        embed.add_field(name="Entry on approval", value=code_block(view.entry), inline=False)
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


def code_block(text: str, limit: int = FIELD_VALUE_LIMIT) -> str:
    """Markdown shown verbatim, cut to fit a field (and unable to close its own fence)."""
    body = clean(text).replace("```", "`\u200b``")
    room = limit - len("```md\n\n```")
    if len(body) > room:
        body = body[: room - 1].rstrip() + "…"
    return f"```md\n{body}\n```"


def embed_signature(embed: discord.Embed) -> str:
    """What a post shows, as text: equal for the embed we send and the one Discord returns."""
    shown = {
        "title": embed.title,
        "url": embed.url,
        "description": embed.description,
        "color": embed.colour.value if embed.colour is not None else None,
        "fields": [(f.name, f.value, bool(f.inline)) for f in embed.fields],
        "footer": embed.footer.text,
    }
    return json.dumps(shown, sort_keys=True, ensure_ascii=False)


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


# -- the digest and feed health ------------------------------------------------------------


def _link(candidate: Candidate, guild_id: int) -> str:
    title = escape(truncate(" ".join(candidate.title.split()), 120))
    if candidate.message_id and candidate.channel_id:
        return f"[{title}]({jump_link(guild_id, candidate.channel_id, candidate.message_id)})"
    return f"{title} (https://arxiv.org/abs/{candidate.arxiv_id})"


def build_digest(data: DigestData, *, guild_id: int, timezone: tzinfo) -> list[str]:
    """The digest as Discord messages (each within 2000 characters)."""
    day = data.now.astimezone(timezone).strftime("%A %d %B %Y")
    blocks: list[str] = [f"**paperbot digest — {day}**"]
    if not data.announced and not data.new:
        if data.now - data.since < timedelta(hours=20):
            # A second digest the same day: nothing new is no sign of a holiday.
            blocks.append("arXiv announced nothing new since the last digest.")
        else:
            blocks.append("arXiv announced nothing since the last digest (a weekend or a holiday).")
    if data.new:
        blocks.append(f"__{len(data.new)} new candidate(s)__")
        grouped: dict[str, list[Candidate]] = defaultdict(list)
        for c in data.new:
            grouped[c.effective_section or "No section"].append(c)
        for section in sorted(grouped):
            blocks.append(f"**{escape(section)}**")
            for c in sorted(grouped[section], key=lambda c: -(c.score or 0)):
                up, down = data.votes.get(c.arxiv_id, (0, 0))
                blocks.append(f"• {_link(c, guild_id)} — score {c.score:.2f}, votes +{up}/−{down}")
    elif data.announced:
        blocks.append("No new candidates.")
    if data.approved:
        blocks.append(f"__Approved ({len(data.approved)})__")
        blocks.extend(
            f"• {_link(c, guild_id)} → {escape(c.effective_section or '-')}" for c in data.approved
        )
    if data.rejected:
        blocks.append(f"__Rejected ({len(data.rejected)})__")
        blocks.extend(f"• {_link(c, guild_id)}" for c in data.rejected)
    if data.expiring:
        blocks.append(f"__Expiring soon ({len(data.expiring)}) — vote now__")
        blocks.extend(f"• {_link(c, guild_id)}" for c in data.expiring)
    return split_messages(blocks)


def feed_lines(feeds: Sequence[FeedHealth]) -> str:
    """One line per feed: ok with its last success, failing with its last error, or never polled."""
    lines = []
    for feed in feeds:
        s = feed.state
        if s is None or s.last_checked is None:
            lines.append(f"⏳ {feed.url}: never polled")
        elif s.consecutive_failures:
            lines.append(
                f"⚠️ {feed.url}: {s.consecutive_failures} failure(s); {escape(s.last_error or '')}"
            )
        else:
            when = s.last_success.strftime("%Y-%m-%d %H:%M UTC") if s.last_success else "-"
            lines.append(f"✅ {feed.url}: ok, last success {when}")
    return "\n".join(lines) or "no feeds"


# -- the catalog's answers: search, one paper, recent, stats ----------------------------


def search_page_embed(query: str, result: SearchPage, page: int, page_size: int) -> discord.Embed:
    """One page of search results, numbered across pages, with the total in the footer."""
    title = truncate(f"Search: {' '.join(query.split())}", 256)
    embed = discord.Embed(title=title, colour=COLOUR_OPEN)
    if not result.hits:
        embed.description = "No papers match." if page == 0 else "No more results."
    for n, hit in enumerate(result.hits, page * page_size + 1):
        p = hit.paper
        url = p.paper_url or (f"https://arxiv.org/abs/{p.arxiv_id}" if p.arxiv_id else "")
        lines = [short_authors(p.authors, 200)]
        meta = " · ".join(str(x) for x in (p.section, p.year, p.venue) if x)
        if meta:
            lines.append(escape(meta))
        if url:
            lines.append(f"[{p.arxiv_id or 'paper'}]({url})")
        embed.add_field(
            name=truncate(f"{n}. {' '.join(p.title.split())}", 256),
            value=truncate("\n".join(lines), FIELD_VALUE_LIMIT),
            inline=False,
        )
    pages = max(1, -(-result.total // page_size))
    shown = f"{result.total}+" if result.total_capped else str(result.total)
    embed.set_footer(text=f"{shown} result(s) · page {page + 1}/{pages}")
    return fit_embed(embed)


def paper_embed(paper: CatalogPaper) -> discord.Embed:
    """One catalog paper: its entry's digest, authors, section, year, venue and code."""
    embed = discord.Embed(
        title=truncate(" ".join(paper.title.split()), 256),
        url=paper.paper_url or None,
        colour=COLOUR_OPEN,
        description=truncate(escape(paper.digest or paper.abstract or ""), 1500) or None,
    )
    embed.add_field(name="Authors", value=short_authors(paper.authors, 500), inline=False)
    embed.add_field(name="Section", value=escape(paper.section or "-"))
    embed.add_field(name="Year", value=str(paper.year or "-"))
    if paper.venue:
        embed.add_field(name="Venue", value=truncate(escape(paper.venue), 200))
    if paper.code_url:
        embed.add_field(name="Code", value=truncate(paper.code_url, 500), inline=False)
    return fit_embed(embed)


def recent_embed(papers: Sequence[CatalogPaper]) -> discord.Embed:
    """The papers added most recently, newest first."""
    embed = discord.Embed(title=f"{len(papers)} most recent paper(s)", colour=COLOUR_OPEN)
    if not papers:
        embed.description = "The catalog is empty."
    for p in papers:
        url = p.paper_url or ""
        embed.add_field(
            name=truncate(" ".join(p.title.split()), 256),
            value=truncate(
                f"{escape(p.section or '-')} · {p.year or '?'} · {url}", FIELD_VALUE_LIMIT
            ),
            inline=False,
        )
    return fit_embed(embed)


def stats_embed(stats: CatalogStats, feeds: Sequence[FeedHealth]) -> discord.Embed:
    """The catalog by section, the candidates by status, every feed's health."""
    embed = discord.Embed(title="paperbot statistics", colour=COLOUR_OPEN)
    lines = [f"{escape(str(s))}: {n}" for s, n in stats.papers_by_section.items()] or ["empty"]
    embed.add_field(
        name=f"Catalog ({stats.papers})", value=truncate("\n".join(lines), 1024), inline=False
    )
    embed.add_field(
        name="Candidates",
        value=truncate(
            "\n".join(f"{k}: {v}" for k, v in stats.candidates_by_status.items()) or "none", 1024
        ),
        inline=False,
    )
    embed.add_field(name="Feeds", value=truncate(feed_lines(list(feeds)), 1024), inline=False)
    return fit_embed(embed)
