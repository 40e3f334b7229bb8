"""Turning arXiv feed bytes (RSS 2.0, Atom, RSS 1.0, API) into Papers; the only feedparser user."""

from __future__ import annotations

import html
import io
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import feedparser

from feeds.errors import FeedError, IdentifierError, ParseError
from feeds.ids import parse_arxiv_id
from feeds.models import AnnounceType, Paper

__all__ = ["ParsedFeed", "parse_feed"]


@dataclass
class ParsedFeed:
    """What one feed body held: the papers, and a warning for every item that was skipped."""

    source: str  # feed name/URL, used in messages
    kind: str  # "rss2" | "atom" | "rss1" | "api"
    title: str
    papers: list[Paper] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    total_results: int | None = None  # API opensearch:totalResults

    @property
    def quiet(self) -> bool:
        """No items at all: a weekend, a holiday or an empty query, not an error."""
        return not self.papers


class _SkipItem(Exception):
    """One feed item that cannot become a Paper; the feed goes on without it."""


# dict.get skips FeedParserDict.__getitem__, which is slower and, for a missing `updated`,
# silently hands back `published` with a DeprecationWarning.
_get = dict.get

_ENTITY_RE = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
# Only for fields that really are HTML (legacy RSS 1.0), where a literal "<" arrives as &lt;.
# The new feeds and the API carry plain text full of TeX such as `$1<p<2$`: never strip there.
_TAG_RE = re.compile(r"<[^<>]*>")
_ANCHOR_TEXT_RE = re.compile(r"<a\b[^>]*>(.*?)</a>", re.IGNORECASE | re.DOTALL)
_AND_RE = re.compile(r"^and\s+|\s+and$|\s+and\s+")

# `arXiv:2411.17700v1 Announce Type: new \nAbstract: ...` (rss.arxiv.org, RSS and Atom).
_NEW_DESCRIPTION_RE = re.compile(
    r"\s*arXiv:(?P<id>\S+)\s+Announce Type:\s*(?P<type>[\w-]+)\s*(?:Abstract:)?\s*"
)
_OAI_PREFIX = "oai:arXiv.org:"
# `Title. (arXiv:1808.09964v1 [cs.LG] UPDATED)`: arXiv always appended ". " to the title.
_RSS1_TITLE_RE = re.compile(
    r"(?P<title>.*?)\.?\s*\(arXiv:(?P<id>\S+?)\s*\[(?P<cat>[^\]]+)\]\s*(?P<marker>[A-Z][A-Z ]*?)?\s*\)\s*$",
    re.DOTALL,
)
_RSS1_MARKERS = {
    None: AnnounceType.NEW,
    "UPDATED": AnnounceType.REPLACE,
    "CROSS LISTED": AnnounceType.CROSS,
}
_CHANNEL_SUBJECTS_RE = re.compile(r"^(?P<subjects>.+?) updates on arXiv\.org$")
# Category terms as arXiv writes them; keeps ACM (`I.2.6`) and MSC (`68T05`) codes out.
_CATEGORY_RE = re.compile(r"[a-z]+(?:-[a-z]+)?(?:\.[A-Za-z]+(?:-[A-Za-z]+)?)?")
_ERROR_FEED_PREFIX = "Feed error for query"
_API_ERROR_MARKER = "arxiv.org/api/errors"
_ROOT_CLOSED_RE = re.compile(rb"</(?:[\w.-]+:)?(?:rss|feed|RDF)>\s*\Z")
_HTML_START_RE = re.compile(
    rb"(?:\xef\xbb\xbf)?\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html)\b",
    re.I | re.S,
)
_HTML_TITLE_RE = re.compile(rb"<title[^>]*>(.*?)</title>", re.I | re.S)

# Bozo exceptions that say nothing about the document being broken.
_HARMLESS_BOZO = (
    feedparser.CharacterEncodingOverride,
    feedparser.CharacterEncodingUnknown,
    feedparser.NonXMLContentType,
)


