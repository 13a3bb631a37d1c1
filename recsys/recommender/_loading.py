"""Reading a saved model's parts for a :class:`~recsys.recommender.Recommender`: vectors, metadata,
cold start, ranking stage, and where its prepared search structures are kept."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from recsys.coldstart import ColdStart
from recsys.errors import ModelLoadError, first_line
from recsys.item2vec import ItemVectors
from recsys.model_store import ModelFiles, local_model_dir, model_files
from recsys.ranking import Ranking
from recsys.search_store import SearchStore

__all__ = ["find_model", "read_model"]


def read_model(
    vectors_dir: str | Path,
    *,
    metadata_path: str | Path | None = None,
    cold_start_dir: str | Path | None = None,
    ranking_dir: str | Path | None = None,
    store: bool = True,
) -> dict[str, Any]:
    """The parts of a saved model as keyword arguments of :class:`~recsys.recommender.Recommender`:
    ``item_vectors``, ``metadata``, ``cold_start``, ``ranking`` and ``store`` (the vectors directory's
    stored structures, with ``store``).

    Raises
    ------
    ModelLoadError
        If a file is missing, truncated, edited or unreadable.
    """
    try:
        metadata = pl.read_parquet(metadata_path) if metadata_path else None
    except (OSError, pl.exceptions.PolarsError) as error:
        raise ModelLoadError(f"{metadata_path}: unreadable item metadata ({first_line(error)}); "
                             "restore the file or log the model again") from None
    return {
        "item_vectors": ItemVectors.load(vectors_dir),
        "metadata": metadata,
        "cold_start": None if cold_start_dir is None else ColdStart.load(cold_start_dir),
        "ranking": None if ranking_dir is None else Ranking.load(ranking_dir),
        "store": SearchStore(vectors_dir) if store else None,
    }


def find_model(uri: str | Path) -> ModelFiles:
    """Where the parts of the model at ``uri`` (a directory, a run id, ``runs:/`` or ``models:/``) are.

    Raises
    ------
    ModelLoadError
        If nothing loadable is found at ``uri``.
    """
    root = local_model_dir(str(uri))
    files = model_files(root)
    if files is None:
        raise ModelLoadError(f"{uri}: no item vectors found in {root}; pass a trained model")
    return files
