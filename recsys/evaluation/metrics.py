"""Vectorized top-k ranking metrics for next-item evaluation.

Each query has exactly one relevant item, its target. The evaluation
computes top-k lists of catalogue rows (:func:`recsys.index.top_k`), the target's
rank in them (:func:`hits_from_topk`; 0 means a miss), and means over all
queries (:func:`hit_rate`, :func:`ndcg`, :func:`mrr`, :func:`precision`,
:func:`recall`), the share of the catalogue recommended (:func:`coverage`)
and the popularity of what is recommended (:func:`mean_popularity`).
Queries whose target is unknown to the model (row ``-1``) count as misses,
so models with different catalogues are compared on the same pairs.

Every per-query metric is a function of the target's rank alone, so the
bootstrap (:func:`bootstrap_intervals`, :func:`bootstrap_difference`)
resamples the counts of each rank from a multinomial distribution: exactly
the distribution of resampling the queries with replacement, at a cost that
does not grow with the number of queries.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

from recsys.errors import ConfigError

__all__ = [
    "HEADLINE_METRICS",
    "hits_from_topk",
    "hit_rate",
    "ndcg",
    "mrr",
    "precision",
    "recall",
    "coverage",
    "concentration",
    "popularity_percentiles",
    "mean_popularity",
    "bootstrap_intervals",
    "bootstrap_difference",
    "summarize",
]

RankMetric = Literal["hr", "ndcg", "mrr"]
HEADLINE_METRICS: tuple[RankMetric, ...] = ("hr", "ndcg", "mrr")
"""Metrics given a bootstrap confidence interval."""


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


def _per_query(metric: RankMetric, ranks: np.ndarray, k: int) -> np.ndarray:
    """Each query's HR, NDCG or MRR at ``k`` from its rank (float64)."""
    ranks = np.asarray(ranks)
    hit = _within(ranks, k)
    values = np.zeros(ranks.shape)
    if metric == "hr":
        values[hit] = 1.0
    elif metric == "ndcg":
        values[hit] = 1.0 / np.log2(ranks[hit] + 1.0)
    else:
        values[hit] = 1.0 / ranks[hit]
    return values


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
    return _mean(_per_query("hr", ranks, k))


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
    return _mean(_per_query("ndcg", ranks, k))


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
    return _mean(_per_query("mrr", ranks, k))


def precision(ranks: np.ndarray, k: int) -> float:
    """Precision at ``k``: relevant items in the top ``k`` divided by ``k``.

    With one target per query this is ``HR@k / k``; parameters and result
    as for :func:`hit_rate`.
    """
    return hit_rate(ranks, k) / k


def recall(ranks: np.ndarray, k: int) -> float:
    """Recall at ``k``: share of a query's relevant items found in its top ``k``.

    With one target per query this equals HR@k (parameters and result as
    for :func:`hit_rate`); it would differ for multi-target protocols ("the
    rest of the session"), which are not implemented.
    """
    return hit_rate(ranks, k)


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


def concentration(topk_rows: np.ndarray, k: int) -> float:
    """Share of all top-``k`` slots filled by the ``k`` most recommended items.

    1.0 when every list is the same (the popularity ranking); close to
    ``k / distinct items`` when recommendations spread evenly. A high value
    is the mark of a collapsed model that answers every query alike.

    Parameters
    ----------
    topk_rows
        ``(n_queries, K)`` catalogue rows, best first; negative entries are padding.
    k
        Cut-off.

    Returns
    -------
    float
        In [0, 1]; NaN when no list holds an item.
    """
    _check_k(k)
    shown = np.asarray(topk_rows)[:, :k].ravel()
    shown = shown[shown >= 0]
    if shown.size == 0:
        return float("nan")
    counts = np.bincount(shown)
    top = np.partition(counts, -min(k, counts.size))[-min(k, counts.size):]
    return float(top.sum() / shown.size)


def popularity_percentiles(counts: np.ndarray) -> np.ndarray:
    """Percentile rank (0-100) of each item's popularity among all items.

    ``100 * (items with a lower count + half the items with the same count,
    itself included) / items``: the most played of 4 items gets 87.5, an
    item that ties with one other item for the fewest plays gets 25.

    Parameters
    ----------
    counts
        ``(n_items,)`` training occurrences of each item.

    Returns
    -------
    numpy.ndarray
        ``(n_items,)`` float64 percentiles.
    """
    counts = np.asarray(counts)
    ordered = np.sort(counts)
    below = np.searchsorted(ordered, counts, side="left")
    equal = np.searchsorted(ordered, counts, side="right") - below
    return 100.0 * (below + 0.5 * equal) / max(counts.size, 1)


def mean_popularity(topk_rows: np.ndarray, k: int, percentiles: np.ndarray) -> float:
    """Mean popularity percentile of the items recommended in the top ``k`` (popularity bias).

    Parameters
    ----------
    topk_rows
        ``(n_queries, K)`` catalogue rows, best first; negative entries are padding.
    k
        Cut-off.
    percentiles
        Popularity percentile of each catalogue row (:func:`popularity_percentiles`).

    Returns
    -------
    float
        Mean over every recommended item of every list (NaN if there is none);
        50 is what recommending at random gives, 100 only the most popular item.
    """
    _check_k(k)
    shown = np.asarray(topk_rows)[:, :k].ravel()
    return _mean(np.asarray(percentiles, dtype=np.float64)[shown[shown >= 0]])


