"""Catalog upkeep outside the running catalog: integrity checks and consistent backups."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field, replace
from pathlib import Path

from db.access import WriteAccess, write_access
from db.errors import CatalogError
from db.schema import MIGRATION_SET, migration_names


class BackupError(CatalogError):
    """A backup that could not be written."""


@dataclass(frozen=True)
class CatalogCheck:
    """What `paperbot doctor` found in the catalog file."""

    path: Path
    exists: bool
    readable: bool = False
    full: bool = False  # integrity_check (every page) rather than quick_check
    problems: list[str] = field(default_factory=list)
    migrations: list[str] = field(default_factory=list)  # applied, oldest first
    pending: list[str] = field(default_factory=list)  # known to this paperbot, not applied yet
    counts: dict[str, int] = field(default_factory=dict)
    # The full-text index disagrees with the papers (None: not checked): the papers are
    # intact, and `rebuild_search_index` makes the index again from them.
    search_index_damaged: bool | None = None
    # This user may not write the file or its folder (an owner to fix, not damage).
    not_writable: WriteAccess | None = None

    @property
    def ok(self) -> bool:
        return self.exists and self.readable and not self.problems


_COUNTED = ("papers", "candidates", "votes", "feeds", "models", "background", "lists")


def check_catalog(
    path: str | Path, *, full: bool = False, search_index: bool = True
) -> CatalogCheck:
    """Open the file read-only (never migrating or repairing it) and check it.

    `quick_check` by default (seconds on a large file); `integrity_check` with `full`, which
    also verifies every index against its table. With `search_index`, FTS5's own check of
    the full-text index too (it reads the whole index: not for a health check each minute).
    """
    path = Path(path)
    access = write_access(path)
    if not path.exists():
        return CatalogCheck(
            path, exists=False, problems=[f"{path}: no catalog file yet"], not_writable=access
        )
    check = _read_check(path, full=full, search_index=search_index, immutable=False)
    if access is None:
        return check
    if not check.readable:
        # Without write access to the folder, SQLite cannot open a WAL file's -shm beside
        # it: read the file as it is on disk, which is all a check needs.
        check = _read_check(path, full=full, search_index=False, immutable=True)
    if check.readable and not check.problems:
        kind = "full integrity check" if full else "quick check"
        said = f"{path}: intact ({kind} passed), but {access}"
    else:
        said = f"{path}: {access}"
    return replace(check, problems=[*check.problems, said], not_writable=access)


def _read_check(path: Path, *, full: bool, search_index: bool, immutable: bool) -> CatalogCheck:
    problems: list[str] = []
    migrations: list[str] = []
    counts: dict[str, int] = {}
    mode = "ro&immutable=1" if immutable else "ro"
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode={mode}", uri=True, timeout=10)
    except sqlite3.Error as exc:
        return CatalogCheck(path, exists=True, problems=[f"{path}: cannot open: {exc}"])
    try:
        pragma = "integrity_check" if full else "quick_check"
        rows = [r[0] for r in conn.execute(f"PRAGMA {pragma}(20)")]
        if rows != ["ok"]:
            problems += [f"{path}: {line}" for row in rows for line in _lines(row)]
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "_sqlite_migrations" in tables:
            migrations = [
                r[0]
                for r in conn.execute(
                    "SELECT name FROM _sqlite_migrations WHERE migration_set = ? ORDER BY applied_at",
                    [MIGRATION_SET],
                )
            ]
        elif tables:
            problems.append(f"{path}: not a paperbot catalog (no migration table)")
        for table in _COUNTED:
            if table in tables:
                counts[table] = int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    except sqlite3.Error as exc:
        problems.append(f"{path}: the catalog is damaged ({exc})")
        return CatalogCheck(path, exists=True, readable=False, full=full, problems=problems)
    finally:
        conn.close()
    damaged = None
    if search_index and "papers_fts" in tables and not problems:
        damaged = _search_index_damaged(path)
        if damaged:
            problems.append(
                f"{path}: the full-text index is damaged (the papers are intact);"
                " `paperbot doctor --repair` rebuilds it from them"
            )
    known = migration_names()
    pending = [name for name in known if name not in migrations]
    unknown = [name for name in migrations if name not in known]
    if unknown:
        problems.append(
            f"{path}: made by a newer paperbot (migrations {', '.join(unknown)}); upgrade paperbot"
        )
    return CatalogCheck(path, True, True, full, problems, migrations, pending, counts, damaged)


def _search_index_damaged(path: Path) -> bool | None:
    """FTS5's own integrity check of the papers' index; None when it cannot be run.

    FTS5 runs it as an INSERT of a command, which a read-only connection refuses although
    it writes nothing: this one connection is opened read-write, and rolled back."""
    try:
        conn = sqlite3.connect(
            f"{path.resolve().as_uri()}?mode=rw", uri=True, timeout=10, isolation_level=None
        )
    except sqlite3.Error:
        return None
    try:
        conn.execute("BEGIN")
        conn.execute("INSERT INTO papers_fts (papers_fts, rank) VALUES ('integrity-check', 0)")
        return False
    except sqlite3.DatabaseError as exc:
        if "readonly" in str(exc) or "locked" in str(exc) or "busy" in str(exc):
            return None
        return True
    finally:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        conn.close()


def rebuild_search_index(path: str | Path) -> int:
    """The catalog file's full-text index made again from its papers (`Catalog.
    rebuild_search_index`); the number of papers indexed. Raises CatalogError."""
    from db.catalog import Catalog

    with Catalog(path) as catalog:
        return catalog.rebuild_search_index()


def _lines(text: str) -> list[str]:
    """integrity_check rows may hold several lines ("*** in database main ***\nPage 3: …")."""
    return [" ".join(line.split()) for line in text.splitlines() if line.strip("* \t")]


def _first_line(text: str) -> str:
    found = _lines(text)
    return found[0] if found else "integrity check failed"


class _Damaged(Exception):
    """The copy's integrity check failed."""


# SQLITE_CORRUPT and SQLITE_NOTADB: the file, not the moment, is at fault.
_CORRUPT = (11, 26)


@dataclass(frozen=True)
class BackupResult:
    source: Path
    target: Path
    bytes: int
    pages: int


def backup_catalog(source: str | Path, target: str | Path) -> BackupResult:
    """A consistent copy of the catalog, taken with SQLite's online backup while others write.

    The copy is written next to the target and renamed into place, so a failure never
    leaves half a backup under the target's name; an existing target is replaced.
    """
    source, target = Path(source), Path(target)
    if not source.exists():
        raise BackupError(f"{source}: no catalog file to back up")
    if target.resolve() == source.resolve():
        raise BackupError(f"{target}: a backup cannot overwrite the catalog itself")
    partial = target.with_name(target.name + ".partial")
    try:
        # First the target's side: a folder that takes no file is the target's fault, not
        # the catalog's (SQLite would only say "unable to open database file").
        target.parent.mkdir(parents=True, exist_ok=True)
        partial.unlink(missing_ok=True)
        partial.open("wb").close()
    except OSError as exc:
        raise BackupError(
            f"{target}: cannot write the backup there: {exc.strerror or exc}"
        ) from exc
    try:
        src = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
        try:
            dst = sqlite3.connect(partial)
            try:
                src.backup(dst, pages=1024)
                dst.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
                pages = int(dst.execute("PRAGMA page_count").fetchone()[0])
                # A damaged catalog makes a damaged copy: refuse it rather than call it a backup.
                verdict = [r[0] for r in dst.execute("PRAGMA quick_check(5)")]
                if verdict != ["ok"]:
                    raise _Damaged(_first_line(verdict[0]))
            finally:
                dst.close()
        finally:
            src.close()
        partial.replace(target)
    except (_Damaged, sqlite3.DatabaseError) as exc:
        if isinstance(exc, sqlite3.DatabaseError) and exc.sqlite_errorcode & 0xFF not in _CORRUPT:
            partial.unlink(missing_ok=True)
            raise BackupError(f"{source}: backup failed: {exc}") from exc
        partial.unlink(missing_ok=True)
        raise BackupError(
            f"{source}: the catalog is damaged ({exc}); the copy would be too:"
            " run `paperbot doctor`"
        ) from exc
    except sqlite3.Error as exc:
        partial.unlink(missing_ok=True)
        raise BackupError(f"{source}: backup failed: {exc}") from exc
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise BackupError(f"{target}: cannot write the backup: {exc.strerror or exc}") from exc
    return BackupResult(source, target, target.stat().st_size, pages)
