"""sqlite3 errors become catalog errors a person can act on, and a job can tell passing ones."""

from __future__ import annotations

import sqlite3

import pytest

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


def test_a_programming_error_is_not_dressed_as_a_storage_failure() -> None:
    from db.catalog import Catalog

    catalog = Catalog(":memory:")
    try:
        with pytest.raises(sqlite3.ProgrammingError):
            catalog.get_candidate(object())  # type: ignore[arg-type]
    finally:
        catalog.close()


def test_db_says_what_happened_and_leaves_the_advice_to_the_adapters() -> None:
    for exc in (
        sqlite3.DatabaseError("database disk image is malformed"),
        sqlite3.OperationalError("database is locked"),
        sqlite3.OperationalError("unable to open database file"),
    ):
        said = str(storage_error("c.db", exc))
        assert "paperbot" not in said and ";" not in said, said
