"""Tests for db.catalog: schema, candidates, votes, decisions, imports and state, on real SQLite files."""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from db.catalog import (
    Candidate,
    Catalog,
    CatalogIntegrityError,
    CatalogPaper,
    InvalidArgument,
    InvalidState,
    NotFound,
    StoredModel,
    first_version_year,
)
from feeds.errors import PaperbotError
from feeds.models import FeedState
from tests.db import T0, Listed, item, match, paper, update


def dump(path: Path) -> list[str]:
    """Every row of every table, read by a separate plain connection."""
    conn = sqlite3.connect(path)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


def audit_actions(cat: Catalog, arxiv_id: str | None = None) -> list[str]:
    return [a.action for a in reversed(cat.audit_log(limit=1000, arxiv_id=arxiv_id))]


# -- schema ------------------------------------------------------------------------------


def test_migrations_run_once_and_reopening_changes_nothing(path: Path) -> None:
    Catalog(path).close()
    before = dump(path)
    Catalog(path).close()
    assert dump(path) == before
    conn = sqlite3.connect(path)
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {
        "papers",
        "candidates",
        "votes",
        "feeds",
        "audit",
        "meta",
        "models",
        "papers_fts",
        "lists",
    } <= names
    applied = conn.execute("SELECT name FROM _sqlite_migrations").fetchall()
    assert applied == [("m001_initial",), ("m002_stored_list",), ("m003_runner_up",)]
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


def test_connection_settings(cat: Catalog) -> None:
    assert cat.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert cat.conn.execute("PRAGMA busy_timeout").fetchone()[0] == 5000
    assert cat.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_rows_read_well_as_plain_sqlite(cat: Catalog, path: Path) -> None:
    cat.store_candidates([item("2401.00001", "Grokking explained")], "https://feed", T0)
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    row = conn.execute("SELECT * FROM candidates").fetchone()
    assert row["authors"] == '["Ada Lovelace", "Alan Turing"]'
    assert row["created_at"] == "2024-11-28T12:00:00+00:00"
    assert row["announced"] == "2024-11-28T00:00:00+00:00"
    assert row["status"] == "new" and row["source"] == "https://feed"
    conn.close()


def test_naive_datetimes_are_refused(cat: Catalog) -> None:
    with pytest.raises(ValueError, match="naive"):
        cat.store_candidates([item("2401.00001")], "feed", datetime(2024, 1, 1))


# -- storing a poll ----------------------------------------------------------------------


def test_store_candidates_is_idempotent(cat: Catalog, path: Path) -> None:
    items = [item("2401.00001", score=0.9), item("2401.00002", score=0.7)]
    first = cat.store_candidates(items, "feed", T0)
    assert first.new == ["2401.00001", "2401.00002"]
    before = dump(path)
    again = cat.store_candidates(items, "feed", T0 + timedelta(hours=1))
    assert again.new == [] and again.updated == []
    assert again.unchanged == ["2401.00001", "2401.00002"]
    assert dump(path) == before


def test_only_flagged_papers_become_candidates(cat: Catalog) -> None:
    quiet = (paper("2401.00003"), match("2401.00003", 0.1, None, candidate=False))
    report = cat.store_candidates([item("2401.00001"), quiet], "feed", T0)
    assert report.new == ["2401.00001"] and report.not_candidates == ["2401.00003"]
    assert cat.get_candidate("2401.00003") is None
    assert [b.arxiv_id for b in cat.background(10)] == ["2401.00003"]


def test_a_reannounced_candidate_keeps_status_and_votes(cat: Catalog) -> None:
    cat.store_candidates([item("2401.00001")], "feed", T0)
    cat.mark_posted("2401.00001", "10", "20", None, T0)
    cat.set_vote("2401.00001", "u1", "approve", True, T0)
    report = cat.store_candidates([item("2401.00001")], "other-feed", T0 + timedelta(days=1))
    assert report.unchanged == ["2401.00001"]
    candidate = cat.get_candidate("2401.00001")
    assert candidate is not None and candidate.status == "posted"
    assert candidate.source == "feed"
    assert cat.tally("2401.00001").approve == {"u1"}


