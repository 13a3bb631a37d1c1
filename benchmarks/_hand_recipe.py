"""The hand recipe that `recsys train` is measured against: parse the data to lists, train gensim's Word2Vec.

    python benchmarks/_hand_recipe.py DATA OPTIONS_JSON

What a person writes without the project: a text file of playlists (one per
line, items separated by spaces) split into lists, or an events log (Parquet
or CSV with ``user_id``, ``item_id``, ``timestamp``) cut into sessions at
30-minute gaps with polars; then ``gensim.models.Word2Vec`` (skip-gram,
negative sampling) with the options given, which are the final options a
`recsys train` run chose (its symmetric window when it chose the forward
context, which gensim does not have). Prints the seconds of each step.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import polars as pl
from gensim.models import Word2Vec

GAP = pl.duration(minutes=30)
GENSIM_OPTIONS = ("vector_size", "window", "negative", "ns_exponent", "sample", "epochs", "alpha", "min_count",
                  "workers", "seed")


def sentences(path: Path) -> list[list[str]]:
    """The data as lists of item ids: lines of a text file, or an events log's sessions."""
    if path.suffix == ".txt":
        return [line.split() for line in path.read_text().splitlines() if line.strip()]
    events = pl.read_parquet(path) if path.suffix == ".parquet" else pl.read_csv(path, try_parse_dates=True)
    sessions = (
        events.with_row_index("order").sort("user_id", "timestamp", "order")
        .with_columns(((pl.col("timestamp").diff() > GAP) | (pl.col("user_id") != pl.col("user_id").shift()))
                      .fill_null(True).cum_sum().alias("session"))
        .group_by("session", maintain_order=True).agg(pl.col("item_id"))
    )
    return [items for items in sessions["item_id"].to_list() if len(items) >= 2]


def main() -> None:
    path, options = Path(sys.argv[1]), json.loads(sys.argv[2])
    started = time.perf_counter()
    lists = sentences(path)
    parsed = time.perf_counter()
    Word2Vec(lists, sg=1, hs=0, **{name: options[name] for name in GENSIM_OPTIONS})
    print(json.dumps({"parse_seconds": parsed - started, "train_seconds": time.perf_counter() - parsed,
                      "sequences": len(lists)}))


if __name__ == "__main__":
    main()
