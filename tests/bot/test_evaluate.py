"""The evaluation harness: a small leave-one-out replay of the seed list on real announcements."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from bot.evaluate import (
    DEFAULT,
    FLAG_RATES,
    RULES,
    VARIANTS,
    EvaluationReport,
    _recall_at,
    format_report,
    run_evaluation,
)


@pytest.fixture(scope="module")
def report(shared: Callable[[str], Path], seed_text: str) -> EvaluationReport:
    for needed in (
        "data/arxiv-rss/rss-all-archives-2024-11-28.xml",
        "data/corpus/daily-arxiv-ai-enhanced-2025-03_2026-07.jsonl.gz",
        "data/corpus/amds123-arxiv-blog-posts-2015_2019.jsonl.gz",
    ):
        shared(needed)
    shared_dir = shared("seeds").parent
    messages: list[str] = []
    result = run_evaluation(
        seed_text,
        shared_dir,
        background_limit=2000,
        train_background=2000,
        progress=messages.append,
    )
    assert messages  # it says what it is doing
    return result


def test_report_shape(report: EvaluationReport) -> None:
    assert report.protocol == "leave-one-out"
    assert report.list_entries == report.held_out == 34
    assert report.eval_background == 2000
    assert report.train_background == 2000
    assert report.background_sources["feed 2024-11-28"] > 400  # the real day is kept whole
    assert [r.name for r in report.results] == [RULES, *VARIANTS, DEFAULT]
    for r in report.results:
        assert set(r.recall) == set(FLAG_RATES)
        assert all(0.0 <= v <= 1.0 for v in r.recall.values())
        assert 0.0 <= r.section_accuracy <= 1.0


def test_table_has_one_row_per_measure_and_a_column_per_scorer(report: EvaluationReport) -> None:
    table = format_report(report)
    lines = table.splitlines()
    header = next(line for line in lines if RULES in line)
    for r in report.results:
        assert r.name in header
    assert f"{DEFAULT} *" in header
    labels = [f"recall @ {r}% flagged" for r in FLAG_RATES] + ["section accuracy"]
    rows = [line for line in lines if any(line.startswith(label) for label in labels)]
    assert len(rows) == 4
    for row in rows:  # one figure per scorer
        assert len(re.findall(r"\b[01]\.\d{3}\b", row)) == len(report.results), row


def test_model_beats_the_rules_on_the_seed(report: EvaluationReport) -> None:
    rules, default = report.result(RULES), report.result(DEFAULT)
    for r in FLAG_RATES:
        assert default.recall[r] > rules.recall[r], (r, default.recall[r], rules.recall[r])
    assert default.section_accuracy > rules.section_accuracy


def test_recall_counts_ties_fairly() -> None:
    background = np.array([0.0] * 90 + [1.0] * 10)
    # 3 % of 100 = 3 flagged, all from the 10 tied at 1.0: a held-out paper tied with them
    # gets the expected share (3 + 1) / (10 + 1)
    held = np.array([1.0, 2.0, 0.5])
    got = _recall_at(held, background, 3)
    assert got[1] == 1.0 and got[2] == 0.0
    assert got[0] == pytest.approx(4 / 11)


def test_too_short_a_list_is_refused(shared: Callable[[str], Path]) -> None:
    with pytest.raises(ValueError, match="at least 6"):
        run_evaluation("# Empty list\n\n## Theory\n", shared("seeds").parent)


def test_a_long_list_is_replayed_by_a_time_split(
    shared: Callable[[str], Path], seed_text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above LOO_MAX_ENTRIES: one training on the older entries, the newest ids held out."""
    import bot.evaluate as evaluate

    monkeypatch.setattr(evaluate, "LOO_MAX_ENTRIES", 20)
    report = run_evaluation(
        seed_text, shared("seeds").parent, background_limit=600, train_background=600
    )
    assert report.protocol == "time split"
    assert report.held_out == 6  # 20 % of the 32 entries with an arXiv id
    assert report.trainings == 2  # one per feature set
    assert "time split: 6 held-out" in format_report(report)
