"""The `/paper …` slash commands: search, show, recent, stats, add, section, export, digest, feeds."""

from __future__ import annotations

import difflib
import io
import logging
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.embeds import (
    COLOUR_OPEN,
    FIELD_VALUE_LIMIT,
    escape,
    fit_embed,
    short_authors,
    truncate,
)
from bot.pipeline import add_paper, catalog_key, export_awesome, now_utc
from feeds.errors import PaperbotError
from feeds.ids import parse_arxiv_id

if TYPE_CHECKING:
    from bot.client import PaperBot

log = logging.getLogger("paperbot.commands")

PAGE_SIZE = 5
QUERY_MAX = 1000  # Discord allows 6000; nobody types more, and FTS caps the tokens anyway


def curator_only() -> Any:
    async def predicate(interaction: discord.Interaction) -> bool:
        bot: PaperBot = interaction.client  # type: ignore[assignment]
        if bot.is_curator(interaction.user):
            return True
        raise app_commands.CheckFailure("Only curators can use this command.")

    return app_commands.check(predicate)


def _years(text: str | None) -> tuple[int | None, int | None]:
    if not text:
        return None, None
    raw = text.strip()
    try:
        if "-" in raw.strip("-") or raw.endswith("-") or raw.startswith("-"):
            low, _, high = raw.partition("-")
            return (int(low) if low.strip() else None, int(high) if high.strip() else None)
        return int(raw), int(raw)
    except ValueError:
        raise PaperbotError(f"year must look like 2019 or 2018-2020, not {truncate(raw, 40)!r}") from None


class SearchPager(discord.ui.View):
    """Previous/next buttons over one search; anyone may page, results are re-queried."""

    def __init__(self, cog: PaperCommands, query: str, filters: dict[str, Any], total: int) -> None:
        super().__init__(timeout=600)
        self.cog = cog
        self.query = query
        self.filters = filters
        self.total = total
        self.page = 0
        self._sync_buttons()

    def _sync_buttons(self) -> None:
        self.previous.disabled = self.page == 0
        self.next.disabled = (self.page + 1) * PAGE_SIZE >= self.total

    async def _show(self, interaction: discord.Interaction) -> None:
        embed, total = await self.cog.search_embed(self.query, self.filters, self.page)
        self.total = total
        self._sync_buttons()
        await interaction.response.edit_message(embed=embed, view=self)

    @discord.ui.button(label="◀ Previous", style=discord.ButtonStyle.secondary, custom_id="paper:search:prev")
    async def previous(self, interaction: discord.Interaction, _: discord.ui.Button[Any]) -> None:
        self.page = max(0, self.page - 1)
        await self._show(interaction)

    @discord.ui.button(label="Next ▶", style=discord.ButtonStyle.secondary, custom_id="paper:search:next")
    async def next(self, interaction: discord.Interaction, _: discord.ui.Button[Any]) -> None:
        self.page += 1
        await self._show(interaction)


