"""Shared fixtures: one MLflow SQLite store per test session, the synthetic data."""

from __future__ import annotations

import os
from pathlib import Path

import mlflow
import polars as pl
import pytest

from recsys.data.synthetic import SynthConfig, generate_playlists, write_synthetic

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def mlflow_store(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A SQLite MLflow store shared by the whole test session (creating one costs ~2 s)."""
    root = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{root / 'mlruns' / 'mlflow.db'}"
    (root / "mlruns").mkdir()
    previous = os.environ.get("MLFLOW_TRACKING_URI")
    os.environ["MLFLOW_TRACKING_URI"] = uri
    mlflow.set_tracking_uri(uri)
    yield uri
    if previous is None:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    else:
        os.environ["MLFLOW_TRACKING_URI"] = previous


@pytest.fixture(scope="session")
def synthetic() -> tuple[pl.DataFrame, pl.DataFrame]:
    """The default synthetic playlists and their metadata (in memory)."""
    return generate_playlists(SynthConfig())


@pytest.fixture(scope="session")
def synthetic_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The default synthetic playlists and metadata written to files."""
    return write_synthetic(tmp_path_factory.mktemp("synthetic"), SynthConfig())


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real public datasets in ../shared/data; skips when they are absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is absent")
    return SHARED_DATA