def parse_feed(data: bytes, source: str) -> ParsedFeed:
    """Parse one fetched body into papers; raise ParseError for anything that is not a feed.

    An empty feed (no items) is a quiet ParsedFeed. One bad item is skipped with a
    warning; if every item is bad the feed fails. The API's error entry raises FeedError
    with arXiv's own words.

    Malformed XML: feedparser's lenient fallback often still yields items. They are
    used (with a warning) only when the document is plausibly complete, that is when it
    ends with the closing tag of its root element and, where the feed states its own
    size (the API's opensearch counts, RSS 1.0's `<rdf:Seq>`), the item count agrees.
    Anything else (a cut-off download, a proxy's half page) fails, so that the poll is
    retried instead of silently losing the tail of the day.
    """
    if not data or not data.strip():
        raise ParseError(source, "empty body")
    if _HTML_START_RE.match(data[:4096]):
        page_title = _HTML_TITLE_RE.search(data[:16384])
        shown = (
            f" ({_clean_text(page_title.group(1).decode('utf-8', 'replace'))!r})"
            if page_title
            else ""
        )
        raise ParseError(source, f"an HTML page{shown}, not a feed")

    # A BytesIO, never the bytes themselves: feedparser opens a bytes value that happens
    # to name a file on disk. Sanitising is off because it mangles TeX (`$1<s<2$` becomes
    # `$1<s><2$`); nothing here renders HTML, and the one HTML format is stripped below.
    parsed = feedparser.parse(io.BytesIO(data), sanitize_html=False, resolve_relative_uris=False)
    version = parsed.get("version") or ""
    entries = parsed.entries
    feed = parsed.feed
    warnings: list[str] = []

    problem = parsed.get("bozo_exception") if parsed.get("bozo") else None
    broken = problem is not None and not isinstance(problem, _HARMLESS_BOZO)
    if problem is not None and not broken:
        warnings.append(f"feed: {_describe(problem)}")
    if broken and (not version or not entries):
        raise ParseError(source, f"not a readable feed: {_describe(problem)}")
    if not version:
        raise ParseError(source, "not an RSS or Atom feed")

    kind = _kind(version, feed)
    title = _clean_text(_get(feed, "title") or "")
    total = _opensearch(feed, data, "totalResults") if kind == "api" else None
    if broken:
        _check_recovered(data, kind, feed, entries, total, problem, source)
        warnings.append(
            f"feed: malformed XML ({_describe(problem)}); "
            f"{len(entries)} items recovered by the lenient parser"
        )

    if title.startswith(_ERROR_FEED_PREFIX):
        reason = _clean_text(_get(feed, "subtitle") or "") or title
        raise ParseError(source, f"arXiv error feed: {reason}")
    if kind == "api":
        _raise_api_error(entries, source)

    if kind == "rss1":
        papers = _collect(entries, _Rss1Reader(feed), warnings)
    elif kind == "api":
        papers = _collect(entries, _api_paper, warnings)
    else:
        papers = _collect(entries, _AnnouncementReader(), warnings)

    if entries and not papers:
        first = next(w for w in warnings if w.startswith("item "))
        raise ParseError(source, f"none of the {len(entries)} items could be read; first: {first}")
    return ParsedFeed(source, kind, title, papers, warnings, total)


def _describe(problem: object) -> str:
    if problem is None:
        return "unknown error"
    text = str(problem)
    return text or type(problem).__name__


def _kind(version: str, feed: Any) -> str:
    if version.startswith("atom"):
        if _get(feed, "opensearch_totalresults") is not None:
            return "api"
        feed_id = _get(feed, "id") or ""
        return "api" if "arxiv.org/api" in feed_id else "atom"
    if version in ("rss10", "rss090"):
        return "rss1"
    return "rss2"


def _int(value: object) -> int | None:
    if not isinstance(value, str | int):
        return None
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def _opensearch(feed: Any, data: bytes, name: str) -> int | None:
    """An opensearch count of an API response.

    feedparser's lenient parser (used after an XML error) returns the attributes instead
    of the text of elements that declare their namespace inline, as the 2016 API did, so
    the head of the raw body is the fallback.
    """
    value = _int(_get(feed, f"opensearch_{name.lower()}"))
    if value is None:
        match = re.search(rb"<opensearch:%s\b[^>]*>\s*(\d+)\s*<" % name.encode(), data[:8192])
        value = int(match.group(1)) if match else None
    return value


def _check_recovered(
    data: bytes,
    kind: str,
    feed: Any,
    entries: list[Any],
    total: int | None,
    problem: object,
    source: str,
) -> None:
    """Raise unless a malformed document that still yielded items looks complete."""
    if not _ROOT_CLOSED_RE.search(data[-256:]):
        raise ParseError(
            source, f"truncated XML ({_describe(problem)}); {len(entries)} items before the cut"
        )
    expected = _expected_count(kind, feed, data, total)
    if expected is not None and expected != len(entries):
        raise ParseError(
            source,
            f"malformed XML ({_describe(problem)}) with {len(entries)} items "
            f"where the feed announces {expected}",
        )


