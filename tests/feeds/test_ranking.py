"""Ranking: the model's calibrated flag rate, the rules' three jobs, and the list's own sections."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from db.awesome import parse_awesome
from feeds.models import AnnounceType, Match, Paper
from feeds.ranking import (
    Ranker,
    RankingError,
    RelevanceScorer,
    match_section,
    rank_feed,
    rules_for_list,
)
from feeds.relevance import Example, Prediction, RelevanceModel
from feeds.rules import RuleSet
from tests.lists import SECTIONS_2022

SAMPLE = "data/corpus/daily-arxiv-ai-enhanced-sample2000.jsonl.gz"
NOW = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
SEED_SECTIONS = [
    "Deep Learning Theory",
    "Empirical Study",
    "Understanding Robustness",
    "Representation Learning",
    "Interpretability",
]


@pytest.fixture(scope="module")
def records(shared: Callable[[str], Path]) -> list[dict[str, str]]:
    with gzip.open(shared(SAMPLE), "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


@pytest.fixture(scope="module")
def model(seed_text: str, records: list[dict[str, str]]) -> RelevanceModel:
    positives = [
        Example(e.key, e.title, e.digest or "", e.section, "positive", tuple(e.keywords))
        for e in parse_awesome(seed_text).entries
    ]
    background = [
        Example(r["id"], r["title"], r["abstract"], None, "background") for r in records[:1400]
    ]
    return RelevanceModel.train(positives + background, now=NOW)


def unseen(records: list[dict[str, str]]) -> list[Paper]:
    return [
        Paper(arxiv_id=r["id"], title=r["title"], abstract=r["abstract"], categories=["cs.LG"])
        for r in records[1400:]
    ]


def test_the_model_is_a_relevance_scorer(model: RelevanceModel) -> None:
    scorer: RelevanceScorer = model  # the Protocol the ranking is typed against
    assert scorer.threshold_for_rate(0.03) == model.threshold_for_rate(0.03)


def test_rate_selection_flags_about_the_rate_of_an_unseen_day(
    model: RelevanceModel, records: list[dict[str, str]]
) -> None:
    papers = unseen(records)  # 600 announcements neither trained nor calibrated on
    for rate in (0.03, 0.1):
        ranker = Ranker(RuleSet.default(), model, flag_rate=rate, sections=SEED_SECTIONS)
        assert ranker.cut() == pytest.approx(model.threshold_for_rate(rate))
        flagged = np.mean([m.candidate for m in ranker.rank(papers)])
        # calibrated on other announcements: the same order, not the same decimal
        assert rate / 3 <= flagged <= rate * 2.5, (rate, flagged)
    low = Ranker(RuleSet.default(), model, flag_rate=0.01).cut()
    high = Ranker(RuleSet.default(), model, flag_rate=0.1).cut()
    assert low is not None and high is not None and low > high


def test_threshold_and_budget_selection(
    model: RelevanceModel, records: list[dict[str, str]]
) -> None:
    papers = unseen(records)[:200]
    strict = Ranker(RuleSet.default(), model, selection="threshold", threshold=0.99)
    assert strict.cut() == 0.99
    loose = Ranker(RuleSet.default(), model, selection="threshold", threshold=0.0)
    assert sum(m.candidate for m in strict.rank(papers)) < sum(
        m.candidate for m in loose.rank(papers)
    )
    budget = Ranker(RuleSet.default(), model, selection="budget", daily_budget=4)
    assert budget.cut() is None
    assert sum(m.candidate for m in budget.rank(papers)) == 4  # one day (no dates): 4


def test_bad_settings_are_refused_in_one_line() -> None:
    with pytest.raises(RankingError, match="selection 'top'"):
        Ranker(RuleSet.default(), selection="top")  # type: ignore[arg-type]
    with pytest.raises(RankingError, match="flag rate 3"):
        Ranker(RuleSet.default(), flag_rate=3)


def test_a_strong_rule_match_gets_in_whatever_the_model_says() -> None:
    rules = RuleSet.default()
    paper = Paper(
        arxiv_id="2401.00001",
        title="Deep double descent in neural networks",
        abstract="We study double descent and benign overfitting of deep neural networks.",
        categories=["cs.LG"],
    )
    (raw,) = rules.match_many([paper])
    assert raw.score >= 2 * rules.threshold
    cold = Prediction(
        relevance=0.01, section="Empirical Study", section_scores={"Empirical Study": 1.0}
    )
    ranker = Ranker(rules, selection="threshold", threshold=0.9, sections=SEED_SECTIONS)
    (m,) = ranker.decide([paper], [raw], [cold])
    assert m.candidate and m.score < 0.9
    assert m.reasons[0].startswith("strong rule match")
    weak = Paper(
        arxiv_id="2401.00002", title="A study", abstract="neural networks", categories=["cs.LG"]
    )
    (m2,) = ranker.decide([weak], rules.match_many([weak]), [cold])
    assert not m2.candidate


def test_a_rule_boost_raises_the_score_and_a_veto_removes_a_section() -> None:
    rules = RuleSet.default()
    sections = ["Understanding Robustness", "Others"]
    ranker = Ranker(
        rules, selection="threshold", threshold=0.5, sections=sections, catch_all="Others"
    )
    prediction = Prediction(
        relevance=0.45,
        section="Understanding Robustness",
        section_scores={"Understanding Robustness": 0.9, "Others": 0.1},
    )
    plain = Paper(
        arxiv_id="2401.1", title="A theory", abstract="We study a question.", categories=["cs.LG"]
    )
    robust = Paper(
        arxiv_id="2401.2",
        title="Adversarial robustness of deep neural networks",
        abstract="Adversarial examples and adversarial robustness of deep neural networks.",
        categories=["cs.LG"],
    )
    grid = Paper(
        arxiv_id="2401.3",
        title="Adversarial robustness of deep neural networks for the power grid",
        abstract="Adversarial examples against neural network controllers of a power grid.",
        categories=["cs.LG"],
    )
    papers = [plain, robust, grid]
    out = ranker.decide(papers, rules.match_many(papers), [prediction] * 3)
    assert out[1].score > out[0].score  # boost
    assert out[0].section == "Understanding Robustness"
    assert out[2].section != "Understanding Robustness"  # vetoed: not that section's paper
    assert not out[2].candidate
    assert any("vetoes" in r for r in out[2].reasons)


def test_sections_come_from_the_list_and_unknown_rules_sections_are_reported() -> None:
    ranker = Ranker(
        RuleSet.default(),
        sections=["Empirical Study", "Interpretability", "Neural Collapse", "Others"],
        catch_all="Others",
    )
    assert len(ranker.warnings) == 1
    assert "Deep Learning Theory" in ranker.warnings[0]
    assert "Understanding Robustness" in ranker.warnings[0]
    theory = Paper(
        arxiv_id="2401.4",
        title="Neural tangent kernel of wide networks",
        abstract="The neural tangent kernel of infinitely wide neural networks.",
        categories=["cs.LG"],
    )
    (m,) = ranker.rank([theory])
    assert m.section == "Others"  # a rules topic the list files under its catch-all
    assert set(m.section_scores) <= {
        "Empirical Study",
        "Interpretability",
        "Neural Collapse",
        "Others",
    }


def test_forgiving_section_names() -> None:
    sections = ["Empirical Studies", "Understanding Robustness", "Others"]
    assert match_section("empirical study", sections) == "Empirical Studies"
    assert match_section("Robustness", sections) == "Understanding Robustness"
    assert match_section("Neural Collapse", sections) is None


def test_catch_all_only_when_no_topic_section_fits() -> None:
    rules = RuleSet.default()
    ranker = Ranker(
        rules,
        selection="threshold",
        threshold=0.5,
        sections=["Neural Collapse", "Others"],
        catch_all="Others",
    )
    paper = Paper(arxiv_id="2401.5", title="x", abstract="y", categories=["cs.LG"])
    close = Prediction(0.9, "Others", {"Others": 0.52, "Neural Collapse": 0.48})
    (m,) = ranker.decide([paper], rules.match_many([paper]), [close])
    assert m.section == "Neural Collapse"  # close: the topic section wins
    assert "or Others?" in m.reasons  # and the runner-up is shown
    clear = Prediction(0.9, "Others", {"Others": 0.8, "Neural Collapse": 0.2})
    (m,) = ranker.decide([paper], rules.match_many([paper]), [clear])
    assert m.section == "Others" and m.candidate


def test_descriptions_add_section_evidence() -> None:
    rules = RuleSet.default()
    sections = ["Neural Collapse", "Lottery Ticket Hypothesis"]
    paper = Paper(
        arxiv_id="2401.6",
        title="Sparse subnetworks found by pruning",
        abstract="Winning tickets: sparse subnetworks that train in isolation after pruning.",
        categories=["cs.LG"],
    )
    tie = Prediction(
        0.9, "Neural Collapse", {"Neural Collapse": 0.5, "Lottery Ticket Hypothesis": 0.5}
    )
    plain = Ranker(rules, selection="threshold", threshold=0.5, sections=sections)
    described = Ranker(
        rules,
        selection="threshold",
        threshold=0.5,
        sections=sections,
        descriptions={"Lottery Ticket Hypothesis": "sparse subnetworks, pruning, winning tickets"},
    )
    (a,) = plain.decide([paper], rules.match_many([paper]), [tie])
    (b,) = described.decide([paper], rules.match_many([paper]), [tie])
    assert a.section == "Neural Collapse"  # a tie, broken by order
    assert b.section == "Lottery Ticket Hypothesis"


def test_rank_feed_skips_replacements(model: RelevanceModel, records: list[dict[str, str]]) -> None:
    papers = unseen(records)[:3]
    papers[1].announce_type = AnnounceType.REPLACE
    ranker = Ranker(RuleSet.default(), model)
    pairs = rank_feed(ranker, papers)
    assert [p for p, _ in pairs] == papers
    assert pairs[1][1] == Match(papers[1].arxiv_id, 0.0, None)
    assert pairs[0][1].reasons  # ranked: the model said something


# -- which bundled rules a list gets ---------------------------------------------------------


@pytest.mark.parametrize(
    ("sections", "source"),
    [
        (SEED_SECTIONS, "feeds/default_rules.toml"),  # the 2020 shape
        (list(SECTIONS_2022), "feeds/phenomena_rules.toml"),  # filed by phenomenon
        (["neural collapse", "OTHERS"], "feeds/phenomena_rules.toml"),  # named loosely
        (["Grokking", "Cats"], "feeds/default_rules.toml"),  # none fits: the default
        ([], "feeds/default_rules.toml"),
    ],
)
def test_a_list_gets_the_bundled_rules_that_name_most_of_its_sections(
    sections: list[str], source: str
) -> None:
    assert rules_for_list(sections).source == source


def test_on_a_list_filed_by_phenomenon_the_rules_suggest_its_sections() -> None:
    # Rules alone (no model): the 2022 list's sections, which the default rules lack.
    paper = Paper(
        arxiv_id="2411.00001",
        title="Neural collapse in the terminal phase of training",
        abstract="Class means of deep neural networks converge to a simplex ETF.",
        categories=["cs.LG"],
    )
    sections = list(SECTIONS_2022)
    chosen = Ranker(rules_for_list(sections), sections=sections, catch_all="Others")
    default = Ranker(RuleSet.default(), sections=sections, catch_all="Others")
    assert chosen.rank([paper])[0].section == "Neural Collapse"
    assert chosen.rank([paper])[0].candidate
    assert default.rank([paper])[0].section != "Neural Collapse"
