"""Texts to feature rows: cleaning, an array tokenizer, the vocabulary, tf-idf + latent columns."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from itertools import islice, pairwise

import numpy as np
import scipy.sparse as sp

from feeds.relevance.memory import _give_back_memory

_BATCH = 500  # texts turned into rows at a time (bounds the transient arrays)

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


def _l2_rows(m: sp.csr_matrix) -> sp.csr_matrix:
    norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sp.csr_matrix(sp.diags((1.0 / norms).astype(np.float32)) @ m, dtype=np.float32)


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
