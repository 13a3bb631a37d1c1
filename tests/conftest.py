"""Shared fixtures: one MLflow SQLite store per test session, the synthetic data, a PostgreSQL server."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import mlflow
import polars as pl
import pytest

from recsys.config import load_pipeline_config
from recsys.data.synthetic import SynthConfig, generate_playlists, write_synthetic
from recsys.tuning import SweepConfig, SweepResult, run_sweep

from _postgres import PostgresServer, postgres_bin, start_postgres
from _updates import Chain, make_chain

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"
SWEEP_SPACE = {"window": [2, 5], "vector_size": [16, 32], "ns_exponent": [-0.5, 0.75]}


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


def require(reason: str) -> None:
    """A part a test needs is missing: skip on a developer machine, fail in CI (``RECSYS_CI=1``), where
    ``.ci/run`` installs every part, so that nothing is skipped there unnoticed."""
    if os.environ.get("RECSYS_CI"):
        pytest.fail(f"{reason}; CI must install it (.ci/run)", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server of the test session's own, on a free loopback port, stopped and removed after."""
    bin_dir = postgres_bin()
    if bin_dir is None:
        require("PostgreSQL (initdb, pg_ctl) is not installed")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        require("psycopg is not installed (extra recsys[postgres])")
    server = start_postgres(bin_dir)
    try:
        yield server
    finally:
        server.stop()


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


@pytest.fixture(scope="session")
def sweep_result(mlflow_store: str, synthetic_files: tuple[Path, Path]) -> SweepResult:
    """A real sweep (4 configurations, successive halving) on the synthetic data."""
    playlists, metadata = synthetic_files
    pipeline = load_pipeline_config(
        base={"data": {"name": "sweep-test", "path": str(playlists), "metadata": str(metadata)}},
        overrides=["epochs=4", "tracking.registered_model=sweep-test"],
    )
    sweep = SweepConfig(trials=4, budget_minutes=5, space=SWEEP_SPACE, sample_fraction=0.5, parallel=2, seed=3)
    return run_sweep(pipeline, sweep)


@pytest.fixture(scope="session")
def update_chain(mlflow_store: str, tmp_path_factory: pytest.TempPathFactory) -> Chain:
    """A model trained on synthetic playlists without two artists, then updated three days in a row."""
    return make_chain(tmp_path_factory.mktemp("update-chain"))