def _expected_count(kind: str, feed: Any, data: bytes, total: int | None) -> int | None:
    """How many items the feed says it holds, where it says so."""
    if kind == "api" and total is not None:
        per_page = _opensearch(feed, data, "itemsPerPage")
        start = _opensearch(feed, data, "startIndex") or 0
        remaining = max(total - start, 0)
        return remaining if per_page is None else min(per_page, remaining)
    if kind == "rss1":
        listed = data.count(b"<rdf:li ")
        return listed or None
    return None


def _raise_api_error(entries: list[Any], source: str) -> None:
    """The API answers a bad query (HTTP 400) with one entry whose id is under api/errors."""
    if len(entries) != 1:
        return
    entry = entries[0]
    if _API_ERROR_MARKER in (_get(entry, "id") or ""):
        message = _clean_text(_get(entry, "summary") or "") or "unspecified error"
        raise FeedError(source, f"arXiv API error: {message}")


def _collect(entries: list[Any], read: Callable[[Any], Paper], warnings: list[str]) -> list[Paper]:
    papers: list[Paper] = []
    seen: dict[str, int] = {}
    for index, entry in enumerate(entries, start=1):
        try:
            paper = read(entry)
        except _SkipItem as skip:
            warnings.append(f"item {index} ({_label(entry)}): {skip}")
            continue
        first = seen.get(paper.arxiv_id)
        if first is not None:
            warnings.append(f"item {index} ({paper.arxiv_id}): duplicate of item {first}")
            continue
        seen[paper.arxiv_id] = index
        papers.append(paper)
    return papers


def _label(entry: Any) -> str:
    for key in ("id", "link", "title"):
        value = _get(entry, key)
        if value:
            text = _clean_text(str(value))
            return text if len(text) <= 60 else text[:57] + "..."
    return "no id or title"


def _clean_text(text: str) -> str:
    """Collapse whitespace and decode leftover entities; TeX stays exactly as written."""
    if "&" in text:
        text = _ENTITY_RE.sub(_unescape_match, text)
    return " ".join(text.split())


def _unescape_match(match: re.Match[str]) -> str:
    return html.unescape(match.group(0))


def _clean_html(text: str) -> str:
    if "<" in text:
        text = _TAG_RE.sub(" ", text)
    return _clean_text(text)


def _split_authors(text: str) -> list[str]:
    """`A (Univ, Dept), B, and C` -> [A, B, C]: commas inside parentheses are affiliations."""
    names: list[str] = []
    depth = 0
    current: list[str] = []
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth = max(depth - 1, 0)
        elif depth == 0:
            if char == ",":
                names.append("".join(current))
                current = []
            else:
                current.append(char)
    names.append("".join(current))
    result: list[str] = []
    for chunk in names:
        for name in _AND_RE.split(" ".join(chunk.split())):
            name = name.strip()
            if name and name != "and":
                result.append(name)
    return result


# TeX accents as arXiv's author lists keep them (`Kad{\\i}o\\u{g}lu`), and the combining
# character each one is.
_TEX_ACCENTS = {
    "'": "\u0301", "`": "\u0300", "^": "\u0302", '"': "\u0308", "~": "\u0303",
    "=": "\u0304", ".": "\u0307", "u": "\u0306", "v": "\u030c", "H": "\u030b",
    "c": "\u0327", "k": "\u0328", "r": "\u030a", "d": "\u0323", "b": "\u0331",
}  # fmt: skip
# Letters TeX writes as commands.
_TEX_LETTERS = {
    "i": "ı", "j": "ȷ", "l": "ł", "L": "Ł", "o": "ø", "O": "Ø", "ss": "ß", "ae": "æ",
    "AE": "Æ", "oe": "œ", "OE": "Œ", "aa": "å", "AA": "Å", "dh": "ð", "DH": "Ð", "th": "þ",
    "TH": "Þ", "dj": "đ", "DJ": "Đ", "ng": "ŋ", "NG": "Ŋ",
}  # fmt: skip
_TEX_ACCENT_RE = re.compile(
    r"\\(['`^\"~=.]|[uvHckrdb](?![A-Za-z]))\s*(?:\{\s*(\\?[A-Za-z]+|.)\s*\}|(\\[A-Za-z]+|[A-Za-z]))"
)
_TEX_LETTER_RE = re.compile(
    r"\\(ss|ae|AE|oe|OE|aa|AA|dh|DH|th|TH|dj|DJ|ng|NG|[ijlLoO])(?![A-Za-z])\s*(?:\{\s*\})?"
)