def test_an_update_refreshes_a_candidate_and_is_audited(cat: Catalog) -> None:
    cat.store_candidates([item("2401.00001", "Old title")], "feed", T0)
    report = cat.store_candidates([update("2401.00001", "New title")], "feed", T0)
    assert report.updated == ["2401.00001"] and report.new == []
    candidate = cat.get_candidate("2401.00001")
    assert candidate is not None
    assert (candidate.title, candidate.version, candidate.status) == ("New title", 2, "new")
    assert audit_actions(cat, "2401.00001") == ["update"]
    assert cat.audit_log(arxiv_id="2401.00001")[0].detail["version"] == [1, 2]
    # The same replacement again, and an older one replayed late: nothing changes.
    again = cat.store_candidates(
        [update("2401.00001", "New title"), update("2401.00001", "Stale", version=1)], "feed", T0
    )
    assert again.unchanged == ["2401.00001", "2401.00001"]
    assert audit_actions(cat, "2401.00001") == ["update"]


def test_an_update_never_creates_a_candidate(cat: Catalog) -> None:
    flagged_update = (
        paper("2401.00009", "Replaced", version=3, announce=update("x", "y")[0].announce_type),
        match("2401.00009", 0.99, candidate=True),
    )
    report = cat.store_candidates([update("2401.00008", "Unknown"), flagged_update], "feed", T0)
    assert report.ignored_updates == ["2401.00008", "2401.00009"]
    assert cat.candidates() == []
    assert audit_actions(cat) == []


def test_an_update_refreshes_a_catalog_paper(cat: Catalog) -> None:
    cat.store_candidates([item("2401.00001", "Old title", abstract="old words")], "feed", T0)
    cat.decide("2401.00001", True, "alice", "curator", T0)
    report = cat.store_candidates(
        [update("2401.00001", "Brand new title", abstract="fresh words")], "feed", T0
    )
    assert report.updated == ["2401.00001"]
    listed = cat.get_paper("2401.00001")
    assert listed is not None and listed.title == "Brand new title" and listed.version == 2
    assert listed.section == "Double Descent"  # the curated fields stay
    assert [h.paper.key for h in cat.search("fresh").hits] == ["2401.00001"]
    assert cat.search("old words").hits == []


def test_a_new_paper_already_in_the_catalog_is_not_a_candidate(cat: Catalog) -> None:
    cat.import_entries([Listed("2401.00001", "Listed", arxiv_id="2401.00001")], "x", T0)
    report = cat.store_candidates([item("2401.00001")], "feed", T0)
    assert report.already_in_catalog == ["2401.00001"]
    assert cat.get_candidate("2401.00001") is None


def test_a_failing_item_rolls_back_the_whole_poll(cat: Catalog, path: Path) -> None:
    cat.store_candidates([item("2401.00001")], "feed", T0)
    before = dump(path)
    broken = paper("2401.00003")
    broken.title = None  # type: ignore[assignment]  # violates NOT NULL
    items = [item("2401.00002"), update("2401.00001", "Changed"), (broken, match("2401.00003"))]
    with pytest.raises(CatalogIntegrityError, match="NOT NULL") as err:
        cat.store_candidates(items, "feed", T0)
    assert isinstance(err.value.__cause__, sqlite3.IntegrityError)
    assert str(path) in str(err.value)
    assert dump(path) == before
    # Rolled back, not merely uncommitted: the catalog's own connection sees nothing either.
    assert not cat.conn.in_transaction
    assert cat.get_candidate("2401.00002") is None
    kept = cat.get_candidate("2401.00001")
    assert kept is not None and kept.title == "Paper 2401.00001" and kept.version == 1


