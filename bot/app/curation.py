"""Curation use cases: submit a paper, vote, decide, change a section, expire."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from bot.app.base import Core, Part
from bot.app.learning import Learning
from bot.app.listing import ListContext, Listing
from bot.app.voting import judge
from db.awesome import NewEntry, entry_key, match_section
from db.catalog import (
    Candidate,
    CandidateStatus,
    CatalogPaper,
    CatalogStats,
    SearchPage,
    Tally,
)
from db.types import AddedHow, VoteChoice
from feeds.errors import FeedError, IdentifierError, PaperbotError
from feeds.ids import parse_arxiv_id
from feeds.models import Match, Paper

log = logging.getLogger(__name__)

PREVIEWS_KEPT = 512  # entry previews remembered (one per open post is enough)
RECHECK_DEADLINE = 15.0  # seconds for re-reading arXiv's metadata at approval


class UnknownSection(PaperbotError, LookupError):
    """A section name that is not one of the list's sections."""

    def __init__(self, name: str, known: Collection[str]) -> None:
        shown = name if len(name) <= 60 else name[:57] + "..."
        super().__init__(f"unknown section {shown!r} (sections: {', '.join(known) or 'none'})")
        self.name = name
        self.known = list(known)


class NotACandidate(PaperbotError, LookupError):
    """A key that is neither a candidate nor (where that would do) a catalog paper."""


class AlreadyDecided(PaperbotError):
    """The opposite decision was taken already: deciding again would contradict it."""


class InvalidYears(PaperbotError, ValueError):
    """A year filter that is not a year or a range of years."""


def year_range(text: str | None) -> tuple[int | None, int | None]:
    """The years a person means: `2020`, `2018-2020`, `2018-` or `-2020` (None: open end).
    InvalidYears for anything else, a year that is not four digits, or a range backwards."""
    if text is None or not text.strip():
        return None, None
    raw = " ".join(text.split())
    shown = raw if len(raw) <= 40 else raw[:39] + "…"
    try:
        if "-" in raw:
            low, _, high = raw.partition("-")
            years = (int(low) if low.strip() else None, int(high) if high.strip() else None)
        else:
            years = (int(raw), int(raw))
    except ValueError:
        raise InvalidYears(f"{shown!r} is not a year or a range like 2018-2020") from None
    if years == (None, None):
        raise InvalidYears(f"{shown!r} is not a year or a range like 2018-2020")
    if any(y is not None and not 1900 <= y <= 2999 for y in years):
        raise InvalidYears(f"{shown!r}: a year is four digits, such as 2020")
    if years[0] is not None and years[1] is not None and years[0] > years[1]:
        raise InvalidYears(
            f"{shown!r} runs backwards: the earlier year first ({years[1]}-{years[0]})"
        )
    return years


_KEY = re.compile(r"^[a-z][a-z0-9+.-]*:\S+$")  # openreview:H1gBsgBYwH, url:…


def catalog_key(text: str) -> str:
    """The catalog key a person means: an arXiv id, or the key of a list entry's link.
    IdentifierError for text that is none of an arXiv id, a URL or a catalog key."""
    text = text.strip()
    if not text:
        raise IdentifierError(text, "give an arXiv id, a URL or a catalog key")
    try:
        return parse_arxiv_id(text)[0]
    except PaperbotError:
        pass
    # An OpenReview (or other) link is keyed as the list importer keys it; a key of that
    # form (openreview:…, url:…) is looked up as given.
    if "://" in text:
        return entry_key(text)
    if _KEY.match(text):
        return text
    raise IdentifierError(
        text, "not an arXiv id (2401.01234), a URL or a catalog key (openreview:…)"
    )


@dataclass(frozen=True)
class AddResult:
    """A submission: the record it made (or found), and the ranking it got."""

    record: Candidate | CatalogPaper
    created: bool
    match: Match

    @property
    def key(self) -> str:
        record = self.record
        if isinstance(record, Candidate):
            return record.arxiv_id
        return record.arxiv_id or record.key

    @property
    def status(self) -> str:
        return "in the catalog" if isinstance(self.record, CatalogPaper) else self.record.status


DecideKind = Literal["approved", "rejected", "unchanged", "listed"]


