"""Tests for the catalog's storage edges: sqlite3 errors as catalog errors, argument checks,
the typed vocabularies, model and list storage, removals, and upgrading an older file."""

from __future__ import annotations

import hashlib
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

import db.schema as schema
from db.catalog import (
    LISTS_KEPT,
    MODELS_KEPT,
    AddedHow,
    AuditAction,
    CandidateStatus,
    Catalog,
    CatalogClosed,
    CatalogCorrupt,
    CatalogError,
    CatalogLocked,
    InvalidArgument,
    ModelInfo,
    Ranking,
    SearchMode,
    StoredList,
    StoredModel,
    public_methods,
)
from feeds.errors import PaperbotError
from tests.db import T0, Listed, item

# -- sqlite3 errors become catalog errors ------------------------------------------------


def test_every_public_method_wraps_sqlite_errors() -> None:
    unwrapped = [
        n for n in public_methods() if not getattr(getattr(Catalog, n), "__catalog_public__", False)
    ]
    assert unwrapped == []


def test_a_file_that_is_not_a_database_is_reported_as_damaged(path: Path) -> None:
    path.write_bytes(b"this is not a sqlite file, just some text " * 200)
    with pytest.raises(CatalogCorrupt) as err:
        Catalog(path)
    message = str(err.value)
    assert message.startswith(f"{path}: the catalog is damaged (")
    assert "paperbot" not in message and "\n" not in message  # the advice is the CLI's
    assert isinstance(err.value, PaperbotError) and isinstance(err.value.__cause__, sqlite3.Error)
    assert err.value.path == str(path)


def test_damage_found_after_opening_is_reported_as_damaged(path: Path) -> None:
    with Catalog(path) as cat:
        entries = [Listed(f"k{n}", f"Title number {n} " + "words " * 50) for n in range(400)]
        cat.import_entries(entries, "m", T0)
        cat.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray(path.read_bytes())
    page = 4096
    assert len(data) > 20 * page
    # Keep the header and the schema page; scribble over the pages of the tables.
    for offset in range(2 * page, len(data) - page, page):
        data[offset : offset + 64] = b"\xff" * 64
    path.write_bytes(bytes(data))
    with pytest.raises(CatalogCorrupt, match="damaged"), Catalog(path) as cat:
        cat.papers()
        cat.search("title number")


