"""The relevance model: learns from the community's decisions which papers belong on the list, and where.

Pure: no database, no Discord. The model is trained from labelled `Example`s

* ``positive``: catalog papers (approved candidates and imported list entries), with their
  section and the list's key words; text = title + abstract, or title + digest;
* ``negative``: candidates the community rejected;
* ``background``: ordinary announcements nobody flagged (weak negatives): the community's
  own feed items, or the bundled sample (`feeds.background`) before the first poll,

and predicts, for a new paper, a relevance in 0..1, a section (with a runner-up when two
are close) and the three most similar catalog papers.

Features are tf-idf over word 1-2 grams (sublinear tf, l2-normalised) of the cleaned
title + text, plus a few latent-semantic columns (a truncated SVD of the commoner terms).
Relevance is a class-weighted logistic regression over those features, blended with the
cosine similarity to the nearest catalog paper (it catches papers that say the same thing
as one catalog paper in words the linear model has not weighted yet). Neighbours of a large
catalog are found in the latent space and re-ranked by their exact tf-idf cosine.

Calibration: a fifth of the background is held out of the regression; the relevance that
1 %, 3 %, ... of that unseen background reaches is stored (`metrics["calibration"]`), so a
flag rate ("3 % of an ordinary day") maps to a score cut (`threshold_for_rate`).

Sections mix three signals, each normalised over the sections: the section's centroid,
the section's nearest catalog papers, and the section's own key words (the list's
``Key Word:`` tags, weighted by how much each one says about a section).

Serialisation (`to_bytes`/`from_bytes`) stores only numpy arrays and JSON in an
``np.savez`` archive behind a magic header and a format version; it is loaded with
``allow_pickle=False``, so a blob from anywhere can at worst be refused, never run code.
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import math
import re
import zipfile
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from itertools import islice, pairwise, repeat
from typing import Any, Literal, overload

import numpy as np
import scipy.sparse as sp
from scipy.optimize import minimize
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS
from sklearn.linear_model import LogisticRegression

from feeds.errors import PaperbotError
from feeds.models import Match, Paper

__all__ = [
    "CALIBRATION_RATES",
    "FORMAT_VERSION",
    "Example",
    "ModelFormatError",
    "Neighbour",
    "Prediction",
    "RelevanceModel",
    "Settings",
    "TextFeatures",
    "TrainingError",
    "apply_budget",
    "combine",
    "combined_scores",
    "example_text",
]

FORMAT_MAGIC = b"PAPERBOT-RELEVANCE\n"
FORMAT_VERSION = 2  # 1: full catalog matrix, in-sample thresholds (refused: retrain)

MIN_POSITIVES = 5  # fewer catalog papers than this teach nothing a keyword rule doesn't
MIN_NEGATIVES = 20  # rejected + background; without them "relevant" has no contrast
RUNNER_UP_RATIO = 0.8  # a second section within 80% of the first is worth showing
N_NEIGHBOURS = 3
# Neighbour search keeps each catalog paper's heaviest tf-idf terms only: a long abstract's
# light, common words cost most of the sparse product (long postings) and move a cosine little.
NEIGHBOUR_TERMS = 48
# Above this many catalog papers, neighbours are shortlisted in the latent space (one dense
# product) and only the shortlist gets an exact tf-idf cosine: the exact sparse product of
# every paper with every catalog paper is what made scoring slow.
EXACT_NEIGHBOURS_UP_TO = 3000
SHORTLIST = 16
SECTION_NEIGHBOURS = 3  # a section's neighbour evidence: its 3 closest catalog papers
_BATCH = 2000  # texts turned into rows at a time
CHUNK = 1000  # rows scored at a time: bounds the (rows x catalog) similarity matrix
# The share of an ordinary day a model may flag is read off background it never saw.
CALIBRATION_RATES = (0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.2)
HELD_OUT_SHARE = 0.2
MIN_HELD_OUT = 50  # fewer unseen background papers than this: calibrate in-sample

Label = Literal["positive", "negative", "background"]
_LABELS = ("positive", "negative", "background")


class TrainingError(PaperbotError):
    """The examples cannot train a model (too few positives, no contrast, ...)."""


class ModelFormatError(PaperbotError):
    """Bytes that are not a relevance model this version of paperbot can load."""


@dataclass(slots=True)
class Example:
    """One labelled paper. `text` is the abstract, or the list digest when there is none;
    `keywords` are the list's key words for the entry (positives only)."""

    key: str  # arXiv id (or the catalog key for papers without one)
    title: str
    text: str
    section: str | None  # required for positives, ignored otherwise
    label: Label
    keywords: tuple[str, ...] = ()


@dataclass(slots=True)
class Neighbour:
    """A catalog paper similar to the one scored (cosine of tf-idf vectors, 0..1)."""

    key: str
    title: str
    similarity: float


@dataclass(slots=True)
class Prediction:
    """What the model says about one paper."""

    relevance: float  # 0..1; `RelevanceModel.threshold_for_rate` gives its scale
    section: str | None
    section_scores: dict[str, float] = field(default_factory=dict)  # sum to 1 over sections
    runner_up: str | None = None  # second section, only when close to the first
    neighbours: list[Neighbour] = field(default_factory=list)  # best first


# --- text -------------------------------------------------------------------------------

_MD_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_URL = re.compile(r"https?://\S+|www\.\S+")
_LATEX_CMD = re.compile(r"\\([a-zA-Z]+)")
# Words start with a letter, so bare numbers ("10", "2024") never become features; hyphens
# split ("double-descent" -> "double descent", which the bigram then catches).
# (A lookbehind, not `\b`, opens the token: the same tokens, found faster.)
_TOKEN_RE = re.compile(r"(?<!\w)[^\W\d_]\w+")
_STOP_WORDS = frozenset(ENGLISH_STOP_WORDS)


def clean_text(text: str) -> str:
    """Markdown links to their words, URLs and LaTeX backslashes dropped, spaces collapsed."""
    # Each substitution only where its marker is: most abstracts have none of them, and
    # cleaning is a third of the cost of scoring a paper.
    if "](" in text:
        text = _MD_LINK.sub(r"\1", text)
    if "http" in text or "www." in text:
        text = _URL.sub(" ", text)
    if "\\" in text:
        text = _LATEX_CMD.sub(r"\1", text)
    return " ".join(text.split())


def example_text(title: str, body: str) -> str:
    """The text a paper is judged by: title (twice: it is the densest signal) + body."""
    title = clean_text(title)
    return f"{title}. {title}. {clean_text(body)}"


