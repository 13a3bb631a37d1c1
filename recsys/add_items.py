"""``recsys add-items``: a new model version that also knows new items, logged and registered in MLflow.

:func:`add_items` loads a model, gives the new items vectors from their
metadata (:meth:`recsys.Recommender.add_items`) and only then, when every
check has passed, logs a new MLflow run linked to the model's training run
and registers its model. The new version takes over the aliases of the
version it was made from (adding items to ``champion`` gives a new
``champion``), so ``recsys serve`` and ``POST /reload`` pick it up.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import mlflow
from mlflow.tracking._tracking_service.utils import is_tracking_uri_set

from recsys import tracking
from recsys.data.datasets import read_metadata
from recsys.errors import ModelLoadError
from recsys.recommender import Recommender
from recsys.store import store_lock, tracked_run

__all__ = ["AddItemsResult", "add_items"]

_COPIED_TAGS = ("dataset", "dataset.digest", "dataset.path", "default_relation", "method", "git_commit")
"""Tags of the base run copied to the new one (the registry's champion check compares them)."""
MetadataFormat = Literal["auto", "song_hash", "csv", "yes", "movielens"]


@dataclass(frozen=True)
class AddItemsResult:
    """What :func:`add_items` logged."""

    run_id: str
    """The new MLflow run."""
    model_uri: str
    """``runs:/<run id>/model``."""
    added: tuple[str, ...]
    """The items added by this call."""
    n_cold: int
    """Cold items in the new model (earlier additions included)."""
    base_run_id: str | None
    """The run of the model the items were added to (None for a local directory); the
    new run is nested under the training run behind it (tag ``training_run_id``)."""
    registered_model: str | None
    version: str | None
    """The registered version of the new model."""
    aliases: tuple[str, ...]
    """Aliases the new version took over from the base version (or was given)."""


def _copy_base_run(base: Any) -> None:
    """Copy the base run's params, final metrics and dataset tags to the active run.

    The trained vectors are the same, so their evaluation is too; the
    registry's champion check (same test split, ``hr_at_10``) then treats the
    new version like the one it was made from.
    """
    params = base.data.params
    keys = list(params)
    for start in range(0, len(keys), 100):
        mlflow.log_params({k: params[k] for k in keys[start : start + 100]})
    if base.data.metrics:
        mlflow.log_metrics(dict(base.data.metrics))
    mlflow.set_tags({k: v for k, v in base.data.tags.items() if k in _COPIED_TAGS})


def add_items(
    model_uri: str,
    metadata_path: str | Path,
    *,
    metadata_format: MetadataFormat = "auto",
    id_column: str = "item_id",
    registered_model: str | None = None,
    aliases: tuple[str, ...] = (),
) -> AddItemsResult:
    """Add new items to a model and log the result as a new registered model version.

    Parameters
    ----------
    model_uri
        The model to add to: a ``models:/`` URI, run id, ``runs:/`` URI or directory.
    metadata_path
        Metadata of the new items, in a layout :func:`~recsys.data.datasets.read_metadata` reads.
    metadata_format, id_column
        As for :func:`~recsys.data.datasets.read_metadata`.
    registered_model
        Register under this name; default: the base version's name, else ``item2vec``.
    aliases
        Aliases to give the new version besides those of the base version.

    Returns
    -------
    AddItemsResult

    Raises
    ------
    DataError
        If the metadata is bad (see :meth:`recsys.Recommender.add_items`); nothing is logged.
    ConfigError
        If the model has no metadata mapper; nothing is logged.
    ModelLoadError
        If the model cannot be loaded.
    """
    if not is_tracking_uri_set():
        tracking.use_tracking_uri()
    recommender = Recommender.load(model_uri)
    metadata = read_metadata(metadata_path, format=metadata_format, id_column=id_column)
    updated = recommender.add_items(metadata, source=metadata_path)  # every check before anything is logged
    added = updated.cold_item_ids[len(recommender.cold_item_ids):]
    base = tracking.model_source(model_uri)
    name = registered_model or base.registered_model or "item2vec"
    client = mlflow.MlflowClient()
    base_run = client.get_run(base.run_id) if base.run_id else None
    experiment = base_run.info.experiment_id if base_run else tracking.experiment_id("add-items")
    tags = {
        "base_model_uri": model_uri,
        "cold_start.added_items": str(len(added)),
        "mlflow.note.content": f"{len(added)} item(s) added to {model_uri} with vectors from their metadata "
                               f"({len(updated.cold_item_ids)} cold items in all).",
    }
    if base_run:
        training_run = base_run.data.tags.get("training_run_id", base.run_id)
        tags.update({"base_run_id": base.run_id, "training_run_id": training_run, "mlflow.parentRunId": training_run})
    with tracked_run(experiment_id=experiment, run_name="add-items", tags=tags) as run:
        if base_run:
            _copy_base_run(base_run)
        mlflow.log_metrics({"cold_start/n_added": float(len(added)),
                            "cold_start/n_cold_items": float(len(updated.cold_item_ids))})
        mlflow.log_artifact(str(metadata_path), artifact_path="added_items")
        assert updated.cold_start is not None
        model = tracking.log_model(
            updated.trained_vectors, metadata=updated.metadata, registered_model=name, cold_start=updated.cold_start
        )
    versions = client.search_model_versions(f"name='{name}' and run_id='{run.info.run_id}'")
    if not versions:
        raise ModelLoadError(f"the new model of run {run.info.run_id} was not registered as {name!r}")
    version = tracking.latest_version(versions).version
    moved = tuple(dict.fromkeys((*base.aliases, *aliases))) if name == base.registered_model else tuple(aliases)
    for alias in moved:  # under the lock promote_champion moves an alias with
        with store_lock(mlflow.get_tracking_uri(), f"{alias}:{name}"):
            client.set_registered_model_alias(name, alias, version)
    return AddItemsResult(
        run_id=run.info.run_id, model_uri=model, added=added, n_cold=len(updated.cold_item_ids),
        base_run_id=base.run_id, registered_model=name, version=str(version), aliases=moved,
    )
