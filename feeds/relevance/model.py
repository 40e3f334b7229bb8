"""`RelevanceModel` and its records: examples, settings, predictions; training, scoring, storage."""

from __future__ import annotations

import copy
import hashlib
import io
import json
import math
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any, Literal, overload

import numpy as np
import scipy.sparse as sp

from feeds.errors import PaperbotError
from feeds.models import Paper
from feeds.relevance.memory import _give_back_memory
from feeds.relevance.neighbours import _heaviest, _pair_cosines, _row_order, _top_k, _top_k_blocked
from feeds.relevance.text import TextFeatures, clean_text, example_text
from feeds.sections import SectionClassifier

FORMAT_MAGIC = b"PAPERBOT-RELEVANCE\n"
FORMAT_VERSION = 3  # 1, 2: older section signals (refused: retrain)

MIN_POSITIVES = 5  # fewer catalog papers than this teach nothing a keyword rule doesn't
MIN_NEGATIVES = 20  # rejected + background; without them "relevant" has no contrast
N_NEIGHBOURS = 3
# Neighbour search keeps each catalog paper's heaviest tf-idf terms only: a long abstract's
# light, common words cost most of the sparse product (long postings) and move a cosine little.
NEIGHBOUR_TERMS = 48
# Above this many catalog papers, neighbours are shortlisted in the latent space (one dense
# product) and only the shortlist gets an exact tf-idf cosine: the exact sparse product of
# every paper with every catalog paper is what made scoring slow.
EXACT_NEIGHBOURS_UP_TO = 3000
SHORTLIST = 16
LATENT_BLOCK = 256  # rows shortlisted at a time
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
    runner_up: str | None = None  # second section (None: the list has one section)
    neighbours: list[Neighbour] = field(default_factory=list)  # best first


def _held_out(key: str) -> bool:
    """A fixed fifth of background keys, kept out of the regression to calibrate on."""
    return hashlib.sha1(key.encode("utf-8")).digest()[0] < int(256 * HELD_OUT_SHARE)


def _fit_logistic(
    x: sp.csr_matrix, y: np.ndarray, weights: np.ndarray, c: float
) -> tuple[np.ndarray, float]:
    """(coef, intercept) of a weighted l2-regularised logistic regression: scikit-learn's
    ``LogisticRegression(C=c)`` with `weights` as sample weights, on the float32 rows as they
    are (it does not copy them). A tight tolerance: the calibration reads the top 1 % of the
    background's scores, where a loose optimum moves papers across the cut."""
    from sklearn.linear_model import LogisticRegression

    if x.dtype != np.float32:
        x = sp.csr_matrix(x, dtype=np.float32)
    model = LogisticRegression(C=c, tol=1e-6, max_iter=500)
    model.fit(x, np.asarray(y), sample_weight=np.asarray(weights, dtype=np.float64))
    return np.asarray(model.coef_[0], dtype=np.float32), float(model.intercept_[0])


def _half(a: np.ndarray) -> np.ndarray:
    return np.asarray(a, dtype=np.float16).astype(np.float32)


