"""The logged model and the champion alias: what a training run leaves for serving.

:func:`log_model` logs the vectors, the ranking stage, the metadata and the
cold-start artifacts with the pyfunc wrapper (and, when registered, the
prepared search structures, whose approximate-index reports it logs);
:func:`promote_champion` moves the champion alias to a registered version
that is at least as good on the same test split. Re-exported by
:mod:`recsys.tracking`.
"""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path
from typing import Any

import mlflow
import mlflow.pyfunc  # imported here, not first inside a quiet block (its import sets up logging)
import pandas as pd
import polars as pl
from mlflow.models import ModelSignature
from mlflow.types import ColSpec, ParamSchema, ParamSpec, Schema

from recsys.coldstart import ColdStart
from recsys.errors import RecsysWarning
from recsys.index import AnnReport
from recsys.item2vec import ItemVectors
from recsys.model_store import (
    COLD_START_ARTIFACT,
    METADATA_ARTIFACT,
    MODEL_NAME,
    RANKING_ARTIFACT,
    VECTORS_ARTIFACT,
    latest_version,
)
from recsys.ranking import Ranking
from recsys.recommender import Recommender
from recsys.store import store_lock

__all__ = ["log_ann_report", "log_ann_reports", "log_model", "promote_champion"]


def log_ann_report(report: AnnReport, *, prefix: str = "ann") -> bool:
    """Log an approximate index's settings and measured recall to the active run, if any.

    Metrics (with the default prefix): ``ann.recall_at_10``, ``ann.ef_search``,
    ``ann.m``, ``ann.ef_construction``, ``ann.sample_size`` and
    ``ann.build_seconds``. :func:`log_ann_reports` logs the ``"similar"``
    index under ``ann`` and the ``"next"`` index under ``ann.next``.

    Returns
    -------
    bool
        Whether a run was active (and the report logged).
    """
    if mlflow.active_run() is None:
        return False
    mlflow.log_metrics(
        {
            f"{prefix}.recall_at_10": report.recall_at_10,
            f"{prefix}.ef_search": float(report.ef_search),
            f"{prefix}.m": float(report.m),
            f"{prefix}.ef_construction": float(report.ef_construction),
            f"{prefix}.sample_size": float(report.sample_size),
            f"{prefix}.build_seconds": report.build_seconds,
        }
    )
    return True


def log_ann_reports(recommender: Recommender) -> None:
    """Log the report of every HNSW index ``recommender`` built (not loaded from its store) to the active run."""
    for relation, report in recommender.ann_reports.items():
        preparation = recommender.preparations.get(relation)
        if preparation is not None and preparation.source == "built":
            log_ann_report(report, prefix="ann" if relation == "similar" else "ann.next")


def _signature() -> ModelSignature:
    return ModelSignature(
        inputs=Schema([ColSpec("string", "item_id")]),
        outputs=Schema(
            [
                ColSpec("string", "query_id"),
                ColSpec("long", "rank"),
                ColSpec("string", "item_id"),
                ColSpec("float", "score"),
                ColSpec("boolean", "cold"),
            ]
        ),
        params=ParamSchema([ParamSpec("k", "long", 10), ParamSpec("relation", "string", ""),
                            ParamSpec("rank", "string", "")]),
    )


def log_model(
    vectors: ItemVectors,
    *,
    metadata: pl.DataFrame | None = None,
    registered_model: str | None = None,
    cold_start: ColdStart | None = None,
    ranking: Ranking | None = None,
    prepared: Recommender | None = None,
) -> str:
    """Log vectors, metadata and the pyfunc model to the active run; optionally register it.

    ``cold_start`` (a :class:`recsys.coldstart.ColdStart`) is logged beside
    the vectors as the ``cold_start`` artifact: the metadata mapper and any
    cold items; ``ranking`` (a :class:`recsys.ranking.Ranking`) as the
    ``ranking`` artifact.

    A model that is registered carries its prepared search structures
    (:mod:`recsys.search_store`): they are built here, once, so that every
    replica serving it starts without building them, unless ``prepared``
    already holds them: a recommender over these vectors and ``ranking``
    whose store is the directory the vectors were saved to, prepared (the
    training pipeline evaluates with its tables first). A model with cold
    items does not: its catalogue is not the trained one, and a recommender
    builds its own structures for it.

    Returns
    -------
    str
        The model URI (``runs:/<run id>/model``).
    """
    package_dir = Path(__file__).resolve().parent
    with tempfile.TemporaryDirectory() as staging:
        structures = registered_model and (cold_start is None or len(cold_start) == 0)
        if structures and prepared is not None and prepared.store is not None:
            artifacts = {VECTORS_ARTIFACT: str(prepared.store.vectors_dir)}
        else:
            artifacts = {VECTORS_ARTIFACT: str(vectors.save(Path(staging) / VECTORS_ARTIFACT))}
        if ranking is not None:
            artifacts[RANKING_ARTIFACT] = str(ranking.save(Path(staging) / RANKING_ARTIFACT))
        if structures:
            if prepared is None or prepared.store is None:
                prepared = Recommender.from_directory(artifacts[VECTORS_ARTIFACT],
                                                      ranking_dir=artifacts.get(RANKING_ARTIFACT)).prepare()
            log_ann_reports(prepared)
        if metadata is not None:
            meta_path = Path(staging) / f"{METADATA_ARTIFACT}.parquet"
            metadata.write_parquet(meta_path)
            artifacts[METADATA_ARTIFACT] = str(meta_path)
        if cold_start is not None:
            artifacts[COLD_START_ARTIFACT] = str(cold_start.save(Path(staging) / COLD_START_ARTIFACT))
        mlflow.pyfunc.log_model(
            name=MODEL_NAME,
            python_model=str(package_dir / "_pyfunc_entry.py"),
            artifacts=artifacts,
            code_paths=[str(package_dir)],
            signature=_signature(),
            input_example=pd.DataFrame({"item_id": list(vectors.item_ids[:2])}),
            pip_requirements=_requirements(),
            registered_model_name=registered_model,
        )
    return f"runs:/{mlflow.active_run().info.run_id}/{MODEL_NAME}"


