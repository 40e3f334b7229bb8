"""The catalog repository: candidates, votes, decisions, catalog papers, feed state and search."""

from __future__ import annotations

import json
import re
import sqlite3
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from db.schema import (
    ADDED_HOW,
    CANDIDATE_STATUSES,
    FTS_WEIGHTS,
    connect,
    migrate,
    section_token,
    year_token,
)
from feeds.errors import IdentifierError, PaperbotError
from feeds.ids import parse_arxiv_id
from feeds.models import FeedState, Match, Paper

OPEN_STATUSES = ("new", "posted")
DECIDED_STATUSES = ("approved", "rejected")
CHOICES = ("approve", "reject")

# Search limits. Words beyond MAX_TOKENS add nothing a person meant and only cost time.
MAX_TOKENS = 32
MAX_TOKEN_CHARS = 64
# The reported total stops counting here: counting a huge match set costs more than the page.
COUNT_CAP = 1000
# When a query matches more papers than this, only the most recently added RANK_WINDOW of
# them are ranked by bm25 (scoring every match of "learning" in a million papers is the slow
# part). A catalog of a few thousand papers never reaches it.
RANK_WINDOW = 5_000
# bm25 ranks a query only while its words' postings hold at most this many papers together
# (bm25 reads all of them to weigh each word); beyond, the page is "title first, newest first".
RANK_BUDGET = 30_000
# The OR fallback needs this many words: for two, "grokking transformers" finding every
# transformer paper is noise, while a pasted sentence rarely matches every one of its words.
OR_FALLBACK_MIN_TOKENS = 3
BACKGROUND_CAP = 50_000
# A year filter wider than this is checked in SQL only (one index token per year otherwise).
MAX_YEAR_TOKENS = 60

# Words too common to narrow a search; dropped unless the query has nothing else.
_STOPWORD_TEXT = """a an and are as at be by can do does for from has have how in into is it its of on
    or our over than that the their this to towards toward under using via vs was we what
    when which who why with without"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())
_WORD_RE = re.compile(r"[^\W_]+")
# `title:grokking` reads as a column filter; the words are searched in every column.
_COLUMN_PREFIX_RE = re.compile(r"\b(?:title|authors?|abstract|digest|keywords?)\s*:", re.I)
_NEW_STYLE_YEAR_RE = re.compile(r"^(\d\d)\d\d\.\d{4,5}$")
_OLD_STYLE_YEAR_RE = re.compile(r"^[a-z-]+(?:\.[A-Za-z-]+)?/(\d\d)\d{5}$")

_HOW_TO_ADDED = {"vote": "vote", "votes": "vote", "curator": "curator", "cli": "cli"}


class CatalogError(PaperbotError):
    """A catalog operation that cannot be done as asked."""


class NotFound(CatalogError, LookupError):
    """No candidate or catalog paper with that id."""

    def __init__(self, what: str, key: str) -> None:
        shown = key if len(key) <= 80 else key[:77] + "..."
        super().__init__(f"{shown!r} is not {what}")
        self.key = key


class InvalidState(CatalogError):
    """The record exists but is in a state that does not allow the operation."""


# -- records -----------------------------------------------------------------------------


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
    section: str | None = None  # curator override
    reasons: list[str] = field(default_factory=list)
    status: str = "new"
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
    added_how: str | None = None
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
    status: str
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


@dataclass
class ImportReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


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
    mode: str = "and"  # "and" | "or" (fallback) | "id" | "browse"
    ranking: str = "bm25"  # "bm25" | "title-recent" (common words) | "recent" | "id"


@dataclass
class AuditEntry:
    id: int
    at: datetime
    arxiv_id: str | None
    action: str
    actor: str | None
    how: str | None
    detail: dict[str, Any]

    @property
    def user_id(self) -> str | None:
        return self.actor


# -- conversions -------------------------------------------------------------------------


def _ts(value: datetime | None) -> str | None:
    """ISO-8601 UTC text with +00:00; naive datetimes are refused, not guessed."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: the catalog stores aware UTC datetimes")
    return value.astimezone(UTC).isoformat()


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
    return Candidate(**data)


def _paper(row: sqlite3.Row) -> CatalogPaper:
    data = dict(row)
    data.pop("id", None)
    data.pop("search_facets", None)
    for name in ("authors", "categories", "keywords"):
        data[name] = _load_list(data[name])
    for name in _PAPER_DATETIMES:
        data[name] = _dt(data[name])
    return CatalogPaper(**data)


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


# -- search helpers ----------------------------------------------------------------------


def _clean(text: str) -> str:
    # NUL and other control characters are dropped before anything else sees the text.
    return "".join(" " if unicodedata.category(ch) in ("Cc", "Cf", "Cs") else ch for ch in text)


def query_terms(text: str) -> list[str]:
    """User text -> words: letters and digits only, lowercased, stopwords dropped.

    Everything FTS5 would read as syntax (quotes, `*`, `-`, `:`, `^`, parentheses,
    AND/OR/NOT/NEAR) is reduced to plain words, which are later quoted. `word*` is the
    word itself: prefix searches make FTS5 merge the postings of every matching term, and
    porter stemming already finds "networks" for "network".
    """
    text = _COLUMN_PREFIX_RE.sub(" ", _clean(text))
    words: list[str] = []
    for match in _WORD_RE.finditer(text):
        word = match.group(0).lower()[:MAX_TOKEN_CHARS]
        if word not in words:
            words.append(word)
        if len(words) >= MAX_TOKENS * 2:
            break
    meaningful = [w for w in words if not _is_stopword(w)]
    return (meaningful or words)[:MAX_TOKENS]


