"""The relevance model: trains on the seed list + real announcements, predicts, stores, combines."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from db.awesome import parse_awesome
from feeds.models import Match, Paper
from feeds.relevance import (
    FORMAT_MAGIC,
    Example,
    ModelFormatError,
    Prediction,
    RelevanceModel,
    TrainingError,
    combine,
)

SAMPLE = "data/corpus/daily-arxiv-ai-enhanced-sample2000.jsonl.gz"
NOW = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
# Understanding Generalization in Diffusion Models via Probability Flow Distance
ON_TOPIC = "2505.20123"
OFF_TOPIC = "2505.18958"  # CDPDNet: ... Hybrid Vision Encoders for Medical Image Segmentation
ROBUSTNESS = "2503.16179"  # Narrowing Class-Wise Robustness Gaps in Adversarial Training
PROBES = {ON_TOPIC, OFF_TOPIC, ROBUSTNESS}


@pytest.fixture(scope="module")
def corpus(shared: Callable[[str], Path]) -> dict[str, dict]:
    with gzip.open(shared(SAMPLE), "rt", encoding="utf-8") as f:
        records = [json.loads(line) for line in f]
    return {r["id"]: r for r in records}


def seed_examples(seed_text: str) -> list[Example]:
    return [
        Example(e.key, e.title, e.digest or "", e.section, "positive")
        for e in parse_awesome(seed_text).entries
    ]


@pytest.fixture(scope="module")
def examples(seed_text: str, corpus: dict[str, dict]) -> list[Example]:
    background = [
        Example(r["id"], r["title"], r["abstract"], None, "background")
        for r in list(corpus.values())[:1500]
        if r["id"] not in PROBES
    ]
    return seed_examples(seed_text) + background


@pytest.fixture(scope="module")
def model(examples: list[Example]) -> RelevanceModel:
    return RelevanceModel.train(examples, now=NOW, version=3)


def paper(record: dict) -> Paper:
    return Paper(arxiv_id=record["id"], title=record["title"], abstract=record["abstract"])


def test_model_describes_itself(model: RelevanceModel, examples: list[Example]) -> None:
    assert model.version == 3
    assert model.trained_at == NOW
    assert model.n_train == len(examples)
    assert model.n_positive == 34
    assert set(model.sections) == {
        "Deep Learning Theory",
        "Empirical Study",
        "Understanding Robustness",
        "Representation Learning",
        "Interpretability",
    }
    assert model.metrics["n_background"] == len(examples) - 34
    assert set(model.metrics["flag_thresholds"]) == {"3%", "5%", "10%"}


def test_on_topic_abstract_scores_above_off_topic(model: RelevanceModel, corpus: dict) -> None:
    on, off = model.predict([paper(corpus[ON_TOPIC]), paper(corpus[OFF_TOPIC])])
    assert 0.0 <= off.relevance < on.relevance <= 1.0
    assert on.relevance > model.metrics["flag_thresholds"]["10%"]
    assert off.relevance < model.metrics["flag_thresholds"]["10%"]


def test_relevance_ranks_list_papers_above_announcements(
    model: RelevanceModel, corpus: dict
) -> None:
    """Unseen announcements (not trained on) mostly score below a paraphrased list paper."""
    unseen = [paper(r) for r in list(corpus.values())[1500:]]
    background = np.array([p.relevance for p in model.predict(unseen)])
    probe = model.predict(
        [
            (
                "Memorization and generalization in deep networks",
                "We show that deep neural networks can fit random labels, and study how "
                "over-parameterized networks generalize despite memorizing the training data.",
            )
        ]
    )[0]
    assert (background < probe.relevance).mean() > 0.97


def test_section_suggestion_and_neighbours(model: RelevanceModel, corpus: dict) -> None:
    pred = model.predict([paper(corpus[ROBUSTNESS])])[0]
    assert pred.section == "Understanding Robustness"
    assert abs(sum(pred.section_scores.values()) - 1.0) < 1e-3
    assert len(pred.neighbours) == 3
    assert all(n.title and 0 < n.similarity <= 1 for n in pred.neighbours)
    assert pred.neighbours[0].similarity >= pred.neighbours[-1].similarity
    titles = [n.title for n in pred.neighbours]
    assert any("dversarial" in t for t in titles), titles


def test_predict_accepts_pairs_and_empty(model: RelevanceModel) -> None:
    assert model.predict([]) == []
    (pred,) = model.predict([("Deep Double Descent", "bigger models and more data hurt")])
    assert pred.neighbours[0].title.startswith("Deep Double Descent")
    assert pred.section in ("Empirical Study", "Deep Learning Theory")


def test_round_trip_gives_identical_predictions(model: RelevanceModel, corpus: dict) -> None:
    papers = [paper(r) for r in list(corpus.values())[1500:1700]]
    blob = model.to_bytes()
    assert blob.startswith(FORMAT_MAGIC)
    loaded = RelevanceModel.from_bytes(blob)
    assert (loaded.version, loaded.trained_at, loaded.n_train, loaded.n_positive) == (
        model.version,
        model.trained_at,
        model.n_train,
        model.n_positive,
    )
    assert loaded.sections == model.sections
    assert loaded.metrics == model.metrics
    assert loaded.predict(papers) == model.predict(papers)


def test_bad_blobs_are_refused_clearly(model: RelevanceModel) -> None:
    blob = model.to_bytes()
    with pytest.raises(ModelFormatError, match="bad header"):
        RelevanceModel.from_bytes(b"\x80\x04 a pickle, say")
    newer = FORMAT_MAGIC + (99).to_bytes(2, "big") + blob[len(FORMAT_MAGIC) + 2 :]
    with pytest.raises(ModelFormatError, match="format 99 is not supported"):
        RelevanceModel.from_bytes(newer)
    with pytest.raises(ModelFormatError, match="corrupt"):
        RelevanceModel.from_bytes(blob[: len(blob) // 2])


def test_too_few_positives(examples: list[Example]) -> None:
    few = [e for e in examples if e.label != "positive"] + [
        e for e in examples if e.label == "positive"
    ][:4]
    with pytest.raises(TrainingError, match="only 4 catalog papers"):
        RelevanceModel.train(few, now=NOW)
    no_contrast = [e for e in examples if e.label == "positive"]
    with pytest.raises(TrainingError, match="rejected or background"):
        RelevanceModel.train(no_contrast, now=NOW)


def test_rejections_count(seed_text: str, corpus: dict) -> None:
    """A rejected candidate pushes its like down more than the same paper as background."""
    rows = list(corpus.values())[:600]
    similar = (
        "Adversarial training robustness gaps",
        "We study adversarial robustness of "
        "adversarially trained networks and the robust accuracy gap between classes.",
    )
    rejected = Example("r1", similar[0], similar[1], None, "negative")

    def relevance(label: str) -> float:
        ex = (
            seed_examples(seed_text)
            + [Example(r["id"], r["title"], r["abstract"], None, "background") for r in rows]
            + [Example("r1", rejected.title, rejected.text, None, label)]  # type: ignore[arg-type]
        )
        return RelevanceModel.train(ex, now=NOW).predict([similar])[0].relevance

    assert relevance("negative") < relevance("background")


# --- combine / select -------------------------------------------------------------------


def rule(score: float, section: str | None = "Empirical Study", **kw) -> Match:
    return Match(
        arxiv_id=kw.pop("arxiv_id", "2401.00001"),
        score=score,
        section=section,
        reasons=['"double descent" in title'] if score else [],
        section_scores={section: score} if section and score else {},
        candidate=score >= 3,
        **kw,
    )


def test_combine_cold_start_is_the_rules() -> None:
    m = rule(4.0)
    assert combine(m, None) == m


def test_combine_keeps_rule_reasons_and_adds_the_models(model: RelevanceModel) -> None:
    pred = model.predict([("Deep Double Descent", "bigger models and more data hurt")])[0]
    out = combine(rule(3.0), pred)
    assert out.reasons[0] == '"double descent" in title'
    assert f"model relevance {pred.relevance:.2f}" in out.reasons
    assert any(r.startswith("like *Deep Double Descent") for r in out.reasons)
    assert 0.0 <= out.score <= 1.0
    assert out.section in model.sections


def test_combine_section_from_model_falls_back_to_rules() -> None:
    pred = Prediction(
        relevance=0.9,
        section="Interpretability",
        section_scores={"Interpretability": 0.7, "Empirical Study": 0.3},
    )
    assert combine(rule(0.0, None), pred).section == "Interpretability"
    none = Prediction(relevance=0.9, section=None, section_scores={})
    assert combine(rule(6.0, "Empirical Study"), none).section == "Empirical Study"
    close = Prediction(
        relevance=0.9,
        section="Interpretability",
        section_scores={"Interpretability": 0.52, "Empirical Study": 0.48},
    )
    out = combine(rule(0.0, None), close)
    assert out.section == "Interpretability"
    assert "or Empirical Study?" in out.reasons


def test_combine_more_evidence_scores_higher() -> None:
    pred = Prediction(
        relevance=0.6, section="Empirical Study", section_scores={"Empirical Study": 1}
    )
    assert combine(rule(0.0), pred).score < combine(rule(6.0), pred).score
    low = Prediction(
        relevance=0.1, section="Empirical Study", section_scores={"Empirical Study": 1}
    )
    assert combine(rule(6.0), low).score < combine(rule(6.0), pred).score


