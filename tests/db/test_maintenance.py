"""Integrity checks and backups: a consistent copy while others write, restored as the README says."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest

from db.catalog import Catalog, CatalogCorrupt
from db.maintenance import BackupError, backup_catalog, check_catalog
from tests.db import T0, item


def _filled(path: Path, n: int = 200) -> None:
    with Catalog(path) as cat:
        cat.store_candidates([item(f"2401.{10000 + i}") for i in range(n)], "feed", T0)


def test_a_healthy_catalog_passes_the_quick_and_the_full_check(tmp_path: Path) -> None:
    path = tmp_path / "paperbot.db"
    _filled(path)
    for full in (False, True):
        check = check_catalog(path, full=full)
        assert check.ok and check.full is full
        assert check.counts["candidates"] == 200
        assert check.migrations and not check.pending


def test_a_missing_file_and_a_damaged_one_are_problems_not_crashes(tmp_path: Path) -> None:
    assert not check_catalog(tmp_path / "none.db").ok
    path = tmp_path / "paperbot.db"
    _filled(path, 2000)
    data = bytearray(path.read_bytes())
    # Pages in the middle overwritten: the header still says SQLite.
    data[len(data) // 2 : len(data) // 2 + 8192] = b"\xa5" * 8192
    path.write_bytes(bytes(data))
    check = check_catalog(path, full=True)
    assert not check.ok and check.problems
    assert all(str(path) in p for p in check.problems)


def test_a_backup_taken_while_another_connection_writes_is_consistent_and_restores(
    tmp_path: Path,
) -> None:
    path = tmp_path / "paperbot.db"
    _filled(path, 50)
    stop = threading.Event()

    def writer() -> None:
        with Catalog(path) as cat:
            n = 0
            while not stop.is_set():
                cat.meta_set(f"k{n}", "v")
                n += 1

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        result = backup_catalog(path, tmp_path / "backups" / "b.db")
    finally:
        stop.set()
        thread.join()
    assert result.bytes > 0
    assert check_catalog(result.target, full=True).ok
    # Restore as the README says: copy over the catalog, delete the -wal and -shm beside it.
    path.write_bytes(b"garbage" * 1000)
    with pytest.raises(CatalogCorrupt, match="the catalog is damaged"):
        Catalog(path)
    shutil.copyfile(result.target, path)
    for suffix in ("-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    with Catalog(path) as cat:
        assert len(cat.candidates()) == 50


def test_a_backup_never_overwrites_the_catalog_and_needs_a_source(tmp_path: Path) -> None:
    path = tmp_path / "paperbot.db"
    with pytest.raises(BackupError, match="no catalog file"):
        backup_catalog(path, tmp_path / "b.db")
    _filled(path, 1)
    with pytest.raises(BackupError, match="cannot overwrite the catalog"):
        backup_catalog(path, path)


@pytest.mark.parametrize("where", ["/proc/x.db", "FILE/x.db"])
def test_a_target_that_takes_no_file_is_blamed_not_the_catalog(tmp_path: Path, where: str) -> None:
    path = tmp_path / "paperbot.db"
    _filled(path, 1)
    (tmp_path / "FILE").write_text("a file, not a folder")
    target = Path(where) if where.startswith("/") else tmp_path / where
    with pytest.raises(BackupError) as caught:
        backup_catalog(path, target)
    message = str(caught.value)
    assert message.startswith(f"{target}: cannot write the backup there")
    assert str(path) not in message and "\n" not in message
