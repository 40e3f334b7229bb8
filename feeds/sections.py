"""The section classifier: which of the list's sections a paper belongs in, learned from its entries.

Every section of the list is a class, the catch-all included: a class-balanced logistic
regression (scikit-learn) over the model's tf-idf rows (word 1-2 grams) of the list's own
entries: title, digest or abstract, and key words. It reads the rows the relevance model
already made of a paper, so placing a paper costs one sparse product. Its settings were
chosen on validation years of the 2022 list (2020 and 2021, each trained on the years
before), not on its test year. Stored without pickle: the columns it weighs and their
coefficients.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

__all__ = ["SectionClassifier"]

C = 1.0  # inverse l2 strength (scikit-learn's default; 3 and 10 were no better on validation)
# Columns weighed at most, the ones most entries use: L-BFGS keeps a score of copies of
# the (sections x columns) weights, the peak of training's memory for a large catalog.
MAX_COLUMNS = 20_000


class SectionClassifier:
    """Section probabilities for rows of `feeds.relevance.TextFeatures`, over `sections`."""

    def __init__(
        self,
        sections: list[str],
        columns: np.ndarray,
        coef: np.ndarray,
        intercept: np.ndarray,
        scale: np.ndarray | None = None,
    ) -> None:
        self.sections = sections
        self.columns = np.asarray(columns, dtype=np.int64)  # the feature columns it weighs
        # per column: the list's own idf over the model's (see `train`)
        self.scale = (
            np.ones(len(self.columns), dtype=np.float32)
            if scale is None
            else np.asarray(scale, dtype=np.float32)
        )
        # held at the float16 precision it is stored in: a loaded model predicts as trained
        self.coef = np.asarray(coef, dtype=np.float16).astype(np.float32)  # (sections, columns)
        self.intercept = np.asarray(intercept, dtype=np.float32)
        if (
            self.coef.shape != (len(sections), len(self.columns))
            or self.intercept.shape != (len(sections),)
            or self.scale.shape != self.columns.shape
        ):
            raise ValueError("section classifier arrays do not fit together")
        self._full: tuple[np.ndarray, np.ndarray] | None = None

    @classmethod
    def train(
        cls, rows: sp.csr_matrix, labels: Sequence[str], idf: np.ndarray | None = None
    ) -> SectionClassifier:
        """Fit on the list's entries (`rows`, one per entry); `labels` their sections.

        With `idf` (the model's, for the first len(idf) columns: its tf-idf terms), only
        those columns are read, each re-weighed by the list's own idf: a word every list
        entry uses ("neural", "deep") says nothing about a section however rare it is in an
        ordinary day's announcements. On validation years this beat the model's idf."""
        sections = sorted(set(labels))
        if not sections:
            raise ValueError("no labelled entries to learn sections from")
        rows = sp.csr_matrix(rows, dtype=np.float32)
        # Only the columns some entry has can get a weight: a column no entry has keeps 0.
        df = np.bincount(rows.indices, minlength=rows.shape[1])
        if idf is not None:
            df = df[: len(idf)]
        columns = np.flatnonzero(df)
        if len(columns) > MAX_COLUMNS:
            columns = np.sort(columns[np.argsort(-df[columns], kind="stable")[:MAX_COLUMNS]])
        if len(sections) == 1 or not len(columns):
            n = len(sections)
            return cls(sections, columns[:0], np.zeros((n, 0)), np.zeros(n))
        scale = np.ones(len(columns), dtype=np.float32)
        if idf is not None:
            n_rows = rows.shape[0]
            own = np.log((1.0 + n_rows) / (1.0 + df[columns])) + 1.0
            scale = (own / np.asarray(idf, dtype=np.float64)[columns]).astype(np.float32)
        from sklearn.linear_model import LogisticRegression

        target = np.array([sections.index(label) for label in labels], dtype=np.int64)
        clf = LogisticRegression(C=C, class_weight="balanced", max_iter=1000)
        clf.fit(_reweighed(rows, columns, scale), target)
        if len(sections) == 2:  # scikit-learn keeps one row for two classes
            coef = np.vstack([-clf.coef_[0], clf.coef_[0]]) / 2
            intercept = np.array([-clf.intercept_[0], clf.intercept_[0]]) / 2
        else:
            coef, intercept = clf.coef_, clf.intercept_
        return cls(sections, columns, coef, intercept, scale)

    def probabilities(self, rows: sp.csr_matrix) -> np.ndarray:
        """(rows, sections) probabilities, each row summing to 1."""
        n = rows.shape[0]
        if not len(self.columns):
            return np.full((n, len(self.sections)), 1.0 / len(self.sections))
        # `_reweighed` without its copy: the weights and squared scales spread to every column
        width = rows.shape[1]
        if self._full is None or self._full[0].shape[0] != width:
            weights = np.zeros((width, len(self.sections)), dtype=np.float32)
            weights[self.columns] = (self.coef * self.scale).T
            squares = np.zeros(width, dtype=np.float32)
            squares[self.columns] = self.scale**2
            self._full = (weights, squares)
        weights, squares = self._full
        rows = sp.csr_matrix(rows, dtype=np.float32)
        norms = np.sqrt(np.asarray(rows.multiply(rows) @ squares, dtype=np.float64)).ravel()
        norms[norms == 0] = 1.0
        z = np.asarray(rows @ weights, dtype=np.float64) / norms[:, None] + self.intercept
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        return np.asarray(p / p.sum(axis=1, keepdims=True))

    @property
    def size(self) -> int:
        """Feature columns weighed."""
        return len(self.columns)

    def arrays(self) -> dict[str, np.ndarray]:
        """Its state as plain arrays (no pickle), for `from_arrays`."""
        return {
            "sc_sections": np.frombuffer("\n".join(self.sections).encode("utf-8"), np.uint8),
            "sc_columns": self.columns.astype(np.int32),
            "sc_coef": self.coef.astype(np.float16),
            "sc_intercept": self.intercept,
            "sc_scale": self.scale,
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], width: int) -> SectionClassifier:
        """The classifier `arrays` describes, for rows `width` columns wide; ValueError when
        they do not fit together."""
        sections = arrays["sc_sections"].tobytes().decode("utf-8").split("\n")
        columns = arrays["sc_columns"].astype(np.int64)
        if len(columns) and (columns.min() < 0 or columns.max() >= width):
            raise ValueError("section classifier columns outside the vocabulary")
        return cls(sections, columns, arrays["sc_coef"], arrays["sc_intercept"], arrays["sc_scale"])


def _reweighed(rows: sp.csr_matrix, columns: np.ndarray, scale: np.ndarray) -> sp.csr_matrix:
    """`rows`' `columns`, each times its `scale`, l2-normalised: what the regression reads."""
    # in place on the one copy the column selection makes (a catalog's rows are tens of MB)
    picked = sp.csr_matrix(rows[:, columns], dtype=np.float32)
    picked.data *= scale[picked.indices]
    lengths = np.diff(picked.indptr)
    squares = np.concatenate([[0.0], np.cumsum(picked.data.astype(np.float64) ** 2)])
    norms = np.sqrt(squares[picked.indptr[1:]] - squares[picked.indptr[:-1]])
    norms[norms == 0] = 1.0
    picked.data /= np.repeat(norms, lengths).astype(np.float32)
    return picked
