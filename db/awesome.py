"""The awesome-list Markdown format: parsing a README, its sections, inserting papers, rendering a list."""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Literal

from db.errors import AwesomeListError, SectionNotInList
from feeds.errors import PaperbotError
from feeds.ids import arxiv_id_from_url, id_sort_key, id_year_month, parse_arxiv_id

EntryStyle = Literal["classic", "details"]
HeadingStyle = Literal["plain", "named"]
# How an entry writes its digest: `- <details><summary>Digest</summary> ...` or `- Digest: ...`.
DigestForm = Literal["details", "line"]

# Longer author lists are cut to the first AUTHORS_KEPT names and "et al.": big-collaboration
# papers would otherwise put a hundred names into a line people read on GitHub.
MAX_AUTHORS = 12
AUTHORS_KEPT = 10

AWESOME_BADGE = (
    "[![Awesome](https://cdn.rawgit.com/sindresorhus/awesome/"
    "d7305f38d29fed78fa85652e3a63e154dd8e8829/media/badge.svg)]"
    "(https://github.com/sindresorhus/awesome)"
)
# Entries of a catalog paper without a section still need a home in a rendered list.
UNSORTED_SECTION = "Unsorted"

_HEADING_RE = re.compile(r"^(?P<hashes>#{1,6})\s+(?P<text>.*?)\s*#*\s*$")
_TOC_RE = re.compile(r"^(?:table\s+of\s+)?contents$", re.IGNORECASE)
# `### 2020` (2020 style) or `### Section Name: 2024` (newer style, sometimes typed
# without the colon: `### Neural Collapse 2022`).
_YEAR_RE = re.compile(r"^(?:(?P<prefix>.*?)(?:\s*:\s*|\s+))?(?P<year>(?:19|20)\d\d)$")
_BULLET_RE = re.compile(r"^[-*+]\s+(?P<body>.*)$")
_SUB_RE = re.compile(r"^\s+[-*+](?:\s+(?P<body>.*)|\s*)$")
_LINK_RE = re.compile(r"\[\[(?P<label>[^\[\]]*)\]\]\((?P<url>[^()\s]*)\)")
_DIGEST_RE = re.compile(r"^Digest\s*:\s*(?P<text>.*)$", re.IGNORECASE | re.DOTALL)
_DETAILS_RE = re.compile(
    r"^<details>\s*<summary>\s*Digest\s*</summary>(?P<text>.*?)(?P<close></details>)?\s*$",
    re.IGNORECASE | re.DOTALL,
)
_KEYWORDS_RE = re.compile(r"^Key\s*Words?\s*:\s*(?P<text>.*)$", re.IGNORECASE | re.DOTALL)
# The venue is the last `*...*` (or `**...**`) on the authors line.
_AUTHORS_RE = re.compile(r"^(?P<names>.*?)\s*(?:\*{1,2}(?P<venue>[^*]+?)\*{1,2})?\s*$", re.DOTALL)
_ET_AL_RE = re.compile(r"^et\s+al\.?$", re.IGNORECASE)
_OPENREVIEW_RE = re.compile(r"openreview\.net/(?:forum|pdf)\?(?:[^#\s]*&)?id=(?P<id>[^&#\s]+)")
# Any arXiv paper URL anywhere in the text (links, digests, comments): what "already listed" means.
_ARXIV_URL_RE = re.compile(
    r"(?:https?://)?(?:www\.|export\.)?arxiv\.org/(?:abs|pdf|html|format|ps)/[^\s()<>\[\]\"']+",
    re.IGNORECASE,
)
_FENCE_RE = re.compile(r"^\s*(```|~~~)")
_PAPER_LABELS = ("paper", "pdf", "arxiv")
# Names a maintainer gives the section for papers that fit no topic (compared normalised).
_CATCH_ALL_NAMES = frozenset(
    {"others", "other", "miscellaneous", "misc", "miscellanea", "various", "general",
     "uncategorized", "uncategorised", "unsorted", "other papers", "other topics"}
)  # fmt: skip
# How many of a section's newest entries decide how a new entry there is written.
RECENT_ENTRIES = 10


@dataclass(frozen=True)
class YearHeading:
    """A `### ...` heading that opens the papers of one year inside a section."""

    year: int
    line: int  # 1-based
    style: HeadingStyle
    prefix: str | None  # "Section Name" of `### Section Name: 2024`