def untex(name: str) -> str:
    """A name as its owner writes it: TeX accents and letters (`Kad{\\i}o\\u{g}lu`,
    `Przemys{\\l}aw`, `G\\'omez`) become the Unicode letters (`Kadıoğlu`, `Przemysław`,
    `Gómez`); anything else TeX is left as it is."""
    if "\\" not in name:
        return name

    def letter(match: re.Match[str]) -> str:
        return _TEX_LETTERS[match.group(1)]

    def accent(match: re.Match[str]) -> str:
        base = match.group(2) or match.group(3) or ""
        if base.startswith("\\"):
            base = _TEX_LETTERS.get(base[1:], base)
        if base == "ı":
            base = "i"  # an accent over a dotless i is an accented i
        return unicodedata.normalize("NFC", base + _TEX_ACCENTS[match.group(1)])

    text = _TEX_ACCENT_RE.sub(accent, name)
    text = _TEX_LETTER_RE.sub(letter, text)
    # the braces that only grouped a letter: `{ł}` -> `ł`
    return re.sub(r"\{([^{}\\]{1,3})\}", r"\1", text)


def _authors_from_text(text: str) -> list[str]:
    if "(" not in text and " and" not in text and "and " not in text:
        # The common case by far: `A, B, C` without affiliations.
        names = (" ".join(part.split()) for part in text.split(","))
        return [untex(name) for name in names if name]
    return [untex(name) for name in _split_authors(text)]


def _categories(terms: list[str]) -> list[str]:
    result: list[str] = []
    for term in terms:
        term = term.strip()
        if term and term not in result and _CATEGORY_RE.fullmatch(term):
            result.append(term)
    return result


def _entry_terms(entry: Any) -> list[str]:
    return [_get(tag, "term") or "" for tag in _get(entry, "tags") or ()]


def _utc(struct: Any) -> datetime | None:
    if not struct:
        return None
    year, month, day, hour, minute, second = struct[:6]
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _id_and_version(text: str) -> tuple[str, int | None]:
    try:
        return parse_arxiv_id(text)
    except IdentifierError as error:
        raise _SkipItem(f"unreadable arXiv id {text!r}: {error.reason}") from None


def _title(entry: Any) -> str:
    title = _clean_text(_get(entry, "title") or "")
    if not title:
        raise _SkipItem("no title")
    return title


class _AnnouncementReader:
    """Items of rss.arxiv.org (RSS 2.0 and its Atom twin), the feeds since 2024."""

    def __init__(self) -> None:
        # Every item of a day carries the same pubDate: parse each distinct string once.
        self._days: dict[str, datetime | None] = {}

    def __call__(self, entry: Any) -> Paper:
        summary = _get(entry, "summary") or ""
        match = _NEW_DESCRIPTION_RE.match(summary)
        guid = _get(entry, "id") or ""
        if guid.startswith(_OAI_PREFIX):
            raw_id = guid[len(_OAI_PREFIX) :]
        elif match is not None:
            raw_id = match.group("id")
        else:
            raw_id = _get(entry, "link") or guid
        if not raw_id:
            raise _SkipItem("no arXiv id (no guid, link or arXiv: line)")
        arxiv_id, version = _id_and_version(raw_id)
        if version is None and match is not None:
            version = _version_from_description(match.group("id"), arxiv_id)
        title = _title(entry)

        announce_text = _get(entry, "arxiv_announce_type") or (
            match.group("type") if match is not None else ""
        )
        try:
            announce_type: AnnounceType | None = AnnounceType(announce_text.strip())
        except ValueError:
            announce_type = None

        abstract = summary[match.end() :] if match is not None else summary
        return Paper(
            arxiv_id=arxiv_id,
            title=title,
            version=version,
            authors=_authors_from_text(_clean_text(_get(entry, "author") or "")),
            abstract=_clean_text(abstract),
            categories=_categories(_entry_terms(entry)),
            announce_type=announce_type,
            announced=self._announced(_get(entry, "published") or ""),
            doi=_optional(_get(entry, "arxiv_doi")),
            journal_ref=_optional(
                _get(entry, "arxiv_journal_reference") or _get(entry, "arxiv_journal_ref")
            ),
        )

    def _announced(self, raw: str) -> datetime | None:
        """Midnight UTC of the day arXiv stamped on the item (its own local date)."""
        if raw in self._days:
            return self._days[raw]
        day: datetime | None
        try:
            if raw[:1].isdigit():
                stamp = datetime.fromisoformat(raw.strip())
            else:
                stamp = parsedate_to_datetime(raw)
            day = _midnight(stamp.date())
        except (TypeError, ValueError, IndexError):
            day = None
        self._days[raw] = day
        return day


