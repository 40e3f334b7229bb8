"""sqlite3 errors become catalog errors a person can act on, and a job can tell passing ones."""

from __future__ import annotations

import sqlite3

from db.errors import (
    CatalogCorrupt,
    CatalogFull,
    CatalogLocked,
    CatalogUnavailable,
    storage_error,
)


def test_a_full_disk_is_its_own_passing_kind() -> None:
    error = storage_error("/data/paperbot.db", sqlite3.OperationalError("database or disk is full"))
    assert isinstance(error, CatalogFull) and isinstance(error, CatalogUnavailable)
    assert str(error).startswith("/data/paperbot.db: the disk holding the catalog is full")
    assert "nothing was written" in str(error)


def test_locked_damaged_and_unopenable_stay_apart() -> None:
    locked = storage_error("c.db", sqlite3.OperationalError("database is locked"))
    damaged = storage_error("c.db", sqlite3.DatabaseError("database disk image is malformed"))
    closed = storage_error("c.db", sqlite3.OperationalError("unable to open database file"))
    assert isinstance(locked, CatalogLocked) and not isinstance(locked, CatalogFull)
    assert isinstance(damaged, CatalogCorrupt)
    assert type(closed) is CatalogUnavailable
