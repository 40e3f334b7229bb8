"""The application core: the use cases both adapters (CLI, Discord) call, with their rules."""

from bot.app.base import now_utc
from bot.app.core import App
from bot.app.curation import (
    AddResult,
    AlreadyDecided,
    DecideResult,
    Found,
    InvalidYears,
    Members,
    NotACandidate,
    SectionChange,
    UnknownSection,
    VoteOutcome,
    catalog_key,
    year_range,
)
from bot.app.digest import DigestData
from bot.app.health import HEARTBEAT_EVERY, FeedHealth, HealthAlert
from bot.app.learning import ModelStatus
from bot.app.listing import (
    ExportResult,
    ImportResult,
    TooManyRemovals,
    read_text_file,
    write_text_file,
)
from bot.app.polling import FeedOutcome, PollReport
from bot.app.publishing import PublishingOff, PublishResult, PullOutcome, SyncResult
from bot.forge import ForgeError
from bot.policy import REMOVALS_UNASKED
from bot.publish import PublishError
from db.catalog import (
    Candidate,
    CatalogCorrupt,
    CatalogFull,
    CatalogLocked,
    CatalogNotWritable,
    CatalogPaper,
    CatalogStats,
    CatalogStorageError,
    CatalogUnavailable,
    SearchPage,
    Tally,
)

__all__ = [
    "HEARTBEAT_EVERY",
    "REMOVALS_UNASKED",
    "AddResult",
    "AlreadyDecided",
    "App",
    "Candidate",
    "CatalogCorrupt",
    "CatalogFull",
    "CatalogLocked",
    "CatalogNotWritable",
    "CatalogPaper",
    "CatalogStats",
    "CatalogStorageError",
    "CatalogUnavailable",
    "DecideResult",
    "DigestData",
    "ExportResult",
    "FeedHealth",
    "FeedOutcome",
    "ForgeError",
    "Found",
    "HealthAlert",
    "ImportResult",
    "InvalidYears",
    "Members",
    "ModelStatus",
    "NotACandidate",
    "PollReport",
    "PublishError",
    "PublishResult",
    "PublishingOff",
    "PullOutcome",
    "SearchPage",
    "SectionChange",
    "SyncResult",
    "Tally",
    "TooManyRemovals",
    "UnknownSection",
    "VoteOutcome",
    "catalog_key",
    "now_utc",
    "read_text_file",
    "write_text_file",
    "year_range",
]
