"""The catalog's closed vocabularies: candidate statuses, vote choices, how papers came in, search modes."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal


class CandidateStatus(StrEnum):
    """Where a candidate stands; "new" and "posted" are still open to votes."""

    NEW = "new"
    POSTED = "posted"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"

    @property
    def is_open(self) -> bool:
        return self in OPEN_STATUSES

    @property
    def is_decided(self) -> bool:
        return self in DECIDED_STATUSES


OPEN_STATUSES = frozenset({CandidateStatus.NEW, CandidateStatus.POSTED})
DECIDED_STATUSES = frozenset({CandidateStatus.APPROVED, CandidateStatus.REJECTED})


class VoteChoice(StrEnum):
    """The two reactions that count."""

    APPROVE = "approve"
    REJECT = "reject"


class AddedHow(StrEnum):
    """How a paper entered the catalog: read from the list, voted in, or put in by a person."""

    IMPORT = "import"
    VOTE = "vote"
    CURATOR = "curator"
    CLI = "cli"


# The ways a decision is taken (`Catalog.decide`); an import is not a decision.
DECIDED_HOW = frozenset({AddedHow.VOTE, AddedHow.CURATOR, AddedHow.CLI})


class AuditAction(StrEnum):
    """What an audit entry records."""

    APPROVE = "approve"
    REJECT = "reject"
    EXPIRE = "expire"
    SECTION = "section"
    VOTE = "vote"
    UNVOTE = "unvote"
    IMPORT = "import"
    ADD = "add"
    UPDATE = "update"
    REMOVE = "remove"


class SearchMode(StrEnum):
    """How a search read its text: all words, any word (fallback), a named paper, or none."""

    AND = "and"
    OR = "or"
    ID = "id"
    BROWSE = "browse"


class Ranking(StrEnum):
    """How a search page is ordered."""

    BM25 = "bm25"
    TITLE_RECENT = "title-recent"  # common words: title hits first, then newest
    RECENT = "recent"
    ID = "id"


# What `Catalog.set_section` changed: the candidate's section, the listed paper's, or nothing.
SectionTarget = Literal["candidate", "paper", "unchanged"]
