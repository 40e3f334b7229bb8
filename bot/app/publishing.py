"""The publish use case: approved papers as commits on a branch of the list's repository."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from bot.app.base import AppBase
from bot.app.listing import entry_for
from bot.publish import Change, PublishConfig, PublishReport, publish
from db.awesome import NewEntry, insert_entry
from feeds.errors import PaperbotError

log = logging.getLogger(__name__)


class PublishingOff(PaperbotError):
    """No repository is configured to publish to."""


@dataclass
class PublishResult:
    report: PublishReport
    skipped: list[str] = field(default_factory=list)  # "id: why" for papers that cannot go in


def commit_message(entry: NewEntry) -> str:
    title = " ".join(entry.title.split()).rstrip(".")
    return f"Add {title} ({entry.arxiv_id}) to {entry.section or 'the list'}"


class PublishingMixin(AppBase):
    async def publish(self, *, dry_run: bool = False, push: bool | None = None) -> PublishResult:
        """One commit per approved paper not yet in the README, on the configured branch.

        Idempotent: a paper already in the README (merged, or committed by an earlier run)
        changes nothing, so a rerun commits nothing.
        """
        p = self.settings.publish
        repo = self.settings.publish_repo
        if repo is None:
            raise PublishingOff(
                "publishing is off: set [publish] repo to a local clone of the list"
            )
        config = PublishConfig(
            repo=repo,
            readme=p.readme,
            branch=p.branch,
            author_name=p.author_name,
            author_email=p.author_email,
            remote=p.remote.strip() or None,
            push=p.push if push is None else push,
        )
        papers = await self.catalog.papers()
        entries = [entry_for(x) for x in papers if x.added_how != "import" and x.arxiv_id]
        skipped: list[str] = []

        def change(entry: NewEntry) -> Change:
            def apply(text: str) -> str:
                try:
                    outcome = insert_entry(text, entry)
                except PaperbotError as exc:
                    skipped.append(f"{entry.arxiv_id}: {exc}")
                    return text
                return outcome.text

            return Change(key=entry.arxiv_id or "", message=commit_message(entry), apply=apply)

        report = await asyncio.to_thread(
            publish, config, [change(e) for e in entries], dry_run=dry_run
        )
        if report.commits and not dry_run:
            log.info(
                "published %d commit(s) on %s%s", len(report.commits), report.branch,
                f", pushed to {report.remote}" if report.pushed else "",
            )  # fmt: skip
        return PublishResult(report, skipped)