class PaperCommands(commands.GroupCog, group_name="paper", group_description="The paper catalog"):
    def __init__(self, bot: PaperBot) -> None:
        self.bot = bot
        self.catalog = bot.services.catalog
        super().__init__()

    @property
    def sections(self) -> list[str]:
        return list(self.bot.services.ranker.rules.sections)

    async def section_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        current = current.lower()
        return [
            app_commands.Choice(name=s, value=s) for s in self.sections if current in s.lower()
        ][:25]

    def _section(self, value: str | None) -> str | None:
        if not value:
            return None
        for name in self.sections:
            if name.lower() == value.strip().lower():
                return name
        raise PaperbotError(
            f"unknown section {truncate(value, 60)!r}; sections: {', '.join(self.sections)}"
        )

    # -- search ------------------------------------------------------------------------

    async def search_embed(self, query: str, filters: dict[str, Any], page: int) -> tuple[discord.Embed, int]:
        result = await self.catalog.search(
            query, limit=PAGE_SIZE, offset=page * PAGE_SIZE, **filters
        )
        title = truncate(f"Search: {' '.join(query.split())}", 256)
        embed = discord.Embed(title=title, colour=COLOUR_OPEN)
        if not result.hits:
            embed.description = "No papers match." if page == 0 else "No more results."
        for n, hit in enumerate(result.hits, page * PAGE_SIZE + 1):
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
        pages = max(1, -(-result.total // PAGE_SIZE))
        embed.set_footer(text=f"{result.total} result(s) · page {page + 1}/{pages}")
        return fit_embed(embed), result.total

    @app_commands.command(name="search", description="Search the catalog")
    @app_commands.describe(
        query="Words to look for", section="Only this section", year="A year or a range like 2018-2020",
        author="Only papers with this author",
    )
    @app_commands.autocomplete(section=section_autocomplete)
    async def search(
        self,
        interaction: discord.Interaction,
        query: app_commands.Range[str, 1, 6000],
        section: str | None = None,
        year: str | None = None,
        author: str | None = None,
    ) -> None:
        await interaction.response.defer(thinking=True)
        year_from, year_to = _years(year)
        filters = {
            "section": self._section(section),
            "year_from": year_from,
            "year_to": year_to,
            "author": author[:200] if author else None,
        }
        query = query[:QUERY_MAX]
        embed, total = await self.search_embed(query, filters, 0)
        view = SearchPager(self, query, filters, total) if total > PAGE_SIZE else None
        if view is None:
            await interaction.followup.send(embed=embed)
        else:
            await interaction.followup.send(embed=embed, view=view)

    # -- one paper, recent, stats ------------------------------------------------------------

    @app_commands.command(name="show", description="Show one paper of the catalog or a candidate")
    @app_commands.describe(id="arXiv id or URL")
    async def show(self, interaction: discord.Interaction, id: str) -> None:
        key = catalog_key(id[:300])
        paper = await self.catalog.get_paper(key)
        if paper is not None:
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
            await interaction.response.send_message(embed=fit_embed(embed))
            return
        candidate = await self.catalog.get_candidate(key)
        if candidate is None:
            raise PaperbotError(f"{truncate(id, 80)} is neither in the catalog nor a candidate")
        from bot.cogs.review import view_of
        from bot.embeds import candidate_embed

        tally = await self.catalog.tally(candidate.arxiv_id)
        await interaction.response.send_message(embed=candidate_embed(view_of(candidate, tally)))

    @app_commands.command(name="recent", description="The papers added to the catalog most recently")
    async def recent(
        self, interaction: discord.Interaction, n: app_commands.Range[int, 1, 25] = 5
    ) -> None:
        papers = await self.catalog.recent(n)
        embed = discord.Embed(title=f"{len(papers)} most recent paper(s)", colour=COLOUR_OPEN)
        if not papers:
            embed.description = "The catalog is empty."
        for p in papers:
            url = p.paper_url or ""
            embed.add_field(
                name=truncate(" ".join(p.title.split()), 256),
                value=truncate(f"{escape(p.section or '-')} · {p.year or '?'} · {url}", FIELD_VALUE_LIMIT),
                inline=False,
            )
        await interaction.response.send_message(embed=fit_embed(embed))

    @app_commands.command(name="stats", description="Catalog by section, open candidates, feed health")
    async def stats(self, interaction: discord.Interaction) -> None:
        stats = await self.catalog.stats()
        states = await self.catalog.feed_states()
        embed = discord.Embed(title="paperbot statistics", colour=COLOUR_OPEN)
        by_section = stats.get("papers_by_section", {})
        lines = [f"{escape(str(s))}: {n}" for s, n in by_section.items()] or ["empty"]
        embed.add_field(name=f"Catalog ({stats.get('papers', 0)})", value=truncate("\n".join(lines), 1024), inline=False)
        by_status = stats.get("candidates_by_status", {})
        embed.add_field(
            name="Candidates",
            value=truncate("\n".join(f"{k}: {v}" for k, v in by_status.items()) or "none", 1024),
            inline=False,
        )
        embed.add_field(name="Feeds", value=truncate(_feed_lines(states), 1024), inline=False)
        await interaction.response.send_message(embed=fit_embed(embed))

    # -- contributing ------------------------------------------------------------------

    @app_commands.command(name="add", description="Submit an arXiv paper for a vote")
    @app_commands.describe(id_or_url="An arXiv id like 2401.01234 or an arxiv.org link")
    async def add(self, interaction: discord.Interaction, id_or_url: app_commands.Range[str, 1, 300]) -> None:
        parse_arxiv_id(id_or_url)  # a bad id is refused before we spend an API call on it
        await interaction.response.defer(ephemeral=True, thinking=True)
        submitter = interaction.user.display_name
        candidate, created, _ = await add_paper(
            self.bot.services, id_or_url, submitter, f"add:{interaction.user.id}"
        )
        if created:
            review = self.bot.get_cog("ReviewCog")
            # Posted now, not ranked behind the feed's waiting candidates: someone asked.
            await review.post_one(candidate.arxiv_id)  # type: ignore[union-attr]
            text = f"Submitted **{escape(candidate.title)}** ({candidate.arxiv_id}) for a vote."
        else:
            text = f"{candidate.arxiv_id} is already known ({candidate.status})."
        await interaction.followup.send(truncate(text, 1900), ephemeral=True)

    @app_commands.command(name="section", description="Curators: change a paper's section")
    @app_commands.autocomplete(section=section_autocomplete)
    @curator_only()
    async def section(self, interaction: discord.Interaction, id: str, section: str) -> None:
        # Papers imported from the list may have no arXiv id (OpenReview): keyed by their link.
        arxiv_id = catalog_key(id[:500])
        name = self._section(section)
        assert name is not None
        await self.catalog.set_section(arxiv_id, name, interaction.user.display_name, now_utc())
        review = self.bot.get_cog("ReviewCog")
        await review.refresh_post(arxiv_id)  # type: ignore[union-attr]
        await interaction.response.send_message(f"{arxiv_id} → {escape(name)}", ephemeral=True)

    @app_commands.command(name="export", description="The awesome list with approved papers inserted")
    async def export(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(thinking=True)
        readme = self.bot.settings.awesome_readme
        text, outcomes, original = await export_awesome(self.bot.services, readme)
        inserted = [o for o in outcomes if o.inserted]
        if readme is None:
            summary = "The whole list, rendered from the catalog."
        else:
            diff = list(difflib.unified_diff(original.splitlines(), text.splitlines(), lineterm="", n=0))
            added = sum(1 for line in diff if line.startswith("+") and not line.startswith("+++"))
            summary = f"{len(inserted)} paper(s) inserted, {added} line(s) added."
            titles = [f"• <https://arxiv.org/abs/{o.key}>" for o in inserted]
            if titles:
                summary += "\n" + "\n".join(titles[:15])
        file = discord.File(io.BytesIO(text.encode("utf-8")), filename="README.md")
        await interaction.followup.send(truncate(summary, 1900), file=file)

    @app_commands.command(name="digest", description="Curators: post the digest now")
    @curator_only()
    async def digest(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        digest = self.bot.get_cog("DigestCog")
        sent = await digest.post_digest(force=True)  # type: ignore[union-attr]
        await interaction.followup.send(f"Digest posted ({sent} message(s)).", ephemeral=True)

    @app_commands.command(name="feeds", description="Curators: health of every feed")
    @curator_only()
    async def feeds(self, interaction: discord.Interaction) -> None:
        states = await self.catalog.feed_states()
        await interaction.response.send_message(truncate(_feed_lines(states, self.bot.settings.arxiv.feeds), 1900), ephemeral=True)


def _feed_lines(states: list[Any], configured: list[str] | None = None) -> str:
    by_url = {s.url: s for s in states}
    urls = list(dict.fromkeys([*(configured or []), *by_url]))
    lines = []
    for url in urls:
        s = by_url.get(url)
        if s is None or s.last_checked is None:
            lines.append(f"⏳ {url}: never polled")
        elif s.consecutive_failures:
            lines.append(f"⚠️ {url}: {s.consecutive_failures} failure(s); {escape(s.last_error or '')}")
        else:
            when = s.last_success.strftime("%Y-%m-%d %H:%M UTC") if s.last_success else "-"
            lines.append(f"✅ {url}: ok, last success {when}")
    return "\n".join(lines) or "no feeds"