def _version_from_description(text: str, arxiv_id: str) -> int | None:
    """The version on the `arXiv:` line, when the guid or link had none."""
    try:
        described, version = parse_arxiv_id(text)
    except IdentifierError:
        return None
    return version if described == arxiv_id else None


def _optional(value: object) -> str | None:
    if not value:
        return None
    text = _clean_text(str(value))
    return text or None


class _Rss1Reader:
    """Items of the legacy export.arxiv.org/rss feeds (RSS 1.0/RDF, until 2024)."""

    def __init__(self, feed: Any) -> None:
        # The feed was rebuilt at about 20:30 ET on announcement evenings; in UTC that
        # is already the next day, which is the listing day arXiv stamps on the new feeds.
        stamp = _utc(_get(feed, "updated_parsed"))
        self._announced = _midnight(stamp.date()) if stamp else None
        subjects = _CHANNEL_SUBJECTS_RE.match(_clean_text(_get(feed, "title") or ""))
        self._subjects = (
            frozenset(s.strip() for s in re.split(r"[,+]", subjects.group("subjects")))
            if subjects
            else frozenset()
        )

    def __call__(self, entry: Any) -> Paper:
        raw_title = _clean_text(_get(entry, "title") or "")
        match = _RSS1_TITLE_RE.match(raw_title)
        if match is not None:
            title = match.group("title").strip()
            raw_id = match.group("id")
            categories = _categories([match.group("cat")])
            marker = match.group("marker")
        else:
            title, raw_id, categories, marker = raw_title, "", [], None
        raw_id = raw_id or _get(entry, "link") or _get(entry, "id") or ""
        if not raw_id:
            raise _SkipItem("no arXiv id (no arXiv: in the title, no link)")
        arxiv_id, version = _id_and_version(raw_id)
        if not title:
            raise _SkipItem("no title")
        if marker not in _RSS1_MARKERS:
            raise _SkipItem(f"unknown title marker {marker!r}")
        announce_type = _RSS1_MARKERS[marker]
        if categories and self._outside_feed(categories[0]):
            # Before 2024 cross-lists came unmarked; a primary category outside the
            # feed's own subjects is what makes an item a cross-list.
            if announce_type is AnnounceType.NEW:
                announce_type = AnnounceType.CROSS
            elif announce_type is AnnounceType.REPLACE:
                announce_type = AnnounceType.REPLACE_CROSS

        return Paper(
            arxiv_id=arxiv_id,
            title=title,
            version=version,
            authors=self._authors(_get(entry, "author") or ""),
            abstract=_clean_html(_get(entry, "summary") or ""),
            categories=categories,
            announce_type=announce_type,
            announced=self._announced,
        )

    def _outside_feed(self, primary: str) -> bool:
        if not self._subjects:
            return False
        return primary not in self._subjects and primary.split(".", 1)[0] not in self._subjects

    @staticmethod
    def _authors(raw: str) -> list[str]:
        anchors = _ANCHOR_TEXT_RE.findall(raw)
        if anchors:
            return [name for name in (_clean_html(a) for a in anchors) if name]
        return _authors_from_text(_clean_html(raw))


def _api_paper(entry: Any) -> Paper:
    """One entry of an export.arxiv.org/api/query response (current or 2016 format)."""
    raw_id = _get(entry, "id") or _get(entry, "link") or ""
    if not raw_id:
        raise _SkipItem("no <id>")
    arxiv_id, version = _id_and_version(raw_id)
    title = _title(entry)
    primary = _get(entry, "arxiv_primary_category") or {}
    terms = [_get(primary, "term") or ""] if primary else []
    terms.extend(_entry_terms(entry))
    authors = [
        untex(name)
        for name in (
            _clean_text(_get(author, "name") or "") for author in _get(entry, "authors") or ()
        )
        if name
    ]
    return Paper(
        arxiv_id=arxiv_id,
        title=title,
        version=version,
        authors=authors,
        abstract=_clean_text(_get(entry, "summary") or ""),
        categories=_categories(terms),
        published=_utc(_get(entry, "published_parsed")),
        updated=_utc(_get(entry, "updated_parsed")),
        comment=_optional(_get(entry, "arxiv_comment")),
        journal_ref=_optional(_get(entry, "arxiv_journal_ref")),
        doi=_optional(_get(entry, "arxiv_doi")),
    )