def _requirements() -> list[str]:
    from importlib.metadata import version

    names = ["mlflow", "gensim", "polars", "numpy", "scipy", "pandas", "pyarrow", "pydantic", "scikit-learn"]
    return [f"{name}=={version(name)}" for name in names]


def _same_test_split(first: Any, second: Any) -> bool:
    """Whether two runs were evaluated on the same test pairs (same data and split settings)."""
    if first.data.tags.get("dataset.digest") != second.data.tags.get("dataset.digest"):
        return False
    prefixes = ("data.", "sessions.", "split.")
    where = {"data.name", "data.path", "data.metadata"}  # where the data is, not what it is
    keys = {k for k in (*first.data.params, *second.data.params) if k.startswith(prefixes)} - where
    return all(first.data.params.get(k) == second.data.params.get(k) for k in keys)


def promote_champion(
    registered_model: str, run_id: str, *, metric: str = "hr_at_10", alias: str = "champion"
) -> tuple[bool, float | None]:
    """Give this run's registered version the ``alias`` if it beats the current holder.

    The model version logged by ``run_id`` becomes the champion when there is
    none yet, or when its ``metric`` is at least the champion run's on the
    same test split (same data digest and data, session and split options);
    a champion measured on another split is not comparable and is replaced.

    Returns
    -------
    promoted, champion_value
        Whether the alias moved, and the previous champion's metric (None if
        there was no comparable champion).
    """
    client = mlflow.MlflowClient()
    versions = client.search_model_versions(f"name='{registered_model}' and run_id='{run_id}'")
    if not versions:
        return False, None
    version = latest_version(versions)
    with store_lock(mlflow.get_tracking_uri(), f"{alias}:{registered_model}"):  # runs finishing at once take turns
        return _promote(client, registered_model, version, client.get_run(run_id), metric=metric, alias=alias)


def _promote(
    client: mlflow.MlflowClient, registered_model: str, version: Any, run: Any, *, metric: str, alias: str
) -> tuple[bool, float | None]:
    """The read-compare-write of :func:`promote_champion`, under its lock."""
    try:
        current = client.get_model_version_by_alias(registered_model, alias)
    except mlflow.exceptions.MlflowException:
        current = None
    previous: float | None = None
    if current is not None and current.run_id:
        champion_run = _champion_run(client, current, alias)
        if champion_run is not None and _same_test_split(champion_run, run):
            previous = champion_run.data.metrics.get(metric)
    new = run.data.metrics.get(metric, float("-inf"))
    if previous is not None and new < previous:
        return False, previous
    client.set_registered_model_alias(registered_model, alias, version.version)
    return True, previous


def _champion_run(client: mlflow.MlflowClient, version: Any, alias: str) -> Any | None:
    """The run that logged the ``alias`` version, or None (with a warning) when it was deleted."""
    from mlflow.exceptions import MlflowException

    try:
        champion_run = client.get_run(version.run_id)
    except MlflowException as error:
        if error.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise
        champion_run = None
    if champion_run is None or champion_run.info.lifecycle_stage == "deleted":
        state = "deleted" if champion_run is not None else "gone (deleted and garbage-collected)"
        warnings.warn(
            f"the {alias} ({version.name} version {version.version}) has no comparable run: run "
            f"{version.run_id} is {state}; treating it as no comparable champion",
            RecsysWarning,
            stacklevel=3,
        )
        return None
    return champion_run
