"""Tests for db/; small builders of feed items shared by the catalog tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from feeds.models import AnnounceType, Match, Paper

T0 = datetime(2024, 11, 28, 12, 0, tzinfo=UTC)


def paper(
    arxiv_id: str,
    title: str | None = None,
    *,
    version: int = 1,
    announce: AnnounceType | None = AnnounceType.NEW,
    abstract: str = "An abstract about deep networks.",
    authors: tuple[str, ...] = ("Ada Lovelace", "Alan Turing"),
    **extra: Any,
) -> Paper:
    return Paper(
        arxiv_id=arxiv_id,
        title=title if title is not None else f"Paper {arxiv_id}",
        version=version,
        authors=list(authors),
        abstract=abstract,
        categories=["cs.LG", "stat.ML"],
        announce_type=announce,
        announced=T0.replace(hour=0),
        **extra,
    )


def match(
    arxiv_id: str,
    score: float = 0.8,
    section: str | None = "Double Descent",
    candidate: bool = True,
) -> Match:
    return Match(
        arxiv_id=arxiv_id,
        score=score,
        section=section,
        reasons=[f'"{section}" in title'] if section else [],
        candidate=candidate,
    )


def item(
    arxiv_id: str, title: str | None = None, score: float = 0.8, **kw: Any
) -> tuple[Paper, Match]:
    return paper(arxiv_id, title, **kw), match(arxiv_id, score)


def update(arxiv_id: str, title: str, version: int = 2, **kw: Any) -> tuple[Paper, Match]:
    """A replacement announcement; its Match is not a candidate (updates never are)."""
    return (
        paper(arxiv_id, title, version=version, announce=AnnounceType.REPLACE, **kw),
        match(arxiv_id, candidate=False),
    )


@dataclass
class Listed:
    """An awesome-list entry as the importer reads it (the shape of db.awesome.Entry)."""

    key: str
    title: str
    arxiv_id: str | None = None
    authors: list[str] = field(default_factory=list)
    section: str | None = None
    year: int | None = None
    venue: str | None = None
    paper_url: str | None = None
    code_url: str | None = None
    digest: str | None = None
    keywords: list[str] = field(default_factory=list)
