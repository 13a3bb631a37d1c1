"""The pieces of an update before training: its configuration, the checks on the new data, the new items,
the replayed sequences, the starting vectors of new items and the refitted cold-start mapper."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from recsys.coldstart import ColdStart, MetadataMapper
from recsys.coldstart.features import empty_rows
from recsys.config import (
    ColdStartConfig,
    PipelineConfig,
    UpdateConfig,
    apply_overrides,
    logged_config,
    validate_config,
)
from recsys.data.load import PreparedData
from recsys.errors import ConfigError, DataError
from recsys.item2vec import ItemVectors, initial_vectors
from recsys.ranking import Ranking
from recsys.recommender import Recommender

__all__ = [
    "NewItems", "check_overlap", "merged_metadata", "refit_cold_start", "replay_sequences", "sort_new_items",
    "starting_vectors", "update_configs",
]


@dataclass(frozen=True)
class NewItems:
    """The items of the new data the model did not have trained vectors for, and what became of them."""

    trained: tuple[str, ...]
    """Occurring at least ``min_count`` times: trained (after the model's rows, in this order)."""
    cold: tuple[str, ...]
    """Under ``min_count``, with metadata: vectors from it (cold items), those of the previous model's
    cold items that are still under it included."""
    left_out: tuple[str, ...]
    """Under ``min_count`` without metadata (or without a mapper): not in the updated model."""


# ----------------------------------------------------------------------- configuration
_NOT_INHERITED = ("path", "test_path", "metadata", "min_item_count")
"""``data`` options of the model's run that do not carry over to its update's data."""


def update_configs(parent: Any | None, data: str | Path, *, data_format: str | None, metadata: str | Path | None,
             test_data: str | Path | None, config: UpdateConfig | None,
             overrides: Sequence[str]) -> tuple[PipelineConfig, UpdateConfig]:
    """The update's pipeline config (the parent run's, for the new data) and its :class:`UpdateConfig`.

    ``overrides`` are ``--set`` strings: ``update.<option>`` sets the update's
    config, a dotted key any other section's option; item2vec's options
    (bare keys) are the model's and cannot change.
    """
    update_options = {} if config is None else config.model_dump(exclude_unset=True)
    rest = []
    for override in overrides:
        key, sep, value = override.partition("=")
        section, dot, option = key.strip().partition(".")
        if section == "update" and sep:
            update_options[option] = _literal(value.strip())
        elif not dot:
            raise ConfigError(f"--set {override!r}: an update keeps the model's item2vec configuration; its schedule "
                              "is update.epochs and update.alpha_scale, its new items' threshold update.min_count")
        else:
            rest.append(override)
    update_config = validate_config(UpdateConfig, update_options, source="update options")
    raw = logged_config(parent.data.params) if parent is not None else {}
    data_options = {k: v for k, v in raw.get("data", {}).items() if k not in _NOT_INHERITED}
    data_options.update({"path": str(data), "min_item_count": 1})  # an item the model knows is never pruned
    if parent is None or "name" not in data_options:
        data_options["name"] = parent.data.tags.get("dataset", Path(data).stem) if parent else Path(data).stem
    if data_format is not None:
        data_options["format"] = data_format
    if metadata is not None:
        data_options["metadata"] = str(metadata)
    raw["data"] = data_options
    split = raw.setdefault("split", {})
    if test_data is not None:
        data_options["test_path"], split["method"] = str(test_data), "file"
    elif split.get("method") == "file":  # the model's test file belongs to its own data
        split["method"] = "random"
    raw.get("tracking", {}).pop("tracking_uri", None)
    raw = apply_overrides(raw, rest)
    raw["data"]["min_item_count"] = 1
    pipeline = validate_config(PipelineConfig, raw, source="update options")
    if update_config.compare_full and update_config.old_data is None:
        raise ConfigError("update.compare_full retrains on the old data with the new: give it (--old-data OLD)")
    return pipeline, update_config


def _literal(text: str) -> Any:
    """An ``update.<option>=VALUE`` value as TOML reads it (numbers, booleans), else the text."""
    import tomllib

    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


# ---------------------------------------------------------------------------- the data
def check_overlap(prepared: PreparedData, previous: Recommender, path: str | Path) -> int:
    """How many items of the new data the model knows; refuses data with none of them."""
    items = pl.concat([prepared.train, prepared.test]).select(pl.col("items").explode().unique())["items"]
    known = int(sum(item in previous for item in items.to_list()))
    if known == 0:
        raise DataError(
            f"none of the {items.len():,} items of the new data is in the model's catalogue "
            f"({len(previous):,} items)", path=path,
            fix="an update continues a model on data of its catalogue: check the item ids and the data options "
                "(--format, --set data.item_column=...); for a new catalogue, train a model (recsys train)")
    return known


def merged_metadata(old: pl.DataFrame | None, new: pl.DataFrame | None) -> pl.DataFrame | None:
    """The model's metadata with the new data's rows (which win for an item in both)."""
    if old is None or new is None:
        return new if old is None else old
    kept = old.filter(~pl.col("item_id").is_in(new["item_id"].implode()))
    return pl.concat([kept, new], how="diagonal_relaxed")


def sort_new_items(vectors: ItemVectors, counts: dict[str, int], *, min_count: int, previous_cold: Sequence[str],
               metadata: pl.DataFrame | None, mapper: bool) -> NewItems:
    """Sort the items without trained vectors: trained from now on, cold (from metadata), or left out."""
    known = vectors.vocabulary
    unknown = sorted((item for item in counts if item not in known), key=lambda item: (-counts[item], item))
    trained = tuple(item for item in unknown if counts[item] >= min_count)
    rare = [item for item in (*previous_cold, *unknown) if counts.get(item, 0) < min_count]
    described = set() if metadata is None or not mapper else set(metadata["item_id"].to_list())
    rare = list(dict.fromkeys(rare))
    return NewItems(trained, tuple(i for i in rare if i in described), tuple(i for i in rare if i not in described))


def replay_sequences(update_config: UpdateConfig, n_new: int, new: pl.DataFrame, old: pl.DataFrame | None,
              ranking: Ranking | None, item_ids: Sequence[str]) -> tuple[pl.DataFrame, str]:
    """The old sequences trained with the new ones, and where they came from (``data``, ``evidence``, ``none``)."""
    wanted = int(round(update_config.replay_fraction * n_new))
    if wanted == 0:
        return new.clear(), "none"
    if old is not None:
        return old.sample(n=wanted, with_replacement=wanted > old.height, seed=update_config.seed), "data"
    if ranking is None:
        return new.clear(), "none"
    lengths = new["items"].list.len().to_numpy()
    rng = np.random.default_rng(update_config.seed)
    walks = ranking.evidence.walks(rng.choice(lengths, size=wanted), seed=update_config.seed)
    ids = np.asarray(item_ids, dtype=object)
    frame = pl.DataFrame({"sequence_id": [f"replay-{i}" for i in range(len(walks))],
                          "items": [ids[walk].tolist() for walk in walks]},
                         schema={"sequence_id": pl.String, "items": pl.List(pl.String)})
    return frame, "evidence"


def starting_vectors(new: Sequence[str], mapper: MetadataMapper | None, metadata: pl.DataFrame | None,
                      dim: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Where new trained items start: their metadata's prediction where there is one, else as word2vec starts."""
    inputs = initial_vectors(len(new), dim, seed)
    outputs = np.zeros((len(new), dim), dtype=np.float32)
    if mapper is None or metadata is None or mapper.output_ is None or not new:
        return inputs, outputs
    rows = pl.DataFrame({"item_id": list(new)}, schema={"item_id": pl.String}).with_row_index("_row").join(
        metadata, on="item_id", how="inner")
    rows = rows.filter(~pl.Series(empty_rows(rows, list(mapper.features_.roles)), dtype=pl.Boolean))
    if rows.height:
        predicted_in, predicted_out = mapper.predict(rows.drop("_row"))
        at = rows["_row"].to_numpy()
        inputs[at], outputs[at] = predicted_in, predicted_out
    return inputs, outputs


def refit_cold_start(config: ColdStartConfig, vectors: ItemVectors, metadata: pl.DataFrame | None,
                sequences: pl.DataFrame, cold: Sequence[str]) -> tuple[ColdStart | None, tuple[str, ...]]:
    """The mapper refitted on ``vectors`` with the ``cold`` items it can give vectors, and the items it cannot.

    A mapper that cannot be fitted (too few trained items with metadata) is
    a warning, as in training; its cold items are then left out.
    """
    if metadata is None or not config.enabled:
        return None, tuple(cold)
    try:
        mapper = MetadataMapper(config).fit(vectors, metadata, sequences)
    except DataError as error:
        warnings.warn(f"no metadata mapper for new items: {error}", stacklevel=3)
        return None, tuple(cold)
    rows = pl.DataFrame({"item_id": list(cold)}, schema={"item_id": pl.String}).join(
        metadata, on="item_id", how="inner", maintain_order="left")
    rows = rows.filter(~pl.Series(empty_rows(rows, list(mapper.features_.roles)), dtype=pl.Boolean))
    described = set(rows["item_id"].to_list())
    start = ColdStart(mapper)
    columns = ["item_id", *(c for c in mapper.metadata_columns_ if c in rows.columns)]
    with_items = start.with_checked_items(rows.select(columns)) if rows.height else start
    return with_items, tuple(item for item in cold if item not in described)