def test_a_writer_in_another_process_past_the_busy_timeout_is_reported_as_locked(
    cat: Catalog, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        cat.conn.execute("PRAGMA busy_timeout = 100")
        with pytest.raises(CatalogLocked) as err:
            cat.meta_set("k", "v")
        assert "locked" in str(err.value) and str(path) in str(err.value)
        assert not cat.conn.in_transaction
        # Readers are never blocked by a writer (WAL).
        assert cat.meta_get("k") is None
        other.execute("COMMIT")
    finally:
        other.close()
    cat.meta_set("k", "v")
    assert cat.meta_get("k") == "v"


def test_opening_a_file_held_by_a_migrating_process_waits_then_reports_locked(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(schema, "BUSY_TIMEOUT_MS", 200)
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("PRAGMA journal_mode = WAL")
        other.execute("BEGIN IMMEDIATE")
        other.execute("CREATE TABLE unrelated (x)")
        with pytest.raises(CatalogLocked):
            Catalog(path)
        other.execute("COMMIT")
    finally:
        other.close()
    with Catalog(path) as cat:
        assert cat.stats().papers == 0


def test_a_closed_catalog_says_so(path: Path) -> None:
    cat = Catalog(path)
    cat.close()
    with pytest.raises(CatalogClosed, match="closed"):
        cat.stats()
    with pytest.raises(CatalogClosed):
        cat.meta_set("k", "v")


def test_a_missing_folder_is_a_catalog_error(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="missing"):
        Catalog(tmp_path / "missing" / "c.db")


# -- argument checks ---------------------------------------------------------------------


def test_naive_datetimes_are_invalid_arguments(cat: Catalog) -> None:
    naive = datetime(2024, 1, 1)
    cat.store_candidates([item("2401.00001")], "feed", T0)
    calls = [
        lambda: cat.store_candidates([item("2401.00002")], "feed", naive),
        lambda: cat.set_vote("2401.00001", "u", "approve", True, naive),
        lambda: cat.decide("2401.00001", True, "a", "cli", naive),
        lambda: cat.expire(naive, 14),
        lambda: cat.save_list("# list\n", "import", naive),
        lambda: cat.save_model(b"m", 1, {}, naive),
        lambda: cat.import_entries([Listed("k", "t")], "m", naive),
    ]
    for call in calls:
        with pytest.raises(InvalidArgument, match="naive"):
            call()
    assert cat.get_candidate("2401.00002") is None and cat.papers() == []


@pytest.mark.parametrize("how", ["import", "votes", "", "Curator"])
def test_decide_takes_only_vote_curator_or_cli(cat: Catalog, how: str) -> None:
    cat.store_candidates([item("2401.00001")], "feed", T0)
    with pytest.raises(InvalidArgument, match=r"one of (cli|vote), curator"):
        cat.decide("2401.00001", True, "a", how, T0)  # type: ignore[arg-type]
    candidate = cat.get_candidate("2401.00001")
    assert candidate is not None and candidate.status == "new"


def test_other_bad_arguments_are_catalog_errors_and_value_errors(cat: Catalog) -> None:
    cat.store_candidates([item("2401.00001")], "feed", T0)
    for call in (
        lambda: cat.set_vote("2401.00001", "u", "maybe", True, T0),  # type: ignore[arg-type]
        lambda: cat.replace_votes("2401.00001", {"u": ["meh"]}, T0),  # type: ignore[list-item]
        lambda: cat.candidates(status="pending"),  # type: ignore[arg-type]
        lambda: cat.set_section("2401.00001", "   ", "carol", T0),
    ):
        with pytest.raises(InvalidArgument) as err:
            call()
        assert isinstance(err.value, CatalogError) and isinstance(err.value, ValueError)


# -- typed vocabularies ------------------------------------------------------------------


def test_records_carry_the_vocabularies_as_enums_equal_to_their_text(cat: Catalog) -> None:
    cat.store_candidates([item("2401.00001"), item("2401.00002")], "feed", T0)
    candidate = cat.get_candidate("2401.00001")
    assert candidate is not None
    assert candidate.status is CandidateStatus.NEW and candidate.status == "new"
    decision = cat.decide("2401.00001", True, "votes", AddedHow.VOTE, T0)
    assert decision.status is CandidateStatus.APPROVED
    listed = cat.get_paper("2401.00001")
    assert listed is not None and listed.added_how is AddedHow.VOTE
    assert cat.set_section("2401.00001", "Grokking", "c", T0) == "paper"
    assert cat.set_section("2401.00001", "Grokking", "c", T0) == "unchanged"
    assert cat.set_section("2401.00002", "Grokking", "c", T0) == "candidate"
    assert [a.action for a in cat.audit("2401.00001")] == [AuditAction.APPROVE, "section"]
    assert cat.audit("2401.00001")[0].how == "vote"
    assert cat.candidates(status=CandidateStatus.APPROVED)[0].arxiv_id == "2401.00001"
    stats = cat.stats()
    assert stats.papers_by_how == {AddedHow.VOTE: 1}
    assert stats.candidates_by_status == {CandidateStatus.NEW: 1, CandidateStatus.APPROVED: 1}
    page = cat.search("2401.00001")
    assert (page.mode, page.ranking) == (SearchMode.ID, Ranking.ID)
    browse = cat.search("")
    assert (browse.mode, browse.ranking) == (SearchMode.BROWSE, Ranking.RECENT)
    assert cat.search("paper").ranking is Ranking.BM25


# -- models ------------------------------------------------------------------------------


def test_only_the_newest_models_are_kept_and_info_skips_the_blob(cat: Catalog) -> None:
    assert cat.latest_model() is None and cat.model_info() is None
    for n in range(1, 6):
        assert (
            cat.save_model(bytes([n]) * (100 * n), 10 * n, {"f1": n / 10}, T0 + timedelta(days=n))
            == n
        )
    kept = [r[0] for r in cat.conn.execute("SELECT version FROM models ORDER BY version")]
    assert kept == list(range(6 - MODELS_KEPT, 6))
    assert cat.latest_model() == StoredModel(
        5, T0 + timedelta(days=5), 50, {"f1": 0.5}, b"\x05" * 500
    )
    assert cat.model_info() == ModelInfo(5, T0 + timedelta(days=5), 50, {"f1": 0.5}, size=500)
    assert cat.save_model(b"next", 1, {}, T0) == 6


# -- the stored list ---------------------------------------------------------------------


def test_the_list_is_stored_byte_exact_and_saving_it_again_changes_nothing(
    cat: Catalog, path: Path
) -> None:
    assert cat.current_list() is None
    text = "# Awesome\r\n\r\n## Grokking\r\n\r\n- Ünïcödé — “quotes” 🙂\r\n"
    saved = cat.save_list(text, "import", T0)
    assert saved == StoredList(text, "import", T0, hashlib.sha256(text.encode()).hexdigest())
    again = cat.save_list(text, "import", T0 + timedelta(days=1))
    assert again == saved
    assert cat.conn.execute("SELECT count(*) FROM lists").fetchone()[0] == 1
    published = cat.save_list(text + "- one more\r\n", "publish", T0 + timedelta(days=2))
    assert published.imported_at == T0 + timedelta(days=2)
    cat.close()
    with Catalog(path) as reopened:
        assert reopened.current_list() == published


def test_only_the_newest_lists_are_kept(cat: Catalog) -> None:
    for n in range(LISTS_KEPT + 5):
        cat.save_list(f"# v{n}\n", "import", T0 + timedelta(minutes=n))
    texts = [r[0] for r in cat.conn.execute("SELECT text FROM lists ORDER BY id")]
    assert texts == [f"# v{n}\n" for n in range(5, LISTS_KEPT + 5)]
    current = cat.current_list()
    assert current is not None and current.text == f"# v{LISTS_KEPT + 4}\n"


# -- removing what the maintainer removed ------------------------------------------------


def test_remove_imported_deletes_only_imported_papers_missing_from_the_list(cat: Catalog) -> None:
    entries = [
        Listed("1912.02292", "Deep double descent", arxiv_id="1912.02292", section="DD"),
        Listed("openreview:abc", "Lottery tickets revisited", section="LT"),
        Listed("2003.01054", "Grokking", arxiv_id="2003.01054", section="G"),
    ]
    cat.import_entries(entries, "m", T0)
    cat.store_candidates([item("2401.00001", "Voted in about tickets")], "feed", T0)
    cat.decide("2401.00001", True, "votes", "vote", T0)
    removed = cat.remove_imported({"2003.01054"}, "maintainer", T0 + timedelta(hours=1))
    assert removed == ["1912.02292", "openreview:abc"]
    assert [p.key for p in cat.papers()] == ["2003.01054", "2401.00001"]
    assert [h.paper.key for h in cat.search("tickets").hits] == ["2401.00001"]
    entry = cat.audit_log(arxiv_id="openreview:abc")[0]
    assert (entry.action, entry.actor, entry.detail["section"]) == ("remove", "maintainer", "LT")
    assert cat.remove_imported({"2003.01054"}, "maintainer", T0) == []
    # Importing it again brings it back.
    assert cat.import_entries(entries[:1], "m", T0).added == ["1912.02292"]


# -- upgrading an older file -------------------------------------------------------------


def test_a_file_of_the_first_schema_is_upgraded_keeping_its_audit_trail(path: Path) -> None:
    first = Migrations("paperbot")
    first()(schema.m001_initial)
    conn = sqlite3.connect(path)
    db = Database(conn)
    first.apply(db)
    for n in range(3):
        conn.execute(
            "INSERT INTO audit (at, arxiv_id, action, actor, how) VALUES (?, ?, 'vote', 'u', 'r')",
            [T0.isoformat(), f"2401.0000{n}"],
        )
    conn.execute("DELETE FROM audit WHERE id = 3")  # AUTOINCREMENT: id 3 is never reused
    conn.commit()
    conn.close()
    with Catalog(path) as cat:
        assert [(a.id, a.arxiv_id) for a in cat.audit_log()] == [
            (2, "2401.00001"),
            (1, "2401.00000"),
        ]
        cat.import_entries([Listed("k", "Title")], "m", T0)
        cat.remove_imported(set(), "m", T0)
        assert [a.id for a in cat.audit_log()] == [5, 4, 2, 1]
        assert [a.action for a in cat.audit_log(limit=2)] == ["remove", "import"]
        with pytest.raises(sqlite3.IntegrityError):
            cat.conn.execute("INSERT INTO audit (at, action) VALUES ('x', 'bogus')")
        applied = [r[0] for r in cat.conn.execute("SELECT name FROM _sqlite_migrations")]
        assert applied == ["m001_initial", "m002_stored_list", "m003_runner_up"]


def test_a_write_inside_a_write_is_undone_alone(path: Path) -> None:
    """`immediate` inside a transaction is a savepoint of it: its failure undoes it alone."""
    conn = schema.connect(path)
    schema.migrate(conn)
    meta = "INSERT INTO meta (key, value) VALUES (?, ?)"
    with schema.immediate(conn):
        conn.execute(meta, ["outer", "1"])
        with pytest.raises(RuntimeError), schema.immediate(conn):
            conn.execute(meta, ["inner", "2"])
            raise RuntimeError("the inner step fails")
        with schema.immediate(conn):
            conn.execute(meta, ["second", "3"])
    assert not conn.in_transaction
    assert [r[0] for r in conn.execute("SELECT key FROM meta ORDER BY key")] == ["outer", "second"]
    conn.close()


def test_opening_an_up_to_date_catalog_applies_nothing(path: Path) -> None:
    """The migrations are read with plain SQL; sqlite-utils applies them only when one is
    missing (and a file made by the first schema gets the rest)."""
    Catalog(path).close()
    conn = schema.connect(path)
    assert schema.applied_migrations(conn) == schema.migration_names()
    conn.execute("DELETE FROM _sqlite_migrations WHERE name = 'm003_runner_up'")
    with pytest.raises(sqlite3.OperationalError, match="duplicate column"):
        schema.migrate(conn)  # it tried to apply the missing one: the column is there
    conn.close()
