"""The publish and sync use cases: approved papers on a branch of the list's repository, one
pull request on its host, and the catalog following the list when it changes upstream.

Two ways to publish, by configuration:

- commits only (`[publish] repo`, optionally `remote` and `push`): one commit per approved
  paper on the branch of the local clone, as `bot.publish.publish` describes;
- with a pull request (`[publish] github_repo`, which needs `remote`): the branch is
  regenerated on the list's base branch from the approved papers it lacks, force-pushed
  with a lease, and one pull request is opened or kept up to date (`bot.publish.rebuild`).

A pull request closed without merging leaves its papers approved: paperbot does not open
another for the same papers by itself (the maintainer said no to that set). The next pull
request carries them again when a new paper is approved, or at once when a curator
publishes by hand.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from bot.app.base import Core, Part
from bot.app.listing import Listing, entry_for
from bot.forge import Forge, ForgeError, ForgeNotFound, GitHub, PullRequest
from bot.publish import (
    Change,
    PublishConfig,
    PublishError,
    PublishReport,
    Upstream,
    fetch_upstream,
    publish,
    rebuild,
)
from db.awesome import NewEntry, insert_entry, parse_awesome
from db.catalog import CatalogPaper
from feeds.errors import PaperbotError

log = logging.getLogger(__name__)

# Catalog meta keys: the pull request paperbot keeps open, the papers it carries, and the
# papers of one closed without merging (not offered again by a scheduled run).
PULL_NUMBER = "publish.pull_number"
PULL_PAPERS = "publish.pull_papers"
DECLINED_PAPERS = "publish.declined_papers"

MAX_BODY = 60_000  # GitHub refuses a body over 65,536 characters


class PublishingOff(PaperbotError):
    """No repository is configured to publish to."""


PullAction = Literal["opened", "updated", "unchanged", "closed", "none", "waiting", "failed"]


@dataclass
class PullOutcome:
    """What happened to the pull request, in one line for a person."""

    action: PullAction
    line: str
    pull: PullRequest | None = None
    title: str = ""  # the title and body it has (or, in a dry run, would have)
    body: str = ""


@dataclass
class PublishResult:
    report: PublishReport
    skipped: list[str] = field(default_factory=list)  # "id: why" for papers that cannot go in
    pull: PullOutcome | None = None  # None: no pull request configured
    notes: list[str] = field(default_factory=list)  # e.g. the repository was renamed
    news: list[str] = field(default_factory=list)  # what became of the last pull request


@dataclass
class SyncResult:
    """What following the list's repository found and did."""

    base: str  # "origin/master"
    tip: str  # its commit
    imported: bool  # the README changed upstream and the catalog was brought level
    lines: list[str] = field(default_factory=list)  # one per change, for the admin channel
    listed: list[str] = field(default_factory=list)  # approved papers now in the list
    removed: list[str] = field(default_factory=list)  # papers the maintainer took out
    publish: PublishResult | None = None
    failed: str | None = None  # why the branch and pull request could not be brought level


def commit_message(entry: NewEntry) -> str:
    title = " ".join(entry.title.split()).rstrip(".")
    return f"Add {title} ({entry.arxiv_id}) to {entry.section or 'the list'}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


@dataclass(frozen=True)
class PullPaper:
    """One paper of the pull request, as its body lists it."""

    key: str
    title: str
    section: str | None
    approvals: int | None = None
    rejections: int | None = None
    post_url: str | None = None
    approved_by: str | None = None  # who decided, when no vote was cast (a curator, the CLI)


def pull_title(papers: Sequence[PullPaper]) -> str:
    if len(papers) == 1:
        title = " ".join(papers[0].title.split()).rstrip(".")
        return f"Add {title}"[:250]
    return f"Add {len(papers)} papers"


def pull_body(papers: Sequence[PullPaper], list_name: str) -> str:
    """The pull request's description: every paper, its section, its votes and its post."""
    lines = [
        f"{_plural(len(papers), 'paper')} approved by the {list_name} community, each inserted"
        " where its section and year put it:",
        "",
    ]
    for p in papers:
        title = " ".join(p.title.split()).replace("[", "\\[").replace("]", "\\]")
        parts = [f"[{title}](https://arxiv.org/abs/{p.key})", f"in *{p.section or 'the list'}*"]
        if p.approvals:
            parts.append(f"votes ✅ {p.approvals} ❌ {p.rejections or 0}")
        elif p.approved_by:
            parts.append(f"approved by {p.approved_by}")
        if p.post_url:
            parts.append(f"[discussion]({p.post_url})")
        lines.append("- " + " · ".join(parts))
    lines += [
        "",
        "This branch is regenerated from the approved papers whenever the list or the"
        " approvals change: edit the README after merging, not this branch.",
    ]
    body = "\n".join(lines)
    return body if len(body) <= MAX_BODY else body[: MAX_BODY - 2] + " …"


