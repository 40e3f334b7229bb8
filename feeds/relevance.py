"""The relevance model: learns from the community's decisions which papers belong on the list, and where.

Pure: no database, no Discord. The model is trained from labelled `Example`s

* ``positive``: catalog papers (approved candidates and imported list entries), with their
  section; text = title + abstract, or title + digest when there is no abstract;
* ``negative``: candidates the community rejected;
* ``background``: a sample of recent feed items nobody flagged (weak negatives),

and predicts, for a new paper, a relevance in 0..1, a section (with a runner-up when two
are close) and the three most similar catalog papers.

Features are tf-idf over word 1-2 grams (sublinear tf, l2-normalised) of the cleaned
title + text. Relevance is a class-weighted logistic regression over those features, blended
with the cosine similarity to the nearest catalog papers (the kNN term catches papers that
say the same thing as one catalog paper in words the linear model has not weighted yet).
Sections come from the catalog neighbours: each section scores the mean cosine of its
closest catalog papers.

Serialisation (`to_bytes`/`from_bytes`) stores only numpy arrays and JSON in an
``np.savez`` archive behind a magic header and a format version; it is loaded with
``allow_pickle=False``, so a blob from anywhere can at worst be refused, never run code.
"""

from __future__ import annotations

import copy
import io
import json
import re
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from functools import partial
from itertools import pairwise
from operator import is_not
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer
from sklearn.linear_model import LogisticRegression

from feeds.errors import PaperbotError
from feeds.models import Match, Paper

__all__ = [
    "FORMAT_VERSION",
    "Example",
    "ModelFormatError",
    "Neighbour",
    "Prediction",
    "RelevanceModel",
    "TextFeatures",
    "TrainingError",
    "apply_budget",
    "combine",
    "combined_scores",
    "example_text",
]

FORMAT_MAGIC = b"PAPERBOT-RELEVANCE\n"
FORMAT_VERSION = 1

MIN_POSITIVES = 5  # fewer catalog papers than this teach nothing a keyword rule doesn't
MIN_NEGATIVES = 20  # rejected + background; without them "relevant" has no contrast
RUNNER_UP_RATIO = 0.8  # a second section within 80% of the first is worth showing
N_NEIGHBOURS = 3
# Neighbour search keeps each catalog paper's heaviest tf-idf terms only: a long abstract's
# light, common words cost most of the sparse product (long postings) and move a cosine
# little. 48 is lossless for a digest and 6x faster for a 10,000-paper catalog.
NEIGHBOUR_TERMS = 48
CHUNK = 2000  # rows scored at a time: bounds the (rows x catalog) similarity matrix

Label = Literal["positive", "negative", "background"]
_LABELS = ("positive", "negative", "background")


class TrainingError(PaperbotError):
    """The examples cannot train a model (too few positives, no contrast, ...)."""


class ModelFormatError(PaperbotError):
    """Bytes that are not a relevance model this version of paperbot can load."""


@dataclass(slots=True)
class Example:
    """One labelled paper. `text` is the abstract, or the list digest when there is none."""

    key: str  # arXiv id (or the catalog key for papers without one)
    title: str
    text: str
    section: str | None  # required for positives, ignored otherwise
    label: Label


@dataclass(slots=True)
class Neighbour:
    """A catalog paper similar to the one scored (cosine of tf-idf vectors, 0..1)."""

    key: str
    title: str
    similarity: float


@dataclass(slots=True)
class Prediction:
    """What the model says about one paper."""

    relevance: float  # 0..1; see `RelevanceModel.metrics["flag_thresholds"]` for its scale
    section: str | None
    section_scores: dict[str, float] = field(default_factory=dict)  # sum to 1 over sections
    runner_up: str | None = None  # second section, only when close to the first
    neighbours: list[Neighbour] = field(default_factory=list)  # best first


# --- text -------------------------------------------------------------------------------

_MD_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_URL = re.compile(r"https?://\S+|www\.\S+")
_LATEX_CMD = re.compile(r"\\([a-zA-Z]+)")
_SPACE = re.compile(r"\s+")
# Words start with a letter, so bare numbers ("10", "2024") never become features; hyphens
# split ("double-descent" -> "double descent", which the bigram then catches).
_TOKEN_PATTERN = r"(?u)\b[^\W\d_]\w+\b"
_TOKEN_RE = re.compile(_TOKEN_PATTERN)
_STOP_WORDS = frozenset(ENGLISH_STOP_WORDS)
_KNOWN = partial(is_not, None)  # a C-level "is not None" for filter()


