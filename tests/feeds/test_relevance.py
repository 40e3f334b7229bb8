"""The relevance model: trains on the seed list + real announcements, predicts, stores, combines."""

from __future__ import annotations

import gzip
import itertools
import json
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from db.awesome import parse_awesome
from feeds import relevance
from feeds.models import Match, Paper
from feeds.relevance import (
    FORMAT_MAGIC,
    Example,
    ModelFormatError,
    Prediction,
    RelevanceModel,
    TextFeatures,
    TrainingError,
    combine,
    example_text,
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


# --- calibration, storage format, sections -------------------------------------------------


def test_flag_rates_map_to_cuts_read_off_unseen_background(
    model: RelevanceModel, corpus: dict
) -> None:
    points = model.metrics["calibration"]
    assert [r for r, _ in points] == sorted(r for r, _ in points)
    assert model.metrics["n_calibration"] > 50  # held out of the regression
    cuts = [model.threshold_for_rate(r) for r in (0.01, 0.03, 0.1)]
    assert cuts[0] > cuts[1] > cuts[2]
    assert model.threshold_for_rate(0.04) < model.threshold_for_rate(0.03)  # interpolated
    unseen = np.array(
        [p.relevance for p in model.predict([paper(r) for r in list(corpus.values())[1500:]])]
    )
    share = float((unseen >= model.threshold_for_rate(0.1)).mean())
    assert 0.03 <= share <= 0.25, share
    with pytest.raises(ValueError, match="between 0 and 1"):
        model.threshold_for_rate(3.0)


def test_a_model_of_the_previous_format_is_refused(model: RelevanceModel) -> None:
    blob = model.to_bytes()
    old = FORMAT_MAGIC + (1).to_bytes(2, "big") + blob[len(FORMAT_MAGIC) + 2 :]
    with pytest.raises(ModelFormatError, match=r"format 1 is not supported.*retrain"):
        RelevanceModel.from_bytes(old)


def test_stored_arrays_are_small_and_not_pickled(model: RelevanceModel) -> None:
    import io
    import zipfile

    blob = model.to_bytes()
    with zipfile.ZipFile(io.BytesIO(blob[len(FORMAT_MAGIC) + 2 :])) as z:
        names = set(z.namelist())
    assert {"cat_data.npy", "cat_latent.npy", "sc_coef.npy", "sc_columns.npy"} <= names
    assert len(blob) < 3_000_000


def test_key_words_are_section_evidence(seed_text: str, corpus: dict) -> None:
    """The section classifier reads an entry's key words: a tag only one section's entries
    carry speaks for that section."""
    entries = parse_awesome(seed_text).entries
    tagged = next(e.section for e in entries if "escent" in e.title)
    positives = [
        Example(
            e.key,
            e.title,
            e.digest or "",
            e.section,
            "positive",
            ("zymurgy regime",) if e.section == tagged else (),
        )
        for e in entries
    ]
    background = [
        Example(r["id"], r["title"], r["abstract"], None, "background")
        for r in list(corpus.values())[:300]
    ]
    model = RelevanceModel.train(positives + background, now=NOW)
    (p,) = model.predict([("Zymurgy regime", "We study the zymurgy regime.")])
    assert p.section == tagged
    assert p.runner_up is not None and p.runner_up != tagged
    untagged = RelevanceModel.train(
        [replace(e, keywords=()) for e in positives] + background, now=NOW
    )
    (q,) = untagged.predict([("Zymurgy regime", "We study the zymurgy regime.")])
    assert q.section_scores[tagged] < p.section_scores[tagged]


# --- the array tokenizer and vocabulary against the obvious way ------------------------------

_TRICKY = [
    "Deep double-descent and the the Lottery ticket: 10x faster, x2, 2x, _private, a_b",
    "Ünïcode wörds: STRASSE straße ΣΑΣ naïve İstanbul \x00 nul, tab\tand\nnewline",
    "Mathematical 𝒜lpha 𝔅eta and emoji 😀ab ab😀cd, lone \ud800surrogate",
    "",
    "of the and",  # stop words only
    "a b c",  # one-letter words are no tokens
]


def _reference_grams(text: str) -> list[str]:
    stop = relevance.stop_words()
    tokens = [t for t in relevance._TOKEN_RE.findall(text.lower()) if t not in stop]
    return [*tokens, *(f"{a} {b}" for a, b in itertools.pairwise(tokens))]


def _texts(corpus: dict[str, dict], n: int) -> list[str]:
    records = list(corpus.values())[:n]
    return [example_text(r["title"], r["abstract"]) for r in records] + _TRICKY * 2


def test_counts_are_the_token_patterns_grams(corpus: dict[str, dict]) -> None:
    texts = _texts(corpus, 300)
    features = TextFeatures.fit(texts, lsa_dims=0, min_df=1)
    counts = features.counts(texts)
    for i, text in enumerate(texts):
        want: dict[int, int] = {}
        for gram in _reference_grams(text):
            col = features.term_index(gram)
            assert col is not None, gram  # min_df=1: every gram of the texts is a term
            want[col] = want.get(col, 0) + 1
        row = counts[i]
        got = dict(zip(row.indices.tolist(), row.data.astype(int).tolist(), strict=True))
        assert got == want, text[:60]


def test_unknown_words_break_bigrams_and_count_nothing(corpus: dict[str, dict]) -> None:
    features = TextFeatures.fit(_texts(corpus, 200), lsa_dims=0)
    row = features.counts(["neural zzqxunseenword network neural network"])[0]
    neural, network = features.term_index("neural"), features.term_index("network")
    pair = features.term_index("neural network")
    assert neural is not None and network is not None and pair is not None
    got = dict(zip(row.indices.tolist(), row.data.tolist(), strict=True))
    assert got == {neural: 2.0, network: 2.0, pair: 1.0}
    assert features.counts([]).shape == (0, features.n_terms)


def test_vocabulary_is_the_commonest_grams_counted_the_obvious_way(
    corpus: dict[str, dict],
) -> None:
    texts = _texts(corpus, 400)
    df: dict[str, int] = {}
    for text in texts:
        for gram in set(_reference_grams(text)):
            df[gram] = df.get(gram, 0) + 1
    for max_features in (None, 3000):
        # one chunk: counted exactly
        got = relevance._vocabulary_counts(texts, 2, max_features, chunk=len(texts))
        want = sorted((t, c) for t, c in df.items() if c >= 2)
        if max_features is not None:
            want = sorted(sorted(want, key=lambda tc: (-tc[1], tc[0]))[:max_features])
        assert got == want


def test_hash_index_finds_every_key_and_nothing_else() -> None:
    rng = np.random.default_rng(0)
    keys = np.unique(rng.integers(0, 2**63, size=5000, dtype=np.int64).astype(np.uint64))
    values = np.arange(len(keys), dtype=np.int64)
    index = relevance._HashIndex(keys, values)
    # every key, in any order, including those whose table slot another key took
    order = rng.permutation(len(keys))
    assert (index.lookup(keys[order]) == values[order]).all()
    others = np.setdiff1d(rng.integers(0, 2**63, size=5000, dtype=np.int64).astype(np.uint64), keys)
    assert (index.lookup(others) == -1).all()
    assert (relevance._HashIndex(keys[:0], values[:0]).lookup(keys[:3]) == -1).all()


def test_stacked_rows_are_vstack(corpus: dict[str, dict]) -> None:
    features = TextFeatures.fit(_texts(corpus, 200), lsa_dims=0)
    parts = [features.transform(_texts(corpus, n)[:n]) for n in (5, 40, 1, 17)]
    want = sp.vstack(parts, format="csr")
    got = relevance._stack_rows(list(parts))
    assert got.shape == want.shape and (got != want).nnz == 0


def _reference_pair_cosines(
    terms: sp.csr_matrix, catalog: sp.csr_matrix, short: np.ndarray
) -> np.ndarray:
    """The straightforward re-ranking: each query row repeated, multiplied, summed."""
    repeated = terms[np.repeat(np.arange(terms.shape[0]), short.shape[1])]
    return np.asarray(
        repeated.multiply(catalog[short.ravel()]).sum(axis=1), dtype=np.float32
    ).reshape(short.shape)


def _sorted_rows(m: sp.csr_matrix) -> sp.csr_matrix:
    out = sp.csr_matrix(m, copy=True)
    out.sort_indices()
    return out


def test_shortlist_cosines_are_the_repeated_product_bit_for_bit(
    model: RelevanceModel, corpus: dict[str, dict]
) -> None:
    """Query rows as transformed (unsorted) and sorted, catalog rows as trained and as
    loaded (stored order): SciPy sums each layout's products in a different order, and
    the re-ranking must match every one exactly, ties and last bits included."""
    records = list(corpus.values())[1500:1800]
    rows = model.features.transform(example_text(r["title"], r["abstract"]) for r in records)
    terms = rows[:, : model.features.n_terms].tocsr()
    loaded = RelevanceModel.from_bytes(model.to_bytes()).catalog_terms
    n_cat = model.catalog_terms.shape[0]
    rng = np.random.default_rng(7)
    short = rng.integers(0, n_cat, size=(terms.shape[0], 16))
    short[:, 0] = short[:, 1]  # the same catalog row twice in one shortlist
    checked = 0
    for catalog in (model.catalog_terms, loaded, _sorted_rows(loaded)):
        rising, _ = relevance._row_order(catalog)
        for query in (terms, _sorted_rows(terms)):
            got = relevance._pair_cosines(query, catalog, rising, short)
            assert got is not None
            want = _reference_pair_cosines(query, catalog, short)
            assert got.dtype == want.dtype == np.float32
            assert np.array_equal(got.view(np.uint32), want.view(np.uint32))
            checked += int((want > 0).sum())
    assert checked > 1000  # real overlaps, not a table of zeros


def _reference_neighbours(
    model: RelevanceModel, rows: sp.csr_matrix, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """The shortlist re-ranked the straightforward way (what predictions are made of)."""
    n = model.features.n_terms
    terms = rows[:, :n]
    latent = np.asarray(rows[:, n:].todense(), dtype=np.float32)
    want = max(k, relevance.SHORTLIST)
    short = np.concatenate(
        [
            relevance._top_k_blocked(latent[lo : lo + 256] @ model.catalog_latent.T, want)
            for lo in range(0, latent.shape[0], 256)
        ]
    )
    exact = _reference_pair_cosines(terms, model.catalog_terms, short)
    order = relevance._top_k(exact, k)
    return np.take_along_axis(short, order, axis=1), np.take_along_axis(exact, order, axis=1)


def test_large_catalog_neighbours_are_the_straightforward_ones(
    shared: Callable[[str], Path], corpus: dict[str, dict]
) -> None:
    """A catalog past `EXACT_NEIGHBOURS_UP_TO` (real abstracts), trained and reloaded:
    the shortlist's neighbours and cosines, which every relevance, section score and
    neighbour of a prediction is computed from, equal the straightforward re-ranking's
    bit for bit."""
    n_cat = relevance.EXACT_NEIGHBOURS_UP_TO + 200
    catalog = []
    with gzip.open(shared("data/corpus/amds123-arxiv-blog-posts-2015_2019.jsonl.gz"), "rt") as f:
        for line in f:
            r = json.loads(line)
            if r.get("title") and r.get("abstract"):
                catalog.append(r)
                if len(catalog) == n_cat:
                    break
    sections = ["Theory", "Empirical", "Robustness"]
    examples = [
        Example(r["id"], r["title"], r["abstract"], sections[i % 3], "positive")
        for i, r in enumerate(catalog)
    ] + [
        Example(r["id"], r["title"], r["abstract"], None, "background")
        for r in list(corpus.values())[:1000]
    ]
    trained = RelevanceModel.train(examples, now=NOW)
    assert trained.features.lsa_dims
    records = list(corpus.values())[1000:1600]
    texts = [example_text(r["title"], r["abstract"]) for r in records]
    for model in (trained, RelevanceModel.from_bytes(trained.to_bytes())):
        rows = model.features.transform(texts)
        idx, sims = model._neighbours(rows, relevance.SHORTLIST)
        want_idx, want_sims = _reference_neighbours(model, rows, relevance.SHORTLIST)
        assert np.array_equal(idx, want_idx)
        assert np.array_equal(sims.view(np.uint32), want_sims.view(np.uint32))
        assert (sims[:, 0] > 0).mean() > 0.9
        assert len(model.predict([(r["title"], r["abstract"]) for r in records[:50]])) == 50


def test_a_column_twice_in_a_query_row_takes_scipys_path(model: RelevanceModel) -> None:
    catalog = model.catalog_terms
    rising, _ = relevance._row_order(catalog)
    col = int(catalog.indices[0])
    twice = sp.csr_matrix(
        (np.array([1.0, 2.0], np.float32), np.array([col, col]), np.array([0, 2])),
        shape=(1, catalog.shape[1]),
    )
    assert relevance._pair_cosines(twice, catalog, rising, np.zeros((1, 4), np.int64)) is None