def test_an_exception_mid_poll_rolls_back(cat: Catalog, path: Path) -> None:
    before = dump(path)

    def items() -> Iterator:
        yield item("2401.00001")
        yield item("2401.00002")
        raise RuntimeError("the parser died half way")

    with pytest.raises(RuntimeError, match="half way"):
        cat.store_candidates(items(), "feed", T0)
    assert dump(path) == before
    assert not cat.conn.in_transaction and cat.candidates() == []
    # The connection is still usable afterwards.
    assert cat.store_candidates([item("2401.00001")], "feed", T0).new == ["2401.00001"]


# -- manual submissions, posting ---------------------------------------------------------


def test_add_candidate_creates_once(cat: Catalog) -> None:
    low = match("2401.00005", 0.05, None, candidate=False)
    record, created = cat.add_candidate(paper("2401.00005"), low, "erin", "add:42", T0)
    assert created and isinstance(record, Candidate)
    assert (record.submitted_by, record.source, record.status) == ("erin", "add:42", "new")
    again, created = cat.add_candidate(paper("2401.00005"), low, "bob", "cli", T0)
    assert not created and isinstance(again, Candidate) and again.submitted_by == "erin"
    assert audit_actions(cat, "2401.00005") == ["add"]


def test_add_candidate_of_a_listed_paper_returns_the_listing(cat: Catalog) -> None:
    cat.import_entries([Listed("2401.00001", "Listed", arxiv_id="2401.00001")], "x", T0)
    record, created = cat.add_candidate(paper("2401.00001"), match("2401.00001"), "e", "cli", T0)
    assert not created and isinstance(record, CatalogPaper) and record.title == "Listed"
    assert cat.get_candidate("2401.00001") is None


def test_to_post_orders_by_score_then_id_and_mark_posted(cat: Catalog) -> None:
    cat.store_candidates(
        [
            item("2401.00003", score=0.5),
            item("2401.00002", score=0.9),
            item("2401.00001", score=0.5),
        ],
        "feed",
        T0,
    )
    assert [c.arxiv_id for c in cat.to_post(2)] == ["2401.00002", "2401.00001"]
    posted = cat.mark_posted("2401.00002", 111, 222, None, T0)
    assert (posted.status, posted.channel_id, posted.message_id) == ("posted", "111", "222")
    cat.mark_posted("2401.00002", 111, 222, 333, T0 + timedelta(minutes=1))
    found = cat.candidate_by_message("222")
    assert found is not None and found.thread_id == "333" and found.posted_at == T0
    assert [c.arxiv_id for c in cat.to_post(10)] == ["2401.00001", "2401.00003"]
    assert {c.arxiv_id for c in cat.candidates(status=["new"])} == {"2401.00001", "2401.00003"}
    assert [c.arxiv_id for c in cat.candidates(status="posted")] == ["2401.00002"]
    with pytest.raises(NotFound):
        cat.mark_posted("2401.09999", 1, 2, None, T0)


# -- votes -------------------------------------------------------------------------------


def test_votes_add_remove_and_replays(cat: Catalog) -> None:
    cat.store_candidates([item("2401.00001")], "feed", T0)
    cat.set_vote("2401.00001", "u1", "approve", True, T0)
    cat.set_vote("2401.00001", "u1", "approve", True, T0)  # replayed event
    cat.set_vote("2401.00001", "u2", "reject", True, T0)
    tally = cat.set_vote("2401.00001", "u2", "approve", True, T0)  # u2 holds both
    assert tally.approve == {"u1", "u2"} and tally.reject == {"u2"}
    assert (tally.approvals, tally.rejections, tally.net) == (1, 0, 1)
    tally = cat.set_vote("2401.00001", "u2", "reject", False, T0)
    cat.set_vote("2401.00001", "u3", "reject", False, T0)  # removing what is not there
    assert tally.net == 2
    assert audit_actions(cat, "2401.00001") == ["vote", "vote", "vote", "unvote"]