def _tokens(text: str) -> list[str]:
    stop = _STOP_WORDS
    return [t for t in _TOKEN_RE.findall(text.lower()) if t not in stop]


def _grams(text: str) -> list[str]:
    tokens = _tokens(text)
    return [*tokens, *map(" ".join, pairwise(tokens))]


def keyword_terms(keyword: str) -> list[str]:
    """The feature terms a key word is made of: itself when one or two words, else its bigrams."""
    tokens = _tokens(keyword)
    if len(tokens) <= 2:
        return [" ".join(tokens)] if tokens else []
    return [" ".join(p) for p in pairwise(tokens)]


class TextFeatures:
    """Texts -> feature rows: l2-normalised sublinear tf-idf over a fixed vocabulary, followed
    by (optionally) `lsa_dims` latent-semantic columns (a truncated SVD of the tf-idf of the
    commoner terms, l2-normalised), which let two texts that say the same thing in different
    words meet. Fitting is unsupervised. Kept as plain arrays (not fitted sklearn objects)
    so a model can be stored without pickle.
    """

    NGRAM_RANGE = (1, 2)

    def __init__(
        self,
        vocabulary: Sequence[str],
        idf: np.ndarray,
        lsa_columns: np.ndarray | None = None,
        lsa_components: np.ndarray | None = None,
    ) -> None:
        if len(vocabulary) != len(idf):
            raise ValueError("vocabulary and idf differ in length")
        self.vocabulary = list(vocabulary)
        self.idf = np.asarray(idf, dtype=np.float32)
        self.lsa_columns = np.asarray(
            lsa_columns if lsa_columns is not None else [], dtype=np.int64
        )
        self.lsa_components = np.asarray(
            lsa_components if lsa_components is not None else np.zeros((0, 0)), dtype=np.float32
        )
        if self.lsa_components.size and self.lsa_components.shape[1] != len(self.lsa_columns):
            raise ValueError("LSA components do not match their columns")
        self._index = {term: i for i, term in enumerate(self.vocabulary)}

    @classmethod
    def fit(
        cls,
        texts: Iterable[str],
        *,
        min_df: int = 2,
        max_features: int | None = 60_000,
        lsa_dims: int = 64,
        lsa_terms: int = 6000,
        lsa_sample: int = 8000,
        seed: int = 0,
        chunk: int = 2000,
    ) -> TextFeatures:
        """Learn vocabulary, idf and the latent directions from texts (no labels).

        Document frequencies are counted a chunk at a time (`_document_frequencies`), so
        the bigrams seen once, most of the distinct terms of 30,000 abstracts, do not pile up.
        """
        if not isinstance(texts, Sequence):
            texts = list(texts)
        df = _document_frequencies(texts, min_df, max_features, chunk)
        floor = min(min_df, max(1, len(texts)))
        kept = [(t, c) for t, c in df.items() if c >= floor]
        del df
        if max_features is not None and len(kept) > max_features:
            kept.sort(key=lambda tc: (-tc[1], tc[0]))
            kept = kept[:max_features]
        kept.sort()
        n_docs = len(texts)
        counts_df = np.array([c for _, c in kept], dtype=np.float64)
        idf = np.log((1 + n_docs) / (1 + counts_df)) + 1.0  # sklearn's smooth idf
        plain = cls([t for t, _ in kept], idf)
        if lsa_dims <= 0 or not kept:
            return plain
        order = np.argsort(-counts_df, kind="stable")
        cols = np.sort(order[: min(lsa_terms, len(order))])
        dims = min(lsa_dims, len(cols) - 1, n_docs - 1)
        if dims < 2:
            return plain
        # The latent directions are learnt from an even sample of the texts: 8,000
        # abstracts find the same few dozen directions as 30,000, in a third of the memory.
        sample = range(0, n_docs, max(1, math.ceil(n_docs / lsa_sample)))
        tfidf = sp.vstack(
            [
                plain._tfidf(plain.counts(texts[i] for i in sample[j : j + chunk]))[:, cols]
                for j in range(0, len(sample), chunk)
            ],
            format="csr",
        )
        svd = TruncatedSVD(dims, algorithm="randomized", n_iter=4, random_state=seed)
        svd.fit(tfidf)
        return cls(plain.vocabulary, idf, cols, svd.components_)

    def counts(self, texts: Iterable[str]) -> sp.csr_matrix:
        """Term counts over the vocabulary: lowercase, token pattern, stop words out, then
        1-2 grams, known terms looked up in one pass."""
        get = self._index.get
        find = _TOKEN_RE.findall
        stop = _STOP_WORDS
        ends = [0]
        looked: list[int] = []
        for text in texts:
            tokens = [t for t in find(text.lower()) if t not in stop]
            # unknown terms look up as -1 and are dropped below in one array operation
            looked.extend(map(get, tokens, repeat(-1, len(tokens))))
            looked.extend(map(get, map(" ".join, pairwise(tokens)), repeat(-1)))
            ends.append(len(looked))
        raw = np.array(looked, dtype=np.int32)
        known = raw >= 0
        cumulative = np.concatenate([[0], np.cumsum(known, dtype=np.int64)])
        indptr = cumulative[np.array(ends, dtype=np.int64)]
        m = sp.csr_matrix(
            (np.ones(int(known.sum()), dtype=np.float32), raw[known], indptr),
            shape=(len(ends) - 1, len(self.vocabulary)),
        )
        m.sum_duplicates()  # also sorts the indices
        return m

    def _tfidf(self, counts: sp.csr_matrix) -> sp.csr_matrix:
        counts = sp.csr_matrix(counts, dtype=np.float32, copy=True)
        counts.data = 1.0 + np.log(counts.data)  # sublinear tf
        counts = sp.csr_matrix(counts.multiply(self.idf), dtype=np.float32)
        return _l2_rows(counts)

    def transform(self, texts: Iterable[str]) -> sp.csr_matrix:
        """Feature rows for texts, `_BATCH` at a time (bounds the transient copies)."""
        it = iter(texts)
        parts = []
        while batch := list(islice(it, _BATCH)):
            parts.append(self._transform(batch))
        if len(parts) == 1:
            return parts[0]
        if not parts:
            return sp.csr_matrix((0, self.size), dtype=np.float32)
        return sp.csr_matrix(sp.vstack(parts, format="csr"), dtype=np.float32)

    def _transform(self, texts: list[str]) -> sp.csr_matrix:
        tfidf = self._tfidf(self.counts(texts))
        if not self.lsa_dims:
            return tfidf
        latent = np.asarray(tfidf[:, self.lsa_columns] @ self.lsa_components.T, dtype=np.float32)
        norms = np.linalg.norm(latent, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return sp.hstack([tfidf, sp.csr_matrix(latent / norms)], format="csr", dtype=np.float32)

    def term_index(self, term: str) -> int | None:
        return self._index.get(term)

    @property
    def n_terms(self) -> int:
        """Columns 0..n_terms-1 are tf-idf (used for cosine neighbours); the rest latent."""
        return len(self.vocabulary)

    @property
    def lsa_dims(self) -> int:
        return int(self.lsa_components.shape[0]) if self.lsa_components.size else 0

    @property
    def size(self) -> int:
        return self.n_terms + self.lsa_dims


def _document_frequencies(
    texts: Sequence[str], min_df: int, max_features: int | None, chunk: int
) -> Counter[str]:
    """Document frequencies, `chunk` texts at a time; after each chunk the terms seen in one
    text only are dropped (and, past 3 x `max_features` terms, the rarest): the bigrams of
    30,000 abstracts seen once are most of the memory a plain count takes, and a term that
    is in one text of the chunks so far is far from what a vocabulary keeps. A corpus of
    one chunk is counted exactly."""
    df: Counter[str] = Counter()
    bound = 3 * max_features if max_features is not None else None
    for start in range(0, len(texts), chunk):
        for i in range(start, min(start + chunk, len(texts))):
            df.update(set(_grams(texts[i])))
        if start + chunk >= len(texts):
            break
        if min_df > 1:
            for term in [t for t, c in df.items() if c == 1]:
                del df[term]
        if bound is not None and len(df) > bound:
            floor_count = sorted(df.values(), reverse=True)[2 * bound // 3]
            for term in [t for t, c in df.items() if c <= floor_count]:
                del df[term]
    return df


def _heaviest(m: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """Each row's `k` largest entries (the rest dropped, not renormalised)."""
    counts = np.diff(m.indptr)
    if counts.max(initial=0) <= k:
        return m
    data, indices, indptr = [], [], [0]
    for i in range(m.shape[0]):
        lo, hi = m.indptr[i], m.indptr[i + 1]
        d, j = m.data[lo:hi], m.indices[lo:hi]
        if hi - lo > k:
            keep = np.sort(np.argpartition(-d, k)[:k])
            d, j = d[keep], j[keep]
        data.append(d)
        indices.append(j)
        indptr.append(indptr[-1] + len(d))
    return sp.csr_matrix(
        (np.concatenate(data), np.concatenate(indices), np.array(indptr)), shape=m.shape
    )


def _top_k(values: np.ndarray, k: int) -> np.ndarray:
    """Per row, the column indices of the `k` largest values, largest first."""
    k = min(k, values.shape[1])
    if k == 0:
        return np.zeros((values.shape[0], 0), dtype=np.int64)
    if k < values.shape[1]:
        part = np.argpartition(-values, k - 1, axis=1)[:, :k]
    else:
        part = np.tile(np.arange(values.shape[1]), (values.shape[0], 1))
    picked = np.take_along_axis(values, part, axis=1)
    # ties broken by column, so the order does not depend on the partition's internals
    order = np.lexsort((part, -picked), axis=1)
    return np.take_along_axis(part, order, axis=1)


def _top_k_blocked(values: np.ndarray, k: int, block: int = 32) -> np.ndarray:
    """`_top_k` for wide rows: the `k` best blocks of `block` columns by their maximum
    hold the `k` best columns, so only those blocks are partitioned (exact, and a few
    times faster than partitioning 10,000 columns per row)."""
    n, m = values.shape
    n_blocks = m // block
    if n_blocks < 4 * k:
        return _top_k(values, k)
    head = values[:, : n_blocks * block].reshape(n, n_blocks, block)
    best_blocks = _top_k(head.max(axis=2), k)
    columns = (best_blocks[:, :, None] * block + np.arange(block)).reshape(n, k * block)
    if n_blocks * block < m:
        tail = np.arange(n_blocks * block, m)
        columns = np.hstack([columns, np.broadcast_to(tail, (n, len(tail)))])
    picked = _top_k(np.take_along_axis(values, columns, axis=1), k)
    return np.take_along_axis(columns, picked, axis=1)


def _l2_rows(m: sp.csr_matrix) -> sp.csr_matrix:
    norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sp.csr_matrix(sp.diags((1.0 / norms).astype(np.float32)) @ m, dtype=np.float32)


def _held_out(key: str) -> bool:
    """A fixed fifth of background keys, kept out of the regression to calibrate on."""
    return hashlib.sha1(key.encode("utf-8")).digest()[0] < int(256 * HELD_OUT_SHARE)


def _fit_logistic(
    x: sp.csr_matrix, y: np.ndarray, weights: np.ndarray, c: float
) -> tuple[np.ndarray, float]:
    """Weighted l2-regularised logistic regression, ``0.5 |w|^2 + c * sum_i weight_i *
    log(1 + exp(-s_i (x_i.w + b)))`` (liblinear's objective, the intercept unpenalised),
    minimised by L-BFGS on the float32 rows as they are: liblinear's own copy of the
    rows (and scikit-learn's float64 one) took more memory than the rows themselves."""
    if x.dtype != np.float32:
        x = sp.csr_matrix(x, dtype=np.float32)
    xt = x.T  # a view (CSC), not a copy
    sign = np.where(y == 1, 1.0, -1.0)
    cw = c * np.asarray(weights, dtype=np.float64)
    n_features = x.shape[1]

    def loss(params: np.ndarray) -> tuple[float, np.ndarray]:
        w = params[:n_features].astype(np.float32)
        margin = sign * (np.asarray(x @ w, dtype=np.float64) + params[n_features])
        # log(1 + exp(-m)) and its derivative, stable for large |m|
        value = float(np.sum(cw * np.logaddexp(0.0, -margin))) + 0.5 * float(w @ w)
        r = -cw * sign * _expit(-margin)
        grad = np.empty_like(params)
        grad[:n_features] = np.asarray(xt @ r.astype(np.float32), dtype=np.float64)
        grad[:n_features] += params[:n_features]
        grad[n_features] = float(r.sum())
        return value, grad

    start = np.zeros(n_features + 1, dtype=np.float64)
    found = minimize(loss, start, jac=True, method="L-BFGS-B", options={"maxiter": 500})
    return np.asarray(found.x[:n_features], dtype=np.float32), float(found.x[n_features])


def _expit(v: np.ndarray) -> np.ndarray:
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * v)))


