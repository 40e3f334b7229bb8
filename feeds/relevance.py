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
Texts become rows with array operations over their code points (words found by character
class, looked up by a 64-bit hash), not a Python step per word: that was most of the cost
of scoring a feed. Relevance is a class-weighted logistic regression over those features, blended with the
cosine similarity to the nearest catalog paper (it catches papers that say the same thing
as one catalog paper in words the linear model has not weighted yet). Neighbours of a large
catalog are found in the latent space and re-ranked by their exact tf-idf cosine.

Calibration: a fifth of the background is held out of the regression; the relevance that
1 %, 3 %, ... of that unseen background reaches is stored (`metrics["calibration"]`), so a
flag rate ("3 % of an ordinary day") maps to a score cut (`threshold_for_rate`).

Sections come from `feeds.sections.SectionClassifier`: every section of the list, the
catch-all included, a class of a class-balanced logistic regression over the list's own
entries (title, digest or abstract, key words).

Serialisation (`to_bytes`/`from_bytes`) stores only numpy arrays and JSON in an
``np.savez`` archive behind a magic header and a format version; it is loaded with
``allow_pickle=False``, so a blob from anywhere can at worst be refused, never run code.
"""

from __future__ import annotations

import copy
import ctypes
import ctypes.util
import hashlib
import io
import json
import math
import re
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from functools import lru_cache
from itertools import islice, pairwise
from typing import Any, Literal, overload

import numpy as np
import scipy.sparse as sp

from feeds.errors import PaperbotError
from feeds.models import Match, Paper
from feeds.sections import SectionClassifier

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
FORMAT_VERSION = 3  # 1, 2: older section signals (refused: retrain)

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
LATENT_BLOCK = 256  # rows shortlisted at a time
_BATCH = 500  # texts turned into rows at a time (bounds the transient arrays)
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


# --- text -------------------------------------------------------------------------------

_MD_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_URL = re.compile(r"https?://\S+|www\.\S+")
_LATEX_CMD = re.compile(r"\\([a-zA-Z]+)")
# Words start with a letter, so bare numbers ("10", "2024") never become features; hyphens
# split ("double-descent" -> "double descent", which the bigram then catches).
# (A lookbehind, not `\b`, opens the token: the same tokens, found faster.)
_TOKEN_RE = re.compile(r"(?<!\w)[^\W\d_]\w+")


@lru_cache(maxsize=1)
def stop_words() -> frozenset[str]:
    """English stop words (scikit-learn's list)."""
    # scikit-learn (and SciPy's optimiser) are imported when a model is trained or scored,
    # not when paperbot starts: a command that never ranks starts a second sooner.
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS)


_STOP = -2  # the token id of a stop word in `TextFeatures.counts`


_HASH_BASE = 0x100000001B3  # odd, so invertible modulo 2**64
_HASH_INVERSE = pow(_HASH_BASE, -1, 2**64)
_BMP = 0x10000
_SPAN_BATCH = 200  # texts whose characters are classified and hashed at a time


@lru_cache(maxsize=1)
def _char_classes() -> tuple[np.ndarray, np.ndarray]:
    """(word, letter) flags for each code point below 0x10000, as `re` classes them: a
    word character is `\\w` (alphanumeric or "_"), a letter one that also is neither a
    decimal digit nor "_" (`[^\\W\\d_]`)."""
    chars = [chr(c) for c in range(_BMP)]
    word = np.array([c.isalnum() or c == "_" for c in chars], dtype=bool)
    letter = word & np.array([not (c.isdecimal() or c == "_") for c in chars], dtype=bool)
    return word, letter