@dataclass
class Section:
    """A `## Name` section (the table of contents is not one)."""

    name: str
    line: int  # 1-based line of the heading
    end_line: int  # 1-based last line before the next `#`/`##` heading (or the end)
    years: list[YearHeading] = field(default_factory=list)

    @property
    def heading_style(self) -> HeadingStyle | None:
        """How this section writes its year headings; None when it has none."""
        if not self.years:
            return None
        counts = Counter(h.style for h in self.years)
        return "named" if counts["named"] > counts["plain"] else "plain"


@dataclass
class Entry:
    """One paper of the list, as written, with the line span it occupies."""

    section: str
    year: int | None  # from the year heading above it; None when the section has none
    title: str  # without the period that separates it from the links ("?" and "!" stay)
    paper_url: str
    code_url: str | None
    arxiv_id: str | None
    key: str
    authors: list[str]
    venue: str | None
    digest: str | None  # the text as written (Markdown links kept), without the wrapper
    keywords: list[str]
    style: EntryStyle
    line: int  # 1-based first line
    end_line: int  # 1-based last line (inclusive)
    links: list[tuple[str, str]] = field(default_factory=list)  # every [[label]](url)
    raw: str = ""
    heading_line: int | None = None  # line of its year heading (groups entries into blocks)
    has_keyword_line: bool = False  # a `Key Word:` line, even an empty one
    digest_form: DigestForm | None = None  # None: the entry has no digest line

    @property
    def span(self) -> tuple[int, int]:
        """(first line, last line), 1-based and inclusive."""
        return self.line, self.end_line


@dataclass(frozen=True)
class EntryFormat:
    """How a section writes its entries: with a `Key Word:` line or not, which digest form."""

    keyword_line: bool
    digest: DigestForm

    @classmethod
    def of_style(cls, style: EntryStyle) -> EntryFormat:
        """The format the two whole-list styles stand for."""
        return cls(True, "details") if style == "details" else cls(False, "line")


@dataclass
class AwesomeDoc:
    """A parsed README: its exact lines plus what was understood of them."""

    lines: list[str]  # with their line endings, exactly as in the input
    newline: str
    entries: list[Entry] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def render(self) -> str:
        """The document, byte for byte (entries are kept as written)."""
        return "".join(self.lines)

    def section(self, name: str | None) -> Section:
        """The section called `name` (forgiven as match_section forgives); SectionNotInList."""
        # Paper sections first: a prose section must not shadow a topic of the same name.
        pool = [*self.paper_sections, *self.sections]
        found = match_section(name or "", pool)
        if found is not None:
            return next(s for s in pool if s.name == found)
        raise SectionNotInList(name, [s.name for s in self.paper_sections or self.sections])

    @property
    def paper_sections(self) -> list[Section]:
        """The `##` sections that hold paper entries (or year headings for them), in order."""
        return [s for s in self.sections if s.years or self.entries_in(s)]

    def entries_in(self, section: Section) -> list[Entry]:
        return [e for e in self.entries if section.line < e.line <= section.end_line]

    def find(self, key: str) -> Entry | None:
        return next((e for e in self.entries if e.key == key), None)


@dataclass
class NewEntry:
    """A paper to add to the list; `year` is that of its first arXiv version."""

    arxiv_id: str | None
    title: str
    authors: list[str]
    section: str | None
    year: int | None = None
    first_version_sort_key: tuple[int, int, int, str] | None = None
    paper_url: str | None = None
    code_url: str | None = None
    venue: str | None = None
    digest: str | None = None
    keywords: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, entry: Entry) -> NewEntry:
        """A list entry as a paper to write (rendering a list from what was read)."""
        return cls(
            arxiv_id=entry.arxiv_id,
            title=entry.title,
            authors=list(entry.authors),
            section=entry.section,
            year=entry.year,
            paper_url=entry.paper_url,
            code_url=entry.code_url,
            venue=entry.venue,
            digest=entry.digest,
            keywords=list(entry.keywords),
        )


@dataclass(frozen=True)
class InsertOutcome:
    """What insert_entry did: the (possibly unchanged) text and why."""

    text: str
    inserted: bool
    reason: str
    key: str | None = None
    line: int | None = None  # 1-based: the new entry's first line, or the existing mention
    error: PaperbotError | None = None


# --------------------------------------------------------------------------- parsing


