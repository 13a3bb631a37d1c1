"""Where and how runs are logged."""

from __future__ import annotations

from recsys.config._base import _Config

__all__ = ["TrackingConfig"]


class TrackingConfig(_Config):
    """Where and how runs are logged to MLflow."""

    tracking_uri: str | None = None
    """MLflow tracking URI. Default: ``$MLFLOW_TRACKING_URI`` if set, else a
    SQLite store at ``mlruns/mlflow.db`` in the working directory."""

    experiment: str | None = None
    """Experiment name (default: the dataset name)."""

    registered_model: str | None = "item2vec"
    """Register the trained model under this name (None: do not register)."""

    log_model: bool = True
    """Log the pyfunc model (and vectors) as artifacts."""
