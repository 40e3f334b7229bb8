"""The catalog's records (dataclasses returned by `Catalog`) and their conversion to and from rows."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from db.errors import InvalidArgument
from db.types import (
    OPEN_STATUSES,
    AddedHow,
    AuditAction,
    CandidateStatus,
    Ranking,
    SearchMode,
)
from feeds.models import FeedState, Paper

_NEW_STYLE_YEAR_RE = re.compile(r"^(\d\d)\d\d\.\d{4,5}$")
_OLD_STYLE_YEAR_RE = re.compile(r"^[a-z-]+(?:\.[A-Za-z-]+)?/(\d\d)\d{5}$")


class ListedEntry(Protocol):
    """An entry of the awesome list as `Catalog.import_entries` takes it (db.awesome.Entry is one)."""

    @property
    def key(self) -> str: ...
    @property
    def arxiv_id(self) -> str | None: ...
    @property
    def title(self) -> str: ...
    @property
    def authors(self) -> Sequence[str]: ...
    @property
    def section(self) -> str | None: ...
    @property
    def year(self) -> int | None: ...
    @property
    def venue(self) -> str | None: ...
    @property
    def paper_url(self) -> str | None: ...
    @property
    def code_url(self) -> str | None: ...
    @property
    def digest(self) -> str | None: ...
    @property
    def keywords(self) -> Sequence[str]: ...


@dataclass
class Candidate:
    """A paper put to the community's vote (a row of `candidates`)."""

    arxiv_id: str
    title: str
    version: int | None = None
    authors: list[str] = field(default_factory=list)
    abstract: str | None = None
    categories: list[str] = field(default_factory=list)
    announce_type: str | None = None
    announced: datetime | None = None
    comment: str | None = None
    journal_ref: str | None = None
    doi: str | None = None
    score: float = 0.0
    suggested_section: str | None = None
    runner_up: str | None = None  # the second-best section when it was ranked
    section: str | None = None  # curator override
    reasons: list[str] = field(default_factory=list)
    status: CandidateStatus = CandidateStatus.NEW
    source: str | None = None
    submitted_by: str | None = None
    channel_id: str | None = None
    message_id: str | None = None
    thread_id: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    posted_at: datetime | None = None
    decided_at: datetime | None = None
    decided_by: str | None = None

    @property
    def effective_section(self) -> str | None:
        return self.section or self.suggested_section

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


@dataclass
class CatalogPaper:
    """A paper of the curated list (a row of `papers`)."""

    key: str
    title: str
    arxiv_id: str | None = None
    version: int | None = None
    authors: list[str] = field(default_factory=list)
    abstract: str | None = None
    categories: list[str] = field(default_factory=list)
    section: str | None = None
    year: int | None = None
    venue: str | None = None
    paper_url: str | None = None
    code_url: str | None = None
    digest: str | None = None
    keywords: list[str] = field(default_factory=list)
    added_at: datetime | None = None
    added_by: str | None = None
    added_how: AddedHow | None = None
    updated_at: datetime | None = None

    @property
    def status(self) -> str:
        """What `add_candidate` callers show for a paper that is already listed."""
        return "in the catalog"


@dataclass
class Tally:
    approve: set[str] = field(default_factory=set)
    reject: set[str] = field(default_factory=set)

    @property
    def both(self) -> set[str]:
        return self.approve & self.reject

    @property
    def approvals(self) -> int:
        """Approvals that count: a user holding both reactions counts as neither."""
        return len(self.approve - self.both)

    @property
    def rejections(self) -> int:
        return len(self.reject - self.both)

    @property
    def net(self) -> int:
        return self.approvals - self.rejections


@dataclass
class Decision:
    arxiv_id: str
    status: CandidateStatus
    section: str | None
    changed: bool


@dataclass
class StoreReport:
    """What one `store_candidates` call did, by arXiv id."""

    new: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    already_in_catalog: list[str] = field(default_factory=list)
    ignored_updates: list[str] = field(default_factory=list)
    not_candidates: list[str] = field(default_factory=list)  # kept as background only
    background_added: int = 0  # of those, announcements the background did not hold yet


@dataclass
class ImportReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


@dataclass
class ImportPlan:
    """What importing a list does (or would do, when it was not applied)."""

    report: ImportReport
    removed: list[str] = field(default_factory=list)  # keys that leave the catalog
    titles: dict[str, str] = field(default_factory=dict)  # the removed papers' titles
    applied: bool = False  # written (else rolled back: a dry run, or too many removals)


@dataclass
class SearchHit:
    paper: CatalogPaper
    score: float  # higher is better (negated bm25); 0 for an id lookup or a browse
    snippet: str | None = None


@dataclass
class SearchPage:
    total: int  # matches, counted up to COUNT_CAP; see total_capped
    hits: list[SearchHit] = field(default_factory=list)
    total_capped: bool = False  # True: there are more than `total` matches ("1000+")
    mode: SearchMode = SearchMode.AND
    ranking: Ranking = Ranking.BM25


@dataclass
class AuditEntry:
    id: int
    at: datetime
    arxiv_id: str | None
    action: AuditAction
    actor: str | None
    how: str | None
    detail: dict[str, Any]

    @property
    def user_id(self) -> str | None:
        return self.actor