def _split_lines(text: str) -> list[str]:
    # Not str.splitlines: it also splits on \x0b, \x1c, U+2028..., which Markdown does not.
    parts = text.split("\n")
    lines = [part + "\n" for part in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def _content(line: str) -> str:
    return line.rstrip("\n").removesuffix("\r")


def _detect_newline(text: str) -> str:
    crlf = text.count("\r\n")
    return "\r\n" if crlf and crlf >= text.count("\n") - crlf else "\n"


def _norm(name: str) -> str:
    return " ".join(name.split()).casefold()


# HTML tags, links (their text kept), emphasis and `:emoji:` shortcodes.
_MARKUP_RE = re.compile(r"<[^<>]*>|!?\[([^\[\]]*)\]\([^()]*\)|:[a-z0-9_+-]+:|[*_`~]")
_NON_WORD_RE = re.compile(r"[^\w]+")


def _section_words(name: str) -> list[str]:
    """A heading as bare words: markup, emoji, punctuation and `&`/"and" differences gone."""
    text = _MARKUP_RE.sub(lambda m: m.group(1) or " ", name)
    text = text.replace("&", " and ").replace("+", " and ")
    return [w for w in _NON_WORD_RE.sub(" ", text.casefold()).split() if w]


def _singular(word: str) -> str:
    # "Others"/"Other", "Transitions"/"Transition"; not "Bias" or "Analysis".
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def match_section(name: str, sections: Iterable[str | Section]) -> str | None:
    """The section `name` means, forgiving case, spacing, punctuation, `&`/and, a plural "s".

    Exact names win, then the same words, then the same words up to plurals (all
    words, then without "and"). None when nothing matches or the name is ambiguous.
    """
    names = [s.name if isinstance(s, Section) else s for s in sections]
    names = list(dict.fromkeys(names))
    if not name.strip():
        return None
    if name in names:
        return name
    keys: list[Callable[[str], tuple[str, ...]]] = [
        lambda n: (_norm(n),),
        lambda n: tuple(_section_words(n)),
        lambda n: tuple(_singular(w) for w in _section_words(n)),
        lambda n: tuple(_singular(w) for w in _section_words(n) if w != "and"),
    ]
    for key in keys:
        wanted = key(name)
        if not any(wanted):
            continue
        found = [n for n in names if key(n) == wanted]
        if len(found) == 1:
            return found[0]
        if found:
            return None
    return None


def catch_all_section(doc: AwesomeDoc) -> str | None:
    """The paper section that takes what fits no topic ("Others", "Miscellaneous"...), if any."""
    for section in reversed(doc.paper_sections):
        if " ".join(_section_words(section.name)) in _CATCH_ALL_NAMES:
            return section.name
    return None


def _is_blank(content: str) -> bool:
    return not content.strip()


def entry_key(paper_url: str, arxiv_id: str | None = None) -> str:
    """The catalog key of a list entry: arXiv id, OpenReview forum id, or a hash of the link."""
    if arxiv_id:
        return arxiv_id
    match = _OPENREVIEW_RE.search(paper_url)
    if match:
        return f"openreview:{match.group('id')}"
    return "url:" + hashlib.sha1(paper_url.strip().encode("utf-8")).hexdigest()[:12]


def _strip_title(title: str) -> str:
    title = " ".join(title.split())
    # The list separates title and links with a period; "..." is part of a title.
    if title.endswith(".") and not title.endswith(".."):
        title = title[:-1].rstrip()
    return title


def _split_authors(text: str) -> list[str]:
    text = text.strip()
    if text.endswith("."):
        text = text[:-1]
    names = [" ".join(part.split()) for part in text.split(",")]
    names = [name for name in names if name]
    if names and _ET_AL_RE.match(names[-1]):
        names.pop()
    if names and names[-1].lower().startswith("and "):
        names[-1] = names[-1][4:].strip()
    return names


def _split_keywords(text: str) -> list[str]:
    text = " ".join(text.split()).rstrip(".").strip()
    if not text:
        return []
    separator = ";" if ";" in text else ","
    return [part.strip().rstrip(".") for part in text.split(separator) if part.strip()]


def _parse_entry(
    contents: Sequence[str], start: int, section: str, year: int | None, heading: int | None
) -> tuple[Entry | None, str]:
    """One entry from its lines (head line + indented sub-lines); (None, reason) if not one."""
    bullet = _BULLET_RE.match(contents[0])
    if bullet is None:
        return None, "not a list item"
    body = bullet.group("body")
    links = [(m.group("label").strip(), m.group("url")) for m in _LINK_RE.finditer(body)]
    first = _LINK_RE.search(body)
    if first is None:
        return None, "entry without a [[paper]](url) link"
    title = _strip_title(body[: first.start()])
    if not title:
        return None, "entry without a title before its links"
    paper_url = next((url for label, url in links if label.lower() in _PAPER_LABELS), None)
    if paper_url is None:
        return None, "entry without a [[paper]](url) link"
    if not paper_url:
        return None, "entry with an empty [[paper]]() link"
    code_url = next((url for label, url in links if label.lower() == "code" and url), None)

    # Sub-items; a line that is indented but not a bullet continues the previous one.
    items: list[str] = []
    for content in contents[1:]:
        sub = _SUB_RE.match(content)
        if sub is not None:
            items.append(sub.group("body") or "")
        elif items:
            items[-1] = f"{items[-1]} {content.strip()}"

    authors: list[str] = []
    venue: str | None = None
    digest: str | None = None
    keywords: list[str] = []
    style: EntryStyle = "classic"
    keyword_line = False
    digest_form: DigestForm | None = None
    seen_authors = False
    for item in items:
        text = item.strip()
        if (m := _DETAILS_RE.match(text)) is not None:
            digest, style = " ".join(m.group("text").split()), "details"
            digest_form = "details"
        elif (m := _DIGEST_RE.match(text)) is not None:
            digest = " ".join(m.group("text").split())
            digest_form = "line"
        elif (m := _KEYWORDS_RE.match(text)) is not None:
            keywords, style = _split_keywords(m.group("text")), "details"
            keyword_line = True
        elif not seen_authors and digest is None:
            seen_authors = True
            m = _AUTHORS_RE.match(text)
            assert m is not None  # the pattern matches any text
            authors = _split_authors(m.group("names"))
            venue = " ".join(m.group("venue").split()) if m.group("venue") else None
    arxiv_id = arxiv_id_from_url(paper_url)
    entry = Entry(
        section=section,
        year=year,
        title=title,
        paper_url=paper_url,
        code_url=code_url,
        arxiv_id=arxiv_id,
        key=entry_key(paper_url, arxiv_id),
        authors=authors,
        venue=venue,
        digest=digest or None,
        keywords=keywords,
        style=style,
        line=start + 1,
        end_line=start + len(contents),
        links=links,
        heading_line=heading,
        has_keyword_line=keyword_line,
        digest_form=digest_form,
    )
    return entry, ""


def parse_awesome(text: str) -> AwesomeDoc:
    """Read an awesome-list README; anything not understood stays as text and is warned about."""
    lines = _split_lines(text)
    contents = [_content(line) for line in lines]
    doc = AwesomeDoc(lines=lines, newline=_detect_newline(text))
    section: Section | None = None
    year: int | None = None
    heading: int | None = None
    fence: str | None = None
    in_comment = False

    def close(index: int) -> None:
        if section is not None:
            section.end_line = index

    i = 0
    while i < len(contents):
        content = contents[i]
        # Code fences and HTML comments (entry templates, commented-out papers) are not entries.
        if fence is not None:
            if content.strip().startswith(fence):
                fence = None
            i += 1
            continue
        if in_comment:
            in_comment = "-->" not in content
            i += 1
            continue
        if (fm := _FENCE_RE.match(content)) is not None:
            fence = fm.group(1)
            i += 1
            continue
        if content.lstrip().startswith("<!--") and "-->" not in content:
            in_comment = True
            i += 1
            continue

        if (hm := _HEADING_RE.match(content)) is not None:
            level = len(hm.group("hashes"))
            name = hm.group("text")
            if level <= 2:
                close(i)
                section = None
                year = heading = None
                if level == 2 and not _TOC_RE.match(name.strip()):
                    section = Section(name=name, line=i + 1, end_line=len(contents))
                    doc.sections.append(section)
            elif level == 3 and section is not None:
                ym = _YEAR_RE.match(name)
                if ym is not None:
                    year, heading = int(ym.group("year")), i + 1
                    prefix = ym.group("prefix")
                    section.years.append(
                        YearHeading(year, i + 1, "named" if prefix else "plain", prefix or None)
                    )
                else:
                    year = heading = None
            i += 1
            continue

        if section is not None and _BULLET_RE.match(content):
            j = i + 1
            while j < len(contents) and contents[j][:1] in (" ", "\t") and contents[j].strip():
                j += 1
            entry, reason = _parse_entry(contents[i:j], i, section.name, year, heading)
            if entry is not None:
                entry.raw = "".join(lines[i:j])
                doc.entries.append(entry)
                i = j
                continue
            # A bullet with sub-items or a [[link]] was meant as an entry; prose bullets are not.
            if j > i + 1 or "[[" in content:
                doc.warnings.append(f"line {i + 1}: {reason}")
        i += 1
    close(len(contents))
    return doc


# --------------------------------------------------------------------------- rendering


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _title_text(title: str) -> str:
    title = _one_line(title)
    return title if title.endswith((".", "?", "!")) else f"{title}."


def _authors_text(authors: Sequence[str]) -> str:
    names = [_one_line(name) for name in authors if name and name.strip()]
    if len(names) > MAX_AUTHORS:
        names = [*names[:AUTHORS_KEPT], "et al."]
    text = ", ".join(names)
    return text if not text or text.endswith(".") else f"{text}."


def _paper_url(new: NewEntry, arxiv_id: str | None) -> str:
    if new.paper_url:
        return new.paper_url.strip()
    if arxiv_id:
        return f"https://arxiv.org/abs/{arxiv_id}"
    raise AwesomeListError(f"{new.title!r}: neither an arXiv id nor a paper URL")


def render_entry(new: NewEntry, style: EntryStyle | EntryFormat = "classic") -> list[str]:
    """The lines (without line endings) of one entry, in the list's format."""
    fmt = style if isinstance(style, EntryFormat) else EntryFormat.of_style(style)
    arxiv_id = parse_arxiv_id(new.arxiv_id)[0] if new.arxiv_id else None
    head = f"- {_title_text(new.title)} [[paper]]({_paper_url(new, arxiv_id)})"
    if new.code_url:
        head += f" [[code]]({new.code_url.strip()})"
    lines = [head]
    authors = _authors_text(new.authors)
    venue = _one_line(new.venue.replace("*", "")) if new.venue else ""
    if authors or venue:
        lines.append(
            "  - " + " ".join(part for part in (authors, f"*{venue}*" if venue else "") if part)
        )
    # A ";" inside a tag would split it in two when the list is read back.
    keywords = [_one_line(k.replace(";", ",")).rstrip(".") for k in new.keywords if k.strip()]
    digest = _one_line(new.digest) if new.digest else ""
    if fmt.keyword_line and keywords:
        lines.append(f"  - Key Word: {'; '.join(keywords)}.")
    if digest and fmt.digest == "details":
        # Closed on the same line: an open <details> folds whatever follows it on GitHub.
        lines.append(f"  - <details><summary>Digest</summary> {digest}</details>")
    elif digest:
        lines.append(f"  - Digest: {digest}")
    return lines


def _anchor(name: str) -> str:
    # GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens.
    slug = re.sub(r"[^\w\- ]", "", name.strip().lower())
    return slug.replace(" ", "-")


def _year_of(entry: NewEntry) -> int | None:
    if entry.year is not None:
        return entry.year
    if entry.arxiv_id:
        return id_year_month(entry.arxiv_id)[0]
    return None


def _newest_first(entries: list[NewEntry]) -> list[NewEntry]:
    dated = [e for e in entries if e.arxiv_id]
    undated = [e for e in entries if not e.arxiv_id]
    dated.sort(key=lambda e: id_sort_key(e.arxiv_id or ""), reverse=True)
    return dated + undated


def render_list(
    title: str,
    intro: str,
    sections: Sequence[str],
    entries: Sequence[NewEntry],
    style: EntryStyle = "classic",
    *,
    heading_style: HeadingStyle = "plain",
    badge: bool = True,
) -> str:
    """A whole list from catalog papers in the README's format.

    Sections come in the given order, followed by any section only the entries name
    (entries without one go to "Unsorted"); years descend; entries are newest first by
    arXiv id, papers without one last. parse_awesome reads the result back to the same entries.
    """
    order = list(dict.fromkeys(sections))
    for entry in entries:
        name = entry.section or UNSORTED_SECTION
        if name not in order:
            order.append(name)
    out = [f"# {_one_line(title)}" + (f" {AWESOME_BADGE}" if badge else ""), ""]
    if intro.strip():
        out += [intro.strip(), ""]
    out += ["## Table of Contents", ""]
    out += [f"- [{name}](#{_anchor(name)})" for name in order]
    out.append("")
    gap = [""] if style == "details" else []
    for name in order:
        out += [f"## {name}", ""]
        mine = [e for e in entries if (e.section or UNSORTED_SECTION) == name]
        by_year: dict[int | None, list[NewEntry]] = {}
        for entry in mine:
            by_year.setdefault(_year_of(entry), []).append(entry)
        # Papers with neither a year nor an arXiv id sit above the year headings.
        years: list[int | None] = [None] if None in by_year else []
        years += sorted((y for y in by_year if y is not None), reverse=True)
        for year in years:
            if year is not None:
                out += [f"### {name}: {year}" if heading_style == "named" else f"### {year}", ""]
            for n, entry in enumerate(_newest_first(by_year[year])):
                out += (gap if n else []) + render_entry(entry, style)
            out.append("")
    while len(out) > 1 and out[-1] == "" and out[-2] == "":
        out.pop()
    return "\n".join(out)


# --------------------------------------------------------------------------- inserting


def _mentions(doc: AwesomeDoc, arxiv_id: str) -> int | None:
    """1-based line of the first arXiv URL of `arxiv_id` anywhere in the document."""
    for index, line in enumerate(doc.lines):
        for match in _ARXIV_URL_RE.finditer(line):
            if arxiv_id_from_url(match.group(0).rstrip(".,;:")) == arxiv_id:
                return index + 1
    return None


def _majority(votes: Iterable[bool]) -> bool | None:
    counts = Counter(votes)
    if counts[True] == counts[False]:
        return None
    return counts[True] > counts[False]


def _gaps(doc: AwesomeDoc, entries: list[Entry]) -> list[bool]:
    """For consecutive entries under one heading: is there a blank line between them?"""
    votes = []
    for a, b in pairwise(entries):
        if a.heading_line == b.heading_line and a.section == b.section:
            votes.append(b.line - a.end_line > 1)
    return votes


def _blank_between_entries(
    doc: AwesomeDoc, block: list[Entry], section: list[Entry], style: EntryStyle
) -> bool:
    # The nearest convention wins: this year block, then the section, then the document.
    for scope in (block, section, doc.entries):
        verdict = _majority(_gaps(doc, scope))
        if verdict is not None:
            return verdict
    return style == "details"


def _blank_after_headings(doc: AwesomeDoc) -> bool:
    votes = [
        h.line < len(doc.lines) and _is_blank(_content(doc.lines[h.line]))
        for s in doc.sections
        for h in s.years
    ]
    return _majority(votes) is not False


def _dominant_style(entries: list[Entry]) -> EntryStyle | None:
    counts = Counter(e.style for e in entries)
    if not counts:
        return None
    return "details" if counts["details"] > counts["classic"] else "classic"


def _recent(entries: list[Entry]) -> list[Entry]:
    # Newest first within a section: the first entries show how it is written today.
    return sorted(entries, key=lambda e: -(e.year or 0))[:RECENT_ENTRIES]


def section_format(doc: AwesomeDoc, section: str | Section) -> EntryFormat:
    """How a new entry in `section` is written: as the section's newest entries are.

    A section with no entries yet follows the document's newest entries, and a document
    without any is written in the classic `Digest:` form.
    """
    target = section if isinstance(section, Section) else doc.section(section)
    for scope in (doc.entries_in(target), doc.entries):
        recent = _recent(scope)
        if not recent:
            continue
        keyword_line = _majority(e.has_keyword_line for e in recent) is True
        forms = Counter(e.digest_form for e in recent if e.digest_form)
        if forms:
            digest: DigestForm = "details" if forms["details"] > forms["line"] else "line"
        else:
            digest = "details" if keyword_line else "line"
        return EntryFormat(keyword_line, digest)
    return EntryFormat(False, "line")


def _new_heading(doc: AwesomeDoc, section: Section, year: int) -> str:
    style = section.heading_style
    prefix: str | None = None
    if style is None:
        counts = Counter(h.style for s in doc.sections for h in s.years)
        style = "named" if counts["named"] > counts["plain"] else "plain"
    if style == "named":
        prefixes = Counter(h.prefix for h in section.years if h.prefix)
        prefix = prefixes.most_common(1)[0][0] if prefixes else section.name
        return f"### {prefix}: {year}"
    return f"### {year}"


def _last_nonblank(doc: AwesomeDoc, section: Section) -> int:
    """1-based last non-blank line of a section (its heading at least)."""
    last = section.line
    for number in range(section.line, section.end_line + 1):
        if not _is_blank(_content(doc.lines[number - 1])):
            last = number
    return last


def _splice(doc: AwesomeDoc, index: int, new: list[str]) -> str:
    """Insert `new` (contents without endings) before 0-based line `index`."""
    lines = list(doc.lines)
    added = [text + doc.newline for text in new]
    if index >= len(lines) and lines and not lines[-1].endswith("\n"):
        # The file had no final newline; keep it that way after the new last line.
        lines[-1] += doc.newline
        added[-1] = added[-1].removesuffix(doc.newline)
    lines[index:index] = added
    return "".join(lines)


def insert_entry(text: str, new: NewEntry) -> InsertOutcome:
    """Put one paper where the maintainer would, or say why not; other bytes are unchanged.

    Raises SectionNotInList for a section the list does not have (a typo must not
    create a public section), IdentifierError for a bad arXiv id, AwesomeListError when
    there is neither a year nor an arXiv id to file the paper under.
    """
    doc = parse_awesome(text)
    arxiv_id = parse_arxiv_id(new.arxiv_id)[0] if new.arxiv_id else None
    paper_url = _paper_url(new, arxiv_id)
    key = entry_key(paper_url, arxiv_id)

    if arxiv_id is not None:
        seen = _mentions(doc, arxiv_id)
    else:
        existing = doc.find(key)
        seen = existing.line if existing else None
    if seen is not None:
        return InsertOutcome(text, False, f"{key} is already in the list (line {seen})", key, seen)

    section = doc.section(new.section)
    year = new.year if new.year is not None else (id_year_month(arxiv_id)[0] if arxiv_id else None)
    if year is None:
        raise AwesomeListError(f"{new.title!r}: no year and no arXiv id to take one from")
    sort_key = new.first_version_sort_key or (id_sort_key(arxiv_id) if arxiv_id else None)

    in_section = doc.entries_in(section)
    style = _dominant_style(in_section) or _dominant_style(doc.entries) or "classic"
    lines = render_entry(new, section_format(doc, section))
    heading = next((h for h in section.years if h.year == year), None)
    after_heading = [""] if _blank_after_headings(doc) else []

    if heading is not None or (not section.years and in_section):
        # The block: the entries under this year's heading (or the whole flat section).
        anchor = heading.line if heading is not None else None
        block = [e for e in in_section if e.heading_line == anchor]
        gap = [""] if _blank_between_entries(doc, block, in_section, style) else []
        older = None
        if sort_key is not None:
            older = next(
                (e for e in block if e.arxiv_id and id_sort_key(e.arxiv_id) < tuple(sort_key)),
                None,
            )
        if older is not None:
            index, added, offset = older.line - 1, [*lines, *gap], 0
        elif block:
            index, added, offset = block[-1].end_line, [*gap, *lines], len(gap)
        else:
            # A year heading with nothing under it yet.
            assert heading is not None
            index, lead = heading.line, []
            if index < len(doc.lines) and _is_blank(_content(doc.lines[index])):
                index += 1
            else:
                lead = after_heading
            follows = index < len(doc.lines) and not _is_blank(_content(doc.lines[index]))
            added, offset = [*lead, *lines, *([""] if follows else [])], len(lead)
    else:
        title = _new_heading(doc, section, year)
        older_heading = next((h for h in section.years if h.year < year), None)
        if older_heading is not None:
            index = older_heading.line - 1
            added = [title, *after_heading, *lines, ""]
            offset = 1 + len(after_heading)
        else:
            index = _last_nonblank(doc, section)
            added = ["", title, *after_heading, *lines]
            offset = 2 + len(after_heading)
    first = index + offset + 1
    new_text = _splice(doc, index, added)
    where = f"{section.name} / {year}"
    return InsertOutcome(new_text, True, f"{key} inserted into {where} (line {first})", key, first)


def insert_entries(text: str, entries: Iterable[NewEntry]) -> tuple[str, list[InsertOutcome]]:
    """Insert several papers in turn; one that cannot go in is reported, not fatal."""
    outcomes: list[InsertOutcome] = []
    for new in entries:
        try:
            outcome = insert_entry(text, new)
        except PaperbotError as exc:
            outcome = InsertOutcome(text, False, str(exc), new.arxiv_id or None, None, exc)
        text = outcome.text
        outcomes.append(outcome)
    return text, outcomes
