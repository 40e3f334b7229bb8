"""`App`: the use cases the CLI and the Discord adapter call, and nothing below them."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from bot.app.curation import ENTRY_TASK, CurationMixin
from bot.app.digest import DigestMixin
from bot.app.health import HealthMixin
from bot.app.learning import LearningMixin
from bot.app.listing import ListContext, ListFileError, ListingMixin, read_text_file
from bot.app.polling import BACKOFFS, PollingMixin
from bot.app.publishing import PublishingMixin
from bot.settings import Settings
from db.awesome import catch_all_section, match_section
from db.catalog import CatalogError
from db.worker import AsyncCatalog
from feeds.errors import PaperbotError

if TYPE_CHECKING:
    from feeds.fetch import Fetcher
    from feeds.ranking import Ranker, RelevanceScorer
    from feeds.rules import RuleSet

log = logging.getLogger(__name__)


def configured_rules(settings: Settings) -> RuleSet | None:
    """The community's own rules file (`[catalog] rules`); None: the bundled one the list
    fits is used (`feeds.ranking.rules_for_list`). Raises `RulesError` for a bad file."""
    from feeds.rules import RuleSet

    return RuleSet.load(settings.rules_path) if settings.rules_path else None


def section_descriptions(settings: Settings) -> dict[str, str]:
    """What belongs in each section: the `[sections] guide` file's ``- `Section`: ...``
    lines (a list's AGENTS.md or CONTRIBUTING.md), then `[sections.descriptions]`, which
    wins for a section both name. Raises `ListFileError` for a guide that cannot be read."""
    found: dict[str, str] = {}
    guide = settings.section_guide
    if guide is not None:
        from feeds.ranking import read_descriptions

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


class App(
    PollingMixin,
    CurationMixin,
    PublishingMixin,
    ListingMixin,
    LearningMixin,
    HealthMixin,
    DigestMixin,
):
    """One process's application: settings, the catalog thread, the fetcher and the ranker.

    Open it with `await App.open(settings)` (or `async with await App.open(...)`); close it
    to stop the catalog thread, the HTTP session and any background task (a retrain).
    """

    descriptions: dict[str, str] | None = None  # section -> what belongs there (`open` reads)

    @classmethod
    async def open(cls, settings: Settings, *, dry_run: bool = False, ranking: bool = True) -> App:
        """Open the catalog (creating it), the fetcher and the ranker, and load the model.

        With `dry_run` and no catalog file yet, an empty catalog in memory stands in, so a
        dry run creates nothing on disk. With `ranking` False (a command that only reads the
        catalog: search, show, candidates, feeds), the ranker, the model and the HTTP client
        are made on first use, if any: such a command starts in a fraction of the time.

        Raises CatalogError, CatalogOpenError, RulesError (a bad rules file), ListFileError
        (a section guide that cannot be read).
        """

        from feeds.rules import RuleSet

        rules = (configured_rules(settings) or RuleSet.default()) if ranking else None
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
            catalog = await AsyncCatalog.open(where)
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
            rules = configured_rules(settings) or RuleSet.default()
            context = made[0]._list_cache if made else None
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
        app = cls(settings, catalog, fetcher, ranker)
        made.append(app)
        app.descriptions = descriptions
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
        if not self.has_ranker:
            return  # made on first use, from the list as it is then
        self.ranker = make_ranker(
            self.settings, self.ranker.rules, context, self.ranker.model, self.descriptions
        )

    async def close(self) -> None:
        """Stop the background tasks, the HTTP session and the catalog thread."""
        # An entry's completion waits on arXiv; it is resumed at the next start, so a stop
        # need not wait for it (a retrain, by contrast, is let finish).
        for task in list(self._tasks):
            if task.get_name().startswith(ENTRY_TASK):
                task.cancel()
        await self.wait_tasks()
        if self._fetcher is not None:
            await self._fetcher.close()
        await self.catalog.close()

    async def __aenter__(self) -> App:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
