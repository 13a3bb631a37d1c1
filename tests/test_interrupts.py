"""Real `recsys train` processes interrupted, killed, and run two at a time on one SQLite store."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import mlflow
import pytest

from recsys.data.synthetic import SynthConfig, write_synthetic


@pytest.fixture(scope="module")
def small_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    playlists, _ = write_synthetic(tmp_path_factory.mktemp("playlists"), SynthConfig(n_playlists=300))
    return playlists


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A store of this module's own (the one the other tests share is not created by subprocesses)."""
    return f"sqlite:///{tmp_path_factory.mktemp('store') / 'mlflow.db'}"


class Training:
    """A `recsys train` subprocess whose stderr is collected as it comes."""

    def __init__(self, store: str, data: Path, *overrides: str, cwd: Path, name: str = "interrupts") -> None:
        args = [sys.executable, "-m", "recsys.cli", "train", "--data", str(data), "--name", name,
                "--set", "vector_size=8", "--set", "workers=1", "--set", f"tracking.registered_model={name}"]
        for override in overrides:
            args += ["--set", override]
        env = {**os.environ, "MLFLOW_TRACKING_URI": store, "PYTHONHASHSEED": "0"}
        self.process = subprocess.Popen(args, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True)
        self._stderr: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for chunk in iter(lambda: self.process.stderr.read(1), ""):  # type: ignore[union-attr]
            self._stderr.append(chunk)

    @property
    def stderr(self) -> str:
        return "".join(self._stderr)

    def wait_until_training(self, timeout: float = 240) -> None:
        deadline = time.monotonic() + timeout
        while "train: " not in self.stderr:  # the progress bar is in the training stage
            assert self.process.poll() is None, f"exited early: {self.stderr}"
            assert time.monotonic() < deadline, f"training never started: {self.stderr}"
            time.sleep(0.05)
        time.sleep(0.5)

    def finish(self, timeout: float = 300) -> tuple[int, str, str]:
        assert self.process.stdout is not None
        stdout = self.process.stdout.read()  # not communicate(): it would take stderr from the reader
        self.process.wait(timeout=timeout)
        self._reader.join(timeout=30)
        return self.process.returncode, stdout, self.stderr


def _runs(store: str, name: str) -> dict[str, str]:
    client = mlflow.MlflowClient(tracking_uri=store, registry_uri=store)
    experiment = client.get_experiment_by_name(name)
    runs = client.search_runs([experiment.experiment_id])
    return {run.info.run_id: run.info.status for run in runs if "mlflow.parentRunId" not in run.data.tags}


def test_ctrl_c_marks_the_run_killed_registers_nothing_and_exits_130(
    store: str, small_data: Path, tmp_path: Path
) -> None:
    # no selection: the Ctrl-C lands in the (long) final training
    training = Training(store, small_data, "epochs=1000", "selection.auto=false", cwd=tmp_path, name="ctrl-c")
    training.wait_until_training()
    training.process.send_signal(signal.SIGINT)
    code, stdout, stderr = training.finish()
    assert code == 130, stderr
    assert "Traceback" not in stderr and "Aborted!" not in stderr and stdout == ""
    last = stderr.strip().splitlines()[-1]
    (run_id, status), = _runs(store, "ctrl-c").items()
    assert last == f"interrupted: MLflow run {run_id} marked KILLED, nothing registered"
    assert status == "KILLED"
    client = mlflow.MlflowClient(tracking_uri=store, registry_uri=store)
    assert client.search_model_versions(f"run_id='{run_id}'") == []


def test_ctrl_c_while_choosing_the_configuration_leaves_no_run_and_exits_130(
    store: str, small_data: Path, tmp_path: Path
) -> None:
    # the run starts once the configuration is chosen: interrupted before, nothing is written
    training = Training(store, small_data, "epochs=1000", cwd=tmp_path, name="ctrl-c-selection")
    deadline = time.monotonic() + 240
    while "candidate" not in training.stderr:  # the progress bar names the candidate being trained
        assert training.process.poll() is None and time.monotonic() < deadline, training.stderr
        time.sleep(0.05)
    training.process.send_signal(signal.SIGINT)
    code, stdout, stderr = training.finish()
    assert code == 130, stderr
    assert "Traceback" not in stderr and stdout == "" and stderr.strip().splitlines()[-1] == "interrupted"
    client = mlflow.MlflowClient(tracking_uri=store, registry_uri=store)
    assert client.get_experiment_by_name("ctrl-c-selection") is None
    assert client.search_registered_models("name='ctrl-c-selection'") == []


def test_kill_9_during_training_leaves_a_store_the_next_training_uses(
    store: str, small_data: Path, tmp_path: Path
) -> None:
    killed = Training(store, small_data, "epochs=1000", "selection.auto=false", cwd=tmp_path, name="kill-9")
    killed.wait_until_training()
    killed.process.send_signal(signal.SIGKILL)
    assert killed.finish()[0] == -signal.SIGKILL
    code, stdout, stderr = Training(store, small_data, "epochs=2", cwd=tmp_path, name="kill-9").finish()
    assert code == 0, stderr
    run_id = stdout.strip().splitlines()[-1].removeprefix("run_id=")
    statuses = _runs(store, "kill-9")
    assert statuses.pop(run_id) == "FINISHED"
    assert list(statuses.values()) == ["RUNNING"]  # the killed run: nothing could mark it
    client = mlflow.MlflowClient(tracking_uri=store, registry_uri=store)
    assert client.get_model_version_by_alias("kill-9", "champion").run_id == run_id


def test_two_trainings_at_once_on_a_new_store_both_finish_and_the_champion_is_the_better(
    small_data: Path, tmp_path: Path
) -> None:
    store = f"sqlite:///{tmp_path / 'new' / 'mlflow.db'}"  # neither exists yet: both create it
    trainings = [Training(store, small_data, "epochs=3", f"seed={seed}", cwd=tmp_path) for seed in (1, 2)]
    results = [training.finish() for training in trainings]
    for code, _, stderr in results:
        assert code == 0, stderr
    run_ids = {stdout.strip().splitlines()[-1].removeprefix("run_id=") for _, stdout, _ in results}
    client = mlflow.MlflowClient(tracking_uri=store, registry_uri=store)
    versions = client.search_model_versions("name='interrupts'")
    assert {v.run_id for v in versions} == run_ids and len(versions) == 2
    champion = client.get_model_version_by_alias("interrupts", "champion")
    scores = {run_id: client.get_run(run_id).data.metrics["hr_at_10"] for run_id in run_ids}
    assert scores[champion.run_id] == max(scores.values())
