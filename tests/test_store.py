"""A tracking store that fails (cannot be created or written, locked, unreachable, deleted
experiment, champion run gone) is one clear line, never a traceback."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import mlflow
import pytest

from recsys import RecsysError
from recsys.config import PipelineConfig, load_pipeline_config
from recsys.data.synthetic import SynthConfig, write_synthetic
from recsys.errors import RecsysWarning, TrackingStoreError
from recsys.pipeline import run_training
from recsys.store import StoreOpening, check_store, store_errors

from _net import free_port


@pytest.fixture(scope="module")
def small_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Few playlists: a run takes seconds."""
    playlists, _ = write_synthetic(tmp_path_factory.mktemp("small"), SynthConfig(n_playlists=300))
    return playlists


def _config(data: Path, name: str, *overrides: str) -> PipelineConfig:
    return load_pipeline_config(
        base={"data": {"name": name, "path": str(data)}},
        overrides=["epochs=2", "vector_size=8", "workers=1", f"tracking.registered_model={name}", *overrides],
    )


def _one_line(error: RecsysError, *expected: str) -> None:
    text = str(error)
    assert "\n" not in text and "Fix: " in text, text
    for part in expected:
        assert part in text, text


def test_stores_that_cannot_be_created_or_opened(tmp_path: Path) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("not a directory")
    with pytest.raises(TrackingStoreError) as caught:
        check_store(f"sqlite:///{a_file}/sub/mlflow.db")
    _one_line(caught.value, f"sqlite:///{a_file}/sub/mlflow.db", "cannot create or write", "Not a directory")
    with pytest.raises(TrackingStoreError) as caught:
        check_store(f"sqlite:///{tmp_path}")
    _one_line(caught.value, "is a directory, not a database file")
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(os.urandom(4096))
    with pytest.raises(TrackingStoreError) as caught:
        check_store(f"sqlite:///{garbage}")
    _one_line(caught.value, "is not an MLflow SQLite database", "move the file away")


