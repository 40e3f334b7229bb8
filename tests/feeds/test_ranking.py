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
    day_quota,
    rank_feed,
    rules_for_list,
    rules_section,
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
    assert rules_section("empirical study", sections) == "Empirical Studies"
    assert rules_section("Robustness", sections) == "Understanding Robustness"
    assert rules_section("Neural Collapse", sections) is None


def test_the_catch_all_is_a_class_like_any_other() -> None:
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
    assert m.section == "Others"  # no handicap: the better score wins
    assert m.runner_up == "Neural Collapse"
    assert "or Neural Collapse?" in m.reasons  # close: the runner-up is shown
    clear = Prediction(0.9, "Neural Collapse", {"Others": 0.2, "Neural Collapse": 0.8})
    (m,) = ranker.decide([paper], rules.match_many([paper]), [clear])
    assert m.section == "Neural Collapse" and m.candidate
    assert m.runner_up == "Others"  # named even when far behind
    assert not any(r.startswith("or ") for r in m.reasons)


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


# --- what a day flags: the followed categories, the day's best share -------------------------

_DAY = datetime(2024, 11, 28, tzinfo=UTC)
_SECTIONS = ["Deep Learning Theory", "Empirical Study", "Others"]


def _day_papers(n: int, categories: list[str] | None = None) -> list[Paper]:
    return [
        Paper(
            arxiv_id=f"2411.{i:05d}",
            title=f"Paper {i}",
            abstract="An ordinary announcement.",
            categories=categories or ["cs.LG"],
            announced=_DAY,
        )
        for i in range(n)
    ]


def _predictions(n: int) -> list[Prediction]:
    # relevance falling with the index: paper 0 is the day's best
    return [
        Prediction(
            round(0.99 - i / (2 * n), 4),
            "Empirical Study",
            {"Empirical Study": 0.6, "Deep Learning Theory": 0.3, "Others": 0.1},
        )
        for i in range(n)
    ]


def test_a_day_flags_its_best_share_strong_rule_matches_first() -> None:
    rules = RuleSet.default()
    ranker = Ranker(rules, selection="rate", flag_rate=0.03, sections=_SECTIONS, catch_all="Others")
    papers = _day_papers(200)
    # the day's weakest paper names a phenomenon in its title: a strong rule match
    papers[-1] = Paper(
        arxiv_id=papers[-1].arxiv_id,
        title="Deep double descent in neural networks",
        abstract="We study double descent and the interpolation threshold.",
        categories=["cs.LG"],
        announced=_DAY,
    )
    out = ranker.decide(papers, rules.match_many(papers), _predictions(200))
    chosen = [m.arxiv_id for m in out if m.candidate]
    assert len(chosen) == 6  # 3 % of 200
    assert papers[-1].arxiv_id in chosen  # first, whatever the model said
    assert set(chosen) - {papers[-1].arxiv_id} == {p.arxiv_id for p in papers[:5]}
    first = next(m for m in out if m.arxiv_id == papers[-1].arxiv_id)
    assert first.reasons[0] == "#1 of the 200 new that day"
    assert all(m.runner_up == "Deep Learning Theory" for m in out if m.candidate)


def test_papers_outside_the_followed_categories_are_never_candidates() -> None:
    rules = RuleSet.default()
    ranker = Ranker(rules, selection="rate", flag_rate=0.03, sections=_SECTIONS, catch_all="Others")
    papers = _day_papers(100, ["math.NT"])
    ml = [
        Paper(
            arxiv_id=f"2411.9{i:04d}",
            title=f"ML {i}",
            abstract="x",
            categories=["hep-th", "cs.LG"],
            announced=_DAY,
        )
        for i in range(100)
    ]
    preds = _predictions(100) + [Prediction(0.2, "Others", {"Others": 1.0})] * 100
    out = ranker.decide(papers + ml, rules.match_many(papers + ml), preds)
    # number theory scores best with the model, yet the day's 6 are the cross-listed cs.LG
    assert [m.candidate for m in out[:100]] == [False] * 100
    assert out[0].reasons[0] == "not in the categories followed (math.NT)"
    assert sum(m.candidate for m in out[100:]) == 6
    # the same with a budget or a threshold: the categories hold in every mode
    for selection in ("budget", "threshold"):
        other = Ranker(
            rules,
            selection=selection,
            threshold=0.1,
            daily_budget=5,  # type: ignore[arg-type]
            sections=_SECTIONS,
            catch_all="Others",
        )
        out = other.decide(papers + ml, rules.match_many(papers + ml), preds)
        assert not any(m.candidate for m in out[:100]), selection


def test_a_day_too_small_for_a_share_uses_the_calibrated_cut() -> None:
    rules = RuleSet.default()
    ranker = Ranker(
        rules,
        selection="rate",
        flag_rate=0.03,
        threshold=0.9,
        sections=_SECTIONS,
        catch_all="Others",
    )
    papers = _day_papers(10)  # 10 x 3 % < 1: no best share to take
    out = ranker.decide(papers, rules.match_many(papers), _predictions(10))
    # without a model the cut is the threshold: the papers scoring 0.9 or more
    assert [m.candidate for m in out] == [p.relevance >= 0.9 for p in _predictions(10)]
    assert not any(r.startswith("#") for m in out for r in m.reasons)
    assert day_quota(10, 0.03) is None and day_quota(34, 0.03) == 1 and day_quota(336, 0.03) == 10


def test_re_ranking_the_same_day_chooses_the_same_papers() -> None:
    rules = RuleSet.default()
    ranker = Ranker(rules, selection="rate", flag_rate=0.05, sections=_SECTIONS, catch_all="Others")
    papers = _day_papers(120)
    preds = _predictions(120)
    once = [
        m.arxiv_id for m in ranker.decide(papers, rules.match_many(papers), preds) if m.candidate
    ]
    order = list(reversed(range(120)))
    again = ranker.decide(
        [papers[i] for i in order],
        rules.match_many([papers[i] for i in order]),
        [preds[i] for i in order],
    )
    assert sorted(once) == sorted(m.arxiv_id for m in again if m.candidate)
