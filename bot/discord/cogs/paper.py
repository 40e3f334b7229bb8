"""The `/paper …` slash commands: search, show, recent, stats, add, section, export, digest, feeds."""

from __future__ import annotations

import asyncio
import difflib
import io
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.app import App, year_range
from bot.discord.embeds import (
    candidate_embed,
    escape,
    feed_lines,
    paper_embed,
    recent_embed,
    search_page_embed,
    stats_embed,
    truncate,
    view_of,
)
from bot.discord.members import is_curator
from bot.discord.notices import Notices
from bot.discord.review import ReviewService
from feeds.ids import parse_arxiv_id

log = logging.getLogger(__name__)

PAGE_SIZE = 5
QUERY_MAX = 1000  # Discord allows 6000; nobody types more, and FTS caps the tokens anyway
AUTOCOMPLETE_WAIT = 0.3  # seconds an autocomplete waits for the catalog before using the last list


@dataclass(frozen=True)
class SearchFilters:
    section: str | None = None
    year_from: int | None = None
    year_to: int | None = None
    author: str | None = None


SearchShow = Callable[[str, SearchFilters, int], Coroutine[Any, Any, tuple[discord.Embed, int]]]


class SearchPager(discord.ui.View):
    """Previous/next buttons over one search; anyone may page, results are re-queried."""

    def __init__(self, show: SearchShow, query: str, filters: SearchFilters, total: int) -> None:
        super().__init__(timeout=600)
        self.show = show
        self.query = query
        self.filters = filters
        self.total = total
        self.page = 0
        self._sync_buttons()

    def _sync_buttons(self) -> None:
        self.previous.disabled = self.page == 0
        self.next.disabled = (self.page + 1) * PAGE_SIZE >= self.total

    async def _show(self, interaction: discord.Interaction) -> None:
        # Acknowledged first: the search waits for the catalog thread, Discord only 3 s.
        await interaction.response.defer()
        embed, total = await self.show(self.query, self.filters, self.page)
        self.total = total
        self._sync_buttons()
        await interaction.edit_original_response(embed=embed, view=self)

    @discord.ui.button(
        label="◀ Previous", style=discord.ButtonStyle.secondary, custom_id="paper:search:prev"
    )
    async def previous(self, interaction: discord.Interaction, _: discord.ui.Button[Any]) -> None:
        self.page = max(0, self.page - 1)
        await self._show(interaction)

    @discord.ui.button(
        label="Next ▶", style=discord.ButtonStyle.secondary, custom_id="paper:search:next"
    )
    async def next(self, interaction: discord.Interaction, _: discord.ui.Button[Any]) -> None:
        self.page += 1
        await self._show(interaction)


