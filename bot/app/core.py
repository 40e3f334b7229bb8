"""`App`: the use cases the CLI and the Discord adapter call, and nothing below them."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.app.base import Core, Progress, quiet
from bot.app.curation import (
    ENTRY_TASK,
    AddResult,
    CompletedEntry,
    Curation,
    DecideResult,
    Found,
    Members,
    SectionChange,
    VoteOutcome,
)
from bot.app.digest import Digest, DigestData
from bot.app.health import FeedHealth, Health, HealthAlert
from bot.app.learning import Learning, ModelStatus
from bot.app.listing import (
    ExportResult,
    ImportResult,
    ListContext,
    ListFileError,
    Listing,
    read_text_file,
)
from bot.app.polling import BACKOFFS, Polling, PollReport
from bot.app.publishing import Publishing, PublishResult, SyncResult
from bot.policy import REMOVALS_UNASKED
from bot.settings import Settings
from db.awesome import catch_all_section, match_section
from db.catalog import CatalogError
from db.worker import AsyncCatalog
from feeds.errors import PaperbotError

if TYPE_CHECKING:
    from bot.forge import Forge
    from bot.publish import PublishConfig
    from db.catalog import Candidate, CandidateStatus, CatalogPaper, CatalogStats, SearchPage, Tally
    from db.types import AddedHow, VoteChoice
    from feeds.fetch import Fetcher
    from feeds.models import Paper
    from feeds.ranking import Ranker, RelevanceScorer
    from feeds.relevance import Example, RelevanceModel
    from feeds.rules import RuleSet

log = logging.getLogger(__name__)


def configured_rules(settings: Settings) -> RuleSet | None:
    """The community's own rules file (`[catalog] rules`); None: the bundled one the list
    fits is used (`feeds.ranking.rules_for_list`). Raises `RulesError` for a bad file."""
    from feeds.rules import RuleSet

    return RuleSet.load(settings.rules_path) if settings.rules_path else None


def _rules(settings: Settings) -> RuleSet:
    from feeds.rules import RuleSet

    return configured_rules(settings) or RuleSet.default()


def section_descriptions(settings: Settings) -> dict[str, str]:
    """What belongs in each section: the `[sections] guide` file's ``- `Section`: ...``
    lines (a list's AGENTS.md or CONTRIBUTING.md), then `[sections.descriptions]`, which
    wins for a section both name. Raises `ListFileError` for a guide that cannot be read."""
    found: dict[str, str] = {}
    guide = settings.section_guide
    if guide is not None:
        from feeds.rules import read_descriptions

        found = read_descriptions(read_text_file(guide))
        if not found:
            raise ListFileError(
                f"{guide}: [sections] guide has no section descriptions (lines like"
                ' "- `Section`: what belongs there")'
            )
    found.update(settings.sections.descriptions)
    return found


def make_ranker(
    settings: Settings,
    rules: RuleSet,
    context: ListContext | None = None,
    model: RelevanceScorer | None = None,
    descriptions: Mapping[str, str] | None = None,
) -> Ranker:
    """The ranker for the list's sections (none before an import: the rules' own).

    `descriptions`: section -> what belongs there (`section_descriptions`; None reads the
    settings' own `[sections.descriptions]` only)."""
    from feeds.ranking import Ranker, rules_for_list

    sections = context.sections if context is not None else []
    if context is not None and settings.rules_path is None:
        rules = rules_for_list(sections)  # no rules file of the community's: the one that fits
    catch_all = None
    if context is not None:
        catch_all = match_section(settings.sections.catch_all, sections) or catch_all_section(
            context.doc
        )
    given = settings.sections.descriptions if descriptions is None else descriptions
    found_descriptions = {}
    for name, text in given.items():
        found = match_section(name, sections) if sections else name
        if found is not None:
            found_descriptions[found] = text
    return Ranker(
        rules,
        model,
        selection=settings.model.selection,
        flag_rate=settings.model.flag_rate,
        threshold=settings.model.threshold,
        daily_budget=settings.model.daily_budget,
        sections=sections,
        catch_all=catch_all,
        descriptions=found_descriptions,
    )


class CatalogOpenError(PaperbotError):
    """The catalog file cannot be opened (a folder that cannot be made, not a catalog)."""


class App:
    """One process's application: the door both adapters (the command line, Discord) use.

    A facade with no logic of its own: every method delegates to one collaborator, each
    made at construction with what it depends on and nothing else: `Learning` (the model),
    `Listing` (the list), `Curation` (papers, votes, decisions), `Polling`, `Publishing`,
    `Health`, `Digest`, over the shared `Core` (settings, catalog thread, clock, fetcher,
    ranker, background tasks). Open it with `await App.open(settings)` (or
    `async with await App.open(...)`); close it to stop the catalog thread, the HTTP
    session and any background task (a retrain).
    """

    def __init__(self, core: Core, descriptions: Mapping[str, str] | None = None) -> None:
        self.core = core
        self.descriptions = dict(descriptions or {})  # section -> what belongs there
        self._learning = Learning(core)
        self._listing = Listing(core, self._learning, on_change=self._list_changed)
        self._curation = Curation(core, self._listing, self._learning)
        self._polling = Polling(core, self._learning)
        self._publishing = Publishing(core, self._listing)
        self._health = Health(core)
        self._digest = Digest(core)

    # -- what the core holds ---------------------------------------------------------------

    @property
    def settings(self) -> Settings:
        """Everything read from the config file and the environment."""
        return self.core.settings

    @property
    def catalog(self) -> AsyncCatalog:
        """The catalog thread: for the core's collaborators and tests, never an adapter's."""
        return self.core.catalog

    @property
    def ranker(self) -> Ranker:
        """The rules and the model ranking papers now (a retrain or a new list replaces it)."""
        return self.core.ranker

    @ranker.setter
    def ranker(self, ranker: Ranker) -> None:
        self.core.ranker = ranker

    def clock(self) -> datetime:
        """Now, in UTC (the core's clock)."""
        return self.core.clock()

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """Run `coro` in the background; awaited (or cancelled) by `close`."""
        return self.core.spawn(coro, name)

    async def wait_tasks(self, timeout: float = 30.0) -> None:  # noqa: ASYNC109
        """Let background tasks (a retrain) finish, cancelling what outlives `timeout`."""
        await self.core.wait_tasks(timeout)

    @classmethod
    async def open(
        cls,
        settings: Settings,
        *,
        dry_run: bool = False,
        ranking: bool = True,
        write_wait: float | None = None,
        on_write_wait: Callable[[int | None], None] | None = None,
    ) -> App:
        """Open the catalog (creating it), the fetcher and the ranker, and load the model.

        With `dry_run` and no catalog file yet, an empty catalog in memory stands in, so a
        dry run creates nothing on disk. With `ranking` False (a command that only reads the
        catalog: search, show, candidates, feeds), the ranker, the model and the HTTP client
        are made on first use, if any: such a command starts in a fraction of the time.

        `write_wait` (seconds) is how long a write waits for another process holding the
        catalog's write lock (default: the busy timeout, 5 s), and `on_write_wait(pid)` is
        told once a write has waited a second (the holder's pid when the system says it).

        Raises CatalogError, CatalogOpenError, RulesError (a bad rules file), ListFileError
        (a section guide that cannot be read).
        """

        rules = _rules(settings) if ranking else None
        if rules is None and settings.rules_path is not None and not settings.rules_path.is_file():
            configured_rules(settings)  # a rules file that is not there is refused all the same
        descriptions = section_descriptions(settings)
        path = settings.database_path
        where = str(path)
        if dry_run and not path.exists():
            where = ":memory:"
        else:
            try:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise CatalogOpenError(
                    f"{path}: cannot create its folder: {exc.strerror or exc}"
                ) from exc
        try:
            catalog = await AsyncCatalog.open(
                where,
                write_wait_ms=int(write_wait * 1000) if write_wait is not None else None,
                on_write_wait=on_write_wait,
            )
        except CatalogError:
            raise
        except OSError as exc:
            raise CatalogOpenError(
                f"{path}: cannot open the catalog: {exc.strerror or exc}"
            ) from exc
        try:
            # Hosts that asked for a long pause (Retry-After) are still paused after a restart.
            backoffs = await catalog.meta_get(BACKOFFS)
        except BaseException:
            await catalog.close()
            raise

        def make_fetcher() -> Fetcher:
            from feeds.fetch import Fetcher, load_backoffs

            return Fetcher(
                user_agent=settings.user_agent,
                timeout=settings.arxiv.timeout,
                min_interval=settings.arxiv.min_interval,
                retries=settings.arxiv.retries,
                max_bytes=settings.arxiv.max_bytes,
                backoffs=load_backoffs(backoffs),
            )

        made: list[App] = []

        def later_ranker() -> Ranker:
            # The rules' own sections until a list is imported; the list's once it is.
            rules = _rules(settings)
            context = made[0]._listing.cached if made else None
            return make_ranker(settings, rules, context, None, descriptions)

        try:
            fetcher = make_fetcher() if ranking else make_fetcher
        except BaseException:
            await catalog.close()
            raise
        ranker = (
            make_ranker(settings, rules, None, None, descriptions)
            if rules is not None
            else later_ranker
        )
        app = cls(Core(settings, catalog, fetcher, ranker), descriptions)
        made.append(app)
        try:
            if ranking:
                await app.list_context()  # the list's sections, once one is imported
                await app.load_model()
        except BaseException:
            await app.close()
            raise
        return app

    def _list_changed(self, context: ListContext) -> None:
        """The list's sections changed (first import, a new section): the ranker follows."""
        if not self.core.has_ranker:
            return  # made on first use, from the list as it is then
        self.ranker = make_ranker(
            self.settings, self.ranker.rules, context, self.ranker.model, self.descriptions
        )

    async def close(self) -> None:
        """Stop the background tasks, the HTTP session and the catalog thread."""
        # An entry's completion waits on arXiv; it is resumed at the next start, so a stop
        # need not wait for it (a retrain, by contrast, is let finish).
        self.core.cancel_tasks(ENTRY_TASK)
        await self.core.wait_tasks()
        await self.core.close_fetcher()
        await self.core.catalog.close()

    # -- learning (Learning) ---------------------------------------------------

    async def load_model(self) -> None:
        """Use the newest stored relevance model, if any and if enabled; keep rules otherwise."""
        return await self._learning.load_model()

    async def gather_examples(self) -> list[Example]:
        """Catalog papers are positives, rejections negatives, unflagged feed items background."""
        return await self._learning.gather_examples()

    async def retrain(self, progress: Progress = quiet) -> RelevanceModel | None:
        """Train, store and switch to a new model; on failure keep the previous one."""
        return await self._learning.retrain(progress)

    async def retrain_quietly(self, progress: Progress = quiet) -> None:
        """`retrain`, when the model is enabled, for the callers that do not wait on it."""
        return await self._learning.retrain_quietly(progress)

    async def model_behind(self) -> bool:
        """Whether the stored model was trained on other papers than the catalog has."""
        return await self._learning.model_behind()

    async def model_status(self) -> ModelStatus | None:
        """The stored model's description (without loading it), or None when there is none."""
        return await self._learning.model_status()

    # -- listing (Listing) -----------------------------------------------------

    async def list_context(self) -> ListContext | None:
        """The imported README (None before the first import), parsed once per version."""
        return await self._listing.list_context()

    async def import_list(
        self,
        text: str,
        source: str,
        actor: str = "import",
        progress: Progress = quiet,
        *,
        dry_run: bool = False,
        removals_unasked: int | None = REMOVALS_UNASKED,
    ) -> ImportResult:
        """Read an awesome-list README into the catalog (idempotent), keeping its text.

        Importing a newer README reconciles: the list wins. New entries come in; an entry's
        section, title, digest… are the README's; entries the maintainer removed leave the
        catalog (approved papers too, once a README had them); approved papers the README
        does not have yet stay, and the next export inserts them.

        `dry_run` works out what the import would do and writes nothing. An import that would
        remove more than `removals_unasked` papers raises TooManyRemovals and writes
        nothing (None: any number may go).
        """
        return await self._listing.import_list(
            text, source, actor, progress, dry_run=dry_run, removals_unasked=removals_unasked
        )

    async def export_list(self, readme: Path | None = None) -> ExportResult:
        """The list with approved papers not yet in it inserted where the maintainer would.

        Into `readme` when given (else the configured README), else into the README kept at
        import; with neither, the whole list rendered from the catalog.
        """
        return await self._listing.export_list(readme)

    # -- curation (Curation) ---------------------------------------------------

    async def find(self, text: str) -> Found:
        """A catalog paper or, failing that, a candidate, by arXiv id, URL or catalog key."""
        return await self._curation.find(text)

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
        return await self._curation.search(
            query,
            section=section,
            year_from=year_from,
            year_to=year_to,
            author=author,
            limit=limit,
            offset=offset,
        )

    async def candidates(
        self, status: CandidateStatus | Sequence[CandidateStatus] | None = None
    ) -> list[Candidate]:
        """Candidates, newest first; `status` one or several."""
        return await self._curation.candidates(status)

    async def candidate(self, arxiv_id: str) -> Candidate | None:
        """One candidate by its arXiv id (no version), or None."""
        return await self._curation.candidate(arxiv_id)

    async def candidate_of_post(self, message_id: str | int) -> Candidate | None:
        """The candidate a Discord post shows, or None for any other message."""
        return await self._curation.candidate_of_post(message_id)

    async def to_post(self, limit: int) -> list[Candidate]:
        """Candidates waiting for their post, best first, at most `limit`."""
        return await self._curation.to_post(limit)

    async def posted(
        self, arxiv_id: str, channel_id: str, message_id: str, thread_id: str | None = None
    ) -> Candidate:
        """Record a candidate's post (and thread); recorded before anything else is done
        with the post, so a crash never posts twice. Raises NotFound for no candidate.
        """
        return await self._curation.posted(arxiv_id, channel_id, message_id, thread_id)

    async def tally(self, arxiv_id: str) -> Tally:
        """A candidate's votes as recorded."""
        return await self._curation.tally(arxiv_id)

    async def recent(self, n: int = 5) -> list[CatalogPaper]:
        """The papers most recently added to the catalog, newest first."""
        return await self._curation.recent(n)

    async def stats(self) -> CatalogStats:
        """Counts of the catalog: papers by section and by how they came in, candidates."""
        return await self._curation.stats()

    async def sections(self) -> list[str]:
        """Every section a paper can go to: the list's own, once a list is imported.

        Before any import, the rules' sections and those of papers already in the catalog.
        """
        return await self._curation.sections()

    async def resolve_section(self, name: str | None) -> str | None:
        """The section a person means (case and spacing forgiven); UnknownSection otherwise."""
        return await self._curation.resolve_section(name)

    async def lookup_arxiv(self, text: str, *, deadline: float | None = None) -> Paper:
        """Metadata of one paper from the arXiv API, given anything a person pastes."""
        return await self._curation.lookup_arxiv(text, deadline=deadline)

    async def add(self, text: str, submitted_by: str, source: str) -> AddResult:
        """Look a paper up and make it a candidate whatever its score (someone asked for it).

        A paper already known (a candidate in any state, or listed) is not looked up again.
        """
        return await self._curation.add(text, submitted_by, source)

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
        return await self._curation.decide(
            key,
            approved,
            actor,
            how,
            section=section,
            recheck=recheck,
            complete_later=complete_later,
        )

    async def complete_pending(self) -> int:
        """Complete, in the background, every approved paper's entry a stop interrupted;
        returns how many were resumed.
        """
        return await self._curation.complete_pending()

    async def complete_entry(self, arxiv_id: str, *, recheck: bool = True) -> CompletedEntry:
        """Write an approved paper's entry as the maintainer would: key words, digest, venue.

        With `recheck`, arXiv's metadata is read again first (a paper may have been accepted
        somewhere since it was announced); if arXiv cannot be reached, what the feed said
        is used. Nothing happens before a list is imported or for a section it lacks.
        """
        return await self._curation.complete_entry(arxiv_id, recheck=recheck)

    async def entry_preview(self, candidate: Candidate) -> str | None:
        """The exact lines approving `candidate` into its section would write (no network)."""
        return await self._curation.entry_preview(candidate)

    async def set_section(self, key: str, section: str, actor: str) -> SectionChange:
        """Set an open candidate's section, or move a catalog paper."""
        return await self._curation.set_section(key, section, actor)

    async def expire(self) -> list[str]:
        """Expire the open candidates older than [discord] expire_days; their ids."""
        return await self._curation.expire()

    async def vote(
        self, arxiv_id: str, user_id: str, choice: VoteChoice, present: bool, members: Members
    ) -> VoteOutcome:
        """One reaction given (`present`) or taken back: recorded, judged, and decided if the
        votes say so. The caller serialises the votes of one candidate. The decision never
        waits for arXiv: an approved paper's entry is completed in the background.
        """
        return await self._curation.vote(arxiv_id, user_id, choice, present, members)

    async def recount(
        self,
        arxiv_id: str,
        votes: Mapping[str, set[VoteChoice]],
        members: Members,
        *,
        judge_now: bool = True,
    ) -> VoteOutcome:
        """The votes replaced by what the post shows (after downtime), then judged, unless
        `judge_now` is False (a reaction event that follows will judge).
        """
        return await self._curation.recount(arxiv_id, votes, members, judge_now=judge_now)

    # -- polling (Polling) -----------------------------------------------------

    async def poll(
        self, feeds: list[str] | None = None, *, dry_run: bool = False, progress: Progress = quiet
    ) -> PollReport:
        """Fetch, parse, rank and (unless dry_run) store every feed.

        A dry run reads the catalog but writes nothing: no candidates, no feed state (or the
        next real poll would see 304), no model.
        """
        return await self._polling.poll(feeds, dry_run=dry_run, progress=progress)

    # -- publishing (Publishing) -----------------------------------------------

    def publishing_config(self, push: bool | None = None) -> PublishConfig:
        """The git side of publishing. Raises PublishingOff when no repository is set."""
        return self._publishing.publishing_config(push)

    def forge(self) -> Forge | None:
        """The list's host, when a pull request is configured."""
        return self._publishing.forge()

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
        return await self._publishing.publish(dry_run=dry_run, push=push, by_hand=by_hand)

    async def sync(self, *, dry_run: bool = False) -> SyncResult:
        """Follow the list's repository: fetch it; when its README changed upstream (a merge,
        a contributor's pull request, a hand edit), import it (the README wins) and say
        which approved papers it now has and which papers the maintainer removed; report
        what became of the pull request; then rebuild the branch and the pull request from
        the approved papers still missing.

        Raises PublishingOff, PublishError (git), ForgeError (the host).
        """
        return await self._publishing.sync(dry_run=dry_run)

    # -- health (Health) -------------------------------------------------------

    async def note_started(self) -> None:
        """The service's scheduler started: its jobs run from now on."""
        return await self._health.note_started()

    async def note_alive(self) -> None:
        """The service's heartbeat: it is running its jobs and can write the catalog."""
        return await self._health.note_alive()

    async def note_poll_started(self) -> None:
        """Record that a poll started now (what `doctor --service` reads)."""
        return await self._health.note_poll_started()

    async def service_times(self) -> dict[str, datetime | None]:
        """When the service started, last checked in and last began a poll (None: never)."""
        return await self._health.service_times()

    async def feed_health(self) -> list[FeedHealth]:
        """Every configured feed, then any other feed the catalog remembers."""
        return await self._health.feed_health()

    async def health_alerts(self) -> list[HealthAlert]:
        """The alerts to send now; call `alert_sent` for each once it reached people."""
        return await self._health.health_alerts()

    async def forget_feed(self, url: str) -> None:
        """Drop a feed the config no longer lists (its FAILING record with it)."""
        return await self._health.forget_feed(url)

    async def alert_sent(self, alert: HealthAlert) -> None:
        """Record that a feed-health alert was sent, so it is not sent again."""
        return await self._health.alert_sent(alert)

    # -- digest (Digest) -------------------------------------------------------

    async def digest_data(self) -> DigestData:
        """What happened since the last digest (or the last day)."""
        return await self._digest.digest_data()

    def digest_wanted(self, data: DigestData, *, force: bool = False) -> bool:
        """A quiet arXiv day is always worth a line; a busy day with nothing may be skipped."""
        return self._digest.digest_wanted(data, force=force)

    async def digest_sent(self, data: DigestData) -> None:
        """Record that the digest for `data` was posted (the next one starts from it)."""
        return await self._digest.digest_sent(data)

    # -- the context manager --------------------------------------------------------

    async def __aenter__(self) -> App:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
