"""The Paper model shared by every part of paperbot."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class AnnounceType(StrEnum):
    """How arXiv announced an item (the `<arxiv:announce_type>` of the RSS feed)."""

    NEW = "new"
    CROSS = "cross"
    REPLACE = "replace"
    REPLACE_CROSS = "replace-cross"


@dataclass(slots=True)
class Paper:
    """One arXiv paper as read from a feed or the API.

    `arxiv_id` is canonical and without version (`2401.01234`, `hep-th/9901001`); it is the
    key everywhere. Datetimes are timezone-aware UTC.
    """

    arxiv_id: str
    title: str
    version: int | None = None
    authors: list[str] = field(default_factory=list)
    abstract: str = ""
    categories: list[str] = field(default_factory=list)  # primary first where known
    announce_type: AnnounceType | None = None  # None when not from an announcement feed
    announced: datetime | None = None  # day of announcement (midnight UTC), feeds only
    published: datetime | None = None  # first version, where the source says (API)
    updated: datetime | None = None  # this version, where the source says (API)
    comment: str | None = None
    journal_ref: str | None = None
    doi: str | None = None

    @property
    def abs_url(self) -> str:
        return f"https://arxiv.org/abs/{self.arxiv_id}"

    @property
    def pdf_url(self) -> str:
        suffix = f"v{self.version}" if self.version else ""
        return f"https://arxiv.org/pdf/{self.arxiv_id}{suffix}"

    @property
    def is_update(self) -> bool:
        """A replacement of a paper already announced, not a new paper."""
        return self.announce_type in (AnnounceType.REPLACE, AnnounceType.REPLACE_CROSS)

    @property
    def primary_category(self) -> str | None:
        return self.categories[0] if self.categories else None


@dataclass(slots=True)
class Match:
    """What the rules (and later the model) say about one paper."""

    arxiv_id: str
    score: float
    section: str | None  # suggested section; None when no section's rules fired
    reasons: list[str] = field(default_factory=list)  # human words: '"double descent" in title'
    section_scores: dict[str, float] = field(default_factory=dict)
    candidate: bool = False  # score reached the threshold and a section was found
    runner_up: str | None = None  # the second-best section (None: no other section fits)


@dataclass(slots=True)
class FeedState:
    """What paperbot remembers about one feed URL between polls."""

    url: str
    etag: str | None = None
    last_modified: str | None = None  # HTTP date string, sent back verbatim
    last_checked: datetime | None = None
    last_success: datetime | None = None
    last_changed: datetime | None = None  # last time the body differed from the one before
    content_hash: str | None = None
    last_error: str | None = None
    consecutive_failures: int = 0
    alerted: bool = False  # a health alert was sent and the feed has not recovered yet
