"""The evaluation harness: small replays of the seed list against real announcements."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import bot.evaluate as evaluate
from bot.evaluate import (
    BASELINE,
    COLD,
    FLAG_RATES,
    RULES,
    WARM,
    EvaluationError,
    EvaluationReport,
    _recall_at,
    format_report,
    run_evaluation,
)
from feeds.errors import PaperbotError

SAMPLE = "data/corpus/daily-arxiv-ai-enhanced-sample2000.jsonl.gz"
FEED_DAY = "data/arxiv-rss/rss-all-archives-2024-11-28.xml"


@pytest.fixture(scope="module")
def report(seed_text: str) -> EvaluationReport:
    """Leave-one-out on the seed, the bundled sample split by day (no files given)."""
    messages: list[str] = []
    result = run_evaluation(
        seed_text, train_background=400, test_background=400, progress=messages.append
    )
    assert messages  # it says what it is doing
    return result


def test_report_shape(report: EvaluationReport) -> None:
    assert report.protocol == "leave-one-out"
    assert report.list_entries == report.held_out == 34
    assert report.trainings == 34  # no files: no poll day to play, the cold start only
    assert report.test_background == 400
    assert report.train_background == 400
    assert list(report.background_sources) == ["bundled background-sample.jsonl.gz"]
    assert [r.name for r in report.results] == [RULES, BASELINE, COLD]
    for r in report.results:
        assert 0.0 <= r.section_accuracy <= (r.section_top2 or 0.0) <= 1.0
        if r.name == BASELINE:  # a section baseline: nothing flagged
            assert r.recall == {} and r.flagged_at_default is None
            continue
        assert set(r.recall) == set(FLAG_RATES)
        assert all(0.0 <= v <= 1.0 for v in r.recall.values())
        assert r.flagged_at_default is not None and 0.0 <= r.flagged_at_default <= 1.0
    assert report.days == []  # no feed among the background files: no whole day
    assert "shipped (+ rules)" in report.section_signals
    assert any("split by day" in n for n in report.notes)


def test_table_has_one_row_per_measure_and_a_column_per_scorer(report: EvaluationReport) -> None:
    table = format_report(report)
    lines = table.splitlines()
    header = next(line for line in lines if RULES in line)
    for r in report.results:
        assert r.name in header
    recall = [f"recall @ {r}% flagged" for r in FLAG_RATES]
    sections = ["section accuracy (top-1)", "section in top 2"]
    rows = [line for line in lines if any(line.startswith(label) for label in recall + sections)]
    assert len(rows) == len(FLAG_RATES) + 2
    for row in rows:  # one figure per scorer, "-" where the baseline has none
        figures = len(re.findall(r"\b[01]\.\d{3}\b", row))
        blank = len(report.results) - 1 if row.startswith("recall") else len(report.results)
        assert figures == blank, row
    assert "sections by signal" in table


def test_what_ships_beats_the_rules_on_the_seed(report: EvaluationReport) -> None:
    rules, shipped = report.result(RULES), report.result(COLD)
    for r in (3, 5, 10):
        assert shipped.recall[r] > rules.recall[r], (r, shipped.recall[r], rules.recall[r])
    assert shipped.section_accuracy > rules.section_accuracy
    baseline = report.result(BASELINE)
    assert shipped.section_top2 is not None and baseline.section_top2 is not None
    assert shipped.section_top2 >= baseline.section_top2


def test_recall_counts_ties_fairly() -> None:
    background = np.array([0.0] * 90 + [1.0] * 10)
    # 3 % of 100 = 3 flagged, all from the 10 tied at 1.0: a held-out paper tied with them
    # gets the expected share (3 + 1) / (10 + 1)
    held = np.array([1.0, 2.0, 0.5])
    got = _recall_at(held, background, 3)
    assert got[1] == 1.0 and got[2] == 0.0
    assert got[0] == pytest.approx(4 / 11)


def test_too_short_a_list_is_refused_in_one_line() -> None:
    with pytest.raises(EvaluationError, match="at least 6") as info:
        run_evaluation("# Empty list\n\n## Theory\n")
    assert isinstance(info.value, PaperbotError)
    assert "\n" not in str(info.value)


def test_background_files_replace_the_bundled_days(
    shared: Callable[[str], Path], seed_text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A time split (one training per configuration) against files of other days: the
    bundled sample's days are left out of them, and the first full day plays the poll."""
    monkeypatch.setattr(evaluate, "LOO_MAX_ENTRIES", 20)
    report = run_evaluation(
        seed_text,
        [shared(FEED_DAY), shared(SAMPLE)],
        train_background=400,
        test_background=300,
    )
    assert report.protocol == "time split"
    assert report.held_out == 8  # the seed's 2020 entries, trained on the earlier years
    assert [r.name for r in report.results] == [RULES, BASELINE, COLD, WARM]
    assert report.trainings == 2
    assert set(report.background_sources) <= {"daily-arxiv-ai-enhanced-sample2000.jsonl.gz"}
    assert any("2024-11-28" in n for n in report.notes)  # the feed day was the poll
    assert any("days the bundled sample holds were left out" in n for n in report.notes)
    assert "time split: 8 held-out" in format_report(report)
    # the feed is also ranked as whole days, every archive in, as a poll ranks it
    (day,) = report.days
    assert (day.source, day.day, day.new) == ("rss-all-archives-2024-11-28.xml", "2024-11-28", 935)
    assert day.flagged == 28 and day.far == 0
    assert "28 of 935 new announcements flagged (3.0%)" in format_report(report)


def test_no_usable_background_is_an_error(tmp_path: Path, seed_text: str) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text('{"id": "x", "title": "t", "abstract": "a", "categories": ["astro-ph"]}\n')
    with pytest.raises(EvaluationError, match="no background"):
        run_evaluation(seed_text, [empty])
