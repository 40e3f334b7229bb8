"""Nearest catalog papers: pruned catalog rows, top-k selection, exact cosines of a shortlist."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


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
