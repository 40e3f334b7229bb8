"""The poll use case: fetch, parse, rank and store every feed; one bad feed spoils nothing."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from bot.app.base import Core, Part, Progress, quiet
from bot.app.learning import Learning
from db.catalog import StoreReport
from feeds.errors import FeedError
from feeds.models import FeedState, Match, Paper

log = logging.getLogger(__name__)

FeedStatus = Literal["ok", "not_modified", "quiet", "error"]

# meta key: when a poll last brought an announcement (the digest tells a quiet day by it)
LAST_ANNOUNCEMENT = "last_announcement_at"
# A poll that brings this many announcements the model has not seen as background
# retrains it right away (off the event loop); fewer wait for the nightly retrain.
RETRAIN_AFTER_BACKGROUND = 50
# meta key: hosts that asked for a pause longer than we wait, until when (see feeds.fetch)
BACKOFFS = "fetch_backoffs"


@dataclass
class FeedOutcome:
    """What one poll did with one feed."""

    url: str
    status: FeedStatus
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
    dry_run: bool = False
    retraining: bool = False  # a retrain on the new background was started

    @property
    def failed(self) -> list[FeedOutcome]:
        return [f for f in self.feeds if f.status == "error"]

    @property
    def announced(self) -> bool:
        """Some feed brought items: arXiv announced something."""
        return any(f.status == "ok" and f.items for f in self.feeds)


def _merge_reports(a: StoreReport | None, b: StoreReport) -> StoreReport:
    if a is None:
        return b
    a.new.extend(b.new)
    a.updated.extend(b.updated)
    a.unchanged.extend(b.unchanged)
    a.already_in_catalog.extend(b.already_in_catalog)
    a.ignored_updates.extend(b.ignored_updates)
    a.not_candidates.extend(b.not_candidates)
    return a


class Polling(Part):
    """Polling the feeds: fetch, parse, rank, store; the model learns the day at once."""

    def __init__(self, core: Core, learning: Learning) -> None:
        super().__init__(core)
        self.learning = learning

    async def poll(
        self,
        feeds: list[str] | None = None,
        *,
        dry_run: bool = False,
        progress: Progress = quiet,
    ) -> PollReport:
        """Fetch, parse, rank and (unless dry_run) store every feed.

        A dry run reads the catalog but writes nothing: no candidates, no feed state (or the
        next real poll would see 304), no model.
        """
        from feeds.fetch import dump_backoffs, record_outcome
        from feeds.parse import parse_feed
        from feeds.ranking import rank_feed

        report = PollReport(dry_run=dry_run)
        urls = feeds or self.settings.arxiv.feeds
        catalog = self.catalog
        # One deadline for the whole poll: a host asking for long waits cannot hold it for hours.
        ends = time.monotonic() + self.settings.arxiv.deadline
        for number, url in enumerate(urls, 1):
            progress(f"[{number}/{len(urls)}] fetching {url}")
            state: FeedState | None = None if dry_run else await catalog.feed_state(url)
            outcome = FeedOutcome(url=url, status="ok")
            report.feeds.append(outcome)
            left = ends - time.monotonic()
            try:
                if left <= 0:
                    raise FeedError(url, "the poll's deadline passed before this feed")
                fetched = await self.fetcher.fetch(url, state, deadline=left)
                body = fetched.body
                unchanged = fetched.status == "not_modified" or body is None
                if body is not None and not unchanged:
                    parsed = await asyncio.to_thread(parse_feed, body, url)
            except FeedError as exc:
                # Fetch and parse failures alike: the feed's record keeps the reason.
                outcome.status, outcome.error = "error", exc.reason
                if not dry_run:
                    await catalog.save_feed_state(record_outcome(state, url, exc, self.clock()))
                log.warning("feed failed: %s", exc)
                continue
            if unchanged:
                outcome.status = "not_modified"
                if not dry_run:
                    await catalog.save_feed_state(record_outcome(state, url, fetched, self.clock()))
                continue
            outcome.items = len(parsed.papers)
            outcome.warnings = list(parsed.warnings)
            if parsed.quiet:
                outcome.status = "quiet"
            taken = await self._candidates_by_day() if self.ranker.selection == "budget" else None
            pairs = await asyncio.to_thread(rank_feed, self.ranker, parsed.papers, taken)
            outcome.updates = sum(1 for p, _ in pairs if p.is_update)
            chosen = [(p, m) for p, m in pairs if m.candidate and not p.is_update]
            outcome.candidates = len(chosen)
            report.matched.extend(chosen)
            progress(
                f"[{number}/{len(urls)}] {outcome.items} items, {outcome.candidates} candidates"
            )
            if not dry_run:
                # Everything goes to the catalog: candidates, updates of known papers, and the
                # unflagged rest as the model's background sample.
                stored = await catalog.store_candidates(pairs, url, self.clock())
                report.stored = _merge_reports(report.stored, stored)
                await catalog.save_feed_state(record_outcome(state, url, fetched, self.clock()))
        report.matched.sort(key=lambda pm: (-pm[1].score, pm[0].arxiv_id))
        for outcome in report.feeds:
            log.info(
                "poll %s: %s, %d items, %d candidates%s", outcome.url, outcome.status,
                outcome.items, outcome.candidates, f" ({outcome.error})" if outcome.error else "",
            )  # fmt: skip
        if not dry_run:
            await catalog.meta_set(BACKOFFS, dump_backoffs(self.fetcher.backoffs()))
            if report.announced:
                await catalog.meta_set(LAST_ANNOUNCEMENT, self.clock().isoformat())
            added = report.stored.background_added if report.stored else 0
            if added >= RETRAIN_AFTER_BACKGROUND and self.ranker.model is not None:
                # The day's unflagged announcements are what an ordinary day of these feeds
                # looks like: the next poll ranks against them, not against the nightly model.
                log.info("poll brought %d new background announcements: retraining", added)
                report.retraining = True
                self.spawn(self.learning.retrain_quietly(), name="paperbot-retrain-after-poll")
        return report

    async def _candidates_by_day(self) -> dict[date, set[str]]:
        """Feed candidates per announcement day, for the daily budget (manual adds don't count)."""
        taken: dict[date, set[str]] = {}
        for c in await self.catalog.candidates():
            if c.announced is not None and not (c.source or "").startswith(("add:", "cli")):
                taken.setdefault(c.announced.date(), set()).add(c.arxiv_id)
        return taken
