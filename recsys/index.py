"""Nearest-neighbour search over item vectors."""

from __future__ import annotations

import numpy as np

__all__ = ["normalize_rows", "top_k", "ExactIndex"]


def normalize_rows(matrix: np.ndarray) -> np.ndarray:
    """Return a float32 copy of ``matrix`` with unit-length rows (zero rows stay zero)."""
    matrix = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return matrix / norms


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Row-wise indices of the ``k`` highest scores, best first.

    Ties are broken by the lower column index, so the result equals
    ``np.argsort(-scores, axis=1, kind="stable")[:, :k]`` at the cost of a
    partition rather than a full sort. Masked items (score ``-inf``) come
    last. Scores must not be NaN.

    Parameters
    ----------
    scores
        ``(n_queries, n_items)`` scores.
    k
        Number of items per row; if it is at least ``n_items`` every column
        is returned, sorted.

    Returns
    -------
    numpy.ndarray
        ``(n_queries, min(k, n_items))`` int64 column indices.
    """
    if k < 1:
        raise ValueError(f"k must be a positive integer, got {k}")
    scores = np.asarray(scores)
    if scores.ndim != 2:
        raise ValueError(f"scores must be 2-D (queries x items), got shape {scores.shape}")
    n_rows, n_cols = scores.shape
    k = min(k, n_cols)
    if n_rows == 0 or k == 0:
        return np.empty((n_rows, k), dtype=np.int64)
    kth = np.partition(scores, n_cols - k, axis=1)[:, n_cols - k, None]
    keep = scores > kth
    tied = scores == kth
    wanted = k - keep.sum(axis=1)
    crowded = np.flatnonzero(tied.sum(axis=1) > wanted)
    tied[crowded] &= np.cumsum(tied[crowded], axis=1) <= wanted[crowded, None]
    keep |= tied
    columns = np.nonzero(keep)[1].reshape(n_rows, k)
    order = np.argsort(-np.take_along_axis(scores, columns, axis=1), axis=1, kind="stable")
    return np.take_along_axis(columns, order, axis=1)


class ExactIndex:
    """Exact cosine search: one matrix product against unit-normalised vectors.

    Parameters
    ----------
    vectors
        Item vectors, shape ``(n_items, dim)``. They are normalised once here,
        so queries do no whole-catalogue work besides the product itself.
    """

    def __init__(self, vectors: np.ndarray) -> None:
        self.vectors = normalize_rows(vectors)
        self.vectors.setflags(write=False)

    def __len__(self) -> int:
        return self.vectors.shape[0]

    def search(
        self,
        queries: np.ndarray,
        k: int,
        *,
        exclude_rows: np.ndarray | None = None,
        mask: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Find the ``k`` most similar items of each query vector.

        Parameters
        ----------
        queries
            Query vectors, shape ``(n_queries, dim)``; normalised here.
        k
            Neighbours per query.
        exclude_rows
            For each query, one row never to return (the query item itself),
            or -1 for none.
        mask
            Boolean array of shape ``(n_items,)``; False rows are never returned.

        Returns
        -------
        rows, scores
            int64 and float32 arrays of shape ``(n_queries, k')`` where ``k'`` is
            ``k`` clipped to the number of eligible items; rows that had fewer
            eligible items are padded with -1 and ``-inf``.
        """
        scores = normalize_rows(np.atleast_2d(queries)) @ self.vectors.T
        if mask is not None:
            scores[:, ~mask] = -np.inf
        if exclude_rows is not None:
            valid = exclude_rows >= 0
            scores[np.flatnonzero(valid), exclude_rows[valid]] = -np.inf
        rows = top_k(scores, k)
        top_scores = np.take_along_axis(scores, rows, axis=1)
        rows = np.where(np.isneginf(top_scores), -1, rows)
        return rows, top_scores
