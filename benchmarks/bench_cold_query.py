"""recommend() latency of new (cold) items against trained ones, on the same model in the same run.

    python benchmarks/bench_cold_query.py [--dataset yes] [--new-items 1000] [--queries 500]

Trains item2vec (``pipelines/configs/<dataset>.toml``, 10 epochs, no
selection: the vectors' quality does not matter here) and its metadata
mapper, then adds ``--new-items`` items whose metadata is copied from random
trained items under new ids (``recsys add-items`` in Python). A cold item's
"next" is ranked by its fitted blend of vector, metadata and plays
(:mod:`recsys.coldstart.ranker`), over the whole catalogue; ``prepare()``
ranks it once per cold item. Timed, taking turns query by query, k=10:
trained and cold items, "next", prepared and not; reported as p50/p99 and
as the ratio of cold to trained. Skips a dataset whose files are absent.
Results go to benchmarks/results/cold_query.json.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import commit, percentiles_ms, write_results  # noqa: E402

from recsys import (
    Recommender,  # noqa: E402
    train,  # noqa: E402
)
from recsys.coldstart import ColdStart, MetadataMapper  # noqa: E402
from recsys.config import load_pipeline_config  # noqa: E402
from recsys.data.load import load_training_data  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def _time(recommender: Recommender, warm: list[str], cold: list[str]) -> dict[str, dict[str, float]]:
    """p50/p99 of one "next" query for trained and cold items, taking turns."""
    seconds: dict[str, list[float]] = {"trained": [], "cold": []}
    for trained_item, cold_item in zip(warm, cold):
        for name, item in (("trained", trained_item), ("cold", cold_item)):
            started = time.perf_counter()
            recommender.recommend(item, k=10, relation="next")
            seconds[name].append(time.perf_counter() - started)
    return {name: percentiles_ms(values) for name, values in seconds.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="yes")
    parser.add_argument("--new-items", type=int, default=1000)
    parser.add_argument("--queries", type=int, default=500)
    args = parser.parse_args()

    os.chdir(ROOT)
    config = load_pipeline_config(ROOT / "pipelines" / "configs" / f"{args.dataset}.toml",
                                  overrides=["epochs=10", "selection.auto=false"])
    missing = [p for p in (config.data.path, config.data.metadata) if p is None or not p.exists()]
    if missing:
        print(f"skipping {args.dataset}: {missing[0]} is absent", file=sys.stderr)
        return
    prepared = load_training_data(config)
    assert prepared.metadata is not None
    vectors = train(prepared.train, config.item2vec)
    started = time.perf_counter()
    mapper = MetadataMapper(config.cold_start).fit(vectors, prepared.metadata, prepared.train)
    fit_seconds = time.perf_counter() - started
    rng = np.random.default_rng(0)
    trained = np.asarray(vectors.item_ids, dtype=object)
    copied = rng.choice(trained, size=min(args.new_items, len(trained)), replace=False).tolist()
    new_items = (
        pl.DataFrame({"item_id": copied}).join(prepared.metadata, on="item_id", how="inner", maintain_order="left")
        .with_columns(("new-" + pl.col("item_id")).alias("item_id"))
    )
    recommender = Recommender(vectors, prepared.metadata, cold_start=ColdStart(mapper)).add_items(new_items)
    warm = rng.choice(trained, size=args.queries).tolist()
    cold = rng.choice(np.asarray(recommender.cold_item_ids, dtype=object), size=args.queries).tolist()

    unprepared = _time(recommender, warm, cold)
    started = time.perf_counter()
    recommender.prepare(relations=["next"])
    prepare_seconds = time.perf_counter() - started
    prepared_times = _time(recommender, warm, cold)
    results = {
        "dataset": args.dataset, "commit": commit(), "n_items": len(recommender),
        "n_cold": len(recommender.cold_item_ids), "n_queries": args.queries,
        "mapper_fit_seconds": fit_seconds, "prepare_next_seconds": prepare_seconds,
        "unprepared": unprepared, "prepared": prepared_times,
        "cold_over_trained_p50": {
            "unprepared": unprepared["cold"]["p50_ms"] / unprepared["trained"]["p50_ms"],
            "prepared": prepared_times["cold"]["p50_ms"] / prepared_times["trained"]["p50_ms"],
        },
    }
    path = write_results("cold_query", results)
    print(f"{args.dataset}: {len(recommender):,} items, {len(recommender.cold_item_ids):,} cold; "
          f"mapper fit {fit_seconds:.1f} s, prepare('next') {prepare_seconds:.1f} s")
    for name, times in (("unprepared", unprepared), ("prepared", prepared_times)):
        print(f"{name:>10}: trained p50 {times['trained']['p50_ms']:.3f} ms p99 {times['trained']['p99_ms']:.3f} ms; "
              f"cold p50 {times['cold']['p50_ms']:.3f} ms p99 {times['cold']['p99_ms']:.3f} ms; "
              f"cold/trained {results['cold_over_trained_p50'][name]:.1f}x")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
