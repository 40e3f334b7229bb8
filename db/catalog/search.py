"""Full-text search of the catalog: any text is safe, tuned for a catalog of a million papers."""

from __future__ import annotations

import json
import re
import sqlite3
import unicodedata
from collections.abc import Sequence
from typing import Any

from db.catalog.base import CatalogBase, storage_errors
from db.catalog.records import SearchHit, SearchPage, _paper
from db.schema import FTS_WEIGHTS, section_token, year_token
from db.types import Ranking, SearchMode
from feeds.errors import IdentifierError
from feeds.ids import parse_arxiv_id

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


class SearchMixin(CatalogBase):
    """`search` and the query plan behind it."""

    @storage_errors
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
            return SearchPage(total=1, hits=hits, mode=SearchMode.ID, ranking=Ranking.ID)

        terms = query_terms(text)
        if not terms:
            if narrow is None:
                return self._browse(filters, params, limit, offset)
            page = self._match(None, narrow, filters, params, limit, offset, [])
            page.mode = SearchMode.BROWSE
            return page
        page = self._match(fts_query(terms, "AND"), narrow, filters, params, limit, offset, terms)
        if page.total == 0 and len(terms) >= OR_FALLBACK_MIN_TOKENS:
            page = self._match(
                fts_query(terms, "OR"), narrow, filters, params, limit, offset, terms
            )
            page.mode = SearchMode.OR
        return page

    @storage_errors
    def rebuild_search_index(self) -> int:
        """Make the papers' full-text index again from the papers (FTS5's `rebuild`), in
        one write transaction; the number of papers indexed."""
        with self._write():
            self.conn.execute("INSERT INTO papers_fts (papers_fts) VALUES ('rebuild')")
            return int(self.conn.execute("SELECT count(*) FROM papers").fetchone()[0])

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
            mode=SearchMode.BROWSE,
            ranking=Ranking.RECENT,
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
                ranking = Ranking.RECENT
            elif self._postings_within(terms, RANK_BUDGET):
                ranked = self._bm25(text, window, limit, offset)
                ranking = Ranking.BM25
            else:
                ranked = self._title_first(text, narrow, window, limit, offset)
                ranking = Ranking.TITLE_RECENT
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
