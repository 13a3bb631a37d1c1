"""Where models live: the MLflow store as a place models are found, and the files a saved model holds.

Loading a model needs no logging: :func:`local_model_dir` turns a model
location (a directory, a run id, ``runs:/<id>/model``, ``models:/name@alias``)
into a local directory, downloading it once from the tracking store (which
:func:`use_tracking_uri` chooses: ``$MLFLOW_TRACKING_URI``, else SQLite at
``mlruns/mlflow.db``); :func:`model_files` says where a saved model's vectors,
metadata, cold start and ranking stage are in it. The artifact names are
defined here, once, for the code that logs a model (:mod:`recsys.tracking`)
and the code that loads one (:mod:`recsys.recommender`, :mod:`recsys.pyfunc`).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
from mlflow.tracking._tracking_service.utils import is_tracking_uri_set

from recsys.errors import ModelLoadError, first_line
from recsys.quiet import quiet_mlflow
from recsys.store import StoreOpening, check_store, sqlite_path

__all__ = [
    "ARTIFACT_ROOT_ENV",
    "COLD_START_ARTIFACT",
    "METADATA_ARTIFACT",
    "MODEL_NAME",
    "ModelFiles",
    "ModelSource",
    "RANKING_ARTIFACT",
    "VECTORS_ARTIFACT",
    "artifact_root",
    "default_tracking_uri",
    "latest_version",
    "local_model_dir",
    "model_files",
    "model_source",
    "open_tracking_store",
    "registered_version",
    "use_tracking_uri",
]

MODEL_NAME = "model"
"""Artifact name of the logged pyfunc model within a run."""
VECTORS_ARTIFACT = "item_vectors"
"""The item vectors (:meth:`recsys.item2vec.ItemVectors.save`)."""
METADATA_ARTIFACT = "metadata"
"""Item metadata, as ``metadata.parquet``."""
COLD_START_ARTIFACT = "cold_start"
"""The metadata mapper and cold items (:class:`recsys.coldstart.ColdStart`), when the model has them."""
RANKING_ARTIFACT = "ranking"
"""The ranking stage (:class:`recsys.ranking.Ranking`), when the model has one."""


@dataclass(frozen=True)
class ModelFiles:
    """Where the parts of a saved model are (None: the model has no such part)."""

    vectors: Path
    metadata: Path | None = None
    cold_start: Path | None = None
    ranking: Path | None = None


def model_files(root: Path) -> ModelFiles | None:
    """The parts of the model saved under ``root``: a logged model's ``artifacts/`` folder, the same
    layout without it, or a bare item-vectors directory; None when there are no vectors."""
    for base in (root / "artifacts", root):
        vectors = base / VECTORS_ARTIFACT
        if (vectors / "config.json").exists():
            metadata = base / f"{METADATA_ARTIFACT}.parquet"
            cold_start, ranking = base / COLD_START_ARTIFACT, base / RANKING_ARTIFACT
            return ModelFiles(vectors, metadata if metadata.exists() else None,
                              cold_start if cold_start.is_dir() else None, ranking if ranking.is_dir() else None)
    if (root / "config.json").exists():
        return ModelFiles(root)
    return None


def default_tracking_uri(root: Path | None = None) -> str:
    """``$MLFLOW_TRACKING_URI`` if set, else SQLite at ``<root>/mlruns/mlflow.db``."""
    env = os.environ.get("MLFLOW_TRACKING_URI")
    if env:
        return env
    store = (root or Path.cwd()).resolve() / "mlruns"
    store.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{store / 'mlflow.db'}"


def use_tracking_uri(uri: str | None = None) -> str:
    """Point MLflow at ``uri`` (default: :func:`default_tracking_uri`), check the store and return it.

    Raises
    ------
    TrackingStoreError
        If the store cannot be created, read or reached (see :func:`recsys.store.check_store`).
    """
    uri = uri or default_tracking_uri()
    check_store(uri)
    mlflow.set_tracking_uri(uri)
    return uri


def open_tracking_store(uri: str | None = None) -> StoreOpening:
    """:func:`use_tracking_uri` with the slow part in the background (see :class:`~recsys.store.StoreOpening`).

    ``uri`` defaults to :func:`default_tracking_uri`. Point MLflow at the
    store with ``mlflow.set_tracking_uri(opening.wait())`` before the first
    logging.

    Raises
    ------
    TrackingStoreError
        If the quick checks fail (a server that does not answer, a path that cannot be a database).
    """
    return StoreOpening(uri or default_tracking_uri())


ARTIFACT_ROOT_ENV = "RECSYS_ARTIFACT_ROOT"
"""Environment variable naming where new experiments keep their artifacts: a
location every machine of a team reaches (``s3://bucket/mlflow``, or a shared
directory), needed with a database server such as PostgreSQL."""


def artifact_root(tracking_uri: str) -> str | None:
    """Where new experiments keep artifacts: ``$RECSYS_ARTIFACT_ROOT`` if set, else
    beside a local SQLite store (``mlruns/artifacts``), else MLflow's default."""
    configured = os.environ.get(ARTIFACT_ROOT_ENV)
    if configured:
        return configured if re.match(r"^[A-Za-z][\w+.-]*:", configured) else Path(configured).resolve().as_uri()
    database = sqlite_path(tracking_uri)
    return None if database is None else (database.parent / "artifacts").resolve().as_uri()