def _keys(text: str) -> set[str]:
    return {e.key for e in parse_awesome(text).entries}


class Publishing(Part):
    """Publishing approved papers to the list's repository, and following it."""

    def __init__(self, core: Core, listing: Listing) -> None:
        super().__init__(core)
        self.listing = listing
        self._publishing: asyncio.Lock | None = None
        self._forge: tuple[tuple[str, str | None, str | None], GitHub] | None = None

    def _publish_lock(self) -> asyncio.Lock:
        """One publish or sync at a time in this process (a schedule and a curator's
        /paper publish may meet): both move the same branch and the same pull request."""
        if self._publishing is None:
            self._publishing = asyncio.Lock()
        return self._publishing

    def publishing_config(self, push: bool | None = None) -> PublishConfig:
        """The git side of publishing. Raises PublishingOff when no repository is set."""
        p = self.settings.publish
        repo = self.settings.publish_repo
        if repo is None:
            raise PublishingOff(
                "publishing is off: set [publish] repo to a local clone of the list"
            )
        return PublishConfig(
            repo=repo,
            readme=p.readme,
            branch=p.branch,
            author_name=p.author_name,
            author_email=p.author_email,
            remote=p.remote.strip() or None,
            push=p.push if push is None else push,
        )

    def forge(self) -> Forge | None:
        """The list's host, when a pull request is configured: one client for as long as
        the repository, the token and the address stay the same, so that a rate limit it
        met is remembered by the service's later runs (no call until it resets)."""
        p = self.settings.publish
        if not p.github_repo:
            return None
        token = self.settings.github_token
        secret = token.get_secret_value() if token is not None else None
        key = (p.github_repo, secret, self.settings.github_api_base)
        if self._forge is None or self._forge[0] != key:
            client = GitHub(
                p.github_repo,
                secret,
                api_base=self.settings.github_api_base,
                user_agent=self.settings.user_agent,
            )
            self._forge = (key, client)
        return self._forge[1]

    async def _approved(self) -> list[CatalogPaper]:
        papers = await self.catalog.papers()
        return [x for x in papers if x.added_how != "import" and x.arxiv_id]

    def _changes(self, entries: Sequence[NewEntry], skipped: list[str]) -> list[Change]:
        def change(entry: NewEntry) -> Change:
            def apply(text: str) -> str:
                try:
                    outcome = insert_entry(text, entry)
                except PaperbotError as exc:
                    skipped.append(f"{entry.arxiv_id}: {exc}")
                    return text
                return outcome.text

            return Change(key=entry.arxiv_id or "", message=commit_message(entry), apply=apply)

        return [change(e) for e in entries]

    async def publish(
        self, *, dry_run: bool = False, push: bool | None = None, by_hand: bool = True
    ) -> PublishResult:
        """One commit per approved paper not yet in the README, on the configured branch;
        with `[publish] github_repo`, the branch rebuilt on the list's base branch, pushed,
        and its pull request opened or updated.

        Idempotent: a paper already in the README changes nothing, so a rerun commits
        nothing. `by_hand` False (a scheduled run) does not offer again the papers of a
        pull request the maintainer closed without merging. Raises PublishingOff,
        PublishError (git), ForgeError (the host; the branch is pushed by then, and the
        next run completes the pull request).
        """
        config = self.publishing_config(push)
        if self.settings.publish.github_repo:
            async with self._publish_lock():
                return await self._publish_pull(config, dry_run=dry_run, by_hand=by_hand)
        skipped: list[str] = []
        changes = self._changes([entry_for(x) for x in await self._approved()], skipped)
        report = await asyncio.to_thread(publish, config, changes, dry_run=dry_run)
        if report.commits and not dry_run:
            log.info(
                "published %d commit(s) on %s%s", len(report.commits), report.branch,
                f", pushed to {report.remote}" if report.pushed else "",
            )  # fmt: skip
        return PublishResult(report, skipped)

    async def _base(self, forge: Forge, notes: list[str]) -> str:
        base = self.settings.publish.base
        if base:
            return base
        repository = await forge.repository()
        if repository.renamed_from:
            notes.append(
                f"{repository.renamed_from} is now {repository.full_name} on GitHub: set"
                f' [publish] github_repo = "{repository.full_name}"'
            )
        return repository.default_branch

    async def _publish_pull(
        self,
        config: PublishConfig,
        *,
        dry_run: bool,
        by_hand: bool,
        upstream: Upstream | None = None,
        forge: Forge | None = None,
        notes: list[str] | None = None,
        from_sync: bool = False,
    ) -> PublishResult:
        forge = forge or self.forge()
        assert forge is not None
        notes = notes if notes is not None else []
        if upstream is None:
            base = await self._base(forge, notes)
            upstream = await asyncio.to_thread(fetch_upstream, config, base)
        approved = await self._approved()
        by_key = {p.arxiv_id or p.key: p for p in approved}
        news: list[str] = []
        if not from_sync:
            # A pull request merged or closed since the last run is said before a new one
            # takes its place (sync says it otherwise).
            listed = _keys(upstream.readme)
            news = await self._pull_news(forge, [k for k in by_key if k in listed], dry_run=dry_run)
        skipped: list[str] = []
        changes = self._changes([entry_for(x) for x in approved], skipped)
        planned = await asyncio.to_thread(rebuild, config, upstream, changes, dry_run=True)
        keys = [c.key for c in planned.commits]
        declined = set(json.loads(await self.catalog.meta_get(DECLINED_PAPERS) or "[]"))
        if keys and not by_hand and set(keys) <= declined:
            line = (
                f"waiting: the {_plural(len(keys), 'approved paper')} of the pull request closed"
                " without merging; a new approval or a publish by hand offers them again"
            )
            return PublishResult(planned, skipped, PullOutcome("waiting", line), notes, news)
        report = planned
        if not dry_run:
            report = await asyncio.to_thread(rebuild, config, upstream, changes)
        papers = [await self._pull_paper(by_key[k]) for k in keys if k in by_key]
        outcome = await self._settle_pull(forge, config, upstream, papers, dry_run=dry_run)
        if not dry_run and outcome.action in ("opened", "updated", "unchanged"):
            await self.catalog.meta_set(DECLINED_PAPERS, None)
        return PublishResult(report, skipped, outcome, notes, news)

    async def _pull_paper(self, paper: CatalogPaper) -> PullPaper:
        key = paper.arxiv_id or paper.key
        candidate = await self.catalog.get_candidate(key)
        approvals = rejections = None
        post_url = None
        if candidate is not None:
            tally = await self.catalog.tally(key)
            approvals, rejections = tally.approvals, tally.rejections
            guild = self.settings.discord.guild_id
            if guild and candidate.channel_id and candidate.message_id:
                post_url = (
                    f"https://discord.com/channels/{guild}/{candidate.channel_id}"
                    f"/{candidate.message_id}"
                )
        by = candidate.decided_by if candidate is not None else paper.added_by
        return PullPaper(key, paper.title, paper.section, approvals, rejections, post_url, by)

    async def _our_pull(self, forge: Forge, branch: str) -> PullRequest | None:
        """The open pull request paperbot keeps: the one it stored, else one from its branch
        (opened by a run that stopped before it could store the number)."""
        stored = await self.catalog.meta_get(PULL_NUMBER)
        if stored:
            try:
                pull = await forge.get_pull(int(stored))
            except ForgeNotFound:
                pull = None
            if pull is not None and pull.is_open:
                return pull
        return await forge.open_pull(branch)

    async def _settle_pull(
        self,
        forge: Forge,
        config: PublishConfig,
        upstream: Upstream,
        papers: list[PullPaper],
        *,
        dry_run: bool,
    ) -> PullOutcome:
        title = pull_title(papers) if papers else ""
        body = pull_body(papers, self.settings.catalog.list_title) if papers else ""
        pull = await self._our_pull(forge, config.branch)
        keys = [p.key for p in papers]
        if not papers:
            if pull is None:
                return PullOutcome("none", "no approved paper is missing from the list")
            if dry_run:
                return PullOutcome(
                    "closed", f"would close pull request #{pull.number}: nothing left in it", pull
                )
            closed = await forge.update_pull(pull.number, state="closed")
            await self._remember(None, [])
            return PullOutcome(
                "closed",
                f"pull request #{pull.number} closed: its papers are all in the list",
                closed,
            )
        if pull is None:
            if dry_run:
                return PullOutcome(
                    "opened", f"would open a pull request: {title}", None, title, body
                )
            pull = await forge.create_pull(config.branch, upstream.base, title, body)
            await self._remember(pull.number, keys)
            log.info("opened pull request #%d: %s", pull.number, pull.html_url)
            return PullOutcome(
                "opened", f"opened pull request #{pull.number}: {pull.html_url}", pull, title, body
            )
        if pull.title == title and pull.body == body:
            if not dry_run:
                await self._remember(pull.number, keys)
            return PullOutcome(
                "unchanged", f"pull request #{pull.number} is up to date", pull, title, body
            )
        if dry_run:
            return PullOutcome(
                "updated", f"would update pull request #{pull.number}: {title}", pull, title, body
            )
        pull = await forge.update_pull(pull.number, title=title, body=body)
        await self._remember(pull.number, keys)
        log.info("updated pull request #%d", pull.number)
        return PullOutcome(
            "updated",
            f"updated pull request #{pull.number} ({_plural(len(papers), 'paper')})",
            pull,
            title,
            body,
        )

    async def _remember(self, number: int | None, keys: list[str]) -> None:
        await self.catalog.meta_set(PULL_NUMBER, str(number) if number is not None else None)
        await self.catalog.meta_set(PULL_PAPERS, json.dumps(keys) if number is not None else None)

    async def sync(self, *, dry_run: bool = False) -> SyncResult:
        """Follow the list's repository: fetch it; when its README changed upstream (a merge,
        a contributor's pull request, a hand edit), import it (the README wins) and say
        which approved papers it now has and which papers the maintainer removed; report
        what became of the pull request; then rebuild the branch and the pull request from
        the approved papers still missing.

        Raises PublishingOff, PublishError (git), ForgeError (the host) when the repository
        cannot be followed at all; a failure after the import (the push, the pull request)
        is `failed` in the result, beside what the sync found.
        """
        async with self._publish_lock():
            return await self._sync(dry_run=dry_run)

    async def _sync(self, *, dry_run: bool) -> SyncResult:
        config = self.publishing_config()
        if config.remote is None:
            raise PublishingOff("following the list needs [publish] remote")
        forge = self.forge()
        notes: list[str] = []
        if forge is not None:
            base = await self._base(forge, notes)
        else:
            base = self.settings.publish.base  # empty: the remote's own HEAD
        upstream = await asyncio.to_thread(fetch_upstream, config, base)
        base = upstream.base
        result = SyncResult(f"{config.remote}/{base}", upstream.tip, False, list(notes))
        stored = await self.catalog.current_list()
        before = _keys(stored.text) if stored is not None else set()
        waiting = {p.arxiv_id or p.key for p in await self._approved()} - before
        if stored is None or stored.text != upstream.readme:
            if dry_run:
                now = _keys(upstream.readme)
                result.listed = sorted(waiting & now)
                result.removed = sorted(before - now)
            else:
                imported = await self.listing.import_list(
                    upstream.readme,
                    f"{config.remote}/{base}:{config.readme}",
                    "sync",
                    removals_unasked=None,
                )
                now = _keys(upstream.readme)
                result.imported = True
                result.listed = sorted(waiting & now)
                result.removed = list(imported.removed)
        if forge is not None:
            result.lines += await self._pull_news(forge, result.listed, dry_run=dry_run)
        merged_line = any(line.startswith("merged:") for line in result.lines)
        if result.listed and not merged_line:
            result.lines.append(
                f"in the list now: {_plural(len(result.listed), 'approved paper')}"
                f" ({', '.join(result.listed[:5])}{', …' if len(result.listed) > 5 else ''})"
            )
        if result.removed:
            result.lines.append(
                f"the maintainer removed {len(result.removed)}:"
                f" {', '.join(result.removed[:5])}{', …' if len(result.removed) > 5 else ''}"
            )
        if forge is not None:
            try:
                published = await self._publish_pull(
                    config,
                    dry_run=dry_run,
                    by_hand=False,
                    upstream=upstream,
                    forge=forge,
                    from_sync=True,
                )
            except (PublishError, ForgeError) as exc:
                # What the sync found stands (it is imported and said); the branch and the
                # pull request wait for the next run.
                result.failed = str(exc)
                result.lines.append(f"publishing failed: {exc}; the next run tries again")
                return result
            result.publish = published
            pull = published.pull
            if pull is not None and pull.action in ("opened", "updated", "closed", "waiting"):
                result.lines.append(pull.line)
        if result.imported:
            log.info("sync: %s changed upstream; imported (%s)", result.base, upstream.tip[:12])
        return result

    async def _pull_news(self, forge: Forge, listed: list[str], *, dry_run: bool) -> list[str]:
        """What became of the stored pull request since the last run: merged, or closed."""
        stored = await self.catalog.meta_get(PULL_NUMBER)
        if not stored:
            return []
        try:
            pull = await forge.get_pull(int(stored))
        except ForgeNotFound:
            if not dry_run:
                await self._remember(None, [])
            return [f"pull request #{stored} is gone from the repository"]
        if pull.is_open:
            return []
        carried = json.loads(await self.catalog.meta_get(PULL_PAPERS) or "[]")
        lines: list[str] = []
        if pull.state == "merged":
            got = [k for k in carried if k in set(listed)] or listed
            lines.append(
                f"merged: pull request #{pull.number}, {_plural(len(got), 'paper')} in the list"
            )
        else:
            stay = [k for k in carried if k not in set(listed)]
            lines.append(
                f"pull request #{pull.number} closed without merging:"
                f" {_plural(len(stay), 'paper')}"
                + (" stays approved and waits" if len(stay) == 1 else " stay approved and wait")
                + " for the next one"
            )
            if not dry_run:
                await self.catalog.meta_set(DECLINED_PAPERS, json.dumps(stay))
        if not dry_run:
            await self._remember(None, [])
        return lines