def _rank_counts(ranks: np.ndarray, depth: int) -> np.ndarray:
    """Rank category of each query: its rank if within ``depth``, else 0 (a miss)."""
    ranks = np.asarray(ranks)
    return np.where((ranks >= 1) & (ranks <= depth), ranks, 0)


def _quantiles(samples: np.ndarray, level: float) -> tuple[float, float]:
    """The central ``level`` interval of bootstrap samples (percentile method)."""
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(samples, [tail, 1.0 - tail])
    return float(low), float(high)


def _check_bootstrap(n_resamples: int, level: float) -> None:
    if n_resamples < 1:
        raise ConfigError(f"n_resamples must be positive, got {n_resamples}")
    if not 0.0 < level < 1.0:
        raise ConfigError(f"level must be in (0, 1), got {level}")


def bootstrap_intervals(
    ranks: np.ndarray,
    ks: Sequence[int],
    *,
    n_resamples: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> dict[str, float]:
    """Bootstrap confidence intervals of HR, NDCG and MRR at every cut-off.

    Resampling the queries with replacement changes only how many queries
    have each rank, so each resample is one multinomial draw of the rank
    counts; the interval is the percentile interval of the resampled means.

    Parameters
    ----------
    ranks
        1-based ranks, 0 for a miss, one per query.
    ks
        Cut-offs.
    n_resamples
        Bootstrap resamples.
    level
        Coverage of the interval (0.95 for 95%).
    seed
        Seed of the resampling.

    Returns
    -------
    dict of str to float
        ``hr_at_{k}_ci_low``, ``hr_at_{k}_ci_high`` and the same for ``ndcg``
        and ``mrr``; NaN when there are no queries.
    """
    _check_bootstrap(n_resamples, level)
    depth = max(ks)
    categories = _rank_counts(ranks, depth)
    n = categories.size
    draws = None
    if n:
        frequencies = np.bincount(categories, minlength=depth + 1) / n
        draws = np.random.default_rng(seed).multinomial(n, frequencies, size=n_resamples) / n
    result: dict[str, float] = {}
    values_of_rank = np.arange(depth + 1)
    for k in ks:
        for metric in HEADLINE_METRICS:
            low = high = float("nan")
            if draws is not None:
                low, high = _quantiles(draws @ _per_query(metric, values_of_rank, k), level)
            result[f"{metric}_at_{k}_ci_low"] = low
            result[f"{metric}_at_{k}_ci_high"] = high
    return result


def bootstrap_difference(
    ranks_a: np.ndarray,
    ranks_b: np.ndarray,
    k: int,
    *,
    metric: RankMetric = "ndcg",
    n_resamples: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """Paired bootstrap of ``metric@k`` of method A minus method B on the same queries.

    The queries are resampled together for both methods (one multinomial
    draw over the pairs of ranks), so the interval accounts for the two
    methods finding the same easy queries: when it excludes 0, A and B differ.

    Parameters
    ----------
    ranks_a, ranks_b
        1-based ranks (0 for a miss) of the two methods on the same queries.
    k
        Cut-off.
    metric
        ``hr``, ``ndcg`` or ``mrr``.
    n_resamples, level, seed
        As in :func:`bootstrap_intervals`.

    Returns
    -------
    difference, low, high
        The observed difference and its confidence interval (NaN if there
        are no queries).

    Raises
    ------
    ValueError
        If the two rank arrays differ in length.
    """
    _check_bootstrap(n_resamples, level)
    a, b = _rank_counts(ranks_a, k), _rank_counts(ranks_b, k)
    if a.shape != b.shape:
        raise ValueError(f"the methods must rank the same queries, got {a.size} and {b.size} ranks")
    if a.size == 0:
        return float("nan"), float("nan"), float("nan")
    values = _per_query(metric, np.arange(k + 1), k)
    pair_values = (values[:, None] - values[None, :]).ravel()
    frequencies = np.bincount(a * (k + 1) + b, minlength=(k + 1) ** 2) / a.size
    draws = np.random.default_rng(seed).multinomial(a.size, frequencies, size=n_resamples) / a.size
    low, high = _quantiles(draws @ pair_values, level)
    return float(frequencies @ pair_values), low, high


def summarize(
    ranks: np.ndarray,
    topk_rows: np.ndarray,
    ks: Sequence[int],
    n_catalogue: int,
    *,
    popularity: np.ndarray | None = None,
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
    popularity
        Popularity percentile of each catalogue row
        (:func:`popularity_percentiles`); without it there is no
        ``popularity_at_{k}``.

    Returns
    -------
    dict of str to float
        ``hr_at_{k}``, ``ndcg_at_{k}``, ``mrr_at_{k}``, ``precision_at_{k}``,
        ``recall_at_{k}``, ``coverage_at_{k}``, ``concentration_at_{k}``
        (:func:`concentration`) and ``popularity_at_{k}`` (the
        mean popularity percentile of the recommended items) for each ``k``
        in ``ks``, in that order.

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
        result[f"precision_at_{k}"] = precision(ranks, k)
        result[f"recall_at_{k}"] = recall(ranks, k)
        result[f"coverage_at_{k}"] = coverage(topk_rows, k, n_catalogue)
        result[f"concentration_at_{k}"] = concentration(topk_rows, k)
        if popularity is not None:
            result[f"popularity_at_{k}"] = mean_popularity(topk_rows, k, popularity)
    return result