def test_votes_on_a_decided_candidate_change_nothing(cat: Catalog) -> None:
    cat.store_candidates([item("2401.00001")], "feed", T0)
    cat.set_vote("2401.00001", "u1", "approve", True, T0)
    cat.decide("2401.00001", True, "votes", "vote", T0)
    tally = cat.set_vote("2401.00001", "u2", "reject", True, T0)
    assert tally.reject == set()
    assert cat.replace_votes("2401.00001", {}, T0).approve == {"u1"}


def test_vote_errors(cat: Catalog) -> None:
    cat.store_candidates([item("2401.00001")], "feed", T0)
    with pytest.raises(ValueError, match="choice"):
        cat.set_vote("2401.00001", "u1", "maybe", True, T0)
    with pytest.raises(NotFound, match=r"2401\.09999"):
        cat.set_vote("2401.09999", "u1", "approve", True, T0)


def test_replace_votes_reconciles_and_audits_differences(cat: Catalog) -> None:
    cat.store_candidates([item("2401.00001")], "feed", T0)
    cat.set_vote("2401.00001", "u1", "approve", True, T0)
    cat.set_vote("2401.00001", "u2", "approve", True, T0)
    before = len(cat.audit_log(arxiv_id="2401.00001"))
    tally = cat.replace_votes("2401.00001", {"u2": {"approve", "reject"}, "u3": {"reject"}}, T0)
    assert tally.approve == {"u2"} and tally.reject == {"u2", "u3"}
    entries = cat.audit_log(arxiv_id="2401.00001")[
        : len(cat.audit_log(arxiv_id="2401.00001")) - before
    ]
    assert sorted((e.action, e.actor, e.detail["choice"]) for e in entries) == [
        ("unvote", "u1", "approve"),
        ("vote", "u2", "reject"),
        ("vote", "u3", "reject"),
    ]
    assert all(e.how == "reconcile" for e in entries)
    count = len(cat.audit_log(limit=1000))
    cat.replace_votes("2401.00001", {"u2": {"approve", "reject"}, "u3": {"reject"}}, T0)
    assert len(cat.audit_log(limit=1000)) == count


# -- decisions ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arxiv_id", "year"),
    [
        ("2003.01054", 2020),
        ("hep-th/9901001", 1999),
        ("0704.0001", 2007),
        ("1501.00001", 2015),
        ("math/0611800", 2006),
        ("cond-mat/9107001", 1991),
        ("openreview:H1gBsgBYwH", None),
    ],
)
def test_first_version_year(arxiv_id: str, year: int | None) -> None:
    assert first_version_year(arxiv_id) == year


@pytest.mark.parametrize(("arxiv_id", "year"), [("2003.01054", 2020), ("hep-th/9901001", 1999)])
def test_approval_moves_the_paper_into_the_catalog(cat: Catalog, arxiv_id: str, year: int) -> None:
    cat.store_candidates([item(arxiv_id, "Deep double descent")], "feed", T0)
    decision = cat.decide(arxiv_id, True, "votes", "vote", T0 + timedelta(hours=2))
    assert (decision.status, decision.section, decision.changed) == (
        "approved",
        "Double Descent",
        True,
    )
    listed = cat.get_paper(arxiv_id)
    assert listed is not None
    assert (listed.key, listed.arxiv_id, listed.year, listed.section) == (
        arxiv_id, arxiv_id, year, "Double Descent",
    )  # fmt: skip
    assert (listed.added_how, listed.added_by) == ("vote", "votes")
    assert listed.added_at == T0 + timedelta(hours=2)
    assert listed.paper_url == f"https://arxiv.org/abs/{arxiv_id}"
    candidate = cat.get_candidate(arxiv_id)
    assert candidate is not None and candidate.status == "approved"
    assert candidate.decided_by == "votes" and candidate.decided_at == T0 + timedelta(hours=2)