def _classes(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    word_table, letter_table = _char_classes()
    low = np.minimum(points, _BMP - 1)
    word = word_table[low]
    letter = letter_table[low]
    high = points >= _BMP
    if high.any():  # rare (mathematical letters, emoji): classified one by one
        for c in np.unique(points[high]):
            ch = chr(int(c))
            is_word = ch.isalnum()
            where = points == c
            word[where] = is_word
            letter[where] = is_word and not ch.isdecimal()
    return word, letter


def _code_points(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


def _word_spans(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(starts, ends) of the `_TOKEN_RE` tokens: runs of word characters that begin with a
    letter and are at least two long."""
    if not len(points):
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    word, letter = _classes(points)
    edge = np.diff(np.concatenate([[False], word, [False]]).astype(np.int8))
    begin = np.flatnonzero(edge == 1)
    finish = np.flatnonzero(edge == -1)
    keep = letter[begin] & (finish - begin >= 2)
    return begin[keep], finish[keep]


def _span_hashes(points: np.ndarray, begin: np.ndarray, finish: np.ndarray) -> np.ndarray:
    """A 64-bit polynomial hash of each span's code points, with its length mixed in."""
    if not len(begin):
        return np.zeros(0, dtype=np.uint64)
    n = len(points)
    with np.errstate(over="ignore"):
        powers = np.empty(n + 1, dtype=np.uint64)
        powers[0] = 1
        powers[1:] = _HASH_BASE
        powers = np.cumprod(powers, dtype=np.uint64)
        inverse = np.empty(n + 1, dtype=np.uint64)
        inverse[0] = 1
        inverse[1:] = _HASH_INVERSE
        inverse = np.cumprod(inverse, dtype=np.uint64)
        prefix = np.zeros(n + 1, dtype=np.uint64)
        np.cumsum((points.astype(np.uint64) + np.uint64(1)) * powers[:n], out=prefix[1:])
        h = (prefix[finish] - prefix[begin]) * inverse[begin]
        return np.asarray(h ^ (finish - begin).astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15))


def _word_hashes(words: Sequence[str]) -> np.ndarray:
    """`_span_hashes` of whole words (the vocabulary's), for looking tokens up."""
    if not words:
        return np.zeros(0, dtype=np.uint64)
    lengths = np.fromiter(map(len, words), dtype=np.int64, count=len(words))
    begin = np.concatenate([[0], np.cumsum(lengths + 1)[:-1]])
    return _span_hashes(_code_points("\x00".join(words)), begin, begin + lengths)


@lru_cache(maxsize=1)
def _malloc_trim() -> Callable[[int], int] | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim: Callable[[int], int] = libc.malloc_trim
    except (OSError, AttributeError):  # not glibc: nothing to give back this way
        return None
    return trim


def _give_back_memory() -> None:
    """Return freed heap memory to the system (glibc keeps it otherwise): training's
    transient arrays, once freed, would stay in the process's resident set, and on a
    small server the bot lives on after its nightly retraining."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


class _HashIndex:
    """Distinct 64-bit keys -> values, looked up for whole arrays at once: a direct-address
    table (one gather) for most keys, a sorted-array search for the few whose slot another
    key took and for keys not there (-1)."""

    _EMPTY = -3

    def __init__(self, keys: np.ndarray, values: np.ndarray) -> None:
        keys = np.asarray(keys, dtype=np.uint64)
        values = np.asarray(values, dtype=np.int64)
        order = np.argsort(keys, kind="stable")
        self._sorted = keys[order]
        self._sorted_values = values[order]
        self._bits = max(4, int(len(keys) * 4).bit_length())
        slots = self._slots(keys)
        self._keys = np.zeros(1 << self._bits, dtype=np.uint64)
        self._values = np.full(1 << self._bits, self._EMPTY, dtype=np.int64)
        _, first = np.unique(slots, return_index=True)
        self._keys[slots[first]] = keys[first]
        self._values[slots[first]] = values[first]

    def _slots(self, keys: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore"):
            mixed = keys * np.uint64(0x9E3779B97F4A7C15)
        return np.asarray(mixed >> np.uint64(64 - self._bits), dtype=np.int64)

    def __len__(self) -> int:
        return len(self._sorted)

    def lookup(self, keys: np.ndarray) -> np.ndarray:
        keys = np.asarray(keys, dtype=np.uint64)
        slots = self._slots(keys)
        out = self._values[slots]
        miss = np.flatnonzero((self._keys[slots] != keys) | (out == self._EMPTY))
        if len(miss):
            rest = keys[miss]
            at = np.searchsorted(self._sorted, rest)
            at[at == len(self._sorted)] = 0
            found = self._sorted[at] == rest if len(self._sorted) else np.zeros(len(rest), bool)
            out[miss] = np.where(found, self._sorted_values[at] if len(self._sorted) else -1, -1)
        return np.asarray(out, dtype=np.int64)


def clean_text(text: str, *, collapse: bool = True) -> str:
    """Markdown links to their words, URLs and LaTeX backslashes dropped, spaces collapsed
    (unless not `collapse`: the features do not see spacing)."""
    # Each substitution only where its marker is: most abstracts have none of them, and
    # cleaning is a third of the cost of scoring a paper.
    if "](" in text:
        text = _MD_LINK.sub(r"\1", text)
    if "http" in text or "www." in text:
        text = _URL.sub(" ", text)
    if "\\" in text:
        text = _LATEX_CMD.sub(r"\1", text)
    return " ".join(text.split()) if collapse else text


def example_text(title: str, body: str) -> str:
    """The text a paper is judged by: title (twice: it is the densest signal) + body."""
    title = clean_text(title)
    return f"{title}. {title}. {clean_text(body, collapse=False)}"


def _tokens(text: str) -> list[str]:
    stop = stop_words()
    return [t for t in _TOKEN_RE.findall(text.lower()) if t not in stop]


def _grams(text: str) -> list[str]:
    tokens = _tokens(text)
    return [*tokens, *map(" ".join, pairwise(tokens))]


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
        self._build_lookup()

    def _build_lookup(self) -> None:
        """Token ids for `counts`: every word of the vocabulary gets an id (stop words
        `_STOP`), found by the word's hash in a sorted array, and a bigram is a pair of
        ids found by one more sorted-array search: no Python work per word, which was
        most of the cost of scoring a paper."""
        token_id: dict[str, int] = dict.fromkeys(stop_words(), _STOP)
        unigram: list[int] = []  # token id -> its column (-1: a word seen only in bigrams)
        pairs: list[tuple[int, int, int]] = []
        for col, term in enumerate(self.vocabulary):
            words = term.split(" ")
            ids = []
            for w in words:
                tid = token_id.get(w)
                if tid is None or tid == _STOP:
                    tid = token_id[w] = len(unigram)
                    unigram.append(-1)
                ids.append(tid)
            if len(ids) == 1:
                unigram[ids[0]] = col
            elif len(ids) == 2:
                pairs.append((ids[0], ids[1], col))
        words = list(token_id)
        self._words = _HashIndex(
            _word_hashes(words), np.array([token_id[w] for w in words], dtype=np.int64)
        )
        self._unigram_col = np.array(unigram, dtype=np.int64)
        self._n_tokens = max(1, len(unigram))
        self._bigrams = _HashIndex(
            np.array([a * self._n_tokens + b for a, b, _ in pairs], dtype=np.uint64),
            np.array([c for _, _, c in pairs], dtype=np.int64),
        )

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

        Document frequencies are counted as hashes, a chunk at a time
        (`_vocabulary_counts`), so the bigrams seen once, most of the distinct terms of
        30,000 abstracts, neither pile up nor become Python strings.
        """
        if not isinstance(texts, Sequence):
            texts = list(texts)
        kept = _vocabulary_counts(texts, min_df, max_features, chunk)
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
        from sklearn.decomposition import TruncatedSVD

        svd = TruncatedSVD(dims, algorithm="randomized", n_iter=4, random_state=seed)
        svd.fit(tfidf)
        return cls(plain.vocabulary, idf, cols, svd.components_)

    def counts(self, texts: Iterable[str]) -> sp.csr_matrix:
        """Term counts over the vocabulary: lowercase, token pattern, stop words out, then
        1-2 grams (a bigram joins the words left and right of a removed stop word).

        The same tokens as `_TOKEN_RE` (`_word_spans`), found with array operations over
        the texts' code points, and looked up by hash (`_word_hashes`): a crafted word
        whose hash equals a vocabulary word's counts as that word, which is no more than
        its author could get by writing the word."""
        lowered = [t.lower() for t in texts]
        n_docs = len(lowered)
        lengths = np.fromiter(map(len, lowered), dtype=np.int64, count=n_docs)
        # documents joined by a non-word character, so no token spans two of them
        starts_of_doc = np.concatenate([[0], np.cumsum(lengths + 1)])
        # a few hundred texts at a time: the per-character arrays are 8 bytes a character
        begins, hash_parts = [], []
        for lo in range(0, n_docs, _SPAN_BATCH):
            points = _code_points("\x00".join(lowered[lo : lo + _SPAN_BATCH]))
            begin, finish = _word_spans(points)
            hash_parts.append(_span_hashes(points, begin, finish))
            begins.append(begin + starts_of_doc[lo])
        begin = np.concatenate(begins) if begins else np.zeros(0, dtype=np.int64)
        hashes = np.concatenate(hash_parts) if hash_parts else np.zeros(0, dtype=np.uint64)
        del lowered
        ids = self._words.lookup(hashes)
        doc = np.searchsorted(starts_of_doc, begin, side="right") - 1
        words = ids != _STOP
        ids, doc = ids[words], doc[words]
        known = ids >= 0
        uni_cols = np.full(len(ids), -1, dtype=np.int64)
        uni_cols[known] = self._unigram_col[ids[known]]
        uni = uni_cols >= 0
        rows_out = [doc[uni]]
        cols_out = [uni_cols[uni]]
        if len(ids) > 1 and len(self._bigrams):
            a, b = ids[:-1], ids[1:]
            pair = (doc[:-1] == doc[1:]) & (a >= 0) & (b >= 0)
            col = self._bigrams.lookup((a[pair] * self._n_tokens + b[pair]).astype(np.uint64))
            hit = col >= 0
            rows_out.append(doc[:-1][pair][hit])
            cols_out.append(col[hit])
        rows = np.concatenate(rows_out)
        cols = np.concatenate(cols_out)
        m = sp.csr_matrix(
            (np.ones(len(rows), dtype=np.float32), (rows, cols)),
            shape=(n_docs, len(self.vocabulary)),
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
        return _stack_rows(parts)

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


def _stack_rows(parts: list[sp.csr_matrix]) -> sp.csr_matrix:
    """`sp.vstack` of csr blocks that frees each block once copied (the list is emptied):
    stacking the 30,000 rows of a training set held it twice."""
    nnz = sum(p.nnz for p in parts)
    n_rows = sum(p.shape[0] for p in parts)
    data = np.empty(nnz, dtype=np.float32)
    indices = np.empty(nnz, dtype=np.int32)
    indptr = np.empty(n_rows + 1, dtype=np.int64)
    indptr[0] = 0
    width = parts[0].shape[1]
    at = row = 0
    parts.reverse()
    while parts:
        if len(parts) % 8 == 0:
            _give_back_memory()  # the blocks copied so far, so they are not held twice
        p = parts.pop()
        data[at : at + p.nnz] = p.data
        indices[at : at + p.nnz] = p.indices
        indptr[row + 1 : row + 1 + p.shape[0]] = p.indptr[1:] + at
        at += p.nnz
        row += p.shape[0]
        del p
    return sp.csr_matrix((data, indices, indptr), shape=(n_rows, width))


_GRAM_BATCH = 250
_BIGRAM_MIX = np.uint64(0x9E3779B97F4A7C15)
_BIGRAM_SALT = np.uint64(0xD6E8FEB86659FD93)


def _stop_hashes() -> np.ndarray:
    return np.sort(_word_hashes(sorted(stop_words())))


def _chunk_grams(texts: Sequence[str], first: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct 1-2 grams of the texts (`first` is the index of the first): (gram
    hashes, sorted; their document frequencies in these texts; one occurrence of each, as
    rows of text index and the character spans of its words, the second -1 for a
    unigram)."""
    lowered = [t.lower() for t in texts]
    lengths = np.fromiter(map(len, lowered), dtype=np.int64, count=len(lowered))
    doc_start = np.concatenate([[0], np.cumsum(lengths + 1)])
    points = _code_points("\x00".join(lowered))
    del lowered
    begin, finish = _word_spans(points)
    hashes = _span_hashes(points, begin, finish)
    del points
    words = ~np.isin(hashes, _stop_hashes())
    begin, finish, hashes = begin[words], finish[words], hashes[words]
    doc = np.searchsorted(doc_start, begin, side="right") - 1
    pair = np.flatnonzero(doc[:-1] == doc[1:]) if len(doc) > 1 else np.zeros(0, np.int64)
    with np.errstate(over="ignore"):
        bigram = (hashes[pair] * _BIGRAM_MIX + hashes[pair + 1]) ^ _BIGRAM_SALT
    keys = np.concatenate([hashes, bigram])
    docs = np.concatenate([doc, doc[pair]])
    first_span = np.concatenate([begin, begin[pair]]) - doc_start[docs]
    first_end = np.concatenate([finish, finish[pair]]) - doc_start[docs]
    second_span = np.concatenate([np.full(len(begin), -1), begin[pair + 1]]) - np.where(
        np.arange(len(keys)) < len(begin), 0, doc_start[docs]
    )
    second_end = np.concatenate([np.full(len(begin), -1), finish[pair + 1]]) - np.where(
        np.arange(len(keys)) < len(begin), 0, doc_start[docs]
    )
    order = np.lexsort((docs, keys))
    keys, docs = keys[order], docs[order]
    new_pair = np.ones(len(keys), dtype=bool)
    new_pair[1:] = (keys[1:] != keys[:-1]) | (docs[1:] != docs[:-1])
    keys, docs, order = keys[new_pair], docs[new_pair], order[new_pair]
    uniq, at, counts = np.unique(keys, return_index=True, return_counts=True)
    o = order[at]
    where = np.stack(
        [docs[at] + first, first_span[o], first_end[o], second_span[o], second_end[o]], axis=1
    ).astype(np.int32)
    return uniq, counts.astype(np.int32), where


def _vocabulary_counts(
    texts: Sequence[str], min_df: int, max_features: int | None, chunk: int
) -> list[tuple[str, int]]:
    """The vocabulary with document frequencies, sorted by term: the 1-2 grams in at least
    `min_df` texts, the `max_features` commonest (ties: by term).

    Grams are counted as 64-bit hashes in arrays, `chunk` texts at a time; after each
    chunk the grams seen in one text only are dropped (and, past 3 x `max_features`, the
    rarest): a term in one text of the chunks so far is far from what a vocabulary keeps.
    Only the terms kept are turned back into strings (from one occurrence each), so the
    hundreds of thousands of bigrams of 30,000 abstracts never become Python objects,
    whose freed memory the process did not get back. A corpus of one chunk is counted
    exactly."""
    keys = np.zeros(0, dtype=np.uint64)
    counts = np.zeros(0, dtype=np.int32)
    where = np.zeros((0, 5), dtype=np.int32)
    bound = 3 * max_features if max_features is not None else None
    for start in range(0, len(texts), chunk):
        # the chunk's texts a few hundred at a time: gram arrays are ~100 bytes a word
        for lo in range(start, min(start + chunk, len(texts)), _GRAM_BATCH):
            hi = min(lo + _GRAM_BATCH, start + chunk, len(texts))
            k, c, w = _chunk_grams(texts[lo:hi], lo)
            # both sorted and each without repeats: grams seen before add to their count,
            # new ones are merged in at their place
            at = np.searchsorted(keys, k)
            seen = at < len(keys)
            seen[seen] = keys[at[seen]] == k[seen]
            np.add.at(counts, at[seen], c[seen])
            fresh = ~seen
            keys = np.insert(keys, at[fresh], k[fresh])
            counts = np.insert(counts, at[fresh], c[fresh])
            where = np.insert(where, at[fresh], w[fresh], axis=0)
            del k, c, w, at, seen, fresh
        if start + chunk >= len(texts):
            break
        keep = np.ones(len(keys), dtype=bool)
        if min_df > 1:
            keep &= counts != 1
        if bound is not None and int(keep.sum()) > bound:
            floor_count = np.sort(counts[keep])[::-1][2 * bound // 3]
            keep &= counts > floor_count
        keys, counts, where = keys[keep], counts[keep], where[keep]
    floor = min(min_df, max(1, len(texts)))
    keep = counts >= floor
    counts, where = counts[keep], where[keep]
    chosen = np.arange(len(counts))
    if max_features is not None and len(counts) > max_features:
        by_count = np.sort(counts)[::-1]
        cut = by_count[max_features - 1]
        chosen = np.flatnonzero(counts > cut)
        tied = np.flatnonzero(counts == cut)
        room = max_features - len(chosen)
        tied_terms = sorted((_term_at(texts, where[i]), int(i)) for i in tied)
        chosen = np.concatenate([chosen, np.array([i for _, i in tied_terms[:room]], np.int64)])
    terms = [(_term_at(texts, where[i]), int(counts[i])) for i in chosen]
    terms.sort()
    return terms


def _term_at(texts: Sequence[str], where: np.ndarray) -> str:
    i, s1, e1, s2, e2 = (int(x) for x in where)
    text = texts[i].lower()
    return text[s1:e1] if s2 < 0 else f"{text[s1:e1]} {text[s2:e2]}"


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


def _top_k_blocked(values: np.ndarray, k: int, block: int = 16) -> np.ndarray:
    """`_top_k` for wide rows: the `k` best blocks of `block` columns by their maximum
    hold the `k` best columns, so only those blocks are partitioned (exact, and a few
    times faster than partitioning 10,000 columns per row)."""
    n, m = values.shape
    n_blocks = m // block
    if n_blocks < 4 * k:
        return _top_k(values, k)
    # Block b is the columns b, b + n_blocks, b + 2 n_blocks, ...: any partition works, and
    # this one's maxima are an element-wise maximum of contiguous slices (fast), where
    # blocks of adjacent columns need a reduction over `block` values at a time (slow).
    head = values[:, : n_blocks * block].reshape(n, block, n_blocks)
    best_blocks = _top_k(head.max(axis=1), k)
    columns = np.sort(
        (best_blocks[:, :, None] + n_blocks * np.arange(block)).reshape(n, k * block), axis=1
    )
    if n_blocks * block < m:
        tail = np.arange(n_blocks * block, m)
        columns = np.hstack([columns, np.broadcast_to(tail, (n, len(tail)))])
    picked = _top_k(np.take_along_axis(values, columns, axis=1), k)
    return np.take_along_axis(columns, picked, axis=1)


def _row_order(m: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    """Per row of `m`: (its column indices strictly increase, they are all distinct)."""
    n = m.shape[0]
    lengths = np.diff(m.indptr).astype(np.int64)
    row = np.repeat(np.arange(n, dtype=np.int64), lengths)
    cols = m.indices.astype(np.int64)
    same = row[1:] == row[:-1]
    rising = np.ones(n, dtype=bool)
    rising[row[1:][same & (np.diff(cols) <= 0)]] = False
    n_cols = np.int64(max(m.shape[1], 1))
    ordered = np.sort(row * n_cols + cols)
    distinct = np.ones(n, dtype=bool)
    distinct[ordered[np.flatnonzero(np.diff(ordered) == 0)] // n_cols] = False
    return rising, distinct


_PAIR_BLOCK = 16  # query rows whose term positions one dense lookup table holds


def _pair_cosines(
    terms: sp.csr_matrix, catalog: sp.csr_matrix, catalog_rising: np.ndarray, short: np.ndarray
) -> np.ndarray | None:
    """(n, w) float32: row i of `terms` dotted with catalog row ``short[i, j]``; None when
    a query row holds a column twice (the caller takes SciPy's path).

    Bit for bit ``terms[repeat(i)].multiply(catalog[short.ravel()]).sum(axis=1)``, without
    building the repeated rows: the same nonzero float32 products, in the order SciPy's
    element-wise product stores them (ascending column when both sides' rows are sorted,
    else the reverse of the query row's order), summed by the same `np.add.reduceat`.
    Only the catalog rows' few terms are looked up in the query rows, where the product
    merged every query term with every shortlisted row. Catalog rows must hold distinct
    columns (`_row_order`)."""
    n, w = short.shape
    flat = short.ravel().astype(np.int64)
    n_pairs = len(flat)
    out = np.zeros(n_pairs, dtype=np.float32)
    n_cols = max(terms.shape[1], 1)
    q_ptr = terms.indptr.astype(np.int64)
    q_cols = terms.indices.astype(np.int64)
    q_row = np.repeat(np.arange(n, dtype=np.int64), np.diff(q_ptr))
    q_rising = terms.nnz < 2 or bool(np.all((np.diff(q_cols) > 0) | (q_row[1:] != q_row[:-1])))
    if not n_pairs or not terms.nnz or not catalog.nnz:
        return out.reshape(n, w)
    # every stored entry of every shortlisted catalog row, pair by pair
    picked = catalog[flat]
    if not picked.nnz:
        return out.reshape(n, w)
    row_lengths = np.diff(picked.indptr).reshape(n, w).sum(axis=1)
    small = _PAIR_BLOCK * n_cols < 2**31 and terms.nnz < 2**31
    index = np.int32 if small else np.int64
    block_of = (np.arange(n) % _PAIR_BLOCK * n_cols).astype(index)
    local = np.repeat(block_of, row_lengths) + picked.indices
    q_local = block_of[q_row] + q_cols.astype(index)
    # a dense (block rows x columns) table of query positions, filled and cleared per block
    table = np.full(_PAIR_BLOCK * n_cols, -1, dtype=index)
    a_pos: np.ndarray = np.empty(len(local), dtype=index)
    e_bounds = np.concatenate([[0], np.cumsum(row_lengths)])
    for first in range(0, n, _PAIR_BLOCK):
        last = min(first + _PAIR_BLOCK, n)
        qa, qb = int(q_ptr[first]), int(q_ptr[last])
        ea, eb = int(e_bounds[first]), int(e_bounds[last])
        at = np.arange(qa, qb, dtype=index)
        table[q_local[qa:qb]] = at
        if not bool(np.all(table[q_local[qa:qb]] == at)):
            return None  # a column twice in a row: SciPy would add them up first
        a_pos[ea:eb] = table[local[ea:eb]]
        table[q_local[qa:qb]] = -1
    hit = np.flatnonzero(a_pos >= 0)
    hit_pos: np.ndarray = np.asarray(a_pos[hit], dtype=np.int64)
    b_data = picked.data[hit]
    pair = np.searchsorted(picked.indptr, hit, side="right") - 1
    both_sorted = q_rising and bool(np.all(catalog_rising[flat]))
    # within a pair: ascending query position (sorted rows) or descending (SciPy's
    # general path emits the columns it met in the reverse of the first row's order)
    rank = hit_pos if both_sorted else -hit_pos
    sort_key = pair * np.int64(terms.nnz + 1) + rank
    if len(sort_key) > 1 and not bool(np.all(np.diff(sort_key) > 0)):
        order = np.argsort(sort_key, kind="stable")
        hit_pos, b_data, pair = hit_pos[order], b_data[order], pair[order]
    products = np.asarray(terms.data[hit_pos] * b_data, dtype=np.float32)
    nonzero = products != 0
    products, pair = products[nonzero], pair[nonzero]
    if not len(products):
        return out.reshape(n, w)
    counts = np.bincount(pair, minlength=n_pairs)
    ptr = np.concatenate([[0], np.cumsum(counts)])
    major = np.flatnonzero(counts)
    out[major] = np.add.reduceat(products, ptr[major])
    return out.reshape(n, w)


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
    best, the runner-up the second (named in the reasons when within `RUNNER_UP_RATIO` of
    it). The rules' reasons are kept and the model's added.
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
    runner_up = ranked[1] if len(ranked) > 1 else None

    reasons = list(rule_match.reasons)
    reasons.append(f"model relevance {prediction.relevance:.2f}")
    reasons.extend(f"like *{n.title}* ({n.similarity:.2f})" for n in prediction.neighbours[:1])
    if runner_up and scores[runner_up] >= RUNNER_UP_RATIO * scores[ranked[0]]:
        reasons.append(f"or {runner_up}?")
    return Match(
        arxiv_id=rule_match.arxiv_id,
        score=round(score, 4),
        section=section,
        reasons=reasons,
        section_scores={s: round(v, 4) for s, v in scores.items()},
        candidate=section is not None and score >= candidate_threshold,
        runner_up=runner_up,
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