def clean_text(text: str) -> str:
    """Markdown links to their words, URLs and LaTeX backslashes dropped, spaces collapsed."""
    text = _MD_LINK.sub(r"\1", text)
    text = _URL.sub(" ", text)
    text = _LATEX_CMD.sub(r"\1", text)
    return _SPACE.sub(" ", text).strip()


def example_text(title: str, body: str) -> str:
    """The text a paper is judged by: title (twice: it is the densest signal) + body."""
    title = clean_text(title)
    return f"{title}. {title}. {clean_text(body)}"


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
    def _vectorizer(cls, vocabulary: dict[str, int] | None = None, **kw: Any) -> CountVectorizer:
        return CountVectorizer(
            vocabulary=vocabulary,
            ngram_range=cls.NGRAM_RANGE,
            token_pattern=_TOKEN_PATTERN,
            stop_words=sorted(ENGLISH_STOP_WORDS),
            lowercase=True,
            dtype=np.float32,
            **kw,
        )

    @classmethod
    def fit(
        cls,
        texts: Iterable[str],
        *,
        min_df: int = 2,
        max_features: int | None = 200_000,
        lsa_dims: int = 128,
        lsa_min_df: int = 10,
        seed: int = 0,
    ) -> TextFeatures:
        """Learn vocabulary, idf and the latent directions from texts (no labels)."""
        texts = list(texts)
        counter = cls._vectorizer(min_df=min(min_df, max(1, len(texts))), max_features=max_features)
        counts = counter.fit_transform(texts).tocsr()
        n_docs = counts.shape[0]
        df = np.bincount(counts.indices, minlength=counts.shape[1])
        idf = np.log((1 + n_docs) / (1 + df)) + 1.0  # sklearn's smooth idf
        plain = cls(counter.get_feature_names_out().tolist(), idf)
        cols = np.flatnonzero(df >= lsa_min_df)
        dims = min(lsa_dims, len(cols) - 1, n_docs - 1)
        if lsa_dims <= 0 or dims < 2:
            return plain
        tfidf = plain._tfidf(counts)[:, cols]
        svd = TruncatedSVD(dims, algorithm="randomized", n_iter=4, random_state=seed)
        svd.fit(tfidf)
        return cls(plain.vocabulary, idf, cols, svd.components_)

    def counts(self, texts: Iterable[str]) -> sp.csr_matrix:
        """Term counts over the vocabulary: the same analysis as sklearn's CountVectorizer
        (lowercase, token pattern, stop words out, then 1-2 grams), about twice as fast
        because known terms are looked up in one pass without building a counter per text."""
        get = self._index.get
        find = _TOKEN_RE.findall
        stop = _STOP_WORDS
        indptr = [0]
        indices: list[int] = []
        for text in texts:
            tokens = [t for t in find(text.lower()) if t not in stop]
            grams = [*tokens, *map(" ".join, pairwise(tokens))]
            indices.extend(filter(_KNOWN, map(get, grams)))  # type: ignore[arg-type]
            indptr.append(len(indices))
        m = sp.csr_matrix(
            (
                np.ones(len(indices), dtype=np.float32),
                np.array(indices, dtype=np.int32),
                np.array(indptr),
            ),
            shape=(len(indptr) - 1, len(self.vocabulary)),
        )
        m.sum_duplicates()  # also sorts the indices
        return m

    def _tfidf(self, counts: sp.csr_matrix) -> sp.csr_matrix:
        counts = sp.csr_matrix(counts, dtype=np.float32, copy=True)
        counts.data = 1.0 + np.log(counts.data)  # sublinear tf
        counts = sp.csr_matrix(counts.multiply(self.idf), dtype=np.float32)
        return _l2_rows(counts)

    def transform(self, texts: Iterable[str]) -> sp.csr_matrix:
        tfidf = self._tfidf(self.counts(texts))
        if not self.lsa_dims:
            return tfidf
        latent = np.asarray(tfidf[:, self.lsa_columns] @ self.lsa_components.T, dtype=np.float32)
        norms = np.linalg.norm(latent, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return sp.hstack([tfidf, sp.csr_matrix(latent / norms)], format="csr", dtype=np.float32)

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


def _top_columns(sims: np.ndarray, k: int) -> np.ndarray:
    """Per row, the indices of the `k` largest values, largest first (k argmax passes: for
    a handful of neighbours far cheaper than sorting or partitioning every row)."""
    k = min(k, sims.shape[1])
    work = sims.copy()
    rows = np.arange(sims.shape[0])
    out = np.empty((sims.shape[0], k), dtype=np.int64)
    for j in range(k):
        out[:, j] = work.argmax(axis=1)
        work[rows, out[:, j]] = -np.inf
    return out


def _l2_rows(m: sp.csr_matrix) -> sp.csr_matrix:
    norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sp.csr_matrix(sp.diags((1.0 / norms).astype(np.float32)) @ m, dtype=np.float32)


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
    # `calibrate_percent` % of the training background lies: a relevance of 0.5 means "as
    # relevant as the top 3 % of an ordinary day's announcements"
    calibrate_percent: float = 3.0
    slope: float = 2.0


class RelevanceModel:
    """Relevance + section + neighbours, trained from the community's decisions.

    Attributes: `version` (set by the caller: the catalog's model counter), `trained_at`,
    `n_train`, `n_positive`, `sections` (those with at least one positive) and `metrics`
    (counts per label, vocabulary size, and `flag_thresholds`: the relevance above which
    3 %, 5 %, 10 % of the training background scores, a guide for thresholds).
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
        catalog_matrix: sp.csr_matrix,
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
        self.catalog_matrix = sp.csr_matrix(catalog_matrix, dtype=np.float32)
        self._catalog_terms = _heaviest(
            self.catalog_matrix[:, : features.n_terms].tocsr(), NEIGHBOUR_TERMS
        )
        self.sections = sections
        self.settings = settings
        # (median, spread) of the background's logits, and the blend that maps to 0.5
        self.calibration = calibration
        self.n_train = n_train
        self.n_positive = len(catalog_keys)
        self.metrics = metrics
        # Section centroids over the full representation (tf-idf + latent): with a few
        # papers per section, a centroid generalises better than any single neighbour.
        index = np.array([sections.index(s) for s in catalog_sections], dtype=np.int64)
        onehot = sp.csr_matrix(
            (np.ones(len(index), dtype=np.float32), (index, np.arange(len(index)))),
            shape=(len(sections), len(index)),
        )
        centroids = np.asarray((onehot @ self.catalog_matrix).todense(), dtype=np.float32)
        norms = np.linalg.norm(centroids, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        self._centroids = centroids / norms

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
            texts = [example_text(e.title, e.text) for e in examples]
            features = features or TextFeatures.fit(texts)
            matrix = features.transform(texts)
        if matrix.shape != (len(examples), features.size):
            raise ValueError("matrix does not match examples x vocabulary")

        y = np.array([lab == "positive" for lab in labels], dtype=np.int8)
        # Class balance: the positives together weigh as much as all negatives together;
        # an explicit rejection weighs `negative_weight` background items.
        neg_w = np.array([settings.negative_weight if lab == "negative" else 1.0 for lab in labels])
        neg_total = float(neg_w[y == 0].sum())
        weights = np.where(y == 1, neg_total / n_pos, neg_w)
        weights = weights / weights.mean()
        # dual liblinear: far faster when terms outnumber examples, as they do here
        reg = LogisticRegression(C=settings.c, solver="liblinear", dual=True, max_iter=500)
        reg.fit(matrix, y, sample_weight=weights)

        pos_rows = np.flatnonzero(y == 1)
        positives = [examples[int(i)] for i in pos_rows]
        sections = list(dict.fromkeys(e.section for e in positives if e.section))
        model = cls(
            version=version,
            trained_at=now.astimezone(UTC),
            features=features,
            coef=reg.coef_.ravel(),
            intercept=float(reg.intercept_[0]),
            catalog_keys=[e.key for e in positives],
            catalog_titles=[clean_text(e.title) for e in positives],
            catalog_sections=[e.section or "" for e in positives],
            catalog_matrix=matrix[pos_rows],
            sections=sections,
            settings=settings,
            calibration=(0.0, 1.0, 0.0),
            n_train=len(examples),
            metrics={},
        )
        # Scale the logit by the background's own spread so the blend with cosine
        # similarity does not depend on how confident the regression happens to be.
        neg_rows = np.flatnonzero(y == 0)
        logits = model._logits(matrix[neg_rows])
        median = float(np.median(logits))
        spread = float(np.percentile(logits, 99) - median) or 1.0
        model.calibration = (median, spread, 0.0)
        bg_rows = [i for i in neg_rows if labels[i] == "background"] or list(neg_rows)
        bg = matrix[bg_rows]
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
            "vocabulary": features.size,
            "sections": {s: [e.section for e in positives].count(s) for s in sections},
            # in-sample, so slightly optimistic: a guide for a threshold, not a promise
            "flag_thresholds": {
                f"{p}%": round(float(np.percentile(bg_rel, 100 - p)), 4) for p in (3, 5, 10)
            },
        }
        return model

    def with_settings(self, **changes: Any) -> RelevanceModel:
        """A copy scoring with other blend settings (`knn_weight`, `knn_k`, ...); the learned
        weights and calibration are shared (so only the ranking is meaningful, not the 0.5
        point). For comparing variants without retraining."""
        fixed = {"c", "negative_weight"}
        if fixed & changes.keys():
            raise ValueError(f"{sorted(fixed & changes.keys())} need a retraining")
        clone = copy.copy(self)
        clone.settings = replace(self.settings, **changes)
        return clone

    # -- scoring --

    def _logits(self, rows: sp.csr_matrix) -> np.ndarray:
        return np.asarray(rows @ self.coef).ravel() + self.intercept

    def _similarities(self, rows: sp.csr_matrix) -> np.ndarray:
        """Dense (n, n_catalog) tf-idf cosine similarities (both sides are l2-normalised)."""
        n = self.features.n_terms
        terms = rows[:, :n] if rows.shape[1] > n else rows
        catalog = self._catalog_terms
        return np.asarray((terms @ catalog.T).todense(), dtype=np.float32)

    def _relevance(self, rows: sp.csr_matrix, sims: np.ndarray | None = None) -> np.ndarray:
        if sims is None:
            sims = self._similarities(rows)
        return 1.0 / (
            1.0 + np.exp(-(self._blend(rows, sims) - self.calibration[2]) * self.settings.slope)
        )

    def _blend(self, rows: sp.csr_matrix, sims: np.ndarray | None = None) -> np.ndarray:
        """Regression and nearest-neighbour evidence on one scale (before the sigmoid)."""
        if sims is None:
            sims = self._similarities(rows)
        median, spread, _ = self.calibration
        z = (self._logits(rows) - median) / spread  # ~0 typical background, ~1 its top 1 %
        k = max(1, min(self.settings.knn_k, sims.shape[1]))
        if k == 1:
            knn = sims.max(axis=1)
        else:
            knn = -np.partition(-sims, k - 1, axis=1)[:, :k].mean(axis=1)
        st = self.settings
        blend = (1 - st.knn_weight) * z + st.knn_weight * (knn / st.knn_scale)
        return blend

    def _section_scores(self, rows: sp.csr_matrix) -> np.ndarray:
        """(n, n_sections): cosine of each row to each section's centroid, floored at 0."""
        norms = np.sqrt(np.asarray(rows.multiply(rows).sum(axis=1))).reshape(-1, 1)
        norms[norms == 0] = 1.0
        return np.maximum(np.asarray(rows @ self._centroids.T) / norms, 0.0)

    def predict(self, papers: Sequence[Paper] | Sequence[tuple[str, str]]) -> list[Prediction]:
        """Score papers (or (title, abstract) pairs); one `Prediction` each, same order."""
        pairs = [(p.title, p.abstract) if isinstance(p, Paper) else p for p in papers]
        if not pairs:
            return []
        rows = self.features.transform(example_text(t, a) for t, a in pairs)
        return self.predict_rows(rows)

    def relevance_rows(self, rows: sp.csr_matrix) -> np.ndarray:
        """Relevance only (rounded as in `Prediction`), for rows transformed by `features`."""
        return np.round(self._relevance(rows), 4)

    def predict_rows(self, rows: sp.csr_matrix) -> list[Prediction]:
        """`predict` for rows already transformed by `self.features`."""
        sims = self._similarities(rows)
        relevance = self._relevance(rows, sims)
        sec = self._section_scores(rows)
        top = _top_columns(sims, N_NEIGHBOURS)
        out = []
        for i in range(rows.shape[0]):
            total = float(sec[i].sum())
            if total > 0:
                scores = {
                    s: round(float(v) / total, 4)
                    for s, v in zip(self.sections, sec[i], strict=True)
                }
            else:
                scores = {s: round(1.0 / len(self.sections), 4) for s in self.sections}
            ranked = sorted(scores, key=scores.__getitem__, reverse=True)
            section = ranked[0] if total > 0 else None
            runner_up = None
            if (
                total > 0
                and len(ranked) > 1
                and scores[ranked[1]] >= RUNNER_UP_RATIO * scores[ranked[0]]
            ):
                runner_up = ranked[1]
            neighbours = [
                Neighbour(self.catalog_keys[j], self.catalog_titles[j], round(float(sims[i, j]), 4))
                for j in top[i]
                if sims[i, j] > 0
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
        """A self-describing blob: magic header + format version + npz (arrays and JSON)."""
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
        cat = self.catalog_matrix
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
            cat_data=cat.data.astype(np.float32),
            cat_indices=cat.indices.astype(np.int32),
            cat_indptr=cat.indptr.astype(np.int64),
            cat_shape=np.array(cat.shape, dtype=np.int64),
        )
        return FORMAT_MAGIC + FORMAT_VERSION.to_bytes(2, "big") + buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> RelevanceModel:
        """Load a blob written by `to_bytes`; `ModelFormatError` for anything else."""
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
                (arrays["cat_data"], arrays["cat_indices"], arrays["cat_indptr"]), shape=shape
            )
            features = TextFeatures(
                vocabulary, arrays["idf"], arrays["lsa_columns"], arrays["lsa_components"]
            )
            if arrays["coef"].shape != (features.size,) or shape[1] != features.size:
                raise ModelFormatError("relevance model arrays do not match its vocabulary")
            trained_at = datetime.fromisoformat(meta["trained_at"])
            return cls(
                version=int(meta["version"]),
                trained_at=trained_at,
                features=features,
                coef=arrays["coef"],
                intercept=float(meta["intercept"]),
                catalog_keys=list(meta["catalog_keys"]),
                catalog_titles=list(meta["catalog_titles"]),
                catalog_sections=list(meta["catalog_sections"]),
                catalog_matrix=catalog,
                sections=list(meta["sections"]),
                settings=Settings(**meta["settings"]),
                calibration=tuple(float(x) for x in meta["calibration"][:3]),  # type: ignore[arg-type]
                n_train=int(meta["n_train"]),
                metrics=dict(meta["metrics"]),
            )
        except ModelFormatError:
            raise
        except (KeyError, ValueError, TypeError, OSError, zipfile.BadZipFile, EOFError) as exc:
            raise ModelFormatError(f"corrupt relevance model: {exc}") from exc


