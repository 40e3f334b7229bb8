"""The catalog's SQLite schema: connection settings, migrations and the FTS5 index over papers."""

from __future__ import annotations

import random
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeVar

from db.types import AddedHow, AuditAction, CandidateStatus

if TYPE_CHECKING:
    from sqlite_utils import Database

T = TypeVar("T")

BUSY_TIMEOUT_MS = 5000

# The schema's migrations, applied by sqlite-utils' Migrations under this set name. Opening
# an up-to-date file only reads which ones it has (plain SQL): sqlite-utils, and the numpy
# it loads, are imported only when there is something to apply, so a read-only command
# starts quickly.
MIGRATION_SET = "paperbot"
MIGRATIONS_TABLE = "_sqlite_migrations"


class _Step(Protocol):
    __name__: str

    def __call__(self, db: Database, /) -> None: ...


MIGRATION_STEPS: list[_Step] = []


def _migration(step: _Step) -> _Step:
    MIGRATION_STEPS.append(step)
    return step


def migration_names() -> list[str]:
    """The names of every migration this paperbot knows, in the order they apply."""
    return [step.__name__ for step in MIGRATION_STEPS]


def applied_migrations(conn: sqlite3.Connection) -> list[str]:
    """The migrations of this set the file has, in the order they were applied."""
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", [MIGRATIONS_TABLE]
    ).fetchone()
    if exists is None:
        return []
    rows = conn.execute(
        f"SELECT name FROM {MIGRATIONS_TABLE} WHERE migration_set = ? ORDER BY rowid",
        [MIGRATION_SET],
    )
    return [row[0] for row in rows]


# Columns of the full-text index, in the order bm25() takes its weights. `search_facets`
# holds one token for the year and one for the section, so a filter narrows the match
# inside the index instead of by reading every matching row (year_token, section_token).
FTS_COLUMNS = ("title", "authors", "abstract", "digest", "keywords", "search_facets")
# A title hit says far more about a paper than the same word deep in an abstract; the
# facet tokens are filters and never change the ranking.
FTS_WEIGHTS = (10.0, 4.0, 1.0, 3.0, 3.0, 0.0)

CANDIDATE_STATUSES = tuple(str(s) for s in CandidateStatus)
ADDED_HOW = tuple(str(h) for h in AddedHow)
# The actions of the first schema; later ones are added by the migration that allows them.
AUDIT_ACTIONS_V1 = (
    "approve", "reject", "expire", "section", "vote", "unvote", "import", "add", "update",
)  # fmt: skip
AUDIT_ACTIONS = tuple(str(a) for a in AuditAction)


def year_token(year: int) -> str:
    """The index token of a year, as the `search_facets` column writes it."""
    return f"y{int(year)}"


def section_token(section: str) -> str:
    """The index token of a section: hex of its trimmed, ASCII-lowercased UTF-8 name.

    Hex keeps any section name a single token; SQLite's lower() only folds ASCII, so this
    does the same.
    """
    name = section.strip(" ")
    folded = "".join(ch.lower() if ch.isascii() else ch for ch in name)
    return "s" + folded.encode("utf-8").hex()