def test_deciding_twice_changes_nothing(cat: Catalog, path: Path) -> None:
    cat.store_candidates([item("2401.00001"), item("2401.00002")], "feed", T0)
    cat.decide("2401.00001", True, "alice", "curator", T0, section="Grokking")
    cat.decide("2401.00002", False, "bob", "cli", T0)
    before = dump(path)
    again = cat.decide("2401.00001", False, "mallory", "cli", T0 + timedelta(days=1))
    assert (again.status, again.section, again.changed) == ("approved", "Grokking", False)
    assert not cat.decide("2401.00002", True, "mallory", "cli", T0).changed
    assert dump(path) == before
    assert cat.get_paper("2401.00002") is None
    assert audit_actions(cat) == ["approve", "reject"]


def test_section_precedence_on_approval(cat: Catalog) -> None:
    cat.store_candidates([item("2401.00001"), item("2401.00002")], "feed", T0)
    cat.set_section("2401.00001", "Interpretability", "carol", T0)
    assert cat.decide("2401.00001", True, "a", "cli", T0).section == "Interpretability"
    assert cat.decide("2401.00002", True, "a", "cli", T0, section="Scaling").section == "Scaling"
    listed = cat.get_paper("2401.00002")
    assert listed is not None and listed.added_how == "cli"


def test_deciding_an_unknown_id_is_a_domain_error(cat: Catalog) -> None:
    with pytest.raises(NotFound, match=r"'2401\.09999' is not a candidate") as err:
        cat.decide("2401.09999", True, "a", "cli", T0)
    assert isinstance(err.value, PaperbotError)


def test_set_section_on_a_catalog_paper_moves_it(cat: Catalog) -> None:
    cat.store_candidates([item("2401.00001")], "feed", T0)
    cat.decide("2401.00001", True, "a", "cli", T0)
    assert cat.set_section("2401.00001", "Grokking", "carol", T0) == "paper"
    listed = cat.get_paper("2401.00001")
    assert listed is not None and listed.section == "Grokking"
    assert cat.set_section("2401.00001", "Grokking", "carol", T0) == "unchanged"
    last = cat.audit_log(arxiv_id="2401.00001")[0]
    assert (last.action, last.actor, last.detail) == (
        "section", "carol", {"from": "Double Descent", "to": "Grokking"},
    )  # fmt: skip
    assert cat.papers(section="grokking")[0].key == "2401.00001"


def test_set_section_refuses_closed_candidates_and_unknown_ids(cat: Catalog) -> None:
    cat.store_candidates([item("2401.00001")], "feed", T0)
    cat.decide("2401.00001", False, "a", "cli", T0)
    with pytest.raises(InvalidState, match="rejected"):
        cat.set_section("2401.00001", "Grokking", "carol", T0)
    with pytest.raises(NotFound):
        cat.set_section("2401.09999", "Grokking", "carol", T0)


def test_expire(cat: Catalog) -> None:
    cat.store_candidates([item("2401.00001"), item("2401.00002")], "feed", T0)
    cat.store_candidates([item("2401.00003")], "feed", T0 + timedelta(days=10))
    cat.mark_posted("2401.00002", 1, 2, None, T0)
    cat.store_candidates([item("2401.00004")], "feed", T0)
    cat.decide("2401.00004", False, "a", "cli", T0)
    now = T0 + timedelta(days=14, seconds=1)
    assert cat.expire(now, 14) == ["2401.00001", "2401.00002"]
    assert cat.expire(now, 14) == []
    statuses = {c.arxiv_id: c.status for c in cat.candidates()}
    assert statuses == {
        "2401.00001": "expired", "2401.00002": "expired",
        "2401.00003": "new", "2401.00004": "rejected",
    }  # fmt: skip
    assert audit_actions(cat, "2401.00002") == ["expire"]
    # Expiry means nobody decided in time: a curator still can.
    assert cat.decide("2401.00001", True, "a", "cli", now).changed


# -- imports -----------------------------------------------------------------------------

