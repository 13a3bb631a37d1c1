"""A model trained on small synthetic playlists whose two artists are held back, then updated day by day.

The held-back artists' tracks are new items for the model: the daily slices
bring them, the frequent ones trained and the rare ones (under
``update.min_count``) served from their metadata. Shared by the update
tests and the browser test of the update's lineage (the ``update_chain``
fixture of conftest.py).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from recsys.config import load_pipeline_config
from recsys.data.synthetic import SynthConfig, generate_playlists, write_playlists
from recsys.errors import DriftWarning
from recsys.pipeline import run_training
from recsys.updating import UpdateResult, update

MODEL = "update-e2e"
EXPERIMENT = "update-e2e"
HELD_BACK = ("jazz artist 03", "rock artist 05")
MIN_COUNT = 3
"""``update.min_count`` of the chain: held-back tracks played fewer times in a day get vectors from metadata."""
TRAINING = ["--no-auto"]
OPTIONS = ["context=symmetric", "epochs=10", "vector_size=16", "workers=1", f"tracking.registered_model={MODEL}"]


@dataclass(frozen=True)
class Chain:
    """The training run and its chain of updates."""

    workdir: Path
    training_run_id: str
    updates: tuple[UpdateResult, ...]
    held_back: tuple[str, ...]
    """Items absent from the training data."""
    metadata: pl.DataFrame
    days: tuple[Path, ...]


def _without(sequences: pl.DataFrame, items: set[str]) -> pl.DataFrame:
    kept = sequences.with_columns(pl.col("items").list.filter(~pl.element().is_in(list(items))))
    return kept.filter(pl.col("items").list.len() >= 2)


def write_days(workdir: Path) -> tuple[Path, Path, tuple[Path, ...], tuple[str, ...]]:
    """Training playlists (held-back artists removed), metadata of every track, and three days of playlists."""
    sequences, metadata = generate_playlists(SynthConfig(n_playlists=900, seed=7))
    held_back = tuple(metadata.filter(pl.col("artist").is_in(list(HELD_BACK)))["item_id"].to_list())
    train = workdir / "train.txt"
    write_playlists(_without(sequences[:450], set(held_back)), train)
    meta = workdir / "metadata.csv"
    metadata.write_csv(meta)
    days = []
    for day in range(3):
        path = workdir / f"day{day + 1}.txt"
        write_playlists(sequences[450 + 150 * day: 600 + 150 * day], path)
        days.append(path)
    return train, meta, tuple(days), held_back


def make_chain(workdir: Path) -> Chain:
    """Train the model (registered as champion of :data:`MODEL`) and update it with each day in turn."""
    train, meta, days, held_back = write_days(workdir)
    config = load_pipeline_config(
        base={"data": {"name": EXPERIMENT, "path": str(train), "metadata": str(meta)}, "selection": {"auto": False}},
        overrides=OPTIONS,
    )
    trained = run_training(config)
    updates: list[UpdateResult] = []
    uri = f"models:/{MODEL}@champion"
    for day in days:
        with warnings.catch_warnings():  # three small days sit near the drift threshold; tests check the warning
            warnings.simplefilter("ignore", DriftWarning)
            result = update(uri, day, overrides=[f"update.min_count={MIN_COUNT}"])
        updates.append(result)
        uri = result.model_uri  # a chain: each day updates the day before's model, whichever holds the alias
    return Chain(workdir, trained.run_id, tuple(updates), held_back, pl.read_csv(meta, infer_schema=False),
                 days)
