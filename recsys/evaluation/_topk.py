"""Top-k for evaluation batches: a cheap prefilter in front of :func:`recsys.index.top_k`.

On a large catalogue most of the cost of ``top_k`` is sorting out the many
items that are nowhere near the top. The k-th best score among any subset
of a row's columns (here the first ``1/_SAMPLE_SHARE`` of them, contiguous
in memory so that the sample is cheap to read) is a lower bound of the
row's k-th best score, so only the items scoring at least that much can be
in the top k. Those few
candidates go through ``top_k``, with ties still broken by the lower column,
so the result is exactly ``top_k(scores, k)``.
"""

from __future__ import annotations

import numpy as np

from recsys.index import top_k

__all__ = ["evaluation_top_k"]

_SAMPLE_SHARE = 16
"""The first ``n_items / _SAMPLE_SHARE`` columns give the threshold."""

_DENSE_SHARE = 8
"""Rows with more than ``1/_DENSE_SHARE`` of their columns as candidates
(many tied scores, as sparse methods give) go to ``top_k`` whole."""


def evaluation_top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Row-wise columns of the ``k`` highest scores, best first; equal to ``top_k(scores, k)``.

    Parameters
    ----------
    scores
        ``(n_queries, n_items)`` scores, no NaN (masked items are ``-inf``).
    k
        Number of columns per row.

    Returns
    -------
    numpy.ndarray
        ``(n_queries, min(k, n_items))`` int64 columns.
    """
    n_rows, n_cols = scores.shape
    if n_rows == 0 or n_cols < 4 * _SAMPLE_SHARE * k:
        return top_k(scores, k)
    scores = np.ascontiguousarray(scores)
    width = n_cols // _SAMPLE_SHARE
    threshold = np.partition(scores[:, :width], width - k, axis=1)[:, width - k]
    # flat indices: far faster than the (row, column) pairs of a 2-D nonzero
    flat = np.flatnonzero(scores >= threshold[:, None])
    rows = flat // n_cols
    counts = np.bincount(rows, minlength=n_rows)
    dense = counts > n_cols // _DENSE_SHARE
    if dense.all():
        return top_k(scores, k)
    result = np.empty((n_rows, k), dtype=np.int64)
    sparse = np.flatnonzero(~dense)
    if sparse.size < n_rows:
        result[dense] = top_k(scores[dense], k)
        keep = ~dense[rows]
        flat, rows, counts = flat[keep], rows[keep], counts[sparse]
    compact = (np.cumsum(~dense) - 1)[rows]
    slot = np.arange(flat.size) - np.repeat(np.cumsum(counts) - counts, counts)
    values = np.full((sparse.size, counts.max()), -np.inf, dtype=scores.dtype)
    values[compact, slot] = scores.ravel()[flat]
    columns = np.zeros(values.shape, dtype=np.int64)
    columns[compact, slot] = flat % n_cols
    # every sparse row has at least k finite candidates, so the -inf padding is never chosen
    result[sparse] = np.take_along_axis(columns, top_k(values, k), axis=1)
    return result