def _half(a: np.ndarray) -> np.ndarray:
    return np.asarray(a, dtype=np.float16).astype(np.float32)


def _normalise_rows(m: np.ndarray) -> np.ndarray:
    total = m.sum(axis=1, keepdims=True)
    return np.asarray(np.divide(m, total, out=np.zeros_like(m), where=total > 0))


# --- the model --------------------------------------------------------------------------


@dataclass(slots=True)
class Settings:
    """Knobs of one model; stored with it so a loaded model predicts exactly as trained."""

    c: float = 4.0  # inverse l2 strength of the relevance regression
    negative_weight: float = 3.0  # an explicit rejection counts as this many background items
    knn_weight: float = 0.5  # share of the kNN similarity term in the relevance score
    knn_k: int = 1  # relevance kNN term: mean cosine of the k closest catalog papers
    knn_scale: float = 0.15  # a tf-idf cosine of 0.15 to a catalog paper counts as 1 unit
    # relevance = sigmoid(slope * (blend - centre)), the centre being the blend above which
    # `calibrate_percent` % of the held-out background lies: a relevance of 0.5 means "as
    # relevant as the top 3 % of an ordinary day's announcements"
    calibrate_percent: float = 3.0
    slope: float = 2.0
    # section evidence, each normalised over the sections, mixed by these weights
    section_centroid: float = 1.0
    section_neighbours: float = 1.0
    section_keywords: float = 1.0
    section_classifier: float = 1.0
    section_c: float = 4.0  # inverse l2 strength of the section classifier