ENTRIES = [
    Listed(
        key="1912.02292",
        arxiv_id="1912.02292",
        title="Deep Double Descent: Where Bigger Models and More Data Hurt",
        authors=["Preetum Nakkiran", "Gal Kaplun"],
        section="Empirical Study",
        year=2019,
        venue="ICLR 2020",
        paper_url="https://arxiv.org/abs/1912.02292",
        digest="Test error first falls, then rises, then falls again.",
        keywords=["double descent"],
    ),
    Listed(
        key="openreview:H1gBsgBYwH",
        title="Generalization of Two-layer Neural Networks: An Asymptotic Viewpoint",
        authors=["Jimmy Ba"],
        section="Deep Learning Theory",
        year=2020,
        venue="ICLR 2020",
        paper_url="https://openreview.net/forum?id=H1gBsgBYwH",
    ),
]


def test_import_is_idempotent(cat: Catalog, path: Path) -> None:
    report = cat.import_entries(ENTRIES, "maintainer", T0)
    assert report.added == ["1912.02292", "openreview:H1gBsgBYwH"]
    before = dump(path)
    again = cat.import_entries(ENTRIES, "maintainer", T0 + timedelta(days=1))
    assert again.added == [] and again.updated == []
    assert again.unchanged == ["1912.02292", "openreview:H1gBsgBYwH"]
    assert dump(path) == before
    listed = cat.get_paper("openreview:H1gBsgBYwH")
    assert listed is not None and listed.arxiv_id is None and listed.year == 2020
    assert listed.added_how == "import" and listed.authors == ["Jimmy Ba"]


def test_import_updates_changed_entries(cat: Catalog) -> None:
    cat.import_entries(ENTRIES, "maintainer", T0)
    changed = [
        dataclasses.replace(ENTRIES[0], section="Double Descent", code_url="https://github.com/x/y")
    ]
    report = cat.import_entries(changed, "maintainer", T0)
    assert report.updated == ["1912.02292"]
    listed = cat.get_paper("1912.02292")
    assert listed is not None and listed.section == "Double Descent"
    assert audit_actions(cat, "1912.02292") == ["import", "update"]
    assert cat.audit_log(arxiv_id="1912.02292")[0].detail["fields"] == ["code_url", "section"]


def test_import_takes_the_year_of_an_arxiv_id_from_the_id(cat: Catalog) -> None:
    cat.import_entries([dataclasses.replace(ENTRIES[0], year=2020)], "m", T0)
    listed = cat.get_paper("1912.02292")
    assert listed is not None and listed.year == 2019


def test_a_bad_import_rolls_back(cat: Catalog, path: Path) -> None:
    before = dump(path)
    with pytest.raises(InvalidArgument, match="without a key"):
        cat.import_entries([ENTRIES[0], Listed(" ", "no key")], "m", T0)
    assert dump(path) == before


def test_the_seed_list_imports_cleanly(cat: Catalog, seed_text: str) -> None:
    from db.awesome import parse_awesome

    entries = parse_awesome(seed_text).entries
    report = cat.import_entries(entries, "seed", T0)
    assert len(report.added) == len(entries) == 34
    assert cat.import_entries(entries, "seed", T0).unchanged == report.added
    assert cat.stats().papers == 34
    # The two OpenReview-only entries keep a stable non-arXiv key.
    others = [p.key for p in cat.papers() if p.arxiv_id is None]
    assert len(others) == 2 and all(not k[0].isdigit() for k in others)


# -- reading, state, models --------------------------------------------------------------