def test_opening_a_store_in_the_background(tmp_path: Path, mlflow_store: str) -> None:
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(os.urandom(4096))
    with pytest.raises(TrackingStoreError) as caught:  # what usually goes wrong fails at once, no thread started
        StoreOpening(f"sqlite:///{garbage}")
    _one_line(caught.value, "is not an MLflow SQLite database", "move the file away")
    with pytest.raises(TrackingStoreError) as caught:
        StoreOpening(f"sqlite:///{tmp_path}")
    _one_line(caught.value, "is a directory, not a database file")
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    with pytest.raises(TrackingStoreError) as caught:
        StoreOpening(f"sqlite:///{a_file}/sub/mlflow.db")
    _one_line(caught.value, "cannot create or write", "Not a directory")
    with pytest.raises(TrackingStoreError) as caught:
        StoreOpening(f"postgresql://user:secret@127.0.0.1:{free_port()}/mlflow")
    _one_line(caught.value, "postgresql://user:***@127.0.0.1")

    fresh = tmp_path / "fresh" / "mlflow.db"
    with StoreOpening(f"sqlite:///{fresh}") as opening:
        assert opening.wait() == f"sqlite:///{fresh}"
    tables = sqlite3.connect(fresh).execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    assert {"experiments", "runs", "registered_models"} <= {name for (name,) in tables}

    holder = sqlite3.connect(mlflow_store.removeprefix("sqlite:///"), isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with StoreOpening(mlflow_store) as opening:  # the slow part fails in the thread, and is raised by wait()
            with pytest.raises(TrackingStoreError) as caught:
                opening.wait()
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    _one_line(caught.value, "locked by another process")


def test_unreachable_servers_fail_fast(tmp_path: Path) -> None:
    with pytest.raises(TrackingStoreError) as caught:
        check_store(f"http://127.0.0.1:{free_port()}")
    _one_line(caught.value, "cannot reach the tracking server", "start it")
    with pytest.raises(TrackingStoreError) as caught:  # no driver installed, or nothing listening: one line either way
        check_store(f"postgresql://user:secret@127.0.0.1:{free_port()}/mlflow")
    _one_line(caught.value, "postgresql://user:***@127.0.0.1")
    assert "secret" not in str(caught.value)


def test_a_locked_store(mlflow_store: str) -> None:
    check_store(mlflow_store)
    holder = sqlite3.connect(mlflow_store.removeprefix("sqlite:///"), isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(TrackingStoreError) as caught:
            check_store(mlflow_store)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    _one_line(caught.value, "locked by another process")
    check_store(mlflow_store)  # and it works again once the lock is gone


def test_only_the_stores_own_failures_are_translated() -> None:
    with pytest.raises(FileNotFoundError), store_errors("sqlite:///x.db"):
        open("/no/such/file/anywhere")  # our own OSError keeps its traceback
    with pytest.raises(TrackingStoreError, match="cannot be written"), store_errors("sqlite:///x.db"):
        raise mlflow.exceptions.MlflowException("attempt to write a readonly database")


def test_cli_names_the_store_and_exits_2(tmp_path: Path, small_data: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    uri = f"sqlite:///{blocker}/mlruns/mlflow.db"
    result = subprocess.run(
        [sys.executable, "-m", "recsys.cli", "train", "--data", str(small_data), "--quiet"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
        env={**os.environ, "MLFLOW_TRACKING_URI": uri, "PYTHONHASHSEED": "0"},
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: tracking store {uri}: cannot create or write {blocker}/mlruns (Not a directory). Fix: make that "
        "location writable or point MLFLOW_TRACKING_URI at a writable location, for example sqlite:///mlruns/mlflow.db"
    ]
    assert result.stdout == ""


def test_artifacts_that_cannot_be_written_fail_the_run_and_register_nothing(
    mlflow_store: str, small_data: Path
) -> None:
    artifacts = Path(mlflow_store.removeprefix("sqlite:///")).parent / "artifacts"
    artifacts.mkdir(exist_ok=True)
    (artifacts / "unwritable-artifacts").write_text("a file where the experiment's folder should be")
    with pytest.raises(TrackingStoreError) as caught:
        run_training(_config(small_data, "unwritable-artifacts"))
    _one_line(caught.value, "cannot create or write", "unwritable-artifacts")
    client = mlflow.MlflowClient()
    experiment = client.get_experiment_by_name("unwritable-artifacts")
    runs = [run for run in client.search_runs([experiment.experiment_id]) if "mlflow.parentRunId" not in run.data.tags]
    assert [run.info.status for run in runs] == ["FAILED"]  # (the selection's candidates finished before it failed)
    assert client.search_model_versions("name='unwritable-artifacts'") == []


def test_a_deleted_experiment_says_how_to_restore_it(mlflow_store: str, small_data: Path) -> None:
    client = mlflow.MlflowClient()
    experiment = client.create_experiment("deleted-experiment")
    client.delete_experiment(experiment)
    with pytest.raises(TrackingStoreError) as caught:
        run_training(_config(small_data, "deleted-experiment"))
    _one_line(caught.value, "experiment 'deleted-experiment' is deleted",
              f"mlflow experiments restore --experiment-id {experiment}")


def test_a_champion_whose_run_was_deleted_and_garbage_collected(mlflow_store: str, small_data: Path) -> None:
    first = run_training(_config(small_data, "gone-champion"))
    assert first.promoted
    client = mlflow.MlflowClient()
    client.delete_run(first.run_id)
    gc = subprocess.run(
        [sys.executable, "-m", "mlflow", "gc", "--backend-store-uri", mlflow_store, "--run-ids", first.run_id],
        capture_output=True, text=True, timeout=300,
    )
    assert gc.returncode == 0, gc.stderr
    with pytest.raises(mlflow.exceptions.MlflowException, match="not found"):
        client.get_run(first.run_id)  # really gone, yet the alias still points at its version
    assert client.get_model_version_by_alias("gone-champion", "champion").run_id == first.run_id

    with pytest.warns(RecsysWarning, match=f"run {first.run_id} is gone .*no comparable champion"):
        second = run_training(_config(small_data, "gone-champion"))
    assert second.promoted and second.champion_value is None
    assert client.get_model_version_by_alias("gone-champion", "champion").run_id == second.run_id
