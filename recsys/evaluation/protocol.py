"""Next-item evaluation: every method answers exactly the same query/target pairs."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from recsys.evaluation.methods import Method
from recsys.evaluation.metrics import hits_from_topk, summarize
from recsys.index import top_k
from recsys.vocab import Vocabulary

__all__ = ["MethodResult", "evaluate_method", "evaluate_methods"]


@dataclass(frozen=True)
class MethodResult:
    """Metrics of one method on one set of evaluation pairs."""

    method: str
    """Method name (``item2vec``, ``popular``...)."""
    metrics: dict[str, float]
    """``hr_at_10``, ``ndcg_at_10``, ``mrr_at_10``, ``coverage_at_10``..."""
    n_pairs: int
    """All evaluation pairs, misses included."""
    n_unknown: int
    """Pairs whose query or target the method does not know (counted as misses)."""
    seconds: float
    """Wall time of the evaluation."""


def evaluate_method(
    method: Method,
    pairs: pl.DataFrame,
    *,
    ks: Sequence[int] = (10, 20),
    n_catalogue: int | None = None,
    batch_size: int = 2048,
) -> MethodResult:
    """Evaluate a fitted method on query/target pairs.

    For each pair the method scores its catalogue for the query item; the
    query item itself is never recommended. A pair whose query or target is
    unknown to the method counts as a miss.

    Parameters
    ----------
    method
        A fitted :class:`~recsys.evaluation.methods.Method`.
    pairs
        Frame with ``query_id`` and ``target_id`` columns.
    ks
        Cut-offs for the metrics.
    n_catalogue
        Catalogue size for coverage (default: the method's catalogue).
    batch_size
        Queries scored per matrix product.

    Returns
    -------
    MethodResult
    """
    started = time.perf_counter()
    vocab = Vocabulary(method.item_ids_)
    queries = vocab.rows(pairs["query_id"].to_list(), missing="negative")
    targets = vocab.rows(pairs["target_id"].to_list(), missing="negative")
    known = np.flatnonzero((queries >= 0) & (targets >= 0))
    depth = max(ks)
    topk = np.full((len(pairs), min(depth, len(vocab))), -1, dtype=np.int64)
    for start in range(0, len(known), batch_size):
        batch = known[start : start + batch_size]
        scores = method.score(queries[batch])
        scores[np.arange(len(batch)), queries[batch]] = -np.inf
        topk[batch] = top_k(scores, depth)
    ranks = hits_from_topk(topk, np.where(np.isin(np.arange(len(pairs)), known), targets, -1))
    metrics = summarize(ranks, topk[known], ks, n_catalogue or len(vocab))
    return MethodResult(
        method=method.name,
        metrics=metrics,
        n_pairs=len(pairs),
        n_unknown=len(pairs) - len(known),
        seconds=time.perf_counter() - started,
    )


def evaluate_methods(
    methods: Sequence[Method],
    pairs: pl.DataFrame,
    *,
    ks: Sequence[int] = (10, 20),
    n_catalogue: int | None = None,
    batch_size: int = 2048,
) -> list[MethodResult]:
    """Evaluate several fitted methods on the same pairs (see :func:`evaluate_method`)."""
    return [
        evaluate_method(m, pairs, ks=ks, n_catalogue=n_catalogue, batch_size=batch_size)
        for m in methods
    ]
