"""recommend() latency, recommend_many() throughput and export-neighbours cost, against the tools it replaces.

    python benchmarks/bench_recommend.py [--sizes 10000 100000 1000000] [--queries 10000] [--slow-queries 1000]

For each catalogue size (random clustered vectors, dim 64), in the same run
on the same vectors:

- latency of one query (k=10), p50 and p99 over ``--queries`` random items, for
  ``Recommender.recommend`` prepared (neighbour table up to 100,000 items,
  HNSW beyond) and unprepared (exact: one matrix-vector product), its "next"
  through a ranking stage, prepared (the ranked table, or HNSW candidates
  ranked per query beyond; random output vectors and successor counts of
  random sequences, so only its cost is meaningful), gensim
  ``KeyedVectors.most_similar`` and implicit's ``similar_items``; whole-catalogue
  scans on catalogues over 100,000 items are timed on ``--slow-queries``
  items only (said in the table);
- agreement of the top-10 with ``most_similar`` (identical lists, in order);
- throughput of one ``recommend_many`` batch of 10,000 items against implicit's
  batched ``similar_items``;
- the one-time cost of ``prepare()`` (table or HNSW build, HNSW recall@10).

First, ``recsys export-neighbours --k 50`` on each of ``--export-items``
catalogue sizes in a fresh process: wall time and peak memory (its VmHWM,
so Linux only). Results also go to benchmarks/results/recommend.json.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import clustered_catalogue, percentiles_ms, write_results  # noqa: E402

from recsys import Recommender  # noqa: E402
from recsys.data._schema import SEQUENCES_SCHEMA  # noqa: E402
from recsys.item2vec import ItemVectors  # noqa: E402
from recsys.ranking import Blend, Evidence, Ranking  # noqa: E402

BATCH = 10_000


def _time_interleaved(
    methods: dict[str, tuple[Callable[[int], list[str]], int]], rows: np.ndarray
) -> tuple[dict[str, list[float]], dict[str, list[list[str]]]]:
    """Time each method on the first rows it is given, taking turns query by query.

    Taking turns spreads any disturbance from other processes over all methods alike.
    """
    latencies: dict[str, list[float]] = {name: [] for name in methods}
    answers: dict[str, list[list[str]]] = {name: [] for name in methods}
    for position, row in enumerate(rows.tolist()):
        for name, (function, limit) in methods.items():
            if position < limit:
                started = time.perf_counter()
                answer = function(row)
                latencies[name].append(time.perf_counter() - started)
                answers[name].append(answer)
    return latencies, answers


def _competitors(catalogue: ItemVectors) -> tuple[dict[str, Callable[[int], list[str]]], Any]:
    """gensim's and implicit's single-item queries on the catalogue, and the implicit model."""
    from gensim.models import KeyedVectors

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # implicit's advice about OpenBLAS threads
        from implicit.cpu.als import AlternatingLeastSquares

        als = AlternatingLeastSquares(factors=catalogue.vectors.shape[1])
    als.item_factors = catalogue.vectors
    als.user_factors = np.zeros((1, catalogue.vectors.shape[1]), dtype=np.float32)
    keyed = KeyedVectors(catalogue.vectors.shape[1])
    keyed.add_vectors(list(catalogue.item_ids), catalogue.vectors)
    ids = catalogue.item_ids

    def gensim(row: int) -> list[str]:
        return [key for key, _ in keyed.most_similar(ids[row], topn=10)]

    def implicit(row: int) -> list[str]:
        found, _ = als.similar_items(row, N=11)
        return [ids[i] for i in found if i != row][:10]

    gensim(0), implicit(0)  # norms are computed on the first call
    return {"gensim most_similar": gensim, "implicit similar_items": implicit}, als


def _ranked(catalogue: ItemVectors) -> Recommender:
    """The catalogue with random output vectors and a ranking stage over successor counts of random
    sequences (one per 10 items, 20 Zipf-popular items each): what a ranked "next" query costs."""
    import dataclasses

    import polars as pl

    rng = np.random.default_rng(2)
    n_items = len(catalogue)
    outputs = clustered_catalogue(n_items, seed=3).vectors
    rows = np.minimum(rng.zipf(1.3, size=(max(n_items // 10, 1), 20)) - 1, n_items - 1)
    ids = np.asarray(catalogue.item_ids, dtype=object)
    sequences = pl.DataFrame({"sequence_id": [str(i) for i in range(len(rows))],
                              "items": [ids[r].tolist() for r in rows]}, schema=SEQUENCES_SCHEMA)
    blend = Blend((1.0, 0.5, 5.0, 0.0, 0.3, 0.2))
    ranking = Ranking(Evidence.from_sequences(sequences, catalogue.item_ids), {"item": blend, "session": blend},
                      {"item": blend, "session": blend})
    vectors = dataclasses.replace(catalogue, context_vectors=outputs,
                                  config=catalogue.config.model_copy(update={"relation": "next"}))
    return Recommender(vectors, ranking=ranking)


def bench_size(n_items: int, queries: int, slow_queries: int) -> dict[str, Any]:
    """All latency and throughput figures for one catalogue size."""
    catalogue = clustered_catalogue(n_items)
    rows = np.random.default_rng(1).integers(0, n_items, queries)
    slow = slow_queries if n_items > 100_000 else queries
    prepared = Recommender(catalogue)
    started = time.perf_counter()
    prepared.prepare()
    prepare_seconds = time.perf_counter() - started
    exact = Recommender(catalogue, index="exact")
    ranked = _ranked(catalogue)
    started = time.perf_counter()
    ranked.prepare()
    ranked_prepare_seconds = time.perf_counter() - started
    competitors, als = _competitors(catalogue)

    methods: dict[str, tuple[Callable[[int], list[str]], int]] = {
        f"recommend ({prepared.search_mode})": (lambda r: prepared.recommend(catalogue.item_ids[r], 10)[0], queries),
        f"recommend next, ranked ({ranked.search_mode})": (
            lambda r: ranked.recommend(catalogue.item_ids[r], 10)[0], queries),
        "recommend (exact, unprepared)": (lambda r: exact.recommend(catalogue.item_ids[r], 10)[0], slow),
        **{name: (function, slow) for name, function in competitors.items()},
    }
    latencies, answers = _time_interleaved(methods, rows)
    timings = {name: {"queries": len(values), **percentiles_ms(values)} for name, values in latencies.items()}
    reference = answers["gensim most_similar"]
    for name, result in answers.items():
        pairs = list(zip(result, reference))
        timings[name]["same_top10_as_most_similar"] = float(np.mean([list(a) == b for a, b in pairs]))
        timings[name]["recall_at_10_vs_most_similar"] = float(np.mean([len(set(a) & set(b)) / 10 for a, b in pairs]))
        timings[name]["x_faster_than_most_similar_p50"] = (
            timings["gensim most_similar"]["p50_ms"] / timings[name]["p50_ms"]
        )

    batch = [catalogue.item_ids[r] for r in rows[:BATCH]]
    throughput = {}
    for name, function in {
        f"recommend_many ({prepared.search_mode})": lambda: prepared.recommend_many(batch, 10),
        "recommend_many (exact, unprepared)": lambda: exact.recommend_many(batch, 10),
        "implicit similar_items (batch)": lambda: als.similar_items(rows[:BATCH], N=11),
    }.items():
        started = time.perf_counter()
        function()
        throughput[name] = len(batch) / (time.perf_counter() - started)
    report = prepared.ann_report
    return {
        "items": n_items,
        "search_mode": prepared.search_mode,
        "prepare_seconds": prepare_seconds,
        "ranked_prepare_seconds": ranked_prepare_seconds,
        "ann_recall_at_10": None if report is None else report.recall_at_10,
        "ann_ef_search": None if report is None else report.ef_search,
        "latency": timings,
        "batch_size": len(batch),
        "batch_items_per_second": throughput,
    }


_EXPORT = """
import sys
from recsys.cli import main
main(["export-neighbours", "--model", sys.argv[1], "--k", sys.argv[2], "--out", sys.argv[3]], standalone_mode=False)
print(next(line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM")))
"""


def bench_export(n_items: int, k: int = 50) -> dict[str, Any]:
    """`recsys export-neighbours` in a fresh process: wall time and peak RSS (its own VmHWM, Linux)."""
    with tempfile.TemporaryDirectory() as workdir:
        model = clustered_catalogue(n_items).save(Path(workdir) / "model")
        out = Path(workdir) / "neighbours.parquet"
        started = time.perf_counter()
        child = subprocess.run(
            [sys.executable, "-c", _EXPORT, str(model), str(k), str(out)],
            check=True, env={**os.environ, "TQDM_DISABLE": "1"}, capture_output=True, text=True,
        )
        seconds = time.perf_counter() - started
        return {"items": n_items, "k": k, "seconds": seconds, "peak_rss_mb": int(child.stdout.split()[-1]) / 1024,
                "file_mb": out.stat().st_size / 2**20, "vectors_mb": n_items * 64 * 4 / 2**20}


def _print_export(run: dict[str, Any]) -> None:
    print(f"export-neighbours --k {run['k']} on {run['items']:>7,} items: {run['seconds']:5.1f} s, "
          f"peak RSS {run['peak_rss_mb']:.0f} MB (vectors {run['vectors_mb']:.0f} MB, file {run['file_mb']:.0f} MB)",
          flush=True)


def _print_size(size: dict[str, Any]) -> None:
    for name, t in size["latency"].items():
        print(f"{size['items']:>9,}  {name:<36} {t['queries']:>7,} {t['p50_ms']:>8.3f} {t['p99_ms']:>8.3f} "
              f"{t['x_faster_than_most_similar_p50']:>13.1f}x {t['same_top10_as_most_similar']:>10.1%} "
              f"{t['recall_at_10_vs_most_similar']:>9.4f}")
    ann = "" if size["ann_recall_at_10"] is None else (
        f", HNSW recall@10 {size['ann_recall_at_10']:.4f} at efSearch {size['ann_ef_search']}")
    print(f"{'':>9}  prepare() ({size['search_mode']}): {size['prepare_seconds']:.1f} s once{ann}; "
          f"with a ranking stage {size['ranked_prepare_seconds']:.1f} s")
    print(f"{'':>9}  batch of {size['batch_size']:,}: " + ", ".join(
        f"{name} {rate:,.0f} items/s" for name, rate in size["batch_items_per_second"].items()), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--queries", type=int, default=10_000, help="timed single queries per method")
    parser.add_argument("--slow-queries", type=int, default=1000,
                        help="timed queries for whole-catalogue scans above 100,000 items")
    parser.add_argument("--export-items", type=int, nargs="*", default=[10_000, 100_000],
                        help="catalogue sizes for the export benchmark (none: skip it)")
    args = parser.parse_args()
    exports = []
    for n_items in args.export_items:  # first, while this process is small
        exports.append(bench_export(n_items))
        _print_export(exports[-1])
    print(f"\n{'items':>9}  {'method':<36} {'queries':>7} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'x most_similar':>14} {'same top-10':>11} {'recall@10':>9}")
    sizes = []
    for n_items in args.sizes:
        sizes.append(bench_size(n_items, args.queries, args.slow_queries))
        _print_size(sizes[-1])
    print(f"\nwritten to {write_results('recommend', {'sizes': sizes, 'export': exports})}")


if __name__ == "__main__":
    main()