class PaperCommands(commands.GroupCog, group_name="paper", group_description="The paper catalog"):
    def __init__(self, app: App, review: ReviewService, notices: Notices) -> None:
        self.app = app
        self.review = review
        self.notices = notices
        self._known_sections: list[str] = []
        self._sections_lookup: asyncio.Future[list[str]] | None = None
        super().__init__()

    def _require_curator(self, interaction: discord.Interaction) -> None:
        if not is_curator(interaction.user, self.app.settings.discord.curator_role):
            raise app_commands.CheckFailure("Only curators can use this command.")

    async def section_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        current = current.lower()
        names = await self._sections()
        return [app_commands.Choice(name=s, value=s) for s in names if current in s.lower()][:25]

    async def _sections(self) -> list[str]:
        """The list's sections; the last known ones while the catalog thread is busy.

        An autocomplete cannot be deferred: it is answered within Discord's 3 s or the
        member sees no choices at all.
        """
        lookup = self._sections_lookup
        if lookup is None or lookup.done():
            lookup = self._sections_lookup = asyncio.ensure_future(self.app.sections())
            # Retrieved here if nobody waits any more, so a failure is not reported twice.
            lookup.add_done_callback(lambda f: f.cancelled() or f.exception())
        try:
            names = await asyncio.wait_for(asyncio.shield(lookup), AUTOCOMPLETE_WAIT)
        except TimeoutError:
            return self._known_sections
        self._known_sections = list(names)
        return self._known_sections

    # -- search ------------------------------------------------------------------------

    async def search_embed(
        self, query: str, filters: SearchFilters, page: int
    ) -> tuple[discord.Embed, int]:
        result = await self.app.search(
            query,
            section=filters.section,
            year_from=filters.year_from,
            year_to=filters.year_to,
            author=filters.author,
            limit=PAGE_SIZE,
            offset=page * PAGE_SIZE,
        )
        return search_page_embed(query, result, page, PAGE_SIZE), result.total

    @app_commands.command(name="search", description="Search the catalog")
    @app_commands.describe(
        query="Words to look for",
        section="Only this section",
        year="A year or a range like 2018-2020",
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
        year_from, year_to = year_range(year)
        filters = SearchFilters(
            section=await self.app.resolve_section(section),
            year_from=year_from,
            year_to=year_to,
            author=author[:200] if author else None,
        )
        query = query[:QUERY_MAX]
        embed, total = await self.search_embed(query, filters, 0)
        if total > PAGE_SIZE:
            await interaction.followup.send(
                embed=embed, view=SearchPager(self.search_embed, query, filters, total)
            )
        else:
            await interaction.followup.send(embed=embed)

    # -- one paper, recent, stats ------------------------------------------------------------

    @app_commands.command(name="show", description="Show one paper of the catalog or a candidate")
    @app_commands.describe(id="arXiv id or URL")
    async def show(self, interaction: discord.Interaction, id: str) -> None:
        await interaction.response.defer(thinking=True)
        found = await self.app.find(id[:300])
        paper = found.paper
        if paper is not None:
            await interaction.followup.send(embed=paper_embed(paper))
            return
        assert found.candidate is not None  # `find` raises for neither
        await interaction.followup.send(
            embed=candidate_embed(view_of(found.candidate, found.tally))
        )

    @app_commands.command(
        name="recent", description="The papers added to the catalog most recently"
    )
    async def recent(
        self, interaction: discord.Interaction, n: app_commands.Range[int, 1, 25] = 5
    ) -> None:
        await interaction.response.defer(thinking=True)
        papers = await self.app.recent(n)
        embed = recent_embed(papers)
        await interaction.followup.send(embed=embed)

    @app_commands.command(
        name="stats", description="Catalog by section, open candidates, feed health"
    )
    async def stats(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(thinking=True)
        stats = await self.app.stats()
        feeds = await self.app.feed_health()
        await interaction.followup.send(embed=stats_embed(stats, feeds))

    # -- contributing ------------------------------------------------------------------

    @app_commands.command(name="add", description="Submit an arXiv paper for a vote")
    @app_commands.describe(id_or_url="An arXiv id like 2401.01234 or an arxiv.org link")
    async def add(
        self, interaction: discord.Interaction, id_or_url: app_commands.Range[str, 1, 300]
    ) -> None:
        parse_arxiv_id(id_or_url)  # a bad id is refused before we spend an API call on it
        await interaction.response.defer(ephemeral=True, thinking=True)
        submitter = interaction.user.display_name
        result = await self.app.add(id_or_url, submitter, f"add:{interaction.user.id}")
        if result.created:
            # Posted now, not ranked behind the feed's waiting candidates: someone asked.
            await self.review.post_one(result.key)
            text = f"Submitted **{escape(result.record.title)}** ({result.key}) for a vote."
        else:
            text = f"{result.key} is already known ({result.status})."
        await interaction.followup.send(truncate(text, 1900), ephemeral=True)

    @app_commands.command(name="section", description="Curators: change a paper's section")
    @app_commands.autocomplete(section=section_autocomplete)
    async def section(self, interaction: discord.Interaction, id: str, section: str) -> None:
        self._require_curator(interaction)
        # Papers imported from the list may have no arXiv id (OpenReview): keyed by their link.
        await interaction.response.defer(ephemeral=True, thinking=True)
        change = await self.app.set_section(id[:500], section, interaction.user.display_name)
        # The user hears back now; the post follows when the channel's edit bucket allows.
        text = f"{change.key} → {escape(change.section)}"
        if change.target == "unchanged":
            text += " (it was already there)"
        await interaction.followup.send(text, ephemeral=True)
        self.review.refresh_later(change.key)

    @app_commands.command(
        name="export", description="The awesome list with approved papers inserted"
    )
    async def export(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(thinking=True)
        result = await self.app.export_list()
        if result.source is None:
            summary = "The whole list, rendered from the catalog."
        else:
            diff = list(difflib.unified_diff(
                result.original.splitlines(), result.text.splitlines(), lineterm="", n=0
            ))  # fmt: skip
            added = sum(1 for line in diff if line.startswith("+") and not line.startswith("+++"))
            summary = f"{len(result.inserted)} paper(s) inserted, {added} line(s) added."
            titles = [f"• <https://arxiv.org/abs/{o.key}>" for o in result.inserted]
            if titles:
                summary += "\n" + "\n".join(titles[:15])
        file = discord.File(io.BytesIO(result.text.encode("utf-8")), filename="README.md")
        await interaction.followup.send(truncate(summary, 1900), file=file)

    @app_commands.command(
        name="publish", description="Curators: commit approved papers to the list's repository"
    )
    async def publish(self, interaction: discord.Interaction) -> None:
        self._require_curator(interaction)
        # A fetch or a push can take seconds: acknowledge first, within Discord's 3 s.
        await interaction.response.defer(ephemeral=True, thinking=True)
        result = await self.app.publish()
        report = result.report
        lines = [f"{len(report.commits)} commit(s) on `{report.branch}`"
                 + (f", pushed to {report.remote}" if report.pushed else "")
                 + f"; {len(report.unchanged)} already in the README."]  # fmt: skip
        lines += [f"• {escape(c.message)}" for c in report.commits[:15]]
        lines += [f"skipped: {escape(r)}" for r in result.skipped[:5]]
        lines += [escape(line) for line in result.news]
        if result.pull is not None:
            lines.append(escape(result.pull.line))
        lines += [f"warning: {escape(n)}" for n in result.notes]
        await interaction.followup.send(truncate("\n".join(lines), 1900), ephemeral=True)

    @app_commands.command(name="digest", description="Curators: post the digest now")
    async def digest(self, interaction: discord.Interaction) -> None:
        self._require_curator(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        sent = await self.notices.post_digest(force=True)
        await interaction.followup.send(f"Digest posted ({sent} message(s)).", ephemeral=True)

    @app_commands.command(name="feeds", description="Curators: health of every feed")
    async def feeds(self, interaction: discord.Interaction) -> None:
        self._require_curator(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        feeds = await self.app.feed_health()
        await interaction.followup.send(truncate(feed_lines(feeds), 1900), ephemeral=True)