def _is_stopword(word: str) -> bool:
    return word in STOPWORDS or (len(word) == 1 and word.isascii())


def _author_terms(author: str) -> list[str]:
    """`{authors} : "word"` for each word of an author filter (at most 8).

    Whole words, not prefixes: a prefix such as "wang"* makes FTS5 merge the postings of
    every matching term before it can intersect anything.
    """
    found = _WORD_RE.finditer(_clean(author))
    words = list(dict.fromkeys(m.group(0).lower()[:MAX_TOKEN_CHARS] for m in found))
    return ['{authors} : "' + w + '"' for w in words if len(w) >= 2][:8]


def snippet(text: str | None, terms: Sequence[str], width: int = 200) -> str | None:
    """About `width` characters of text around the first query word found, on word edges."""
    if not text:
        return None
    flat = " ".join(text.split())
    low = flat.lower()
    # Stems, not words: "networks" should also point at "network".
    found = [low.find(w[: max(4, len(w) - 2)]) for w in terms]
    at = min((i for i in found if i >= 0), default=0)
    start = 0 if at < width // 3 else flat.rfind(" ", 0, at - width // 4) + 1
    end = len(flat) if start + width >= len(flat) else flat.rfind(" ", start, start + width)
    if end <= start:
        end = min(len(flat), start + width)
    return ("…" if start else "") + flat[start:end] + ("…" if end < len(flat) else "")


def _with(match: str, extra: str | None) -> str:
    return match if extra is None else f"({match}) AND {extra}"


def fts_query(terms: Sequence[str], operator: str = "AND") -> str:
    """A safe FTS5 MATCH expression: every word a quoted string (quotes doubled)."""
    return f" {operator} ".join('"' + word.replace('"', '""') + '"' for word in terms)


# -- the repository ----------------------------------------------------------------------


