"""Writing a new list entry as the maintainer would: tags, digest, venue, code link, preview."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from db.awesome import (
    AwesomeDoc,
    NewEntry,
    parse_awesome,
    render_entry,
    section_format,
)
from db.digest import digest_of
from db.keywords import Vocabulary, choose_keywords, vocabulary
from feeds.ids import parse_arxiv_id
from feeds.metadata import paper_metadata

logger = logging.getLogger(__name__)


def compose_entry(
    doc: AwesomeDoc,
    section: str,
    *,
    arxiv_id: str,
    title: str,
    authors: Sequence[str],
    abstract: str,
    comment: str | None = None,
    journal_ref: str | None = None,
    year: int | None = None,
    vocab: Vocabulary | None = None,
) -> NewEntry:
    """The entry `doc`'s maintainer would write for an arXiv paper in `section`.

    Key Word tags come from the list's own vocabulary (the section's tags first), and only
    when the section's entries carry a `Key Word:` line; the digest is 2-4 sentences of the
    abstract; venue and code link only where the metadata states them. Raises
    SectionNotInList for a section the list does not have, IdentifierError for a bad id.
    """
    canonical = parse_arxiv_id(arxiv_id)[0]
    target = doc.section(section)
    fmt = section_format(doc, target)
    title_text = " ".join(title.split())
    abstract_text = " ".join(abstract.split())
    keywords: list[str] = []
    if fmt.keyword_line:
        # The vocabulary is the list's: callers composing many entries build it once.
        words = vocab if vocab is not None else vocabulary(doc)
        keywords = choose_keywords(words, target.name, title_text, abstract_text).tags
    digest = digest_of(abstract_text).text or None
    meta = paper_metadata(abstract_text, comment, journal_ref)
    return NewEntry(
        arxiv_id=canonical,
        title=title_text,
        authors=[" ".join(a.split()) for a in authors if a.strip()],
        section=target.name,
        year=year,
        paper_url=f"https://arxiv.org/abs/{canonical}",
        code_url=meta.code_url,
        venue=meta.venue,
        digest=digest,
        keywords=keywords,
    )


def preview_entry(doc: AwesomeDoc | str, new: NewEntry) -> str:
    """The exact lines inserting `new` into `doc` writes, joined by newlines (no final one)."""
    if isinstance(doc, str):
        doc = parse_awesome(doc)
    return "\n".join(render_entry(new, section_format(doc, doc.section(new.section))))