@dataclass
class CatalogStats:
    """Counts for a status line: papers by section and origin, candidates by status."""

    papers: int
    papers_by_section: dict[str, int]  # "(none)" for papers without a section
    papers_by_how: dict[AddedHow, int]
    candidates: int
    candidates_by_status: dict[CandidateStatus, int]
    open_candidates: int
    votes: int
    feeds: int


@dataclass
class BackgroundItem:
    """A feed item that was scored but not flagged: a weak negative for the relevance model."""

    arxiv_id: str
    title: str
    abstract: str | None
    categories: list[str]


@dataclass
class ModelInfo:
    """A stored model's metadata, read without its blob."""

    version: int
    trained_at: datetime
    n_train: int
    metrics: dict[str, Any]
    size: int  # bytes of the blob


@dataclass
class StoredModel:
    """A stored model with its serialised blob."""

    version: int
    trained_at: datetime
    n_train: int
    metrics: dict[str, Any]
    blob: bytes


@dataclass
class StoredList:
    """The awesome-list README as it was last saved (imported or published)."""

    text: str
    source: str
    imported_at: datetime
    sha256: str


# -- conversions -------------------------------------------------------------------------


def _ts(value: datetime | None) -> str | None:
    """ISO-8601 UTC text with +00:00; naive datetimes are refused, not guessed."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise InvalidArgument(f"{value!r} is not a datetime")
    if value.tzinfo is None:
        raise InvalidArgument(f"naive datetime {value!r}: the catalog stores aware UTC datetimes")
    return value.astimezone(UTC).isoformat()


def _aware(value: datetime) -> datetime:
    """value itself, once checked to be timezone-aware (see _ts)."""
    _ts(value)
    return value


def _dt(text: str | None) -> datetime | None:
    if not text:
        return None
    value = datetime.fromisoformat(text)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _load_list(text: str | None) -> list[Any]:
    if not text:
        return []
    value = json.loads(text)
    return list(value) if isinstance(value, list) else [value]


def first_version_year(arxiv_id: str) -> int | None:
    """Year of a paper's first version, read from its id (2003.01054 -> 2020, hep-th/9901001 -> 1999)."""
    match = _NEW_STYLE_YEAR_RE.match(arxiv_id) or _OLD_STYLE_YEAR_RE.match(arxiv_id)
    if match is None:
        return None
    yy = int(match.group(1))
    # arXiv began in 1991: two-digit years from 91 on are the 1990s.
    return 1900 + yy if yy >= 91 else 2000 + yy


_CANDIDATE_DATETIMES = ("announced", "created_at", "updated_at", "posted_at", "decided_at")
_PAPER_DATETIMES = ("added_at", "updated_at")


def _candidate(row: sqlite3.Row) -> Candidate:
    data = dict(row)
    for name in ("authors", "categories", "reasons"):
        data[name] = _load_list(data[name])
    for name in _CANDIDATE_DATETIMES:
        data[name] = _dt(data[name])
    data["status"] = CandidateStatus(data["status"])
    return Candidate(**data)


def _paper(row: sqlite3.Row) -> CatalogPaper:
    data = dict(row)
    data.pop("id", None)
    data.pop("search_facets", None)
    for name in ("authors", "categories", "keywords"):
        data[name] = _load_list(data[name])
    for name in _PAPER_DATETIMES:
        data[name] = _dt(data[name])
    data["added_how"] = AddedHow(data["added_how"]) if data["added_how"] else None
    return CatalogPaper(**data)


def _audit_entry(row: sqlite3.Row) -> AuditEntry:
    return AuditEntry(
        id=row["id"],
        at=_dt(row["at"]) or datetime.min.replace(tzinfo=UTC),
        arxiv_id=row["arxiv_id"],
        action=AuditAction(row["action"]),
        actor=row["actor"],
        how=row["how"],
        detail=json.loads(row["detail"] or "{}"),
    )


def _feed_state(row: sqlite3.Row) -> FeedState:
    return FeedState(
        url=row["url"],
        etag=row["etag"],
        last_modified=row["last_modified"],
        last_checked=_dt(row["last_checked"]),
        last_success=_dt(row["last_success"]),
        last_changed=_dt(row["last_changed"]),
        content_hash=row["content_hash"],
        last_error=row["last_error"],
        consecutive_failures=row["consecutive_failures"],
        alerted=bool(row["alerted"]),
    )


def _paper_metadata(paper: Paper) -> dict[str, Any]:
    """The columns a feed item fills, shared by candidates and catalog papers."""
    return {
        "version": paper.version,
        "title": paper.title,
        "authors": _dump(list(paper.authors)),
        "abstract": paper.abstract,
        "categories": _dump(list(paper.categories)),
    }


def _candidate_metadata(paper: Paper) -> dict[str, Any]:
    return {
        **_paper_metadata(paper),
        "comment": paper.comment,
        "journal_ref": paper.journal_ref,
        "doi": paper.doi,
    }


def _is_older(new_version: int | None, old_version: int | None) -> bool:
    """A replacement older than what is stored (feeds replayed out of order) changes nothing."""
    return new_version is not None and old_version is not None and new_version < old_version


def _changes(row: sqlite3.Row, wanted: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in wanted.items() if row[k] != v}
