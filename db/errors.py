"""Domain errors raised by db/ (catalog, awesome-list Markdown); only bot/ turns them into words."""

from __future__ import annotations

import sqlite3

from db.access import write_access
from feeds.errors import PaperbotError


class AwesomeListError(PaperbotError):
    """An awesome-list README that cannot take the requested change."""


class SectionNotInList(AwesomeListError, LookupError):
    """A paper filed under a `## Section` the list does not have."""

    def __init__(self, section: str | None, existing: list[str]) -> None:
        shown = ", ".join(existing) if existing else "(none)"
        what = f"the list has no section {section!r}" if section else "no section given"
        super().__init__(f"{what}; existing sections: {shown}")
        self.section = section
        self.existing = list(existing)


# -- the catalog -------------------------------------------------------------------------


class CatalogError(PaperbotError):
    """A catalog operation that cannot be done as asked."""


class InvalidArgument(CatalogError, ValueError):
    """An argument the catalog refuses (a naive datetime, an unknown choice, an empty name)."""


class NotFound(CatalogError, LookupError):
    """No candidate or catalog paper with that id."""

    def __init__(self, what: str, key: str) -> None:
        shown = key if len(key) <= 80 else key[:77] + "..."
        super().__init__(f"{shown!r} is not {what}")
        self.key = key


class InvalidState(CatalogError):
    """The record exists but is in a state that does not allow the operation."""


class CatalogClosed(CatalogError):
    """A call on a catalog after close()."""


class CatalogStorageError(CatalogError):
    """SQLite refused an operation on the catalog file; the sqlite3 error is the __cause__."""

    def __init__(self, path: str, message: str, reason: str) -> None:
        super().__init__(message)
        self.path = path
        self.reason = reason


class CatalogCorrupt(CatalogStorageError):
    """The catalog file is damaged or is not a SQLite database."""


class CatalogUnavailable(CatalogStorageError):
    """The catalog file cannot be opened, read or written (permissions, disk, missing folder)."""


class CatalogNotWritable(CatalogUnavailable):
    """This user may not write the catalog file or its folder: an owner or a mode to fix
    (the message says which, and the `chown` that fixes it), not damage."""


class CatalogLocked(CatalogUnavailable):
    """Another process held the catalog's write lock for longer than the busy timeout."""


class CatalogFull(CatalogUnavailable):
    """The disk holding the catalog is full: nothing was written, and space may come back."""


class CatalogIntegrityError(CatalogStorageError):
    """A write that breaks one of the schema's rules (a missing title, a duplicate key)."""


# SQLite's primary result codes (the low byte of an extended code).
_BUSY, _LOCKED = 5, 6
_CORRUPT, _NOTADB = 11, 26
_FULL = 13
# PERM, READONLY, IOERR, FULL, CANTOPEN, PROTOCOL, NOLFS
_UNAVAILABLE = frozenset({3, 8, 10, 13, 14, 15, 22})
# PERM, READONLY, CANTOPEN: what a file or folder this user may not write gives
_ACCESS = frozenset({3, 8, 14})


def _one_line(text: str) -> str:
    return " ".join(text.split()) or "unknown error"


def is_bug(exc: sqlite3.Error) -> bool:
    """A sqlite3 error that says the code is wrong (a bad parameter, a misused API), not that
    the file or the disk is: left unwrapped, so it shows as the bug it is."""
    if isinstance(exc, sqlite3.ProgrammingError) and "closed" in str(exc).lower():
        return False  # a call after close(): CatalogClosed
    return isinstance(
        exc, sqlite3.ProgrammingError | sqlite3.InterfaceError | sqlite3.NotSupportedError
    )


def storage_error(path: str, exc: sqlite3.Error) -> CatalogError:
    """The catalog error for a sqlite3 error on `path`: one line saying what happened (the
    adapters add what to do about it)."""
    reason = _one_line(str(exc))
    code = getattr(exc, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    low = reason.lower()
    if isinstance(exc, sqlite3.ProgrammingError) and "closed" in low:
        return CatalogClosed(f"{path}: the catalog is closed")
    if primary in (_CORRUPT, _NOTADB) or "malformed" in low or "not a database" in low:
        return CatalogCorrupt(
            path,
            f"{path}: the catalog is damaged ({reason})",
            reason,
        )
    if primary in (_BUSY, _LOCKED) or "locked" in low:
        return CatalogLocked(
            path,
            f"{path}: the catalog is busy in another process ({reason})",
            reason,
        )
    if primary == _FULL or "disk is full" in low:
        return CatalogFull(
            path,
            f"{path}: the disk holding the catalog is full ({reason}); nothing was written",
            reason,
        )
    if primary in _ACCESS or "readonly" in low or "unable to open" in low:
        access = write_access(path)
        if access is not None:
            return CatalogNotWritable(path, f"{path}: the catalog cannot be used: {access}", reason)
    if primary in _UNAVAILABLE or "unable to open" in low or "disk" in low:
        return CatalogUnavailable(
            path,
            f"{path}: the catalog cannot be used ({reason})",
            reason,
        )
    if isinstance(exc, sqlite3.IntegrityError):
        return CatalogIntegrityError(
            path, f"{path}: the catalog refused a record ({reason})", reason
        )
    return CatalogStorageError(path, f"{path}: the catalog failed ({reason})", reason)