def test_recent_stats_and_audit(cat: Catalog) -> None:
    cat.import_entries(ENTRIES, "m", T0)
    cat.store_candidates([item("2401.00001"), item("2401.00002")], "feed", T0)
    cat.decide("2401.00001", True, "a", "cli", T0 + timedelta(hours=1))
    assert [p.key for p in cat.recent(2)] == ["2401.00001", "openreview:H1gBsgBYwH"]
    stats = cat.stats()
    assert stats.papers == 3 and stats.candidates == 2
    assert stats.papers_by_section == {
        "Deep Learning Theory": 1, "Double Descent": 1, "Empirical Study": 1,
    }  # fmt: skip
    assert stats.candidates_by_status == {"new": 1, "approved": 1}
    assert stats.papers_by_how == {"import": 2, "cli": 1} and stats.open_candidates == 1
    entries = cat.audit("2401.00001")
    assert [e.action for e in entries] == ["approve"]
    assert entries[0].at.tzinfo is not None and entries[0].user_id == "a"


def test_feed_state_round_trip(cat: Catalog) -> None:
    assert cat.feed_state("https://rss.arxiv.org/rss/cs.LG") is None
    state = FeedState(
        url="https://rss.arxiv.org/rss/cs.LG",
        etag='W/"abc"',
        last_modified="Thu, 28 Nov 2024 05:00:00 GMT",
        last_checked=T0,
        last_success=T0,
        last_changed=T0 - timedelta(days=1),
        content_hash="f00d",
        consecutive_failures=0,
    )
    cat.save_feed_state(state)
    state.consecutive_failures, state.last_error, state.alerted = 3, "HTTP 503", True
    cat.save_feed_state(state)
    assert cat.feed_state(state.url) == state
    assert cat.feed_states() == [state]


def test_meta_and_models(cat: Catalog) -> None:
    assert cat.meta_get("last_digest_at") is None
    cat.meta_set("last_digest_at", T0.isoformat())
    cat.meta_set("last_digest_at", (T0 + timedelta(days=1)).isoformat())
    assert cat.meta_get("last_digest_at") == "2024-11-29T12:00:00+00:00"
    assert cat.latest_model() is None
    assert cat.save_model(b"\x00first", 10, {"f1": 0.5}, T0) == 1
    assert cat.save_model(b"\x00\xffsecond", 20, {"f1": 0.7}, T0 + timedelta(days=1)) == 2
    assert cat.latest_model() == StoredModel(
        2, T0 + timedelta(days=1), 20, {"f1": 0.7}, b"\x00\xffsecond"
    )


def test_a_reopened_catalog_reads_everything_back_aware(path: Path) -> None:
    with Catalog(path) as cat:
        cat.store_candidates([item("2401.00001")], "feed", T0)
        cat.mark_posted("2401.00001", 1, 2, 3, T0)
    with Catalog(path) as cat:
        candidate = cat.get_candidate("2401.00001")
        assert candidate is not None
        for value in (candidate.created_at, candidate.posted_at, candidate.announced):
            assert value is not None and value.tzinfo is not None
        assert candidate.created_at == datetime(2024, 11, 28, 12, tzinfo=UTC)


def test_an_import_is_one_transaction_kept_or_rolled_back(cat: Catalog) -> None:
    cat.import_entries(ENTRIES, "m", T0)
    new = Listed(key="2008.08186", arxiv_id="2008.08186", title="Neural Collapse", section="NC")
    # the new list drops both papers: more removals than allowed, so nothing happens at all
    refused = cat.apply_import([new], "m", T0, max_removals=1)
    assert not refused.applied and refused.report.added == ["2008.08186"]
    assert sorted(refused.removed) == sorted(e.key for e in ENTRIES)
    assert refused.titles["openreview:H1gBsgBYwH"].startswith("Generalization of Two-layer")
    assert cat.get_paper("2008.08186") is None and cat.get_paper("1912.02292") is not None
    dry = cat.apply_import([new], "m", T0, dry_run=True)
    assert not dry.applied and cat.get_paper("2008.08186") is None
    done = cat.apply_import([new], "m", T0, max_removals=2)
    assert done.applied and sorted(done.removed) == sorted(refused.removed)
    assert cat.get_paper("2008.08186") is not None and cat.get_paper("1912.02292") is None