class Catalog:
    """Synchronous access to the catalog file; one instance per thread (see db.worker)."""

    def __init__(self, path: str | Path = ":memory:") -> None:
        self.path = str(path)
        self.db: Database = connect(self.path)
        self.conn: sqlite3.Connection = self.db.conn
        self.conn.row_factory = sqlite3.Row
        migrate(self.db)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- small helpers ---------------------------------------------------------------------

    def _one(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> sqlite3.Row | None:
        return self.conn.execute(sql, params).fetchone()

    def _all(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> list[sqlite3.Row]:
        return self.conn.execute(sql, params).fetchall()

    def _insert(self, table: str, values: Mapping[str, Any]) -> None:
        names = ", ".join(values)
        marks = ", ".join("?" for _ in values)
        self.conn.execute(f"INSERT INTO {table} ({names}) VALUES ({marks})", list(values.values()))

    def _update(self, table: str, key: str, key_value: Any, values: Mapping[str, Any]) -> None:
        if not values:
            return
        sets = ", ".join(f"{name} = ?" for name in values)
        self.conn.execute(
            f"UPDATE {table} SET {sets} WHERE {key} = ?", [*values.values(), key_value]
        )

    def _audit(
        self,
        now: datetime,
        arxiv_id: str | None,
        action: str,
        actor: str | None,
        how: str | None,
        detail: Mapping[str, Any] | None = None,
    ) -> None:
        self._insert(
            "audit",
            {
                "at": _ts(now),
                "arxiv_id": arxiv_id,
                "action": action,
                "actor": actor,
                "how": how,
                "detail": _dump(dict(detail or {})),
            },
        )

    def _candidate_row(self, arxiv_id: str) -> sqlite3.Row | None:
        return self._one("SELECT * FROM candidates WHERE arxiv_id = ?", [arxiv_id])

    def _paper_row(self, key: str) -> sqlite3.Row | None:
        row = self._one("SELECT * FROM papers WHERE key = ?", [key])
        if row is None:
            row = self._one("SELECT * FROM papers WHERE arxiv_id = ?", [key])
        return row

    def _require_candidate(self, arxiv_id: str) -> sqlite3.Row:
        row = self._candidate_row(arxiv_id)
        if row is None:
            raise NotFound("a candidate", arxiv_id)
        return row

    # -- candidates --------------------------------------------------------------------

    def store_candidates(
        self, items: Iterable[tuple[Paper, Match]], source: str, now: datetime
    ) -> StoreReport:
        """Store one poll's flagged papers and replacements, all or nothing.

        New papers flagged by their Match become candidates (status "new"); a paper seen
        again keeps its status and votes, its metadata refreshed if it changed. A
        replacement (`is_update`) refreshes an existing candidate or catalog paper and never
        creates one. Unflagged new papers are kept only as background for the model.
        """
        report = StoreReport()
        stamp = _ts(now)
        with self.db.atomic():
            for paper, match in items:
                aid = paper.arxiv_id
                if paper.is_update:
                    self._store_update(paper, match, now, report)
                    continue
                if self._one("SELECT 1 FROM papers WHERE arxiv_id = ?", [aid]) is not None:
                    report.already_in_catalog.append(aid)
                    continue
                row = self._candidate_row(aid)
                if row is None and not match.candidate:
                    self.conn.execute(
                        "INSERT OR IGNORE INTO background (arxiv_id, title, abstract,"
                        " categories, seen_at) VALUES (?, ?, ?, ?, ?)",
                        [aid, paper.title, paper.abstract, _dump(list(paper.categories)), stamp],
                    )
                    report.not_candidates.append(aid)
                    continue
                if row is None:
                    self._insert(
                        "candidates",
                        {
                            "arxiv_id": aid,
                            **_candidate_metadata(paper),
                            "announce_type": str(paper.announce_type)
                            if paper.announce_type
                            else None,
                            "announced": _ts(paper.announced),
                            "score": float(match.score),
                            "suggested_section": match.section,
                            "reasons": _dump(list(match.reasons)),
                            "status": "new",
                            "source": source,
                            "created_at": stamp,
                            "updated_at": stamp,
                        },
                    )
                    report.new.append(aid)
                    continue
                # Announced again (a cross-list, a second feed, a replayed poll).
                changes = {}
                if not _is_older(paper.version, row["version"]):
                    changes = _changes(row, _candidate_metadata(paper))
                if changes:
                    self._update("candidates", "arxiv_id", aid, {**changes, "updated_at": stamp})
                    self._audit(now, aid, "update", source, "feed", {"fields": sorted(changes)})
                    report.updated.append(aid)
                else:
                    report.unchanged.append(aid)
            self._trim_background()
        return report

    def _store_update(self, paper: Paper, match: Match, now: datetime, report: StoreReport) -> None:
        aid = paper.arxiv_id
        stamp = _ts(now)
        cand = self._candidate_row(aid)
        listed = self._one("SELECT * FROM papers WHERE arxiv_id = ?", [aid])
        if cand is None and listed is None:
            report.ignored_updates.append(aid)
            return
        changed: set[str] = set()
        if cand is not None and not _is_older(paper.version, cand["version"]):
            changes = _changes(cand, _candidate_metadata(paper))
            self._update(
                "candidates", "arxiv_id", aid, {**changes, "updated_at": stamp} if changes else {}
            )
            changed |= set(changes)
        if listed is not None and not _is_older(paper.version, listed["version"]):
            wanted = _paper_metadata(paper)
            # A list entry's title and authors were chosen by people; only fill them if empty.
            if listed["added_how"] == "import":
                wanted = {k: v for k, v in wanted.items() if k not in ("title", "authors")}
            changes = _changes(listed, wanted)
            self._update(
                "papers", "id", listed["id"], {**changes, "updated_at": stamp} if changes else {}
            )
            changed |= set(changes)
        if changed:
            old = (cand or listed)["version"]  # type: ignore[index]
            detail = {"fields": sorted(changed), "version": [old, paper.version]}
            self._audit(now, aid, "update", None, "feed", detail)
            report.updated.append(aid)
        else:
            report.unchanged.append(aid)

    def _trim_background(self) -> None:
        (count,) = self._one("SELECT count(*) FROM background") or (0,)
        if count > BACKGROUND_CAP:
            self.conn.execute(
                "DELETE FROM background WHERE arxiv_id IN (SELECT arxiv_id FROM background"
                " ORDER BY seen_at, arxiv_id LIMIT ?)",
                [count - BACKGROUND_CAP],
            )

    def add_candidate(
        self, paper: Paper, match: Match, submitted_by: str, source: str, now: datetime
    ) -> tuple[Candidate | CatalogPaper, bool]:
        """Make a member's submission a candidate whatever its score.

        Returns (record, created). When the paper is already a candidate (in any status) or
        already in the catalog, nothing changes and the existing record comes back.
        """
        with self.db.atomic():
            listed = self._one("SELECT * FROM papers WHERE arxiv_id = ?", [paper.arxiv_id])
            if listed is not None:
                return _paper(listed), False
            row = self._candidate_row(paper.arxiv_id)
            if row is not None:
                return _candidate(row), False
            stamp = _ts(now)
            self._insert(
                "candidates",
                {
                    "arxiv_id": paper.arxiv_id,
                    **_candidate_metadata(paper),
                    "announce_type": str(paper.announce_type) if paper.announce_type else None,
                    "announced": _ts(paper.announced),
                    "score": float(match.score),
                    "suggested_section": match.section,
                    "reasons": _dump(list(match.reasons)),
                    "status": "new",
                    "source": source,
                    "submitted_by": submitted_by,
                    "created_at": stamp,
                    "updated_at": stamp,
                },
            )
            self._audit(now, paper.arxiv_id, "add", submitted_by, source, {"score": match.score})
            return _candidate(self._require_candidate(paper.arxiv_id)), True

    def get_candidate(self, arxiv_id: str) -> Candidate | None:
        row = self._candidate_row(arxiv_id)
        return _candidate(row) if row is not None else None

    def candidate_by_message(self, message_id: str | int) -> Candidate | None:
        row = self._one("SELECT * FROM candidates WHERE message_id = ?", [str(message_id)])
        return _candidate(row) if row is not None else None

    def candidates(
        self, status: str | Sequence[str] | None = None, limit: int | None = None
    ) -> list[Candidate]:
        """Candidates, newest first; `status` one name or several."""
        sql = "SELECT * FROM candidates"
        params: list[Any] = []
        if status is not None:
            wanted = [status] if isinstance(status, str) else list(status)
            sql += f" WHERE status IN ({', '.join('?' for _ in wanted)})"
            params += wanted
        sql += " ORDER BY created_at DESC, arxiv_id"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        return [_candidate(r) for r in self._all(sql, params)]

    def to_post(self, limit: int) -> list[Candidate]:
        """Waiting candidates, best score first (ties by id), at most `limit`."""
        rows = self._all(
            "SELECT * FROM candidates WHERE status = 'new' AND message_id IS NULL"
            " ORDER BY score DESC, arxiv_id LIMIT ?",
            [max(0, int(limit))],
        )
        return [_candidate(r) for r in rows]

    def mark_posted(
        self,
        arxiv_id: str,
        channel_id: str | int,
        message_id: str | int,
        thread_id: str | int | None,
        now: datetime,
    ) -> Candidate:
        """Record the Discord post of a candidate; a later thread id is added, never lost."""
        with self.db.atomic():
            row = self._require_candidate(arxiv_id)
            values: dict[str, Any] = {
                "channel_id": str(channel_id),
                "message_id": str(message_id),
                "thread_id": str(thread_id) if thread_id is not None else row["thread_id"],
                "posted_at": row["posted_at"] or _ts(now),
            }
            if row["status"] == "new":
                values["status"] = "posted"
            changes = _changes(row, values)
            if changes:
                self._update(
                    "candidates", "arxiv_id", arxiv_id, {**changes, "updated_at": _ts(now)}
                )
            return _candidate(self._require_candidate(arxiv_id))

    # -- votes ---------------------------------------------------------------------------

    def tally(self, arxiv_id: str) -> Tally:
        result = Tally()
        for row in self._all("SELECT user_id, choice FROM votes WHERE candidate = ?", [arxiv_id]):
            (result.approve if row["choice"] == "approve" else result.reject).add(row["user_id"])
        return result

    def set_vote(
        self,
        arxiv_id: str,
        user_id: str | int,
        choice: str,
        present: bool,
        now: datetime,
        how: str = "reaction",
    ) -> Tally:
        """Add (present) or remove one reaction; replays change nothing; decided: no-op."""
        if choice not in CHOICES:
            raise ValueError(f"choice must be one of {CHOICES}, not {choice!r}")
        user = str(user_id)
        with self.db.atomic():
            row = self._require_candidate(arxiv_id)
            if row["status"] in OPEN_STATUSES:
                if present:
                    cursor = self.conn.execute(
                        "INSERT OR IGNORE INTO votes (candidate, user_id, choice, at)"
                        " VALUES (?, ?, ?, ?)",
                        [arxiv_id, user, choice, _ts(now)],
                    )
                else:
                    cursor = self.conn.execute(
                        "DELETE FROM votes WHERE candidate = ? AND user_id = ? AND choice = ?",
                        [arxiv_id, user, choice],
                    )
                if cursor.rowcount:
                    action = "vote" if present else "unvote"
                    self._audit(now, arxiv_id, action, user, how, {"choice": choice})
            return self.tally(arxiv_id)

    def replace_votes(
        self, arxiv_id: str, votes: Mapping[str, Iterable[str]], now: datetime
    ) -> Tally:
        """Make the stored votes exactly what Discord shows (after downtime), auditing each change."""
        wanted = {(str(user), choice) for user, choices in votes.items() for choice in choices}
        bad = {c for _, c in wanted if c not in CHOICES}
        if bad:
            raise ValueError(f"choices must be among {CHOICES}, not {sorted(bad)}")
        with self.db.atomic():
            row = self._require_candidate(arxiv_id)
            if row["status"] not in OPEN_STATUSES:
                return self.tally(arxiv_id)
            stored = {
                (r["user_id"], r["choice"])
                for r in self._all(
                    "SELECT user_id, choice FROM votes WHERE candidate = ?", [arxiv_id]
                )
            }
            for user, choice in sorted(stored - wanted):
                self.conn.execute(
                    "DELETE FROM votes WHERE candidate = ? AND user_id = ? AND choice = ?",
                    [arxiv_id, user, choice],
                )
                self._audit(now, arxiv_id, "unvote", user, "reconcile", {"choice": choice})
            for user, choice in sorted(wanted - stored):
                self._insert(
                    "votes",
                    {"candidate": arxiv_id, "user_id": user, "choice": choice, "at": _ts(now)},
                )
                self._audit(now, arxiv_id, "vote", user, "reconcile", {"choice": choice})
            return self.tally(arxiv_id)

    # -- decisions -----------------------------------------------------------------------

    def decide(
        self,
        arxiv_id: str,
        approved: bool,
        actor: str,
        how: str,
        now: datetime,
        section: str | None = None,
    ) -> Decision:
        """Approve (into the catalog) or reject a candidate; deciding twice changes nothing.

        An expired candidate can still be decided: expiry means nobody decided in time.
        """
        with self.db.atomic():
            row = self._require_candidate(arxiv_id)
            if row["status"] in DECIDED_STATUSES:
                shown = row["section"] or row["suggested_section"]
                if row["status"] == "approved":
                    listed = self._paper_row(arxiv_id)
                    shown = listed["section"] if listed is not None else shown
                return Decision(arxiv_id, row["status"], shown, changed=False)
            stamp = _ts(now)
            status = "approved" if approved else "rejected"
            chosen = section or row["section"] or row["suggested_section"]
            if approved:
                listed = self._paper_row(arxiv_id)
                if listed is None:
                    self._insert(
                        "papers",
                        {
                            "key": arxiv_id,
                            "arxiv_id": arxiv_id,
                            "version": row["version"],
                            "title": row["title"],
                            "authors": row["authors"],
                            "abstract": row["abstract"],
                            "categories": row["categories"],
                            "section": chosen,
                            "year": first_version_year(arxiv_id),
                            "venue": None,
                            "paper_url": f"https://arxiv.org/abs/{arxiv_id}",
                            "added_at": stamp,
                            "added_by": actor,
                            "added_how": _HOW_TO_ADDED.get(how, "curator"),
                            "updated_at": stamp,
                        },
                    )
                else:
                    # Listed meanwhile (an import): the list's entry stands as written.
                    chosen = listed["section"]
            self._update(
                "candidates",
                "arxiv_id",
                arxiv_id,
                {
                    "status": status,
                    "section": chosen if approved else row["section"],
                    "decided_at": stamp,
                    "decided_by": actor,
                    "updated_at": stamp,
                },
            )
            self._audit(
                now, arxiv_id, "approve" if approved else "reject", actor, how,
                {"section": chosen, "previous": row["status"]},
            )  # fmt: skip
            return Decision(
                arxiv_id,
                status,
                chosen if approved else row["section"] or row["suggested_section"],
                True,
            )

    def set_section(self, key: str, section: str, actor: str, now: datetime) -> str:
        """Set an open candidate's section, or move a catalog paper; returns what changed.

        Returns "candidate", "paper" or "unchanged".
        """
        section = section.strip()
        if not section:
            raise ValueError("a section name is required")
        with self.db.atomic():
            cand = self._candidate_row(key)
            listed = self._paper_row(key)
            if listed is None and (cand is None or cand["status"] not in OPEN_STATUSES):
                if cand is None:
                    raise NotFound("a candidate or a catalog paper", key)
                raise InvalidState(
                    f"{key} is {cand['status']} and not in the catalog; its section cannot change"
                )
            stamp = _ts(now)
            if listed is not None:
                before = listed["section"]
                if before == section:
                    return "unchanged"
                self._update(
                    "papers", "id", listed["id"], {"section": section, "updated_at": stamp}
                )
                if cand is not None:
                    self._update(
                        "candidates", "arxiv_id", key, {"section": section, "updated_at": stamp}
                    )
                self._audit(now, listed["arxiv_id"] or listed["key"], "section", actor, "paper",
                            {"from": before, "to": section})  # fmt: skip
                return "paper"
            assert cand is not None
            before = cand["section"] or cand["suggested_section"]
            if cand["section"] == section:
                return "unchanged"
            self._update("candidates", "arxiv_id", key, {"section": section, "updated_at": stamp})
            self._audit(now, key, "section", actor, "candidate", {"from": before, "to": section})
            return "candidate"

    def expire(self, now: datetime, max_age_days: float) -> list[str]:
        """Undecided candidates created more than max_age_days ago become expired."""
        cutoff = now - timedelta(days=max_age_days)
        with self.db.atomic():
            rows = self._all(
                "SELECT arxiv_id, created_at FROM candidates WHERE status IN ('new', 'posted')"
                " ORDER BY arxiv_id"
            )
            # Compared as datetimes, not as text, whatever precision the stamps were written in.
            stale = [r["arxiv_id"] for r in rows if (_dt(r["created_at"]) or now) < cutoff]
            stamp = _ts(now)
            for arxiv_id in stale:
                self._update(
                    "candidates", "arxiv_id", arxiv_id, {"status": "expired", "updated_at": stamp}
                )
                self._audit(
                    now, arxiv_id, "expire", "paperbot", "timer", {"max_age_days": max_age_days}
                )
        return stale

    # -- catalog papers ------------------------------------------------------------------

    def import_entries(
        self, entries: Iterable[Mapping[str, Any]], actor: str, now: datetime
    ) -> ImportReport:
        """Upsert awesome-list entries by key, all or nothing; importing twice changes nothing."""
        report = ImportReport()
        stamp = _ts(now)
        with self.db.atomic():
            for entry in entries:
                key = str(entry["key"]).strip()
                if not key:
                    raise ValueError(f"an entry without a key: {entry.get('title')!r}")
                arxiv_id = entry.get("arxiv_id") or None
                year = entry.get("year")
                if arxiv_id:
                    year = first_version_year(arxiv_id) or year
                wanted = {
                    "arxiv_id": arxiv_id,
                    "title": str(entry.get("title") or "").strip() or key,
                    "authors": _dump(list(entry.get("authors") or [])),
                    "section": entry.get("section"),
                    "year": int(year) if year is not None else None,
                    "venue": entry.get("venue"),
                    "paper_url": entry.get("paper_url"),
                    "code_url": entry.get("code_url"),
                    "digest": entry.get("digest"),
                    "keywords": _dump(list(entry.get("keywords") or [])),
                }
                row = self._one("SELECT * FROM papers WHERE key = ?", [key])
                if row is None and arxiv_id:
                    row = self._one("SELECT * FROM papers WHERE arxiv_id = ?", [arxiv_id])
                if row is None:
                    self._insert(
                        "papers",
                        {
                            "key": key,
                            **wanted,
                            "added_at": stamp,
                            "added_by": actor,
                            "added_how": "import",
                            "updated_at": stamp,
                        },
                    )
                    self._audit(now, arxiv_id or key, "import", actor, "import", {"key": key})
                    report.added.append(key)
                    continue
                changes = _changes(row, wanted)
                if changes:
                    self._update("papers", "id", row["id"], {**changes, "updated_at": stamp})
                    self._audit(now, arxiv_id or key, "update", actor, "import",
                                {"key": key, "fields": sorted(changes)})  # fmt: skip
                    report.updated.append(key)
                else:
                    report.unchanged.append(key)
        return report

    def get_paper(self, key: str) -> CatalogPaper | None:
        """A catalog paper by key, or by arXiv id."""
        row = self._paper_row(key)
        return _paper(row) if row is not None else None

    def papers(self, section: str | None = None) -> list[CatalogPaper]:
        """Catalog papers in the order they were added; `section` exact, any case."""
        if section is None:
            rows = self._all("SELECT * FROM papers ORDER BY id")
        else:
            rows = self._all(
                "SELECT * FROM papers WHERE section = ? COLLATE NOCASE ORDER BY id", [section]
            )
        return [_paper(r) for r in rows]

    def recent(self, n: int = 5) -> list[CatalogPaper]:
        rows = self._all(
            "SELECT * FROM papers ORDER BY added_at DESC, id DESC LIMIT ?", [max(0, int(n))]
        )
        return [_paper(r) for r in rows]

    def stats(self) -> dict[str, Any]:
        by_section = {
            (r[0] if r[0] is not None else "(none)"): r[1]
            for r in self._all(
                "SELECT section, count(*) FROM papers GROUP BY section ORDER BY count(*) DESC, section"
            )
        }
        found = Counter(
            {
                r[0]: r[1]
                for r in self._all("SELECT status, count(*) FROM candidates GROUP BY status")
            }
        )
        by_status = {s: found[s] for s in CANDIDATE_STATUSES if found[s]}
        by_how = {
            r[0]: r[1]
            for r in self._all("SELECT added_how, count(*) FROM papers GROUP BY added_how")
        }
        return {
            "papers": sum(by_section.values()),
            "papers_by_section": by_section,
            "papers_by_how": {h: by_how[h] for h in ADDED_HOW if h in by_how},
            "candidates": sum(by_status.values()),
            "candidates_by_status": by_status,
            "open_candidates": sum(by_status.get(s, 0) for s in OPEN_STATUSES),
            "votes": (self._one("SELECT count(*) FROM votes") or (0,))[0],
            "feeds": (self._one("SELECT count(*) FROM feeds") or (0,))[0],
        }

    def audit_log(self, limit: int = 50, arxiv_id: str | None = None) -> list[AuditEntry]:
        """The newest audit entries first, for one paper or for all."""
        sql = "SELECT * FROM audit"
        params: list[Any] = []
        if arxiv_id is not None:
            sql += " WHERE arxiv_id = ?"
            params.append(arxiv_id)
        sql += " ORDER BY id DESC LIMIT ?"
        params.append(max(0, int(limit)))
        return [
            AuditEntry(
                id=r["id"],
                at=_dt(r["at"]) or datetime.min.replace(tzinfo=UTC),
                arxiv_id=r["arxiv_id"],
                action=r["action"],
                actor=r["actor"],
                how=r["how"],
                detail=json.loads(r["detail"] or "{}"),
            )
            for r in self._all(sql, params)
        ]

    def audit(self, arxiv_id: str, limit: int = 1000) -> list[AuditEntry]:
        """One paper's audit trail, oldest first."""
        return list(reversed(self.audit_log(limit=limit, arxiv_id=arxiv_id)))

    def background(self, n: int) -> list[dict[str, Any]]:
        """Up to n unflagged feed items, newest first: {arxiv_id, title, abstract, categories}."""
        rows = self._all(
            "SELECT arxiv_id, title, abstract, categories FROM background"
            " ORDER BY seen_at DESC, arxiv_id LIMIT ?",
            [max(0, int(n))],
        )
        return [
            {
                "arxiv_id": r["arxiv_id"],
                "title": r["title"],
                "abstract": r["abstract"],
                "categories": _load_list(r["categories"]),
            }
            for r in rows
        ]

    # -- search --------------------------------------------------------------------------

    def search(
        self,
        query: str,
        section: str | None = None,
        year_from: int | None = None,
        year_to: int | None = None,
        author: str | None = None,
        limit: int = 10,
        offset: int = 0,
    ) -> SearchPage:
        """Full-text search of the catalog; any text is safe and gets a page, never an error.

        * An arXiv id (any form `parse_arxiv_id` takes) or an exact catalog key finds that
          paper alone (filters do not apply: the paper was named).
        * Otherwise the text is cut into words (letters and digits; at most MAX_TOKENS;
          stopwords dropped unless nothing else is left), each quoted, so no text is ever
          read as FTS5 syntax. All words must match (AND). If that finds nothing and the
          query has OR_FALLBACK_MIN_TOKENS words or more, papers matching any word are
          ranked instead (bm25 rewards the ones matching more of them): mode "or".
        * No words at all (empty, punctuation, emoji): the papers passing the filters, most
          recently added first ("browse"; with no filters that is the recent papers).
        * Filters: section exact (any case), year range, author (the text must appear in
          the author list, any case, and each of its words must be a whole word of it).
        * Ranking is bm25 with the title weighted highest; `score` is -bm25 (higher is
          better). Only the RANK_WINDOW most recently added matches are ranked. When the
          query's words are common (their postings hold over RANK_BUDGET papers, where
          bm25's own weighing would read them all), the page is the matches with every word
          in the title first, then the rest, newest first in each (ranking "title-recent").
        * `total` counts matches up to COUNT_CAP; beyond it `total_capped` is True and
          total is COUNT_CAP (show it as "1000+").
        """
        limit = max(0, min(int(limit), 100))
        offset = max(0, int(offset))
        text = _clean(query if isinstance(query, str) else str(query))
        # Filters narrow the full-text match itself where they can (year and section tokens
        # and author words are in the index): a rare filter is then found through the index
        # instead of by reading every match. What the index cannot say exactly is checked in SQL.
        narrow, filters, params = self._plan(section, year_from, year_to, author)

        named = self._named_paper(text)
        if named is not None:
            hits = [SearchHit(_paper(named), 0.0)] if offset == 0 and limit else []
            return SearchPage(total=1, hits=hits, mode="id")

        terms = query_terms(text)
        if not terms:
            if narrow is None:
                return self._browse(filters, params, limit, offset)
            page = self._match(None, narrow, filters, params, limit, offset, [])
            page.mode = "browse"
            return page
        page = self._match(fts_query(terms, "AND"), narrow, filters, params, limit, offset, terms)
        if page.total == 0 and len(terms) >= OR_FALLBACK_MIN_TOKENS:
            page = self._match(
                fts_query(terms, "OR"), narrow, filters, params, limit, offset, terms
            )
            page.mode = "or"
        return page

    def _named_paper(self, text: str) -> sqlite3.Row | None:
        stripped = text.strip()
        if not stripped or len(stripped) > 300:
            return None
        row = self._one("SELECT * FROM papers WHERE key = ?", [stripped])
        if row is not None:
            return row
        try:
            arxiv_id = parse_arxiv_id(stripped)[0]
        except (IdentifierError, ValueError):
            return None
        return self._one("SELECT * FROM papers WHERE arxiv_id = ?", [arxiv_id])

    def _plan(
        self, section: str | None, year_from: int | None, year_to: int | None, author: str | None
    ) -> tuple[str | None, list[str], list[Any]]:
        """(FTS expression the filters add, SQL conditions on `p` left to check, their params)."""
        narrow: list[str] = []
        where: list[str] = []
        params: list[Any] = []
        section = _clean(section).strip() if section is not None else ""
        if section:
            narrow.append(f'{{search_facets}} : "{section_token(section)}"')
        if year_from is not None or year_to is not None:
            low, high = self._one(
                "SELECT (SELECT min(year) FROM papers), (SELECT max(year) FROM papers)"
            ) or (None, None)
            first = int(year_from) if year_from is not None else low
            last = int(year_to) if year_to is not None else high
            if first is not None and last is not None and low is not None and high is not None:
                first, last = max(first, low), min(last, high)
            if first is not None and last is not None and last - first < MAX_YEAR_TOKENS:
                years = " OR ".join(f'"{year_token(y)}"' for y in range(first, last + 1))
                # An empty range matches nothing ("y0" marks papers without a year).
                narrow.append("{search_facets} : (" + (years or '"y0" NOT "y0"') + ")")
            else:
                if year_from is not None:
                    where.append("p.year >= ?")
                    params.append(int(year_from))
                if year_to is not None:
                    where.append("p.year <= ?")
                    params.append(int(year_to))
        name = _clean(author).strip().lower() if author is not None else ""
        if name:
            # A substring of the author list, any case: "hinton" finds "Geoffrey E. Hinton".
            where.append("instr(lower(p.authors), ?) > 0")
            params.append(name)
            narrow += _author_terms(name)
        return " AND ".join(narrow) or None, where, params

    def _browse(self, filters: list[str], params: list[Any], limit: int, offset: int) -> SearchPage:
        where = f"WHERE {' AND '.join(filters)}" if filters else ""
        (count,) = self._one(
            f"SELECT count(*) FROM (SELECT 1 FROM papers p {where} LIMIT ?)",
            [*params, COUNT_CAP + 1],
        ) or (0,)
        rows = self._all(
            f"SELECT p.* FROM papers p {where} ORDER BY p.added_at DESC, p.id DESC LIMIT ? OFFSET ?",
            [*params, limit, offset],
        )
        return SearchPage(
            total=min(count, COUNT_CAP),
            hits=[SearchHit(_paper(r), 0.0) for r in rows],
            total_capped=count > COUNT_CAP,
            mode="browse",
        )

    def _match(
        self,
        text: str | None,
        narrow: str | None,
        filters: list[str],
        params: list[Any],
        limit: int,
        offset: int,
        terms: Sequence[str],
    ) -> SearchPage:
        """One page of the papers matching `text` AND `narrow` AND the SQL `filters`."""
        full = text if narrow is None else narrow if text is None else _with(text, narrow)
        assert full is not None
        join = "CROSS JOIN papers p ON p.id = papers_fts.rowid" if filters else ""
        where = " AND ".join(["papers_fts MATCH ?", *filters])
        try:
            # One pass over the newest RANK_WINDOW matches gives both the count (capped) and
            # the rows to rank; FTS5 walks its postings in rowid order without scoring.
            window = [
                r[0]
                for r in self._all(
                    f"SELECT papers_fts.rowid FROM papers_fts {join} WHERE {where}"
                    " ORDER BY papers_fts.rowid DESC LIMIT ?",
                    [full, *params, RANK_WINDOW],
                )
            ]
            count = len(window)
            if not window:
                return SearchPage(total=0)
            if text is None:
                ranked = [(rowid, 0.0) for rowid in window[offset : offset + limit]]
                ranking = "recent"
            elif self._postings_within(terms, RANK_BUDGET):
                ranked = self._bm25(text, window, limit, offset)
                ranking = "bm25"
            else:
                ranked = self._title_first(text, narrow, window, limit, offset)
                ranking = "title-recent"
            hits = self._hits(ranked, terms)
        except sqlite3.OperationalError as exc:
            # The query is built from quoted words only; should FTS5 still refuse it, the
            # person gets no results rather than an error.
            if "fts5" in str(exc).lower() or "syntax" in str(exc).lower():
                return SearchPage(total=0)
            raise
        return SearchPage(
            total=min(count, COUNT_CAP),
            hits=hits,
            total_capped=count > COUNT_CAP,
            ranking=ranking,
        )

    def _postings_within(self, terms: Sequence[str], budget: int) -> bool:
        """Whether the words' postings together hold at most `budget` papers.

        bm25() reads every posting of every word of the query to weigh it (its idf), so
        its cost grows with how common the words are, not with how many papers match.
        """
        left = budget
        for word in terms:
            (n,) = self._one(
                "SELECT count(*) FROM (SELECT 1 FROM papers_fts WHERE papers_fts MATCH ? LIMIT ?)",
                [fts_query([word]), left + 1],
            ) or (0,)
            left -= n
            if left < 0:
                return False
        return True

    def _bm25(
        self, text: str, window: list[int], limit: int, offset: int
    ) -> list[tuple[int, float]]:
        # `+rowid` keeps the list a filter on FTS5's scan: as a constraint, SQLite would run
        # the MATCH once per listed rowid. Only the text words are in this MATCH: the filters' tokens (a section holds a
        # tenth of the catalog) would cost bm25 a pass over their postings too.
        weights = ", ".join(str(w) for w in FTS_WEIGHTS)
        rows = self._all(
            f"SELECT rowid, bm25(papers_fts, {weights}) AS rank FROM papers_fts"
            " WHERE papers_fts MATCH ? AND rowid >= ?"
            " AND +rowid IN (SELECT value FROM json_each(?))"
            " ORDER BY rank, rowid DESC LIMIT ? OFFSET ?",
            [text, window[-1], json.dumps(window), limit, offset],
        )
        return [(r[0], -float(r[1])) for r in rows]

    def _title_first(
        self, text: str, narrow: str | None, window: list[int], limit: int, offset: int
    ) -> list[tuple[int, float]]:
        # Common words: papers with the words in their title first, then the rest, newest
        # first within each; cheap, and what bm25 with the title weighted highest mostly does.
        # The filters' tokens keep this walk as short as the window's own.
        in_title = {
            r[0]
            for r in self._all(
                "SELECT rowid FROM papers_fts WHERE papers_fts MATCH ? AND rowid >= ?",
                [_with(f"{{title}} : ({text})", narrow), window[-1]],
            )
        }
        ordered = [i for i in window if i in in_title] + [i for i in window if i not in in_title]
        return [(i, 1.0 if i in in_title else 0.0) for i in ordered[offset : offset + limit]]

    def _hits(self, ranked: list[tuple[int, float]], terms: Sequence[str]) -> list[SearchHit]:
        if not ranked:
            return []
        ids = [rowid for rowid, _ in ranked]
        marks = ", ".join("?" for _ in ids)
        rows = {r["id"]: r for r in self._all(f"SELECT * FROM papers WHERE id IN ({marks})", ids)}
        hits = []
        for rowid, score in ranked:
            row = rows.get(rowid)
            if row is not None:
                text = row["abstract"] or row["digest"]
                hits.append(SearchHit(_paper(row), score, snippet(text, terms)))
        return hits

    # -- feed state ----------------------------------------------------------------------

    def feed_state(self, url: str) -> FeedState | None:
        row = self._one("SELECT * FROM feeds WHERE url = ?", [url])
        return _feed_state(row) if row is not None else None

    def feed_states(self) -> list[FeedState]:
        return [_feed_state(r) for r in self._all("SELECT * FROM feeds ORDER BY url")]

    def save_feed_state(self, state: FeedState) -> None:
        values = {
            "url": state.url,
            "etag": state.etag,
            "last_modified": state.last_modified,
            "last_checked": _ts(state.last_checked),
            "last_success": _ts(state.last_success),
            "last_changed": _ts(state.last_changed),
            "content_hash": state.content_hash,
            "last_error": state.last_error,
            "consecutive_failures": int(state.consecutive_failures),
            "alerted": 1 if state.alerted else 0,
        }
        names = ", ".join(values)
        marks = ", ".join("?" for _ in values)
        updates = ", ".join(f"{n} = excluded.{n}" for n in values if n != "url")
        with self.db.atomic():
            self.conn.execute(
                f"INSERT INTO feeds ({names}) VALUES ({marks}) ON CONFLICT (url) DO UPDATE SET {updates}",
                list(values.values()),
            )

    # -- meta and models -----------------------------------------------------------------

    def meta_get(self, key: str, default: str | None = None) -> str | None:
        row = self._one("SELECT value FROM meta WHERE key = ?", [key])
        return row[0] if row is not None else default

    def meta_set(self, key: str, value: str | None) -> None:
        with self.db.atomic():
            self.conn.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [key, value],
            )

    def save_model(
        self, blob: bytes, n_train: int, metrics: Mapping[str, Any], now: datetime
    ) -> int:
        """Store a trained model; returns its version (one more than the newest stored)."""
        with self.db.atomic():
            (latest,) = self._one("SELECT coalesce(max(version), 0) FROM models") or (0,)
            version = int(latest) + 1
            self._insert(
                "models",
                {
                    "version": version,
                    "trained_at": _ts(now),
                    "n_train": int(n_train),
                    "metrics": _dump(dict(metrics)),
                    "blob": bytes(blob),
                },
            )
        return version

    def latest_model(self) -> tuple[int, datetime, int, dict[str, Any], bytes] | None:
        """(version, trained_at, n_train, metrics, blob) of the newest model, or None."""
        row = self._one("SELECT * FROM models ORDER BY version DESC LIMIT 1")
        if row is None:
            return None
        trained_at = _dt(row["trained_at"])
        assert trained_at is not None
        return (
            row["version"],
            trained_at,
            row["n_train"],
            json.loads(row["metrics"]),
            bytes(row["blob"]),
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