@dataclass(frozen=True)
class DecideResult:
    """What a decision did. `listed`: the paper was already in the catalog (imported)."""

    key: str
    kind: DecideKind
    status: str  # the candidate's status afterwards, or "listed"
    section: str | None
    added_how: str | None = None
    # why arXiv was not asked again for an approved paper's metadata (None: it was, or
    # there was no need); the entry is then written from what was announced
    not_rechecked: str | None = None

    @property
    def changed(self) -> bool:
        return self.kind in ("approved", "rejected")


class Members(Protocol):
    """What the core asks the adapter about a voter (Discord knows its members)."""

    async def is_curator(self, user_id: str) -> bool:
        """Whether the member holds the curator role (False for one who left)."""
        ...

    async def display_name(self, user_id: str) -> str:
        """The name to record a curator's decision under."""
        ...


@dataclass(frozen=True)
class VoteOutcome:
    """One vote counted: the tally now, and the decision it made (None: still open)."""

    tally: Tally
    decision: DecideResult | None = None


# Catalog meta key: approved papers whose list entry is still to be completed (arXiv
# re-checked, key words, digest), resumed after a restart.
ENTRIES_PENDING = "entries.pending"
ENTRY_TASK = "paperbot-entry-"  # the name of a background completion, then the arXiv id


@dataclass(frozen=True)
class CompletedEntry:
    """An approved paper's entry as written, and why arXiv was not re-checked, if it wasn't."""

    entry: NewEntry | None
    not_rechecked: str | None = None


SectionTarget = Literal["candidate", "paper", "unchanged"]


@dataclass(frozen=True)
class SectionChange:
    key: str
    section: str
    target: SectionTarget


@dataclass(frozen=True)
class Found:
    """What a person asked for by id: a catalog paper, else a candidate with its votes."""

    paper: CatalogPaper | None = None
    candidate: Candidate | None = None
    tally: Tally | None = None


