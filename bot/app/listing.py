"""The list use cases: import the maintainer's README, export it with approved papers inserted."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from bot.app.base import Core, Part, Progress, quiet
from bot.app.learning import Learning
from bot.policy import REMOVALS_UNASKED
from db.awesome import (
    AwesomeDoc,
    Entry,
    InsertOutcome,
    NewEntry,
    insert_entries,
    parse_awesome,
    render_list,
)
from db.catalog import CatalogPaper, ImportReport
from feeds.errors import PaperbotError
from feeds.ids import id_year_month

if TYPE_CHECKING:
    from db.keywords import Vocabulary

log = logging.getLogger(__name__)


class ListFileError(PaperbotError):
    """A README that cannot be read or written."""


class TooManyRemovals(PaperbotError):
    """Importing a README would take more papers out of the catalog than may go unasked."""

    def __init__(self, source: str, removed: dict[str, str]) -> None:
        shown = "; ".join(f"{title} ({key})" for key, title in list(removed.items())[:3])
        more = f"; and {len(removed) - 3} more" if len(removed) > 3 else ""
        super().__init__(
            f"{source}: importing it would remove {len(removed)} papers from the catalog"
            f" ({shown}{more})"
        )
        self.source = source
        self.removed = removed


# The README of a list is a few hundred kB (the 2022 list: 0.3 MB); past this it is not one,
# and reading it would take minutes and gigabytes.
MAX_LIST_BYTES = 32_000_000


def read_text_file(path: Path) -> str:
    """A README's text exactly as stored (bytes decoded, so CRLF stays CRLF)."""
    try:
        size = path.stat().st_size
        if size > MAX_LIST_BYTES:
            raise ListFileError(
                f"{path}: {size / 1e6:.0f} MB is no awesome-list README (at most"
                f" {MAX_LIST_BYTES // 1_000_000} MB is read)"
            )
        return path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise ListFileError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ListFileError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc


