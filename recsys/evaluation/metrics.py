"""Vectorized top-k ranking metrics for next-item evaluation.

Each query has exactly one relevant item, its target. The evaluation
computes top-k lists of catalogue rows (:func:`recsys.index.top_k`), the target's
rank in them (:func:`hits_from_topk`; 0 means a miss), and means over all
queries (:func:`hit_rate`, :func:`ndcg`, :func:`mrr`, :func:`coverage`).
Queries whose target is unknown to the model (row ``-1``) count as misses,
so models with different catalogues are compared on the same pairs.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from recsys.errors import ConfigError

__all__ = ["hits_from_topk", "hit_rate", "ndcg", "mrr", "coverage", "summarize"]


def _check_k(k: int) -> None:
    if k < 1:
        raise ConfigError(f"k must be a positive integer, got {k}")


def hits_from_topk(topk_rows: np.ndarray, target_rows: np.ndarray) -> np.ndarray:
    """1-based rank of each query's target in its top-k list, 0 for a miss.

    Parameters
    ----------
    topk_rows
        ``(n_queries, K)`` catalogue rows, best first (negative entries are
        padding and never match).
    target_rows
        ``(n_queries,)`` catalogue row of each target, ``-1`` if the target
        is unknown to the model (always a miss).

    Returns
    -------
    numpy.ndarray
        ``(n_queries,)`` int64 ranks in ``1..K``, or 0 where the target is
        absent from the list or unknown.
    """
    topk_rows = np.asarray(topk_rows)
    target_rows = np.asarray(target_rows)
    if topk_rows.ndim != 2 or target_rows.shape != topk_rows.shape[:1]:
        raise ValueError(
            "expected top-k rows of shape (n, K) and targets of shape (n,), "
            f"got {topk_rows.shape} and {target_rows.shape}"
        )
    match = (topk_rows == target_rows[:, None]) & (target_rows[:, None] >= 0)
    return np.where(match.any(axis=1), match.argmax(axis=1) + 1, 0).astype(np.int64)


def _within(ranks: np.ndarray, k: int) -> np.ndarray:
    """Boolean mask of ranks that are hits at cut-off ``k``."""
    _check_k(k)
    ranks = np.asarray(ranks)
    return (ranks >= 1) & (ranks <= k)


def _mean(values: np.ndarray) -> float:
    """Mean over all queries; NaN when there are none."""
    return float(values.mean()) if values.size else float("nan")


def hit_rate(ranks: np.ndarray, k: int) -> float:
    """Share of queries whose target ranks in the top ``k`` (HR@k).

    Parameters
    ----------
    ranks
        1-based ranks, 0 for a miss (see :func:`hits_from_topk`). Ranks come
        from top-K lists, so ``k`` should not exceed K.
    k
        Cut-off.

    Returns
    -------
    float
        Mean over all queries (NaN if there are none).
    """
    return _mean(_within(ranks, k).astype(np.float64))


def ndcg(ranks: np.ndarray, k: int) -> float:
    """Normalized discounted cumulative gain at ``k`` with one relevant item.

    A query scores ``1 / log2(rank + 1)`` if its target ranks within ``k``,
    else 0 (the ideal DCG is 1).

    Parameters
    ----------
    ranks
        1-based ranks, 0 for a miss.
    k
        Cut-off.

    Returns
    -------
    float
        Mean over all queries (NaN if there are none).
    """
    ranks = np.asarray(ranks)
    gain = np.zeros(ranks.shape)
    hit = _within(ranks, k)
    gain[hit] = 1.0 / np.log2(ranks[hit] + 1.0)
    return _mean(gain)


def mrr(ranks: np.ndarray, k: int) -> float:
    """Mean reciprocal rank at ``k``: ``1 / rank`` within ``k``, else 0.

    Parameters
    ----------
    ranks
        1-based ranks, 0 for a miss.
    k
        Cut-off.

    Returns
    -------
    float
        Mean over all queries (NaN if there are none).
    """
    ranks = np.asarray(ranks)
    reciprocal = np.zeros(ranks.shape)
    hit = _within(ranks, k)
    reciprocal[hit] = 1.0 / ranks[hit]
    return _mean(reciprocal)


def coverage(topk_rows: np.ndarray, k: int, n_catalogue: int) -> float:
    """Share of the catalogue recommended in at least one top-``k`` list.

    Parameters
    ----------
    topk_rows
        ``(n_queries, K)`` catalogue rows, best first; only the first ``k``
        columns count, negative entries are padding.
    k
        Cut-off.
    n_catalogue
        Number of items that could have been recommended.

    Returns
    -------
    float
        Distinct recommended items divided by ``n_catalogue``.
    """
    _check_k(k)
    if n_catalogue < 1:
        raise ValueError(f"n_catalogue must be positive, got {n_catalogue}")
    shown = np.asarray(topk_rows)[:, :k].ravel()
    seen = np.zeros(n_catalogue, dtype=bool)
    seen[shown[shown >= 0]] = True
    return float(seen.mean())


def summarize(
    ranks: np.ndarray, topk_rows: np.ndarray, ks: Sequence[int], n_catalogue: int
) -> dict[str, float]:
    """All metrics at every cut-off, named for MLflow.

    Parameters
    ----------
    ranks
        1-based ranks, 0 for a miss, from ``topk_rows``.
    topk_rows
        ``(n_queries, K)`` catalogue rows, best first.
    ks
        Cut-offs, each at most K unless the lists hold the whole catalogue.
    n_catalogue
        Number of items that could have been recommended.

    Returns
    -------
    dict of str to float
        ``hr_at_{k}``, ``ndcg_at_{k}``, ``mrr_at_{k}`` and
        ``coverage_at_{k}`` for each ``k`` in ``ks``, in that order.

    Raises
    ------
    ValueError
        If a cut-off exceeds the length of the top-k lists while those lists
        do not hold the whole catalogue (the metric would be understated).
    """
    width = np.asarray(topk_rows).shape[1]
    too_deep = [k for k in ks if k > width and width < n_catalogue]
    if too_deep:
        raise ValueError(f"top-k lists hold {width} items, too few for cut-offs {too_deep}")
    result: dict[str, float] = {}
    for k in ks:
        result[f"hr_at_{k}"] = hit_rate(ranks, k)
        result[f"ndcg_at_{k}"] = ndcg(ranks, k)
        result[f"mrr_at_{k}"] = mrr(ranks, k)
        result[f"coverage_at_{k}"] = coverage(topk_rows, k, n_catalogue)
    return result
