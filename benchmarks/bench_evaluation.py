"""Evaluation throughput: next-item queries per second for item2vec on a 100,000-item catalogue.

    python benchmarks/bench_evaluation.py [--items 100000] [--pairs 100000] [--distinct 20000]

On clustered random vectors (dim 64, like trained item2vec vectors), in the
same run:

- the harness (``evaluate_method``) on ``--pairs`` next-item pairs whose
  items follow a Zipf(1) popularity, as real items do (about 24% distinct
  query items; all pairs of the yes playlists have 14%), with the
  bootstrap intervals;
- the harness on ``--distinct`` pairs whose queries are all different (the
  worst case: nothing to share);
- the naive loop it replaces: every pair scored on its own row, then
  ``recsys.index.top_k``, in batches of 2,048, on a share of the pairs;
- the floor: the matrix product alone for the distinct queries (what
  remains when ranking and metrics cost nothing).

The goal is 10,000 queries per second. Results also go to
benchmarks/results/evaluation.json.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import clustered_catalogue, write_results  # noqa: E402

from recsys.evaluation.methods import Item2VecMethod  # noqa: E402
from recsys.evaluation.metrics import hits_from_topk  # noqa: E402
from recsys.evaluation.protocol import evaluate_method  # noqa: E402
from recsys.index import top_k  # noqa: E402

GOAL = 10_000


def _pairs(ids: np.ndarray, queries: np.ndarray, targets: np.ndarray) -> pl.DataFrame:
    return pl.DataFrame({"query_id": ids[queries].tolist(), "target_id": ids[targets].tolist()})


def _naive(method: Item2VecMethod, queries: np.ndarray, targets: np.ndarray, batch: int = 2048) -> float:
    """Seconds for scoring every pair on its own and ranking with ``top_k`` (the foundation's loop)."""
    started = time.perf_counter()
    for start in range(0, queries.size, batch):
        rows = queries[start : start + batch]
        scores = method.score(rows)
        scores[np.arange(rows.size), rows] = -np.inf
        hits_from_topk(top_k(scores, 20), targets[start : start + batch])
    return time.perf_counter() - started


def _product_only(method: Item2VecMethod, queries: np.ndarray, batch: int = 335) -> float:
    """Seconds for the scores alone, in the harness's batch size for 100,000 items."""
    started = time.perf_counter()
    for start in range(0, queries.size, batch):
        method.score(queries[start : start + batch])
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--pairs", type=int, default=100_000)
    parser.add_argument("--distinct", type=int, default=20_000)
    parser.add_argument("--naive-pairs", type=int, default=8_192)
    args = parser.parse_args()

    method = Item2VecMethod.from_vectors(clustered_catalogue(args.items))
    ids = np.asarray(method.item_ids_, dtype=object)
    rng = np.random.default_rng(0)
    popularity = 1.0 / np.arange(1, args.items + 1)
    popularity /= popularity.sum()
    order = rng.permutation(args.items)  # popularity unrelated to the vectors' clusters
    queries = order[rng.choice(args.items, size=args.pairs, p=popularity)]
    targets = order[rng.choice(args.items, size=args.pairs, p=popularity)]
    pairs = _pairs(ids, queries, targets)
    distinct = rng.choice(args.items, size=min(args.distinct, args.items), replace=False)
    distinct_pairs = _pairs(ids, distinct, rng.integers(0, args.items, distinct.size))

    evaluate_method(method, pairs.head(2048), ks=(5, 10, 20))  # warm up BLAS and caches
    realistic = evaluate_method(method, pairs, ks=(5, 10, 20), bootstrap_resamples=1000)
    worst = evaluate_method(method, distinct_pairs, ks=(5, 10, 20), bootstrap_resamples=1000)
    naive_seconds = _naive(method, queries[: args.naive_pairs], targets[: args.naive_pairs])
    product_seconds = _product_only(method, distinct)

    rates = {
        "zipf_pairs_per_second": args.pairs / realistic.seconds,
        "distinct_pairs_per_second": distinct.size / worst.seconds,
        "naive_pairs_per_second": args.naive_pairs / naive_seconds,
        "product_only_queries_per_second": distinct.size / product_seconds,
    }
    share = np.unique(queries).size / args.pairs
    print(f"catalogue: {args.items:,} items, dim {method._unit.shape[1]}; metrics at k = 5, 10, 20 with 1,000 bootstrap resamples")
    print(f"{'pairs':<44} {'queries/s':>10} {'vs naive':>9}")
    print(f"{f'Zipf(1) pairs ({args.pairs:,}, {share:.0%} distinct queries)':<44} "
          f"{rates['zipf_pairs_per_second']:>10,.0f} {rates['zipf_pairs_per_second'] / rates['naive_pairs_per_second']:>8.1f}x")
    print(f"{f'all-distinct queries ({distinct.size:,})':<44} {rates['distinct_pairs_per_second']:>10,.0f} "
          f"{rates['distinct_pairs_per_second'] / rates['naive_pairs_per_second']:>8.1f}x")
    print(f"{f'naive: every pair + index.top_k ({args.naive_pairs:,})':<44} {rates['naive_pairs_per_second']:>10,.0f} {1:>8.1f}x")
    print(f"{f'floor: the matrix product alone ({distinct.size:,} distinct)':<44} "
          f"{rates['product_only_queries_per_second']:>10,.0f}")
    verdict = "meets" if rates["zipf_pairs_per_second"] >= GOAL else "misses"
    print(f"goal {GOAL:,} queries/s on realistic pairs: {verdict} it")
    path = write_results("evaluation", {"items": args.items, "pairs": args.pairs, "distinct_query_share": share,
                                        **rates, "goal": GOAL})
    print(f"results: {path}")


if __name__ == "__main__":
    main()
