"""The poll pipeline and catalog operations shared by the CLI and the Discord bot."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from bot.settings import Settings
from db.awesome import entry_key, insert_entries, parse_awesome, render_list
from db.catalog import Candidate, StoreReport
from db.worker import AsyncCatalog
from feeds.errors import FeedError, PaperbotError
from feeds.fetch import Fetcher, api_query_url, record_outcome
from feeds.ids import id_year_month, parse_arxiv_id
from feeds.models import FeedState, Match, Paper
from feeds.parse import parse_feed
from feeds.ranking import Ranker, rank_feed
from feeds.rules import RuleSet

log = logging.getLogger("paperbot.pipeline")

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


def now_utc() -> datetime:
    return datetime.now(UTC)


@dataclass
class FeedOutcome:
    """What one poll did with one feed."""

    url: str
    status: str  # "ok" | "not_modified" | "quiet" | "error"
    items: int = 0
    candidates: int = 0
    updates: int = 0
    error: str | None = None
    warnings: list[str] = field(default_factory=list)


@dataclass
class PollReport:
    feeds: list[FeedOutcome] = field(default_factory=list)
    matched: list[tuple[Paper, Match]] = field(default_factory=list)  # candidates, best first
    stored: StoreReport | None = None

    @property
    def failed(self) -> list[FeedOutcome]:
        return [f for f in self.feeds if f.status == "error"]


class Services:
    """The long-lived parts one process needs: settings, catalog thread, fetcher, ranker."""

    def __init__(self, settings: Settings, catalog: AsyncCatalog, fetcher: Fetcher, ranker: Ranker):
        self.settings = settings
        self.catalog = catalog
        self.fetcher = fetcher
        self.ranker = ranker

    @classmethod
    async def open(cls, settings: Settings) -> Services:
        path = settings.database_path
        rules = RuleSet.load(settings.rules_path) if settings.rules_path else RuleSet.default()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            catalog = await AsyncCatalog.open(str(path))
        except (sqlite3.Error, OSError) as exc:
            # A file that is not a catalog, an unwritable folder: one line for the person,
            # not sqlite's traceback (db/ raises these raw).
            raise PaperbotError(f"{path}: cannot open the catalog: {exc}") from exc
        fetcher = Fetcher(
            user_agent=settings.user_agent,
            timeout=settings.arxiv.timeout,
            min_interval=settings.arxiv.min_interval,
            retries=settings.arxiv.retries,
            max_bytes=settings.arxiv.max_bytes,
        )
        ranker = Ranker(
            rules,
            selection=settings.model.selection,
            threshold=settings.model.threshold,
            daily_budget=settings.model.daily_budget,
        )
        services = cls(settings, catalog, fetcher, ranker)
        await services.load_model()
        return services

    async def load_model(self) -> None:
        """Use the newest stored relevance model, if any and if enabled; keep rules otherwise."""
        if not self.settings.model.enabled:
            return
        stored = await self.catalog.latest_model()
        if stored is None:
            return
        try:
            from feeds.relevance import RelevanceModel

            # A stored model is tens of MB to decompress: off the loop, like training.
            self.ranker.model = await asyncio.to_thread(RelevanceModel.from_bytes, stored[4])
        except PaperbotError as exc:
            log.warning("stored model %s unusable, ranking with rules alone: %s", stored[0], exc)

    async def close(self) -> None:
        await self.fetcher.close()
        await self.catalog.close()

    async def __aenter__(self) -> Services:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


async def poll_feeds(
    services: Services,
    feeds: list[str] | None = None,
    *,
    dry_run: bool = False,
    progress: Progress = _quiet,
) -> PollReport:
    """Fetch, parse, rank and (unless dry_run) store every feed; one bad feed spoils nothing."""
    report = PollReport()
    urls = feeds or services.settings.arxiv.feeds
    catalog = services.catalog
    for number, url in enumerate(urls, 1):
        progress(f"[{number}/{len(urls)}] fetching {url}")
        # A dry run must not touch the stored validators, or the next real poll would see 304.
        state: FeedState | None = None if dry_run else await catalog.feed_state(url)
        outcome = FeedOutcome(url=url, status="ok")
        report.feeds.append(outcome)
        try:
            fetched = await services.fetcher.fetch(url, state)
            body = fetched.body
            unchanged = fetched.status == "not_modified" or body is None
            if body is not None and not unchanged:
                parsed = await asyncio.to_thread(parse_feed, body, url)
        except FeedError as exc:
            # Fetch and parse failures alike: the feed's record keeps the reason.
            outcome.status, outcome.error = "error", exc.reason
            if not dry_run:
                await catalog.save_feed_state(record_outcome(state, url, exc, now_utc()))
            log.warning("feed failed: %s", exc)
            continue
        if unchanged:
            outcome.status = "not_modified"
            if not dry_run:
                await catalog.save_feed_state(record_outcome(state, url, fetched, now_utc()))
            continue
        outcome.items = len(parsed.papers)
        outcome.warnings = list(parsed.warnings)
        if parsed.quiet:
            outcome.status = "quiet"
        taken = await _candidates_by_day(catalog) if services.ranker.selection == "budget" else None
        pairs = await asyncio.to_thread(rank_feed, services.ranker, parsed.papers, taken)
        outcome.updates = sum(1 for p, _ in pairs if p.is_update)
        chosen = [(p, m) for p, m in pairs if m.candidate and not p.is_update]
        outcome.candidates = len(chosen)
        report.matched.extend(chosen)
        progress(f"[{number}/{len(urls)}] {outcome.items} items, {outcome.candidates} candidates")
        if not dry_run:
            # Everything goes to the catalog: candidates, updates of known papers, and the
            # unflagged rest as the model's background sample.
            stored = await catalog.store_candidates(pairs, url, now_utc())
            report.stored = _merge_reports(report.stored, stored)
            await catalog.save_feed_state(record_outcome(state, url, fetched, now_utc()))
    report.matched.sort(key=lambda pm: (-pm[1].score, pm[0].arxiv_id))
    return report


async def _candidates_by_day(catalog: AsyncCatalog) -> dict[date, set[str]]:
    """Feed candidates per announcement day, for the daily budget (manual adds don't count)."""
    taken: dict[date, set[str]] = {}
    for c in await catalog.candidates():
        if c.announced is not None and not (c.source or "").startswith(("add:", "cli")):
            taken.setdefault(c.announced.date(), set()).add(c.arxiv_id)
    return taken


def _merge_reports(a: StoreReport | None, b: StoreReport) -> StoreReport:
    if a is None:
        return b
    for name in ("new", "updated", "unchanged", "already_in_catalog", "ignored_updates"):
        getattr(a, name).extend(getattr(b, name))
    return a


async def lookup_arxiv(services: Services, text: str) -> Paper:
    """Metadata of one paper from the arXiv API, given anything a person pastes."""
    arxiv_id, _version = parse_arxiv_id(text)
    url = api_query_url(services.settings.arxiv.api_base, [arxiv_id])
    try:
        fetched = await services.fetcher.fetch(url)
    except FeedError as exc:
        body = getattr(exc, "body", None)
        if body:
            # The API explains a refused id in an Atom error entry: surface its words.
            await asyncio.to_thread(parse_feed, body, url)
        raise
    assert fetched.body is not None
    parsed = await asyncio.to_thread(parse_feed, fetched.body, url)
    for paper in parsed.papers:
        if paper.arxiv_id == arxiv_id:
            return paper
    raise FeedError(url, f"arXiv has no paper {arxiv_id}")


async def add_paper(
    services: Services, text: str, submitted_by: str, source: str
) -> tuple[Candidate, bool, Match]:
    """Look a paper up and make it a candidate whatever its score (someone asked for it)."""
    paper = await lookup_arxiv(services, text)
    (match,) = await asyncio.to_thread(services.ranker.rank, [paper])
    candidate, created = await services.catalog.add_candidate(
        paper, match, submitted_by, source, now_utc()
    )
    return candidate, created, match


async def import_awesome(services: Services, text: str, actor: str) -> Any:
    """Read an awesome-list README into the catalog (idempotent)."""
    doc = await asyncio.to_thread(parse_awesome, text)
    entries = [entry.to_dict() for entry in doc.entries]
    report = await services.catalog.import_entries(entries, actor, now_utc())
    return doc, report


def catalog_key(text: str) -> str:
    """The catalog key a person means: an arXiv id, or the key of a list entry's link."""
    try:
        return parse_arxiv_id(text)[0]
    except PaperbotError:
        pass
    text = text.strip()
    # An OpenReview (or other) link is keyed as the list importer keys it; anything else
    # (openreview:…, url:…) is a key already and is looked up as given.
    return entry_key(text) if "://" in text else text


def entry_for(paper: Any) -> dict[str, Any]:
    """A catalog paper as the awesome-list writer wants it."""
    year = paper.year
    if paper.arxiv_id:
        year = id_year_month(paper.arxiv_id)[0]
    return {
        "key": paper.key,
        "arxiv_id": paper.arxiv_id,
        "title": paper.title,
        "authors": list(paper.authors),
        "section": paper.section,
        "year": year,
        "venue": paper.venue,
        "paper_url": paper.paper_url or (f"https://arxiv.org/abs/{paper.arxiv_id}"),
        "code_url": paper.code_url,
        "digest": paper.digest or _first_sentences(paper.abstract),
        "keywords": list(paper.keywords or []),
    }


def _first_sentences(abstract: str | None, limit: int = 400) -> str | None:
    if not abstract:
        return None
    if len(abstract) <= limit:
        return abstract
    cut = abstract[:limit]
    end = cut.rfind(". ")
    return cut[: end + 1] if end > 100 else cut.rsplit(" ", 1)[0] + " …"


async def export_awesome(
    services: Services, readme: Path | None, *, title: str | None = None
) -> tuple[str, list[Any], str]:
    """The list with approved papers: inserted into `readme` if given, else rendered whole.

    Returns (new text, insert outcomes, original text).
    """
    papers = await services.catalog.papers()
    entries = [entry_for(p) for p in papers]
    if readme is None:
        sections = _section_order(services, entries)
        list_title = title or services.settings.catalog.list_title
        text = await asyncio.to_thread(render_list, list_title, "", sections, entries)
        return text, [], ""
    try:
        # Bytes, not read_text: text mode would turn a CRLF list into LF on the way back.
        original = (await asyncio.to_thread(readme.read_bytes)).decode("utf-8")
    except OSError as exc:
        raise PaperbotError(f"{readme}: cannot read: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise PaperbotError(
            f"{readme}: not UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from exc
    approved = [p for p in papers if p.added_how != "import" and p.arxiv_id]
    new_entries = [entry_for(p) for p in approved]
    text, outcomes = await asyncio.to_thread(insert_entries, original, new_entries)
    return text, outcomes, original


def _section_order(services: Services, entries: list[dict[str, Any]]) -> list[str]:
    order = list(services.ranker.rules.sections)
    for entry in entries:
        if entry["section"] and entry["section"] not in order:
            order.append(entry["section"])
    return order