@dataclass(slots=True)
class ModelKnobs:
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
        section_classifier: SectionClassifier,
        sections: list[str],
        settings: ModelKnobs,
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
        self._catalog_row_order: tuple[np.ndarray, np.ndarray] | None = None
        self.catalog_latent = _half(np.asarray(catalog_latent))
        self.section_classifier = section_classifier
        self.sections = sections
        self.settings = settings
        # (median, spread) of the background's logits, and the blend that maps to 0.5
        self.calibration = calibration
        self.n_train = n_train
        self.n_positive = len(catalog_keys)
        self.metrics = metrics
        # the classifier's sections in the model's order (the order of the list's entries)
        self._section_columns = np.array(
            [section_classifier.sections.index(s) for s in sections], dtype=np.int64
        )

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
        settings: ModelKnobs | None = None,
        features: TextFeatures | None = None,
        matrix: sp.csr_matrix | None = None,
    ) -> RelevanceModel:
        """Train on labelled examples. Raises `TrainingError` when they cannot teach anything.

        `features`/`matrix` let a caller that retrains many times on the same texts (the
        evaluation's leave-one-out) fit the vocabulary once and pass the rows of `examples`
        already transformed; normally leave both None and the vocabulary is fit here on the
        examples' own text (unsupervised).
        """
        settings = settings or ModelKnobs()
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

        texts = _ExampleTexts(examples)  # made when read: 30,000 abstracts are 40 MB
        if features is None:
            features = TextFeatures.fit(texts)
            _give_back_memory()
        # Sections first, before the examples' matrix exists: their transient copies do not
        # stack on it. The classifier reads an entry's key words too (a new paper has none
        # yet, but they say what the list files under each section).
        positives = [e for e in examples if e.label == "positive"]
        section_classifier = SectionClassifier.train(
            features.transform(
                example_text(e.title, " ".join([e.text, *e.keywords])) for e in positives
            ),
            [e.section or "" for e in positives],
            features.idf,
        )
        _give_back_memory()
        if matrix is None:
            matrix = features.transform(texts)
            _give_back_memory()
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
        _give_back_memory()

        pos_rows = np.flatnonzero(y == 1)
        positives = [examples[int(i)] for i in pos_rows]
        sections = list(dict.fromkeys(e.section for e in positives if e.section))
        pos_matrix = matrix[pos_rows]
        n_terms = features.n_terms
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
            section_classifier=section_classifier,
            sections=sections,
            settings=settings,
            calibration=(0.0, 1.0, 0.0),
            n_train=len(examples),
            metrics={},
        )
        del pos_matrix
        _give_back_memory()
        # Scale the logit by the background's own spread so the blend with cosine
        # similarity does not depend on how confident the regression happens to be.
        neg_rows = np.flatnonzero((y == 0) & ~held_mask)
        logits = model._logits(matrix)[neg_rows]  # (not a copy of 20,000 rows)
        median = float(np.median(logits))
        spread = float(np.percentile(logits, 99) - median) or 1.0
        model.calibration = (median, spread, 0.0)
        held = np.flatnonzero(held_mask)
        if len(held) == 0:  # too little background to hold any out: in-sample
            held = bg_rows if len(bg_rows) else neg_rows
        blend = np.concatenate(
            [model._blend(matrix[held[i : i + CHUNK]]) for i in range(0, len(held), CHUNK)]
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
            "section_terms": section_classifier.size,
            "calibration": [
                [r, round(float(np.quantile(bg_rel, 1 - r)), 4)] for r in CALIBRATION_RATES
            ],
            "flag_thresholds": {
                f"{p}%": round(float(np.quantile(bg_rel, 1 - p / 100)), 4) for p in (3, 5, 10)
            },
        }
        _give_back_memory()
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
        # a few hundred rows at a time: (rows x catalog) similarities are 40 MB per
        # 1,000 rows of a 10,000-paper catalog, and training scores 4,000 held-out rows
        want = max(k, SHORTLIST)
        short = (
            np.concatenate(
                [
                    _top_k_blocked(latent[lo : lo + LATENT_BLOCK] @ self.catalog_latent.T, want)
                    for lo in range(0, latent.shape[0], LATENT_BLOCK)
                ]
            )
            if latent.shape[0]
            else np.zeros((0, want), dtype=np.int64)
        )
        rising, distinct = self._catalog_order()
        exact = (
            _pair_cosines(terms, self.catalog_terms, rising, short)
            if bool(np.all(distinct[short]))
            else None
        )
        if exact is None:
            flat = short.ravel()
            repeated = terms[np.repeat(np.arange(terms.shape[0]), short.shape[1])]
            exact = np.asarray(
                repeated.multiply(self.catalog_terms[flat]).sum(axis=1), dtype=np.float32
            ).reshape(short.shape)
        order = _top_k(exact, k)
        return np.take_along_axis(short, order, axis=1), np.take_along_axis(exact, order, axis=1)

    def _catalog_order(self) -> tuple[np.ndarray, np.ndarray]:
        """`_row_order` of the catalog rows, worked out once."""
        if self._catalog_row_order is None:
            self._catalog_row_order = _row_order(self.catalog_terms)
        return self._catalog_row_order

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

    def section_probabilities(self, rows: sp.csr_matrix) -> np.ndarray:
        """(n, sections) in `self.sections` order: the section classifier's probabilities."""
        return self.section_classifier.probabilities(rows)[:, self._section_columns]

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
        sec = self.section_probabilities(rows)
        idx, sims = near
        # Python numbers once, not numpy scalars per paper: building 2,000 predictions
        # element by element cost as much as scoring them.
        # (rounded in float64: a float32 0.0656 is 0.06560000032 as a Python float)
        totals = sec.sum(axis=1).tolist()
        sec_rounded = np.round(np.asarray(sec, dtype=np.float64), 4).tolist()
        rel_rounded = np.round(np.asarray(relevance, dtype=np.float64), 4).tolist()
        near_idx = idx[:, :N_NEIGHBOURS].tolist()
        near_sims = np.round(np.asarray(sims[:, :N_NEIGHBOURS], dtype=np.float64), 4).tolist()
        positive = (sims[:, :N_NEIGHBOURS] > 0).tolist()
        names = self.sections
        uniform = round(1.0 / len(names), 4) if names else 0.0
        keys, titles = self.catalog_keys, self.catalog_titles
        out = []
        for i, total in enumerate(totals):
            if total > 0:
                scores = dict(zip(names, sec_rounded[i], strict=True))
                row = sec_rounded[i]
                ranked = sorted(range(len(names)), key=lambda k: (-row[k], k))
                section: str | None = names[ranked[0]]
                runner_up = names[ranked[1]] if len(ranked) > 1 else None
            else:
                scores = dict.fromkeys(names, uniform)
                section = runner_up = None
            neighbours = [
                Neighbour(keys[j], titles[j], s)
                for j, s, keep in zip(near_idx[i], near_sims[i], positive[i], strict=True)
                if keep
            ]
            out.append(
                Prediction(
                    relevance=rel_rounded[i],
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
        the section weights: together with a pruned vocabulary this keeps a
        10,000-paper model to a few MB."""
        meta = {
            "format": FORMAT_VERSION,
            "version": self.version,
            "trained_at": self.trained_at.isoformat(),
            "n_train": self.n_train,
            "sections": self.sections,
            "settings": {k: getattr(self.settings, k) for k in ModelKnobs.__slots__},
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
        arrays: dict[str, Any] = dict(
            meta=np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8),
            vocabulary=np.frombuffer(
                "\n".join(self.features.vocabulary).encode("utf-8"), dtype=np.uint8
            ),
            idf=self.features.idf,
            lsa_columns=self.features.lsa_columns.astype(np.int32),
            lsa_components=self.features.lsa_components,
            coef=self.coef,
            **self.section_classifier.arrays(),
            cat_data=cat.data.astype(np.float16),
            cat_indices=cat.indices.astype(np.int32),
            cat_indptr=cat.indptr.astype(np.int64),
            cat_shape=np.array(cat.shape, dtype=np.int64),
            cat_latent=self.catalog_latent.astype(np.float16),
        )
        np.savez_compressed(buf, **arrays)
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
                or latent.shape != (len(keys), features.lsa_dims)
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
                section_classifier=SectionClassifier.from_arrays(arrays, features.size),
                sections=sections,
                settings=ModelKnobs(**meta["settings"]),
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