# --- combining with the rules, and choosing what to post -----------------------------------


def combine(
    rule_match: Match,
    prediction: Prediction | None,
    *,
    rule_weight: float = 0.2,
    model_weight: float = 0.8,
    rule_scale: float = 6.0,
    section_rule_weight: float = 0.5,
    candidate_threshold: float = 0.5,
) -> Match:
    """One score from the rules and the model; the rules decide alone without a model.

    The rule score is squashed to 0..1 (`1 - exp(-score / rule_scale)`: the default rule
    set's candidate threshold of 3 points is 0.39, 12 points 0.86) and averaged with the model's
    relevance by the weights. Section scores are the model's (normalised to sum 1) mixed
    with the rules' (likewise) by `section_rule_weight` when any rule fired; the section is
    their best, the runner-up the second when within `RUNNER_UP_RATIO` of it. The rules'
    reasons are kept and the model's added.
    """
    if prediction is None:
        return rule_match
    score = float(
        combined_scores(
            np.array([rule_match.score]),
            np.array([prediction.relevance]),
            rule_weight=rule_weight,
            model_weight=model_weight,
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
    rule_weight: float = 0.2,
    model_weight: float = 0.8,
    rule_scale: float = 6.0,
) -> np.ndarray:
    """`combine`'s score, vectorised: for ranking many papers when only the score matters."""
    rule_part = 1.0 - np.exp(-np.maximum(0.0, np.asarray(rule_scores, dtype=float)) / rule_scale)
    total = rule_weight + model_weight
    return (rule_weight * rule_part + model_weight * np.asarray(relevance, dtype=float)) / total


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
