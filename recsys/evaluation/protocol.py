"""The evaluation harness: every method answers exactly the same cases.

:func:`evaluate_method` asks a fitted method for the top items of each case
of a protocol (:mod:`recsys.evaluation.cases`), never recommending the
current item, and turns the target's rank into metrics with bootstrap
confidence intervals. Item-to-item cases are scored once per distinct query
item, sessions one by one, in batches of matrix products.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from recsys.evaluation._topk import evaluation_top_k
from recsys.evaluation.cases import EvaluationCases
from recsys.evaluation.methods import Method
from recsys.evaluation.metrics import bootstrap_intervals, hits_from_topk, popularity_percentiles, summarize
from recsys.vocab import Vocabulary

__all__ = ["MethodResult", "evaluate_method", "evaluate_methods", "item_popularity"]

_MAX_SCORES = 1 << 25
"""Most scores held at once (128 MB of float32): caps the queries per batch on large catalogues."""


@dataclass(frozen=True)
class MethodResult:
    """Metrics of one method on one set of evaluation cases."""

    method: str
    """Method name (``item2vec``, ``popular``...)."""
    metrics: dict[str, float]
    """``hr_at_10``, ``ndcg_at_10``, ``hr_at_10_ci_low``..., see :func:`evaluate_method`."""
    n_pairs: int
    """All evaluation cases, misses included."""
    n_unknown: int
    """Cases whose context or target the method does not know (counted as misses)."""
    seconds: float
    """Wall time of the evaluation."""
    protocol: str = "pairs"
    """The protocol of the cases."""
    cases_digest: str = ""
    """Fingerprint of the cases (:meth:`EvaluationCases.digest`): equal for every method."""
    ranks: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64), repr=False, compare=False)
    """1-based rank of each case's target in the method's top list, 0 for a miss."""


def item_popularity(train_sequences: pl.DataFrame) -> dict[str, float]:
    """Popularity percentile (0-100) of every training item, by id (see
    :func:`~recsys.evaluation.metrics.popularity_percentiles`)."""
    counts = train_sequences.select(pl.col("items").explode()).group_by("items").len()
    percentiles = popularity_percentiles(counts["len"].to_numpy())
    return dict(zip(counts["items"].to_list(), percentiles.tolist()))


def _ranked(scores: np.ndarray, depth: int) -> np.ndarray:
    """Top-``depth`` columns of each row; masked (``-inf``) items become -1, never recommended."""
    lists = evaluation_top_k(scores, depth)
    lists[np.take_along_axis(scores, lists, axis=1) == -np.inf] = -1
    return lists


def _top_items(
    method: Method,
    rows: np.ndarray,
    cases: EvaluationCases,
    known: np.ndarray,
    *,
    depth: int,
    batch: int,
    exclude_seen: bool,
) -> np.ndarray:
    """Top-``depth`` catalogue rows of every known case (-1 rows elsewhere)."""
    n_items = len(method.item_ids_)
    topk = np.full((len(cases), min(depth, n_items)), -1, dtype=np.int64)
    if cases.single_item:
        queries, inverse = np.unique(rows[cases.begin[known]], return_inverse=True)
        lists = np.empty((queries.size, topk.shape[1]), dtype=np.int64)
        for start in range(0, queries.size, batch):
            chunk = queries[start : start + batch]
            found = method.top_items(chunk, depth)
            if found is None:
                scores = method.score(chunk)
                scores[np.arange(chunk.size), chunk] = -np.inf
                found = _ranked(scores, depth)
            lists[start : start + batch] = found
        topk[known] = lists[inverse.ravel()]
        return topk
    for start in range(0, known.size, batch):
        chunk = known[start : start + batch]
        sessions = [_known_rows(rows, cases.begin[i], cases.end[i]) for i in chunk]
        found = method.top_sessions(sessions, depth) if exclude_seen else None
        if found is not None:
            topk[chunk] = found
            continue
        scores = method.score_sessions(sessions)
        if exclude_seen:
            lengths = np.fromiter((s.size for s in sessions), dtype=np.int64, count=chunk.size)
            scores[np.repeat(np.arange(chunk.size), lengths), np.concatenate(sessions)] = -np.inf
        else:
            current = np.fromiter((s[-1] for s in sessions), dtype=np.int64, count=chunk.size)
            scores[np.arange(chunk.size), current] = -np.inf
        topk[chunk] = _ranked(scores, depth)
    return topk


def _known_rows(rows: np.ndarray, begin: int, end: int) -> np.ndarray:
    """The catalogue rows of a context's items that the method knows, in order."""
    context = rows[begin:end]
    return context[context >= 0]