def write_text_file(path: Path, text: str) -> None:
    """Replace a file atomically: a crash leaves the old file, never half of the new one.

    A symlink stays a symlink (the file it points to is replaced), the file keeps its
    permission bits, and a failed write (a full disk) leaves no temporary file behind."""
    target = path.resolve() if path.is_symlink() else path
    tmp = target.with_name(target.name + ".paperbot-tmp")
    try:
        mode = stat.S_IMODE(target.stat().st_mode) if target.exists() else None
        with open(tmp, "wb") as out:
            out.write(text.encode("utf-8"))
            out.flush()
            os.fsync(out.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        tmp.replace(target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise ListFileError(f"{path}: cannot write: {exc.strerror or exc}") from exc


@dataclass(frozen=True)
class ListContext:
    """The imported README, parsed, with its key-word vocabulary (built once per version)."""

    doc: AwesomeDoc
    vocab: Vocabulary
    sha256: str
    source: str

    @property
    def sections(self) -> list[str]:
        return [s.name for s in self.doc.paper_sections]


def _context(text: str, sha256: str, source: str) -> ListContext:
    from db.keywords import vocabulary

    doc = parse_awesome(text)
    return ListContext(doc, vocabulary(doc), sha256, source)


@dataclass
class ImportResult:
    doc: AwesomeDoc
    report: ImportReport
    removed: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # one line each, for the person importing
    dry_run: bool = False  # worked out, nothing written
    titles: dict[str, str] = field(default_factory=dict)  # the removed papers' titles, by key


@dataclass
class ExportResult:
    """The list with approved papers inserted, what was inserted, and the text it started from."""

    text: str
    original: str
    outcomes: list[InsertOutcome] = field(default_factory=list)
    source: str | None = None  # where the original came from (a file, the imported README)

    @property
    def inserted(self) -> list[InsertOutcome]:
        return [o for o in self.outcomes if o.inserted]


def _first_sentences(abstract: str | None, limit: int = 400) -> str | None:
    if not abstract:
        return None
    if len(abstract) <= limit:
        return abstract
    cut = abstract[:limit]
    end = cut.rfind(". ")
    return cut[: end + 1] if end > 100 else cut.rsplit(" ", 1)[0] + " …"


def entry_for(paper: CatalogPaper) -> NewEntry:
    """A catalog paper as the awesome-list writer wants it."""
    year = paper.year
    if paper.arxiv_id:
        year = id_year_month(paper.arxiv_id)[0]
    return NewEntry(
        arxiv_id=paper.arxiv_id,
        title=paper.title,
        authors=list(paper.authors),
        section=paper.section,
        year=year,
        paper_url=paper.paper_url or (f"https://arxiv.org/abs/{paper.arxiv_id}"),
        code_url=paper.code_url,
        venue=paper.venue,
        digest=paper.digest or _first_sentences(paper.abstract),
        keywords=list(paper.keywords or []),
    )


class Listing(Part):
    """The list: import the maintainer's README, export it with approved papers inserted,
    and the parsed README every other use case reads (`list_context`)."""

    def __init__(
        self,
        core: Core,
        learning: Learning,
        on_change: Callable[[ListContext], None] | None = None,
    ) -> None:
        """`on_change` is told when a new version of the list is read (the ranker follows
        its sections)."""
        super().__init__(core)
        self.learning = learning
        self.on_change = on_change
        self.cached: ListContext | None = None

    async def list_context(self) -> ListContext | None:
        """The imported README (None before the first import), parsed once per version."""
        stored = await self.catalog.current_list()
        if stored is None:
            return None
        cached = self.cached
        if cached is None or cached.sha256 != stored.sha256:
            cached = await asyncio.to_thread(_context, stored.text, stored.sha256, stored.source)
            self.cached = cached
            if self.on_change is not None:
                self.on_change(cached)
        return cached

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
        doc = await asyncio.to_thread(parse_awesome, text)
        if not doc.entries:
            raise ListFileError(f"{source}: no paper entries found: not an awesome list of papers")
        previous = await self.catalog.current_list()
        before: set[str] = set()
        if previous is not None:
            old = await asyncio.to_thread(parse_awesome, previous.text)
            before = {e.key for e in old.entries}
        # A paper listed twice (in two sections, say) is one catalog paper: the first entry
        # wins, else every import would flip it from one entry to the other and retrain.
        first: dict[str, Entry] = {}
        twice: dict[str, list[Entry]] = {}
        for entry in doc.entries:
            if entry.key in first:
                twice.setdefault(entry.key, [first[entry.key]]).append(entry)
            else:
                first[entry.key] = entry
        notes: list[str] = [
            f"listed {len(same)} times: {same[0].title} ({key}), in "
            + ", ".join(dict.fromkeys(e.section for e in same))
            + f"; the catalog keeps the first, in {same[0].section}"
            for key, same in twice.items()
        ]
        plan = await self.catalog.apply_import(
            list(first.values()), actor, self.clock(), withdrawn=before, dry_run=dry_run,
            max_removals=removals_unasked,
        )  # fmt: skip
        if dry_run:
            return ImportResult(doc, plan.report, plan.removed, notes, True, plan.titles)
        if not plan.applied:
            raise TooManyRemovals(source, plan.titles)
        report, removed = plan.report, plan.removed
        progress(f"{len(doc.entries)} entries in {len(doc.sections)} sections; catalog updated")
        await self.catalog.save_list(text, source, self.clock())
        context = await self.list_context()
        if context is not None:
            mapped = self.ranker.rule_sections  # as the ranking maps them
            missing = [name for name, section in mapped.items() if section is None]
            if self.settings.rules_path is None:
                notes.append(f"rules: the bundled {self.ranker.rules.source}"
                             f" ({len(mapped) - len(missing)} of its {len(mapped)} sections"
                             " are the list's)")  # fmt: skip
            if missing:
                notes.append("the rules name sections this list does not have (their phrases"
                             f" only boost relevance): {', '.join(missing)}")  # fmt: skip
        if self.settings.model.enabled and (report.added or report.updated or removed):
            # The list changed: train now (the first model right after the first import,
            # on the bundled background sample), so the next poll already uses it.
            progress("the list changed: training the relevance model on it")
            await self.learning.retrain_quietly(progress)
        elif self.settings.model.enabled and await self.learning.model_behind():
            # An earlier import stopped (a kill, a full disk) after its rows but before its
            # model: the list is unchanged, the model is not the list's. Train it now.
            progress("the model was not trained on this list: training it now")
            await self.learning.retrain_quietly(progress)
        log.info(
            "imported %s: %d entries, %d added, %d updated, %d removed", source,
            len(doc.entries), len(report.added), len(report.updated), len(removed),
        )  # fmt: skip
        return ImportResult(doc, report, removed, notes, False, plan.titles)

    async def export_list(self, readme: Path | None = None) -> ExportResult:
        """The list with approved papers not yet in it inserted where the maintainer would.

        Into `readme` when given (else the configured README), else into the README kept at
        import; with neither, the whole list rendered from the catalog.
        """
        papers = await self.catalog.papers()
        target = readme or self.settings.awesome_readme
        if target is not None:
            original = await asyncio.to_thread(read_text_file, target)
            source: str | None = str(target)
        else:
            stored = await self.catalog.current_list()
            if stored is None:
                entries = [entry_for(p) for p in papers]
                order = list(dict.fromkeys([*self.ranker.rules.sections,
                                            *(e.section for e in entries if e.section)]))  # fmt: skip
                title = self.settings.catalog.list_title
                text = await asyncio.to_thread(render_list, title, "", order, entries)
                return ExportResult(text, "", [], None)
            original, source = stored.text, stored.source
        approved = [entry_for(p) for p in papers if p.added_how != "import" and p.arxiv_id]
        text, outcomes = await asyncio.to_thread(insert_entries, original, approved)
        return ExportResult(text, original, list(outcomes), source)
