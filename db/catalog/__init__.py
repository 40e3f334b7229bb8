"""The catalog repository: one `Catalog` over the SQLite file, composed of per-domain parts.

candidates (feeds' and members' candidates, posting, expiry), decisions (votes, approval,
sections), papers (the list's papers, imports, audit, stats, background), search, and
state (feed state, meta, models, the stored list), over a small base holding the
connection. Every public method turns sqlite3 errors into `CatalogError`s naming the file.
"""

from __future__ import annotations

from db.catalog.base import CatalogBase, storage_errors
from db.catalog.candidates import BACKGROUND_CAP, CandidatesMixin
from db.catalog.decisions import DecisionsMixin
from db.catalog.papers import PapersMixin
from db.catalog.records import (
    AuditEntry,
    BackgroundItem,
    Candidate,
    CatalogPaper,
    CatalogStats,
    Decision,
    ImportPlan,
    ImportReport,
    ListedEntry,
    ModelInfo,
    SearchHit,
    SearchPage,
    StoredList,
    StoredModel,
    StoreReport,
    Tally,
    first_version_year,
)
from db.catalog.search import (
    COUNT_CAP,
    MAX_TOKENS,
    OR_FALLBACK_MIN_TOKENS,
    RANK_BUDGET,
    RANK_WINDOW,
    SearchMixin,
    fts_query,
    query_terms,
    snippet,
)
from db.catalog.state import LISTS_KEPT, MODELS_KEPT, StateMixin
from db.errors import (
    CatalogClosed,
    CatalogCorrupt,
    CatalogError,
    CatalogFull,
    CatalogIntegrityError,
    CatalogLocked,
    CatalogNotWritable,
    CatalogStorageError,
    CatalogUnavailable,
    InvalidArgument,
    InvalidState,
    NotFound,
)
from db.types import (
    AddedHow,
    AuditAction,
    CandidateStatus,
    Ranking,
    SearchMode,
    SectionTarget,
    VoteChoice,
)


class Catalog(CandidatesMixin, DecisionsMixin, PapersMixin, SearchMixin, StateMixin, CatalogBase):
    """Synchronous access to the catalog file; one instance per thread (see db.worker)."""


def public_methods() -> frozenset[str]:
    """Names of Catalog's public methods (what db.worker's AsyncCatalog forwards, and close)."""
    return frozenset(
        name
        for name in dir(Catalog)
        if not name.startswith("_") and callable(getattr(Catalog, name))
    )


__all__ = [
    "BACKGROUND_CAP",
    "COUNT_CAP",
    "LISTS_KEPT",
    "MAX_TOKENS",
    "MODELS_KEPT",
    "OR_FALLBACK_MIN_TOKENS",
    "RANK_BUDGET",
    "RANK_WINDOW",
    "AddedHow",
    "AuditAction",
    "AuditEntry",
    "BackgroundItem",
    "Candidate",
    "CandidateStatus",
    "Catalog",
    "CatalogBase",
    "CatalogClosed",
    "CatalogCorrupt",
    "CatalogError",
    "CatalogFull",
    "CatalogIntegrityError",
    "CatalogLocked",
    "CatalogNotWritable",
    "CatalogPaper",
    "CatalogStats",
    "CatalogStorageError",
    "CatalogUnavailable",
    "Decision",
    "ImportPlan",
    "ImportReport",
    "InvalidArgument",
    "InvalidState",
    "ListedEntry",
    "ModelInfo",
    "NotFound",
    "Ranking",
    "SearchHit",
    "SearchMode",
    "SearchPage",
    "SectionTarget",
    "StoreReport",
    "StoredList",
    "StoredModel",
    "Tally",
    "VoteChoice",
    "first_version_year",
    "fts_query",
    "public_methods",
    "query_terms",
    "snippet",
    "storage_errors",
]