def evaluate_method(
    method: Method,
    cases: EvaluationCases | pl.DataFrame,
    *,
    ks: Sequence[int] = (5, 10, 20),
    n_catalogue: int | None = None,
    batch_size: int = 2048,
    popularity: Mapping[str, float] | None = None,
    bootstrap_resamples: int = 0,
    seed: int = 0,
    exclude_seen: bool = True,
) -> MethodResult:
    """Evaluate a fitted method on the cases of a protocol.

    For each case the method scores its catalogue for the context (the
    query item, or the session so far); the items of the context are never
    recommended (with ``exclude_seen=False`` only the current one, the
    context's last known item). A case whose target is unknown to the
    method, or whose context holds no item it knows, counts as a miss;
    unknown items inside a session are skipped.

    Parameters
    ----------
    method
        A fitted :class:`~recsys.evaluation.methods.Method`.
    cases
        The cases (:func:`~recsys.evaluation.cases.build_cases`), or a frame
        of ``query_id, target_id`` pairs.
    ks
        Cut-offs for the metrics.
    n_catalogue
        Catalogue size for coverage (default: the method's catalogue).
    batch_size
        Most queries scored per matrix product (fewer on catalogues so large
        that the scores would pass 128 MB).
    popularity
        Popularity percentile of each item by id (:func:`item_popularity`);
        gives the ``popularity_at_{k}`` metrics.
    bootstrap_resamples
        Resamples for the 95% confidence intervals of HR, NDCG and MRR (0: none).
    seed
        Seed of the bootstrap.
    exclude_seen
        Never recommend an item of the context, as implicit's ``recommend``
        does by default (the ``session`` protocol holds no case whose target
        is one of them). False masks the current item alone.

    Returns
    -------
    MethodResult
        With the metrics of :func:`~recsys.evaluation.metrics.summarize`
        and, with a bootstrap, ``{metric}_at_{k}_ci_low`` / ``_ci_high``.
    """
    started = time.perf_counter()
    if isinstance(cases, pl.DataFrame):
        cases = EvaluationCases.from_pairs(cases)
    vocab = Vocabulary(method.item_ids_)
    rows = vocab.rows(cases.item_ids.tolist(), missing="negative")
    targets = rows[cases.end]
    known_before = np.concatenate([[0], np.cumsum(rows >= 0)])
    has_context = known_before[cases.end] > known_before[cases.begin]
    known = np.flatnonzero(has_context & (targets >= 0))
    batch = max(1, min(batch_size, _MAX_SCORES // max(len(vocab), 1)))
    topk = _top_items(method, rows, cases, known, depth=max(ks), batch=batch, exclude_seen=exclude_seen)
    ranks = hits_from_topk(topk, targets)
    percentiles = None
    if popularity is not None:
        percentiles = np.array([popularity.get(item, 0.0) for item in vocab.ids])
    metrics = summarize(ranks, topk[known], ks, n_catalogue or len(vocab), popularity=percentiles)
    if bootstrap_resamples:
        metrics.update(bootstrap_intervals(ranks, ks, n_resamples=bootstrap_resamples, seed=seed))
    return MethodResult(
        method=method.name,
        metrics=metrics,
        n_pairs=len(cases),
        n_unknown=len(cases) - known.size,
        seconds=time.perf_counter() - started,
        protocol=cases.protocol,
        cases_digest=cases.digest(),
        ranks=ranks,
    )


def evaluate_methods(
    methods: Sequence[Method],
    cases: EvaluationCases | pl.DataFrame,
    *,
    ks: Sequence[int] = (5, 10, 20),
    n_catalogue: int | None = None,
    batch_size: int = 2048,
    popularity: Mapping[str, float] | None = None,
    bootstrap_resamples: int = 0,
    seed: int = 0,
    exclude_seen: bool = True,
) -> list[MethodResult]:
    """Evaluate several fitted methods on the same cases (see :func:`evaluate_method`)."""
    if isinstance(cases, pl.DataFrame):
        cases = EvaluationCases.from_pairs(cases)
    return [
        evaluate_method(m, cases, ks=ks, n_catalogue=n_catalogue, batch_size=batch_size,
                        popularity=popularity, bootstrap_resamples=bootstrap_resamples, seed=seed,
                        exclude_seen=exclude_seen)
        for m in methods
    ]