class RelevanceModel:
    """Relevance + section + neighbours, trained from the community's decisions.

    Attributes: `version` (set by the caller: the catalog's model counter), `trained_at`,
    `n_train`, `n_positive`, `sections` (those with at least one positive) and `metrics`
    (counts per label, vocabulary size, `calibration`: [[flag rate, relevance], ...] read
    off held-out background, and `flag_thresholds`: the same for 3/5/10 %, for people).
    """

    def __init__(
        self,
        *,
        version: int,
        trained_at: datetime,
        features: TextFeatures,
        coef: np.ndarray,
        intercept: float,
        catalog_keys: list[str],
        catalog_titles: list[str],
        catalog_sections: list[str],
        catalog_terms: sp.csr_matrix,
        catalog_latent: np.ndarray,
        centroids: np.ndarray,
        keyword_columns: np.ndarray,
        keyword_weights: np.ndarray,
        section_coef: np.ndarray,
        section_intercept: np.ndarray,
        sections: list[str],
        settings: Settings,
        calibration: tuple[float, float, float],
        n_train: int,
        metrics: dict[str, Any],
    ) -> None:
        self.version = version
        self.trained_at = trained_at
        self.features = features
        self.coef = np.asarray(coef, dtype=np.float32)
        self.intercept = float(intercept)
        self.catalog_keys = catalog_keys
        self.catalog_titles = catalog_titles
        self.catalog_sections = catalog_sections
        # Catalog arrays are held at the float16 precision they are stored in (a cosine
        # needs no more), so a loaded model predicts exactly what the trained one did.
        self.catalog_terms = sp.csr_matrix(catalog_terms, dtype=np.float32, copy=True)
        self.catalog_terms.data = _half(self.catalog_terms.data)
        self._catalog_terms_t = self.catalog_terms.T.tocsc()
        self.catalog_latent = _half(np.asarray(catalog_latent))
        self.centroids = _half(np.asarray(centroids))
        self.keyword_columns = np.asarray(keyword_columns, dtype=np.int64)
        self.keyword_weights = np.asarray(keyword_weights, dtype=np.float32)
        self.section_coef = _half(np.asarray(section_coef))
        self.section_intercept = np.asarray(section_intercept, dtype=np.float32)
        self.sections = sections
        self.settings = settings
        # (median, spread) of the background's logits, and the blend that maps to 0.5
        self.calibration = calibration
        self.n_train = n_train
        self.n_positive = len(catalog_keys)
        self.metrics = metrics
        self._section_of = np.array([sections.index(s) for s in catalog_sections], dtype=np.int64)

    def __repr__(self) -> str:
        return (
            f"<RelevanceModel v{self.version} trained {self.trained_at:%Y-%m-%d %H:%M} UTC "
            f"on {self.n_train} examples ({self.n_positive} positive), {len(self.sections)} sections>"
        )

    # -- training --

    @classmethod
    def train(
        cls,
        examples: Sequence[Example],
        *,
        now: datetime,
        version: int = 1,
        settings: Settings | None = None,
        features: TextFeatures | None = None,
        matrix: sp.csr_matrix | None = None,
    ) -> RelevanceModel:
        """Train on labelled examples. Raises `TrainingError` when they cannot teach anything.

        `features`/`matrix` let a caller that retrains many times on the same texts (the
        evaluation's leave-one-out) fit the vocabulary once and pass the rows of `examples`
        already transformed; normally leave both None and the vocabulary is fit here on the
        examples' own text (unsupervised).
        """
        settings = settings or Settings()
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware (UTC)")
        labels = [e.label for e in examples]
        for e in examples:
            if e.label not in _LABELS:
                raise TrainingError(f"example {e.key!r}: unknown label {e.label!r}")
            if e.label == "positive" and not e.section:
                raise TrainingError(f"positive example {e.key!r} has no section")
        n_pos = labels.count("positive")
        n_rej = labels.count("negative")
        n_bg = labels.count("background")
        if n_pos < MIN_POSITIVES:
            raise TrainingError(
                f"only {n_pos} catalog papers to learn from; need at least {MIN_POSITIVES}"
            )
        if n_rej + n_bg < MIN_NEGATIVES:
            raise TrainingError(
                f"only {n_rej + n_bg} rejected or background papers; need at least "
                f"{MIN_NEGATIVES} to tell relevant from not"
            )

        if features is None or matrix is None:
            texts = _ExampleTexts(examples)  # made when read: 30,000 abstracts are 40 MB
            features = features or TextFeatures.fit(texts)
            matrix = features.transform(texts)
        if matrix.shape != (len(examples), features.size):
            raise ValueError("matrix does not match examples x vocabulary")

        y = np.array([lab == "positive" for lab in labels], dtype=np.int8)
        bg_rows = np.array(
            [i for i, lab in enumerate(labels) if lab == "background"], dtype=np.int64
        )
        held_mask = np.zeros(len(examples), dtype=bool)
        held_candidates = [int(i) for i in bg_rows if _held_out(examples[int(i)].key)]
        if len(held_candidates) >= MIN_HELD_OUT:
            held_mask[held_candidates] = True
        # Class balance: the positives together weigh as much as all negatives together;
        # an explicit rejection weighs `negative_weight` background items; held-out rows
        # weigh nothing (so the regression never sees them, and the rows are not copied).
        neg_w = np.array([settings.negative_weight if lab == "negative" else 1.0 for lab in labels])
        neg_w[held_mask] = 0.0
        neg_total = float(neg_w[y == 0].sum())
        weights = np.where(y == 1, neg_total / n_pos, neg_w)
        weights = weights / weights[weights > 0].mean()
        coef, intercept = _fit_logistic(matrix, y, weights, settings.c)

        pos_rows = np.flatnonzero(y == 1)
        positives = [examples[int(i)] for i in pos_rows]
        sections = list(dict.fromkeys(e.section for e in positives if e.section))
        pos_matrix = matrix[pos_rows]
        n_terms = features.n_terms
        section_index = np.array([sections.index(e.section or "") for e in positives])
        onehot = sp.csr_matrix(
            (
                np.ones(len(section_index), dtype=np.float32),
                (section_index, np.arange(len(section_index))),
            ),
            shape=(len(sections), len(section_index)),
        )
        # Section centroids over the full representation (tf-idf + latent): with a few
        # papers per section, a centroid generalises better than any single neighbour.
        centroids = np.asarray((onehot @ pos_matrix).todense(), dtype=np.float32)
        norms = np.linalg.norm(centroids, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        centroids /= norms
        kw_columns, kw_weights, kw_top = _section_keywords(features, positives, sections)
        section_coef, section_intercept = _section_classifier(
            pos_matrix, section_index, len(sections), settings.section_c
        )
        model = cls(
            version=version,
            trained_at=now.astimezone(UTC),
            features=features,
            coef=coef,
            intercept=intercept,
            catalog_keys=[e.key for e in positives],
            catalog_titles=[clean_text(e.title) for e in positives],
            catalog_sections=[e.section or "" for e in positives],
            catalog_terms=_heaviest(pos_matrix[:, :n_terms].tocsr(), NEIGHBOUR_TERMS),
            catalog_latent=np.asarray(pos_matrix[:, n_terms:].todense(), dtype=np.float32),
            centroids=centroids,
            keyword_columns=kw_columns,
            keyword_weights=kw_weights,
            section_coef=section_coef,
            section_intercept=section_intercept,
            sections=sections,
            settings=settings,
            calibration=(0.0, 1.0, 0.0),
            n_train=len(examples),
            metrics={},
        )
        # Scale the logit by the background's own spread so the blend with cosine
        # similarity does not depend on how confident the regression happens to be.
        neg_rows = np.flatnonzero((y == 0) & ~held_mask)
        logits = model._logits(matrix[neg_rows])
        median = float(np.median(logits))
        spread = float(np.percentile(logits, 99) - median) or 1.0
        model.calibration = (median, spread, 0.0)
        held = np.flatnonzero(held_mask)
        if len(held) == 0:  # too little background to hold any out: in-sample
            held = bg_rows if len(bg_rows) else neg_rows
        bg = matrix[held]
        blend = np.concatenate(
            [model._blend(bg[i : i + CHUNK]) for i in range(0, bg.shape[0], CHUNK)]
        )
        centre = float(np.percentile(blend, 100 - settings.calibrate_percent))
        model.calibration = (median, spread, centre)
        bg_rel = 1.0 / (1.0 + np.exp(-(blend - centre) * settings.slope))
        model.metrics = {
            "n_positive": n_pos,
            "n_negative": n_rej,
            "n_background": n_bg,
            "n_calibration": int(held_mask.sum()),
            "vocabulary": features.size,
            "sections": {s: [e.section for e in positives].count(s) for s in sections},
            "section_keywords": kw_top,
            "calibration": [
                [r, round(float(np.quantile(bg_rel, 1 - r)), 4)] for r in CALIBRATION_RATES
            ],
            "flag_thresholds": {
                f"{p}%": round(float(np.quantile(bg_rel, 1 - p / 100)), 4) for p in (3, 5, 10)
            },
        }
        return model

    def with_settings(self, **changes: Any) -> RelevanceModel:
        """A copy scoring with other blend/section settings (`knn_weight`, `section_keywords`,
        ...); the learned weights and calibration are shared (so only the ranking is
        meaningful, not the 0.5 point). For comparing variants without retraining."""
        fixed = {"c", "negative_weight"}
        if fixed & changes.keys():
            raise ValueError(f"{sorted(fixed & changes.keys())} need a retraining")
        clone = copy.copy(self)
        clone.settings = replace(self.settings, **changes)
        return clone

    def threshold_for_rate(self, rate: float) -> float:
        """The relevance that `rate` (0..1) of ordinary announcements reach, read off the
        held-out background at training time (interpolated in log rate between the stored
        points, clamped at their ends)."""
        if not 0.0 < rate < 1.0:
            raise ValueError(f"flag rate {rate} is not between 0 and 1")
        points = sorted((float(r), float(s)) for r, s in self.metrics.get("calibration", []))
        if not points:
            return 0.5
        if rate <= points[0][0]:
            return points[0][1]
        if rate >= points[-1][0]:
            return points[-1][1]
        for (r0, s0), (r1, s1) in pairwise(points):
            if r0 <= rate <= r1:
                t = (math.log(rate) - math.log(r0)) / (math.log(r1) - math.log(r0))
                return s0 + t * (s1 - s0)
        return points[-1][1]

    # -- scoring --

    def _logits(self, rows: sp.csr_matrix) -> np.ndarray:
        return np.asarray(rows @ self.coef).ravel() + self.intercept

    def _neighbours(self, rows: sp.csr_matrix, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(indices, cosines), each (n, k): the `k` closest catalog papers by tf-idf cosine,
        best first. Large catalogs: shortlisted by latent cosine, re-ranked exactly."""
        n_cat = len(self.catalog_keys)
        n = self.features.n_terms
        terms = rows[:, :n] if rows.shape[1] > n else rows
        k = min(k, n_cat)
        if n_cat <= EXACT_NEIGHBOURS_UP_TO or not self.features.lsa_dims:
            sims = np.asarray((terms @ self._catalog_terms_t).todense(), dtype=np.float32)
            idx = _top_k(sims, k)
            return idx, np.take_along_axis(sims, idx, axis=1)
        latent = np.asarray(rows[:, n:].todense(), dtype=np.float32)
        short = _top_k_blocked(latent @ self.catalog_latent.T, max(k, SHORTLIST))
        flat = short.ravel()
        repeated = terms[np.repeat(np.arange(terms.shape[0]), short.shape[1])]
        exact = np.asarray(
            repeated.multiply(self.catalog_terms[flat]).sum(axis=1), dtype=np.float32
        ).reshape(short.shape)
        order = _top_k(exact, k)
        return np.take_along_axis(short, order, axis=1), np.take_along_axis(exact, order, axis=1)

    def _blend(
        self, rows: sp.csr_matrix, near: tuple[np.ndarray, np.ndarray] | None = None
    ) -> np.ndarray:
        """Regression and nearest-neighbour evidence on one scale (before the sigmoid)."""
        st = self.settings
        if near is None:
            near = self._neighbours(rows, max(1, st.knn_k))
        sims = near[1]
        median, spread, _ = self.calibration
        z = (self._logits(rows) - median) / spread  # ~0 typical background, ~1 its top 1 %
        k = max(1, min(st.knn_k, sims.shape[1]))
        knn = sims[:, :k].mean(axis=1) if sims.shape[1] else np.zeros(rows.shape[0])
        return np.asarray((1 - st.knn_weight) * z + st.knn_weight * (knn / st.knn_scale))

    def _relevance(
        self, rows: sp.csr_matrix, near: tuple[np.ndarray, np.ndarray] | None = None
    ) -> np.ndarray:
        blend = self._blend(rows, near)
        return np.asarray(
            1.0 / (1.0 + np.exp(-(blend - self.calibration[2]) * self.settings.slope))
        )

    def section_evidence(
        self, rows: sp.csr_matrix, near: tuple[np.ndarray, np.ndarray] | None = None
    ) -> dict[str, np.ndarray]:
        """Each section signal, (n, n_sections), normalised to sum 1 per row (0 = none):
        ``classifier`` (a multinomial regression on the catalog), ``centroid``,
        ``neighbours`` (mean cosine of the section's closest catalog papers
        among the shortlist) and ``keywords`` (the section's key words present)."""
        n_sec = len(self.sections)
        norms = np.sqrt(np.asarray(rows.multiply(rows).sum(axis=1))).reshape(-1, 1)
        norms[norms == 0] = 1.0
        centroid = np.maximum(np.asarray(rows @ self.centroids.T) / norms, 0.0)
        if near is None:
            near = self._neighbours(rows, SHORTLIST)
        idx, sims = near
        neighbours = np.zeros((rows.shape[0], n_sec), dtype=np.float64)
        if idx.size:
            sec = self._section_of[idx]
            for s in range(n_sec):
                mine = np.where(sec == s, sims, 0.0)
                top = -np.sort(-mine, axis=1)[:, :SECTION_NEIGHBOURS]
                neighbours[:, s] = top.sum(axis=1) / SECTION_NEIGHBOURS
        keywords = np.zeros((rows.shape[0], n_sec), dtype=np.float64)
        if self.keyword_columns.size:
            present = (rows[:, self.keyword_columns] > 0).astype(np.float32)
            keywords = np.asarray(present @ self.keyword_weights, dtype=np.float64)
        logits = np.asarray(rows @ self.section_coef.T, dtype=np.float64) + self.section_intercept
        logits -= logits.max(axis=1, keepdims=True)
        classifier = np.exp(logits)
        return {
            "classifier": _normalise_rows(classifier),
            "centroid": _normalise_rows(np.asarray(centroid, dtype=np.float64)),
            "neighbours": _normalise_rows(np.maximum(neighbours, 0.0)),
            "keywords": _normalise_rows(keywords),
        }

    def _section_scores(
        self, rows: sp.csr_matrix, near: tuple[np.ndarray, np.ndarray] | None = None
    ) -> np.ndarray:
        st = self.settings
        ev = self.section_evidence(rows, near)
        mixed = (
            st.section_classifier * ev["classifier"]
            + st.section_centroid * ev["centroid"]
            + st.section_neighbours * ev["neighbours"]
            + st.section_keywords * ev["keywords"]
        )
        return _normalise_rows(mixed)

    def predict(self, papers: Sequence[Paper] | Sequence[tuple[str, str]]) -> list[Prediction]:
        """Score papers (or (title, abstract) pairs); one `Prediction` each, same order."""
        pairs = [(p.title, p.abstract) if isinstance(p, Paper) else p for p in papers]
        if not pairs:
            return []
        out: list[Prediction] = []
        for i in range(0, len(pairs), CHUNK):
            rows = self.features.transform(example_text(t, a) for t, a in pairs[i : i + CHUNK])
            out.extend(self.predict_rows(rows))
        return out

    def relevance_rows(self, rows: sp.csr_matrix) -> np.ndarray:
        """Relevance only (rounded as in `Prediction`), for rows transformed by `features`."""
        parts = [
            self._relevance(rows[i : i + CHUNK]) for i in range(0, max(rows.shape[0], 1), CHUNK)
        ]
        return np.round(np.concatenate(parts)[: rows.shape[0]], 4)

    def predict_rows(self, rows: sp.csr_matrix) -> list[Prediction]:
        """`predict` for rows already transformed by `self.features`."""
        near = self._neighbours(rows, max(SHORTLIST, self.settings.knn_k))
        relevance = self._relevance(rows, near)
        sec = self._section_scores(rows, near)
        idx, sims = near
        out = []
        for i in range(rows.shape[0]):
            total = float(sec[i].sum())
            if total > 0:
                scores = {s: round(float(v), 4) for s, v in zip(self.sections, sec[i], strict=True)}
            else:
                scores = {s: round(1.0 / len(self.sections), 4) for s in self.sections}
            ranked = sorted(scores, key=lambda s: (-scores[s], self.sections.index(s)))
            section = ranked[0] if total > 0 else None
            runner_up = None
            if (
                total > 0
                and len(ranked) > 1
                and scores[ranked[1]] >= RUNNER_UP_RATIO * scores[ranked[0]]
            ):
                runner_up = ranked[1]
            neighbours = [
                Neighbour(
                    self.catalog_keys[int(j)],
                    self.catalog_titles[int(j)],
                    round(float(s), 4),
                )
                for j, s in zip(idx[i, :N_NEIGHBOURS], sims[i, :N_NEIGHBOURS], strict=True)
                if s > 0
            ]
            out.append(
                Prediction(
                    relevance=round(float(relevance[i]), 4),
                    section=section,
                    section_scores=scores,
                    runner_up=runner_up,
                    neighbours=neighbours,
                )
            )
        return out

    # -- storage --

    def to_bytes(self) -> bytes:
        """A self-describing blob: magic header + format version + npz (arrays and JSON).

        Catalog rows are kept as their heaviest terms, in float16 like the latent rows and
        the centroids: together with a pruned vocabulary this keeps a
        10,000-paper model to a few MB."""
        meta = {
            "format": FORMAT_VERSION,
            "version": self.version,
            "trained_at": self.trained_at.isoformat(),
            "n_train": self.n_train,
            "sections": self.sections,
            "settings": {k: getattr(self.settings, k) for k in Settings.__slots__},
            "intercept": self.intercept,
            "calibration": list(self.calibration),
            "metrics": self.metrics,
            "catalog_keys": self.catalog_keys,
            "catalog_titles": self.catalog_titles,
            "catalog_sections": self.catalog_sections,
            "ngram_range": list(TextFeatures.NGRAM_RANGE),
        }
        cat = self.catalog_terms
        buf = io.BytesIO()
        np.savez_compressed(
            buf,
            meta=np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8),
            vocabulary=np.frombuffer(
                "\n".join(self.features.vocabulary).encode("utf-8"), dtype=np.uint8
            ),
            idf=self.features.idf,
            lsa_columns=self.features.lsa_columns.astype(np.int32),
            lsa_components=self.features.lsa_components,
            coef=self.coef,
            centroids=self.centroids.astype(np.float16),
            keyword_columns=self.keyword_columns.astype(np.int32),
            keyword_weights=self.keyword_weights,
            section_coef=self.section_coef.astype(np.float16),
            section_intercept=self.section_intercept,
            cat_data=cat.data.astype(np.float16),
            cat_indices=cat.indices.astype(np.int32),
            cat_indptr=cat.indptr.astype(np.int64),
            cat_shape=np.array(cat.shape, dtype=np.int64),
            cat_latent=self.catalog_latent.astype(np.float16),
        )
        return FORMAT_MAGIC + FORMAT_VERSION.to_bytes(2, "big") + buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> RelevanceModel:
        """Load a blob written by `to_bytes`; `ModelFormatError` for anything else (a model
        stored by an older paperbot included: the caller retrains)."""
        if not data.startswith(FORMAT_MAGIC):
            raise ModelFormatError("not a paperbot relevance model (bad header)")
        head = len(FORMAT_MAGIC)
        fmt = int.from_bytes(data[head : head + 2], "big")
        if fmt != FORMAT_VERSION:
            raise ModelFormatError(
                f"relevance model format {fmt} is not supported (this paperbot reads "
                f"format {FORMAT_VERSION}); retrain the model"
            )
        try:
            with np.load(io.BytesIO(data[head + 2 :]), allow_pickle=False) as z:
                arrays = {name: z[name] for name in z.files}
            meta = json.loads(arrays["meta"].tobytes().decode("utf-8"))
            vocabulary = arrays["vocabulary"].tobytes().decode("utf-8").split("\n")
            if list(meta["ngram_range"]) != list(TextFeatures.NGRAM_RANGE):
                raise ModelFormatError("relevance model uses another n-gram range")
            shape = tuple(int(x) for x in arrays["cat_shape"])
            catalog = sp.csr_matrix(
                (
                    arrays["cat_data"].astype(np.float32),
                    arrays["cat_indices"],
                    arrays["cat_indptr"],
                ),
                shape=shape,
            )
            features = TextFeatures(
                vocabulary,
                arrays["idf"],
                arrays["lsa_columns"],
                arrays["lsa_components"],
            )
            sections = list(meta["sections"])
            keys = list(meta["catalog_keys"])
            latent = arrays["cat_latent"].astype(np.float32)
            if (
                arrays["coef"].shape != (features.size,)
                or shape != (len(keys), features.n_terms)
                or arrays["centroids"].shape != (len(sections), features.size)
                or latent.shape != (len(keys), features.lsa_dims)
                or arrays["section_coef"].shape != (len(sections), features.size)
            ):
                raise ModelFormatError("relevance model arrays do not match its vocabulary")
            return cls(
                version=int(meta["version"]),
                trained_at=datetime.fromisoformat(meta["trained_at"]),
                features=features,
                coef=arrays["coef"],
                intercept=float(meta["intercept"]),
                catalog_keys=keys,
                catalog_titles=list(meta["catalog_titles"]),
                catalog_sections=list(meta["catalog_sections"]),
                catalog_terms=catalog,
                catalog_latent=latent,
                centroids=arrays["centroids"].astype(np.float32),
                keyword_columns=arrays["keyword_columns"],
                keyword_weights=arrays["keyword_weights"],
                section_coef=arrays["section_coef"].astype(np.float32),
                section_intercept=arrays["section_intercept"],
                sections=sections,
                settings=Settings(**meta["settings"]),
                calibration=tuple(float(x) for x in meta["calibration"][:3]),  # type: ignore[arg-type]
                n_train=int(meta["n_train"]),
                metrics=dict(meta["metrics"]),
            )
        except ModelFormatError:
            raise
        except (KeyError, ValueError, TypeError, OSError, zipfile.BadZipFile, EOFError) as exc:
            raise ModelFormatError(f"corrupt relevance model: {exc}") from exc


class _ExampleTexts(Sequence[str]):
    """The examples' texts (`example_text`), each made when it is read."""

    def __init__(self, examples: Sequence[Example]) -> None:
        self._examples = examples

    def __len__(self) -> int:
        return len(self._examples)

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> list[str]: ...

    def __getitem__(self, index: int | slice) -> str | list[str]:
        if isinstance(index, slice):
            return [example_text(e.title, e.text) for e in self._examples[index]]
        e = self._examples[index]
        return example_text(e.title, e.text)


def _section_classifier(
    rows: sp.csr_matrix, labels: np.ndarray, n_sections: int, c: float
) -> tuple[np.ndarray, np.ndarray]:
    """(coef (n_sections, n_features), intercepts): a class-balanced multinomial logistic
    regression from catalog rows to their sections (zeros when there is one section)."""
    if n_sections < 2:
        return np.zeros((n_sections, rows.shape[1]), dtype=np.float32), np.zeros(n_sections)
    reg = LogisticRegression(C=c, max_iter=300, class_weight="balanced")
    reg.fit(rows, labels)
    coef = np.zeros((n_sections, rows.shape[1]), dtype=np.float32)
    intercept = np.zeros(n_sections, dtype=np.float32)
    if len(reg.classes_) == 2:  # binary: one weight vector, for the second class
        coef[reg.classes_[1]] = reg.coef_[0] / 2
        coef[reg.classes_[0]] = -reg.coef_[0] / 2
        intercept[reg.classes_[1]] = reg.intercept_[0] / 2
        intercept[reg.classes_[0]] = -reg.intercept_[0] / 2
    else:
        coef[reg.classes_] = reg.coef_
        intercept[reg.classes_] = reg.intercept_
    return coef, intercept


def _section_keywords(
    features: TextFeatures, positives: Sequence[Example], sections: list[str]
) -> tuple[np.ndarray, np.ndarray, dict[str, list[str]]]:
    """The list's key words as section evidence: (feature columns, (n_columns, n_sections)
    weights, each section's most telling key words). A key word's weight for a section is
    the share of its uses in that section (P(section | key word)), times how rare it is
    across the list (log(n / uses)), so "Neural Collapse" speaks for its section and a tag
    on every other entry says little."""
    uses: dict[str, Counter[str]] = {}
    for e in positives:
        for kw in dict.fromkeys(k.strip() for k in e.keywords if k.strip()):
            uses.setdefault(kw.lower(), Counter())[e.section or ""] += 1
    n = max(1, len(positives))
    weights: dict[int, np.ndarray] = {}
    top: dict[str, list[tuple[float, str]]] = {s: [] for s in sections}
    for kw, by_section in uses.items():
        total = sum(by_section.values())
        terms = [features.term_index(t) for t in keyword_terms(kw)]
        cols = [c for c in terms if c is not None]
        if not cols or len(cols) < len(terms):
            continue
        rarity = math.log(1 + n / total)
        for s, c in by_section.items():
            w = (c / total) * rarity / len(cols)
            for col in cols:
                weights.setdefault(col, np.zeros(len(sections), dtype=np.float32))[
                    sections.index(s)
                ] += w
            top[s].append((c / total * c, kw))
    columns = np.array(sorted(weights), dtype=np.int64)
    matrix = (
        np.stack([weights[int(c)] for c in columns])
        if len(columns)
        else np.zeros((0, len(sections)), dtype=np.float32)
    )
    shown = {
        s: [kw for _, kw in sorted(items, key=lambda x: (-x[0], x[1]))[:8]]
        for s, items in top.items()
    }
    return columns, matrix, shown


# --- combining with the rules, and choosing what to post -----------------------------------

RULE_BOOST = 0.3  # how far a rule match lifts the model's relevance toward 1
RULE_SCALE = 6.0  # rule points that make up 63 % of the boost


def combine(
    rule_match: Match,
    prediction: Prediction | None,
    *,
    rule_boost: float = RULE_BOOST,
    rule_scale: float = RULE_SCALE,
    section_rule_weight: float = 0.5,
    candidate_threshold: float = 0.5,
) -> Match:
    """One score from the model, boosted by the rules; the rules decide alone without a model.

    The score is the model's relevance lifted toward 1 by the rules: `relevance + (1 -
    relevance) * rule_boost * (1 - exp(-rule score / rule_scale))`, so it stays in 0..1, a
    paper no rule matches keeps the model's calibrated relevance, and more rule evidence
    never lowers a score. Section scores are the model's (normalised to sum 1) mixed with
    the rules' (likewise) by `section_rule_weight` when any rule fired; the section is their
    best, the runner-up the second when within `RUNNER_UP_RATIO` of it. The rules' reasons
    are kept and the model's added.
    """
    if prediction is None:
        return rule_match
    score = float(
        combined_scores(
            np.array([rule_match.score]),
            np.array([prediction.relevance]),
            rule_boost=rule_boost,
            rule_scale=rule_scale,
        )[0]
    )

    scores = _normalised(prediction.section_scores)
    rules = _normalised(rule_match.section_scores)
    if rules:
        names = list(dict.fromkeys([*scores, *rules]))
        w = section_rule_weight if scores else 1.0
        scores = {s: (1 - w) * scores.get(s, 0.0) + w * rules.get(s, 0.0) for s in names}
    ranked = sorted((s for s in scores if scores[s] > 0), key=lambda s: -scores[s])
    section = ranked[0] if ranked else (prediction.section or rule_match.section)
    runner_up = None
    if len(ranked) > 1 and scores[ranked[1]] >= RUNNER_UP_RATIO * scores[ranked[0]]:
        runner_up = ranked[1]

    reasons = list(rule_match.reasons)
    reasons.append(f"model relevance {prediction.relevance:.2f}")
    reasons.extend(f"like *{n.title}* ({n.similarity:.2f})" for n in prediction.neighbours[:1])
    if runner_up:
        reasons.append(f"or {runner_up}?")
    return Match(
        arxiv_id=rule_match.arxiv_id,
        score=round(score, 4),
        section=section,
        reasons=reasons,
        section_scores={s: round(v, 4) for s, v in scores.items()},
        candidate=section is not None and score >= candidate_threshold,
    )


def combined_scores(
    rule_scores: np.ndarray,
    relevance: np.ndarray,
    *,
    rule_boost: float = RULE_BOOST,
    rule_scale: float = RULE_SCALE,
) -> np.ndarray:
    """`combine`'s score, vectorised: for ranking many papers when only the score matters."""
    rule_part = 1.0 - np.exp(-np.maximum(0.0, np.asarray(rule_scores, dtype=float)) / rule_scale)
    rel = np.asarray(relevance, dtype=float)
    return np.asarray(rel + (1.0 - rel) * rule_boost * rule_part)


def _normalised(scores: dict[str, float]) -> dict[str, float]:
    total = sum(v for v in scores.values() if v > 0)
    return {s: max(v, 0.0) / total for s, v in scores.items()} if total > 0 else {}


def apply_budget(
    matches: list[Match], days: list[date], budget: int, taken: dict[date, set[str]]
) -> None:
    """Mark as candidates the best `budget` of each announcement day, in place.

    Candidates a day already has (from other feeds or earlier polls) use up its budget,
    unless they are among `matches` again, so re-polling a feed chooses the same papers.
    """
    by_day: dict[date, list[Match]] = {}
    for match, day in zip(matches, days, strict=True):
        match.candidate = False
        if match.section is not None:
            by_day.setdefault(day, []).append(match)
    for day, group in by_day.items():
        here = {m.arxiv_id for m in group}
        left = max(0, budget - len(taken.get(day, set()) - here))
        group.sort(key=lambda m: (-m.score, m.arxiv_id))
        for match in group[:left]:
            match.candidate = True