def latest_version(versions: list[Any]) -> Any:
    """The newest of some registered model versions (the highest version number)."""
    return max(versions, key=lambda v: int(v.version))


_RUN_ID = re.compile(r"^[0-9a-f]{32}$")


def registered_version(uri: str) -> Any:
    """The registry version (an MLflow ``ModelVersion``) a ``models:/`` URI points at now.

    ``models:/name@alias``, ``models:/name/<number>`` and ``models:/name/latest``
    (or ``models:/name``: the highest version).
    """
    client = mlflow.MlflowClient()
    name, _, ref = uri[len("models:/") :].partition("@")
    if ref:
        return client.get_model_version_by_alias(name, ref)
    name, _, number = uri[len("models:/") :].partition("/")
    if number in ("", "latest"):
        versions = client.search_model_versions(f"name='{name}'")
        if not versions:
            raise ModelLoadError(f"{uri}: registered model {name!r} has no versions")
        return latest_version(versions)
    return client.get_model_version(name, number)


def _cache_key(uri: str) -> str:
    """A key that changes whenever ``uri`` points at other model files.

    ``models:/name@alias`` and ``models:/name/latest`` move, so they are
    resolved to the model version they point at now.
    """
    if uri.startswith("models:/"):
        version = registered_version(uri)
        uri = f"{version.name}/{version.version}/{version.source}"
    return hashlib.sha256(f"{mlflow.get_tracking_uri()}|{uri}".encode()).hexdigest()[:24]


def local_model_dir(uri: str) -> Path:
    """Resolve a model location to a local directory, downloading from MLflow if needed.

    Downloads are cached (under the system temporary directory) by the model
    version they resolve to, so repeated loads of the same model are cheap.

    Parameters
    ----------
    uri
        A local directory, a run id, ``runs:/...`` or ``models:/...``.

    Raises
    ------
    ModelLoadError
        If the location does not exist or MLflow cannot resolve it.
    """
    path = Path(uri)
    if path.is_dir():
        return path
    if _RUN_ID.match(uri):
        uri = f"runs:/{uri}/{MODEL_NAME}"
    if not uri.startswith(("runs:/", "models:/")):
        raise ModelLoadError(
            f"{uri}: no such model directory; pass a directory, a run id, runs:/<id>/model "
            "or models:/<name>@<alias>"
        )
    if not is_tracking_uri_set():
        use_tracking_uri()
    else:
        check_store(mlflow.get_tracking_uri())
    try:
        cache = Path(tempfile.gettempdir()) / "recsys-models" / _cache_key(uri)
        if cache.is_dir():
            return cache
        cache.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".download-", dir=cache.parent))
        try:
            with quiet_mlflow():
                downloaded = mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(staging))
            os.replace(downloaded, cache)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return cache
    except ModelLoadError:
        raise
    except Exception as error:  # MLflow raises several unrelated types here
        raise ModelLoadError(
            f"{uri}: cannot load model from {mlflow.get_tracking_uri()}: {first_line(error)}"
        ) from None


@dataclass(frozen=True)
class ModelSource:
    """The run and registry version behind a model location."""

    run_id: str | None
    """The run that logged the model (None for a local directory)."""
    registered_model: str | None
    version: str | None
    """The registered version: the one a ``models:/`` URI points at now, or the latest of the run's."""
    aliases: tuple[str, ...]
    """The aliases that version holds."""


_RUN_URI = re.compile(r"^(?:runs:/)?([0-9a-f]{32})(?:/.*)?$")


def model_source(uri: str) -> ModelSource:
    """The run, registered name, version and aliases behind a model location (a ``models:/`` URI, a run id,
    ``runs:/<id>/model``; a directory has none)."""
    if uri.startswith("models:/"):
        version = registered_version(uri)
        return ModelSource(version.run_id, version.name, version.version, tuple(version.aliases))
    match = _RUN_URI.match(uri)
    if match is None:
        return ModelSource(None, None, None, ())
    run_id = match.group(1)
    versions = mlflow.MlflowClient().search_model_versions(f"run_id='{run_id}'")
    if not versions:
        return ModelSource(run_id, None, None, ())
    version = latest_version(versions)
    return ModelSource(run_id, version.name, version.version, tuple(version.aliases))