def _in(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


def _is_locked(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    return (isinstance(code, int) and code & 0xFF in (5, 6)) or "locked" in str(exc).lower()


def retry_locked(step: Callable[[], T], timeout_ms: int | None = None) -> T:
    """Run step(), again while it fails with "database is locked", for up to timeout_ms.

    Some of SQLite's locks are never waited for by its busy handler: switching a file to
    WAL while another connection does the same, or reading the WAL index while another
    process recovers it. Those fail at once, and trying again shortly after succeeds.
    """
    wait_ms = BUSY_TIMEOUT_MS if timeout_ms is None else timeout_ms
    deadline = time.monotonic() + wait_ms / 1000
    while True:
        try:
            return step()
        except sqlite3.OperationalError as exc:
            if not _is_locked(exc) or time.monotonic() >= deadline:
                raise
        # Jitter, so processes that collided once do not collide again in step.
        time.sleep(random.uniform(0.005, 0.05))


def connect(path: str | Path) -> sqlite3.Connection:
    """Open (or create) the catalog file with the pragmas every connection needs; no migration."""
    memory = str(path) == ":memory:"
    # The timeout is the driver's own wait on a locked file; busy_timeout below is SQLite's.
    conn = sqlite3.connect(":memory:" if memory else str(path), timeout=BUSY_TIMEOUT_MS / 1000)
    try:
        # No implicit transactions: every write goes through immediate() (or atomic()), so
        # a stray statement never leaves a deferred transaction holding a lock.
        conn.isolation_level = None
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA foreign_keys = ON")
        if not memory:
            # WAL lets readers (datasette, sqlite3, a second process) work while the bot
            # writes; NORMAL is durable in WAL mode except for the last commits on power loss.
            retry_locked(lambda: conn.execute("PRAGMA journal_mode = WAL").fetchall())
            conn.execute("PRAGMA synchronous = NORMAL")
    except BaseException:
        conn.close()
        raise
    return conn


# How long a write waits for another process's write lock before it says so (when it has
# someone to tell: the command line).
SAY_WAITING_AFTER_MS = 1000


@contextmanager
def savepoint(conn: sqlite3.Connection) -> Iterator[None]:
    """A nested part of the current transaction (or a transaction of its own, outside one):
    undone alone if the block fails."""
    name = f"paperbot_{id(conn)}_{time.monotonic_ns()}"
    conn.execute(f"SAVEPOINT {name}")
    try:
        yield
    except BaseException:
        conn.execute(f"ROLLBACK TO {name}")
        conn.execute(f"RELEASE {name}")
        raise
    conn.execute(f"RELEASE {name}")


@contextmanager
def immediate(
    conn: sqlite3.Connection,
    *,
    wait_ms: int | None = None,
    on_wait: Callable[[], None] | None = None,
) -> Iterator[None]:
    """One write transaction that takes the write lock up front (BEGIN IMMEDIATE).

    A deferred transaction that reads and then writes cannot wait for another process's
    writer: SQLite fails it with "database is locked" at once, busy_timeout or not, because
    waiting could deadlock. Taking the lock first makes it wait up to busy_timeout instead,
    or up to `wait_ms` when given; `on_wait` is called once if the lock is still held after
    SAY_WAITING_AFTER_MS (so a person hears why nothing happens). Inside a transaction
    already, this is a savepoint of it.
    """
    if conn.in_transaction:
        with savepoint(conn):
            yield
        return
    _begin_immediate(conn, wait_ms, on_wait)
    try:
        yield
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    try:
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def _begin_immediate(
    conn: sqlite3.Connection, wait_ms: int | None, on_wait: Callable[[], None] | None
) -> None:
    total = BUSY_TIMEOUT_MS if wait_ms is None else wait_ms
    if on_wait is None or total <= SAY_WAITING_AFTER_MS:
        if total != BUSY_TIMEOUT_MS:
            conn.execute(f"PRAGMA busy_timeout = {int(total)}")
        try:
            conn.execute("BEGIN IMMEDIATE")
        finally:
            if total != BUSY_TIMEOUT_MS:
                conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        return
    conn.execute(f"PRAGMA busy_timeout = {SAY_WAITING_AFTER_MS}")
    try:
        try:
            conn.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            if not _is_locked(exc):
                raise
        on_wait()
        conn.execute(f"PRAGMA busy_timeout = {int(total - SAY_WAITING_AFTER_MS)}")
        conn.execute("BEGIN IMMEDIATE")
    finally:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")


def migrate(conn: sqlite3.Connection) -> None:
    """Apply pending migrations; a no-op on an up-to-date file, safe from several processes.

    The pending list is read again under the write lock: a process that waited for another
    one's migration finds nothing left to do instead of creating the tables a second time.
    """
    if set(migration_names()) <= set(applied_migrations(conn)):
        return
    from sqlite_utils import Database
    from sqlite_utils.migrations import Migrations

    migrations = Migrations(MIGRATION_SET)
    for step in MIGRATION_STEPS:
        migrations()(step)
    db = Database(conn)

    def apply() -> None:
        with immediate(conn):
            migrations.apply(db)

    retry_locked(apply)


_NEW = ", ".join(f"new.{c}" for c in FTS_COLUMNS)
_OLD = ", ".join(f"old.{c}" for c in FTS_COLUMNS)
_COLS = ", ".join(FTS_COLUMNS)
# A generated column never appears in UPDATE OF: its sources do.
_BASE_COLS = ", ".join([c for c in FTS_COLUMNS if c != "search_facets"] + ["section", "year"])
FTS_TRIGGER_NAMES = ("papers_fts_ai", "papers_fts_ad", "papers_fts_au")
FTS_TRIGGERS = (
    f"""
    CREATE TRIGGER papers_fts_ai AFTER INSERT ON papers BEGIN
        INSERT INTO papers_fts (rowid, {_COLS}) VALUES (new.id, {_NEW});
    END
    """,
    f"""
    CREATE TRIGGER papers_fts_ad AFTER DELETE ON papers BEGIN
        INSERT INTO papers_fts (papers_fts, rowid, {_COLS}) VALUES ('delete', old.id, {_OLD});
    END
    """,
    # Only changes to indexed text (or to what the facet tokens are made of) touch the index.
    f"""
    CREATE TRIGGER papers_fts_au AFTER UPDATE OF {_BASE_COLS} ON papers BEGIN
        INSERT INTO papers_fts (papers_fts, rowid, {_COLS}) VALUES ('delete', old.id, {_OLD});
        INSERT INTO papers_fts (rowid, {_COLS}) VALUES (new.id, {_NEW});
    END
    """,
)


@_migration
def m001_initial(db: Database) -> None:
    # Plain statements, not executescript(): that would commit the migration's transaction.
    statements = [
        # `id` is an explicit INTEGER PRIMARY KEY because the FTS index refers to rows by
        # rowid, and VACUUM may renumber the implicit rowids of a table keyed by text.
        f"""
        CREATE TABLE papers (
            id INTEGER PRIMARY KEY,
            key TEXT NOT NULL UNIQUE,
            arxiv_id TEXT,
            version INTEGER,
            title TEXT NOT NULL,
            authors TEXT NOT NULL DEFAULT '[]',
            abstract TEXT,
            categories TEXT NOT NULL DEFAULT '[]',
            section TEXT,
            year INTEGER,
            venue TEXT,
            paper_url TEXT,
            code_url TEXT,
            digest TEXT,
            keywords TEXT NOT NULL DEFAULT '[]',
            added_at TEXT NOT NULL,
            added_by TEXT,
            added_how TEXT NOT NULL CHECK (added_how IN ({_in(ADDED_HOW)})),
            updated_at TEXT NOT NULL,
            search_facets TEXT GENERATED ALWAYS AS (
                'y' || coalesce(year, 0) || ' s' || hex(lower(trim(coalesce(section, ''))))
            ) VIRTUAL
        )
        """,
        "CREATE UNIQUE INDEX idx_papers_arxiv_id ON papers (arxiv_id) WHERE arxiv_id IS NOT NULL",
        "CREATE INDEX idx_papers_section ON papers (section COLLATE NOCASE)",
        "CREATE INDEX idx_papers_year ON papers (year)",
        "CREATE INDEX idx_papers_added_at ON papers (added_at)",
        f"""
        CREATE TABLE candidates (
            arxiv_id TEXT PRIMARY KEY,
            version INTEGER,
            title TEXT NOT NULL,
            authors TEXT NOT NULL DEFAULT '[]',
            abstract TEXT,
            categories TEXT NOT NULL DEFAULT '[]',
            announce_type TEXT,
            announced TEXT,
            comment TEXT,
            journal_ref TEXT,
            doi TEXT,
            score REAL NOT NULL DEFAULT 0,
            suggested_section TEXT,
            section TEXT,
            reasons TEXT NOT NULL DEFAULT '[]',
            status TEXT NOT NULL DEFAULT 'new' CHECK (status IN ({_in(CANDIDATE_STATUSES)})),
            source TEXT,
            submitted_by TEXT,
            channel_id TEXT,
            message_id TEXT,
            thread_id TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            posted_at TEXT,
            decided_at TEXT,
            decided_by TEXT
        )
        """,
        "CREATE INDEX idx_candidates_message_id ON candidates (message_id)",
        "CREATE INDEX idx_candidates_status ON candidates (status)",
        """
        CREATE TABLE votes (
            candidate TEXT NOT NULL REFERENCES candidates (arxiv_id) ON DELETE CASCADE,
            user_id TEXT NOT NULL,
            choice TEXT NOT NULL CHECK (choice IN ('approve', 'reject')),
            at TEXT NOT NULL,
            PRIMARY KEY (candidate, user_id, choice)
        )
        """,
        """
        CREATE TABLE feeds (
            url TEXT PRIMARY KEY,
            etag TEXT,
            last_modified TEXT,
            last_checked TEXT,
            last_success TEXT,
            last_changed TEXT,
            content_hash TEXT,
            last_error TEXT,
            consecutive_failures INTEGER NOT NULL DEFAULT 0,
            alerted INTEGER NOT NULL DEFAULT 0
        )
        """,
        f"""
        CREATE TABLE audit (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            at TEXT NOT NULL,
            arxiv_id TEXT,
            action TEXT NOT NULL CHECK (action IN ({_in(AUDIT_ACTIONS_V1)})),
            actor TEXT,
            how TEXT,
            detail TEXT NOT NULL DEFAULT '{{}}'
        )
        """,
        "CREATE INDEX idx_audit_arxiv_id ON audit (arxiv_id)",
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)",
        """
        CREATE TABLE models (
            id INTEGER PRIMARY KEY,
            version INTEGER NOT NULL UNIQUE,
            trained_at TEXT NOT NULL,
            n_train INTEGER NOT NULL,
            metrics TEXT NOT NULL DEFAULT '{}',
            blob BLOB NOT NULL
        )
        """,
        # Feed items that were scored but not flagged: the relevance model's weak negatives.
        """
        CREATE TABLE background (
            arxiv_id TEXT PRIMARY KEY,
            title TEXT NOT NULL,
            abstract TEXT,
            categories TEXT NOT NULL DEFAULT '[]',
            seen_at TEXT NOT NULL
        )
        """,
        "CREATE INDEX idx_background_seen_at ON background (seen_at)",
        # External content: the text lives once, in papers; the index holds only postings.
        f"""
        CREATE VIRTUAL TABLE papers_fts USING fts5 (
            {", ".join(FTS_COLUMNS)},
            content = 'papers', content_rowid = 'id',
            tokenize = 'porter unicode61 remove_diacritics 2'
        )
        """,
        *FTS_TRIGGERS,
    ]
    for sql in statements:
        db.execute(sql)


def _audit_table(name: str, actions: tuple[str, ...]) -> str:
    return f"""
        CREATE TABLE {name} (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            at TEXT NOT NULL,
            arxiv_id TEXT,
            action TEXT NOT NULL CHECK (action IN ({_in(actions)})),
            actor TEXT,
            how TEXT,
            detail TEXT NOT NULL DEFAULT '{{}}'
        )
        """


@_migration
def m002_stored_list(db: Database) -> None:
    # The README as last imported, so that what the maintainer changed can be told apart
    # from what paperbot inserted. A few versions are kept (see Catalog.save_list).
    db.execute(
        """
        CREATE TABLE lists (
            id INTEGER PRIMARY KEY,
            text TEXT NOT NULL,
            source TEXT NOT NULL,
            imported_at TEXT NOT NULL,
            sha256 TEXT NOT NULL
        )
        """
    )
    # SQLite cannot change a CHECK constraint in place: the audit table is rebuilt to allow
    # "remove" (an imported paper the maintainer took out of the list). Ids are kept.
    db.execute(_audit_table("audit_v2", AUDIT_ACTIONS))
    db.execute(
        "INSERT INTO audit_v2 (id, at, arxiv_id, action, actor, how, detail)"
        " SELECT id, at, arxiv_id, action, actor, how, detail FROM audit ORDER BY id"
    )
    # AUTOINCREMENT never reuses an id, even of a deleted row: its counter moves along.
    seq = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'audit'").fetchone()
    db.execute("DROP TABLE audit")
    db.execute("ALTER TABLE audit_v2 RENAME TO audit")
    db.execute("CREATE INDEX idx_audit_arxiv_id ON audit (arxiv_id)")
    if seq is not None:
        db.execute("DELETE FROM sqlite_sequence WHERE name = 'audit'")
        db.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('audit', ?)", [seq[0]])


@_migration
def m003_runner_up(db: Database) -> None:
    # The second-best section of a candidate, shown beside the suggested one.
    db.execute("ALTER TABLE candidates ADD COLUMN runner_up TEXT")


@contextmanager
def fts_bulk_load(conn: sqlite3.Connection) -> Iterator[None]:
    """Bulk-insert papers with the FTS triggers off, then rebuild the index once.

    Indexing row by row through triggers costs several times one rebuild at the end. The
    caller batches its inserts inside. The rebuild reads the whole papers table, so the
    index is right afterwards whatever changed meanwhile; searches inside the block do not
    see the new rows. The triggers come back even if the block fails.
    """
    for name in FTS_TRIGGER_NAMES:
        conn.execute(f"DROP TRIGGER IF EXISTS {name}")
    try:
        yield
    finally:
        with immediate(conn):
            conn.execute("INSERT INTO papers_fts (papers_fts) VALUES ('rebuild')")
            for sql in FTS_TRIGGERS:
                conn.execute(sql)
        conn.execute("INSERT INTO papers_fts (papers_fts) VALUES ('optimize')")