class Curation(Part):
    """Curation: look papers up, submit them, vote and decide, set sections, expire; the
    records of the review posts."""

    def __init__(self, core: Core, listing: Listing, learning: Learning) -> None:
        super().__init__(core)
        self.listing = listing
        self.learning = learning
        self._previews: dict[tuple[object, ...], str | None] = {}

    # -- looking things up -----------------------------------------------------------------

    async def find(self, text: str) -> Found:
        """A catalog paper or, failing that, a candidate, by arXiv id, URL or catalog key.

        Raises IdentifierError for text that is no id, NotACandidate when it is neither."""
        key = catalog_key(text)
        paper = await self.catalog.get_paper(key)
        if paper is not None:
            return Found(paper=paper)
        candidate = await self.catalog.get_candidate(key)
        if candidate is None:
            shown = key if len(key) <= 80 else key[:79] + "…"
            raise NotACandidate(f"{shown}: neither in the catalog nor a candidate")
        return Found(candidate=candidate, tally=await self.catalog.tally(candidate.arxiv_id))

    async def search(
        self,
        query: str,
        *,
        section: str | None = None,
        year_from: int | None = None,
        year_to: int | None = None,
        author: str | None = None,
        limit: int = 10,
        offset: int = 0,
    ) -> SearchPage:
        """The catalog's papers matching `query` and the filters, best first."""
        return await self.catalog.search(
            query, section=section, year_from=year_from, year_to=year_to, author=author,
            limit=limit, offset=offset,
        )  # fmt: skip

    async def candidates(
        self, status: CandidateStatus | Sequence[CandidateStatus] | None = None
    ) -> list[Candidate]:
        """Candidates, newest first; `status` one or several."""
        return await self.catalog.candidates(status=status)

    # -- the review posts' records (what the Discord adapter reads and writes) ---------

    async def candidate(self, arxiv_id: str) -> Candidate | None:
        """One candidate by its arXiv id (no version), or None."""
        return await self.catalog.get_candidate(arxiv_id)

    async def candidate_of_post(self, message_id: str | int) -> Candidate | None:
        """The candidate a Discord post shows, or None for any other message."""
        return await self.catalog.candidate_by_message(message_id)

    async def to_post(self, limit: int) -> list[Candidate]:
        """Candidates waiting for their post, best first, at most `limit`."""
        return await self.catalog.to_post(limit)

    async def posted(
        self, arxiv_id: str, channel_id: str, message_id: str, thread_id: str | None = None
    ) -> Candidate:
        """Record a candidate's post (and thread); recorded before anything else is done
        with the post, so a crash never posts twice. Raises NotFound for no candidate."""
        return await self.catalog.mark_posted(
            arxiv_id, channel_id, message_id, thread_id, self.clock()
        )

    async def tally(self, arxiv_id: str) -> Tally:
        """A candidate's votes as recorded."""
        return await self.catalog.tally(arxiv_id)

    async def recent(self, n: int = 5) -> list[CatalogPaper]:
        """The papers most recently added to the catalog, newest first."""
        return await self.catalog.recent(n)

    async def stats(self) -> CatalogStats:
        """Counts of the catalog: papers by section and by how they came in, candidates."""
        return await self.catalog.stats()

    # -- sections ----------------------------------------------------------------------

    async def sections(self) -> list[str]:
        """Every section a paper can go to: the list's own, once a list is imported.

        Before any import, the rules' sections and those of papers already in the catalog.
        """
        context = await self.listing.list_context()
        if context is not None:
            return context.sections
        names = list(self.ranker.rules.sections)
        stats = await self.catalog.stats()
        for name in stats.papers_by_section:
            if name and name != "(none)" and match_section(name, names) is None:
                names.append(name)
        return names

    async def resolve_section(self, name: str | None) -> str | None:
        """The section a person means (case and spacing forgiven); UnknownSection otherwise."""
        if name is None or not name.strip():
            return None
        known = await self.sections()
        found = match_section(name, known)
        if found is None:
            raise UnknownSection(name.strip(), known)
        return found

    # -- submissions -------------------------------------------------------------------

    async def lookup_arxiv(self, text: str, *, deadline: float | None = None) -> Paper:
        """Metadata of one paper from the arXiv API, given anything a person pastes."""
        from feeds.fetch import api_query_url
        from feeds.parse import parse_feed

        arxiv_id, _version = parse_arxiv_id(text)
        url = api_query_url(self.settings.arxiv.api_base, [arxiv_id])
        try:
            fetched = await self.fetcher.fetch(url, deadline=deadline)
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

    async def add(self, text: str, submitted_by: str, source: str) -> AddResult:
        """Look a paper up and make it a candidate whatever its score (someone asked for it).

        A paper already known (a candidate in any state, or listed) is not looked up again.
        """
        arxiv_id = parse_arxiv_id(text)[0]
        known: Candidate | CatalogPaper | None = await self.catalog.get_paper(arxiv_id)
        if known is None:
            known = await self.catalog.get_candidate(arxiv_id)
        if known is not None:
            return AddResult(known, False, Match(arxiv_id, 0.0, None))
        paper = await self.lookup_arxiv(text)
        (match,) = await asyncio.to_thread(self.ranker.rank, [paper])
        record, created = await self.catalog.add_candidate(
            paper, match, submitted_by, source, self.clock()
        )
        if created:
            log.info("%s submitted by %s", paper.arxiv_id, submitted_by)
        return AddResult(record, created, match)

    # -- decisions ---------------------------------------------------------------------

    async def decide(
        self,
        key: str,
        approved: bool,
        actor: str,
        how: AddedHow,
        *,
        section: str | None = None,
        recheck: bool = True,
        complete_later: bool = False,
    ) -> DecideResult:
        """Approve (into the catalog) or reject a candidate, by any adapter.

        A paper already in the catalog but never a candidate (imported from the list) is
        reported as listed when approved, and refused when rejected: there is no vote.
        An approved paper's entry is completed (arXiv re-checked, key words, digest) before
        this returns, or with `complete_later` in the background: the decision and its
        post never wait for arXiv, and a completion a stop interrupts is resumed by
        `complete_pending` at the next start.

        Raises NotACandidate, AlreadyDecided, UnknownSection, IdentifierError.
        """
        arxiv_id = catalog_key(key)
        chosen = await self.resolve_section(section)
        if await self.catalog.get_candidate(arxiv_id) is None:
            listed = await self.catalog.get_paper(arxiv_id)
            if listed is None:
                raise NotACandidate(f"{arxiv_id} is not a candidate (nor in the catalog)")
            if approved:
                return DecideResult(arxiv_id, "listed", "listed", listed.section, listed.added_how)
            raise NotACandidate(
                f"{arxiv_id} is in the catalog, not a candidate: there is no vote to reject"
            )
        decision = await self.catalog.decide(
            arxiv_id, approved, actor, how, self.clock(), section=chosen
        )
        if not decision.changed:
            wanted = "approved" if approved else "rejected"
            if decision.status in ("approved", "rejected") and decision.status != wanted:
                raise AlreadyDecided(
                    f"{arxiv_id} was already {decision.status}; it cannot be {wanted} now"
                )
            return DecideResult(arxiv_id, "unchanged", decision.status, decision.section)
        log.info("%s %s by %s (%s)", arxiv_id, decision.status, actor, how)
        not_rechecked = None
        if approved and complete_later:
            await self._pending(add=arxiv_id)
            self.spawn(self._complete_in_background(arxiv_id), name=ENTRY_TASK + arxiv_id)
        elif approved:
            not_rechecked = (await self.complete_entry(arxiv_id, recheck=recheck)).not_rechecked
        self.learning.note_decision()
        kind: DecideKind = "approved" if approved else "rejected"
        return DecideResult(
            arxiv_id, kind, decision.status, decision.section, not_rechecked=not_rechecked
        )

    async def _pending(self, *, add: str | None = None, done: str | None = None) -> list[str]:
        """The approved papers whose entries wait for completion (kept in the catalog)."""
        raw = await self.catalog.meta_get(ENTRIES_PENDING)
        keys: list[str] = json.loads(raw) if raw else []
        changed = False
        if add is not None and add not in keys:
            keys.append(add)
            changed = True
        if done is not None and done in keys:
            keys.remove(done)
            changed = True
        if changed:
            await self.catalog.meta_set(ENTRIES_PENDING, json.dumps(keys) if keys else None)
        return keys

    async def _complete_in_background(self, arxiv_id: str) -> None:
        try:
            await self.complete_entry(arxiv_id)
        except PaperbotError as exc:
            # Kept pending: the next start tries again.
            log.warning("%s: entry not completed (%s); the next start tries again", arxiv_id, exc)
            return
        await self._pending(done=arxiv_id)

    async def complete_pending(self) -> int:
        """Complete, in the background, every approved paper's entry a stop interrupted;
        returns how many were resumed."""
        keys = await self._pending()
        for arxiv_id in keys:
            self.spawn(self._complete_in_background(arxiv_id), name=ENTRY_TASK + arxiv_id)
        if keys:
            log.info("completing %d approved paper(s)' entries left by the last run", len(keys))
        return len(keys)

    async def complete_entry(self, arxiv_id: str, *, recheck: bool = True) -> CompletedEntry:
        """Write an approved paper's entry as the maintainer would: key words, digest, venue.

        With `recheck`, arXiv's metadata is read again first (a paper may have been accepted
        somewhere since it was announced); if arXiv cannot be reached, what the feed said
        is used. Nothing happens before a list is imported or for a section it lacks.
        """
        from db.entries import compose_entry

        context = await self.listing.list_context()
        paper = await self.catalog.get_paper(arxiv_id)
        if (
            context is None
            or paper is None
            or paper.added_how == AddedHow.IMPORT
            or not paper.section
        ):
            return CompletedEntry(None)
        candidate = await self.catalog.get_candidate(arxiv_id)
        title, authors = paper.title, list(paper.authors)
        abstract = paper.abstract or ""
        comment = candidate.comment if candidate else None
        journal_ref = candidate.journal_ref if candidate else None
        not_rechecked = None
        if recheck:
            try:
                # Bounded: the decision is taken; a slow arXiv only delays the entry's text.
                fresh = await self.lookup_arxiv(arxiv_id, deadline=RECHECK_DEADLINE)
            except PaperbotError as exc:
                not_rechecked = str(exc)
                log.info(
                    "%s: arXiv not re-checked (%s); the announced metadata is used", arxiv_id, exc
                )
            else:
                title, authors = fresh.title or title, list(fresh.authors) or authors
                abstract = fresh.abstract or abstract
                comment, journal_ref = fresh.comment, fresh.journal_ref
        try:
            entry = await asyncio.to_thread(
                compose_entry, context.doc, paper.section, arxiv_id=arxiv_id, title=title,
                authors=authors, abstract=abstract, comment=comment, journal_ref=journal_ref,
                vocab=context.vocab,
            )  # fmt: skip
        except PaperbotError as exc:
            log.info("%s: entry left plain: %s", arxiv_id, exc)
            return CompletedEntry(None, not_rechecked)
        await self.catalog.set_entry_text(
            arxiv_id, digest=entry.digest, keywords=entry.keywords, venue=entry.venue,
            code_url=entry.code_url, actor="paperbot", now=self.clock(),
        )  # fmt: skip
        return CompletedEntry(entry, not_rechecked)

    async def entry_preview(self, candidate: Candidate) -> str | None:
        """The exact lines approving `candidate` into its section would write (no network)."""
        context = await self.listing.list_context()
        section = candidate.effective_section
        if context is None or not section or match_section(section, context.sections) is None:
            return None
        # Every edit of a post shows the preview again: composed once per paper, section
        # and version of the list, not once per vote.
        key = (candidate.arxiv_id, candidate.version, section, context.sha256,
               hash((candidate.title, candidate.abstract, candidate.comment, candidate.journal_ref)))  # fmt: skip
        if key in self._previews:
            return self._previews[key]
        preview = await self._compose_preview(context, candidate, section)
        if len(self._previews) >= PREVIEWS_KEPT:
            self._previews.pop(next(iter(self._previews)))
        self._previews[key] = preview
        return preview

    async def _compose_preview(
        self, context: ListContext, candidate: Candidate, section: str
    ) -> str | None:
        from db.entries import compose_entry, preview_entry

        try:
            entry = await asyncio.to_thread(
                compose_entry, context.doc, section, arxiv_id=candidate.arxiv_id,
                title=candidate.title, authors=candidate.authors, abstract=candidate.abstract or "",
                comment=candidate.comment, journal_ref=candidate.journal_ref, vocab=context.vocab,
            )  # fmt: skip
            return await asyncio.to_thread(preview_entry, context.doc, entry)
        except PaperbotError:
            return None

    async def set_section(self, key: str, section: str, actor: str) -> SectionChange:
        """Set an open candidate's section, or move a catalog paper."""
        name = await self.resolve_section(section)
        if name is None:
            raise UnknownSection(section, await self.sections())
        arxiv_id = catalog_key(key)
        target = await self.catalog.set_section(arxiv_id, name, actor, self.clock())
        if target != "unchanged":
            log.info("%s moved to %s by %s", arxiv_id, name, actor)
        if target == "paper":
            # Its key words follow the new section's vocabulary.
            await self.complete_entry(arxiv_id, recheck=False)
        return SectionChange(arxiv_id, name, target)

    async def expire(self) -> list[str]:
        """Expire the open candidates older than [discord] expire_days; their ids."""
        expired = await self.catalog.expire(self.clock(), self.settings.discord.expire_days)
        if expired:
            log.info("expired %d candidate(s): %s", len(expired), ", ".join(expired))
        return expired

    # -- votes -------------------------------------------------------------------------

    async def vote(
        self, arxiv_id: str, user_id: str, choice: VoteChoice, present: bool, members: Members
    ) -> VoteOutcome:
        """One reaction given (`present`) or taken back: recorded, judged, and decided if the
        votes say so. The caller serialises the votes of one candidate. The decision never
        waits for arXiv: an approved paper's entry is completed in the background."""
        tally = await self.catalog.set_vote(arxiv_id, user_id, choice, present, self.clock())
        return VoteOutcome(tally, await self._judge(arxiv_id, tally, members))

    async def recount(
        self,
        arxiv_id: str,
        votes: Mapping[str, set[VoteChoice]],
        members: Members,
        *,
        judge_now: bool = True,
    ) -> VoteOutcome:
        """The votes replaced by what the post shows (after downtime), then judged, unless
        `judge_now` is False (a reaction event that follows will judge)."""
        tally = await self.catalog.replace_votes(arxiv_id, votes, self.clock())
        decision = await self._judge(arxiv_id, tally, members) if judge_now else None
        return VoteOutcome(tally, decision)

    async def _judge(self, arxiv_id: str, tally: Tally, members: Members) -> DecideResult | None:
        d = self.settings.discord
        voters = set(tally.approve) | set(tally.reject)
        curators = {u for u in sorted(voters) if await members.is_curator(u)}
        verdict = judge(
            tally.approve,
            tally.reject,
            curators,
            approve_threshold=d.approve_threshold,
            reject_threshold=d.reject_threshold,
        )
        if verdict is None:
            return None
        actor = await members.display_name(verdict.actor) if verdict.how == "curator" else "vote"
        try:
            return await self.decide(
                arxiv_id, verdict.approved, actor, verdict.how, complete_later=True
            )
        except AlreadyDecided as exc:
            # Decided meanwhile by another way (the command line): the votes come too late.
            log.info("votes on %s ignored: %s", arxiv_id, exc)
            return DecideResult(arxiv_id, "unchanged", "decided", None)
