"""Team mode: training, concurrent sweeps, the champion, the UI and serving against a real PostgreSQL server.

The server is the test session's own (``postgres`` fixture); artifacts go to a
directory standing for the team's shared store (``RECSYS_ARTIFACT_ROOT``).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import mlflow
import pytest
from click.testing import CliRunner

from recsys.cli import main
from recsys.dashboard import wait_until_up
from recsys.data.synthetic import SynthConfig, write_synthetic

from _net import free_port, wait_for_health
from _postgres import PostgresServer

SYNTH = SynthConfig(n_genres=4, artists_per_genre=5, items_per_artist=6, n_playlists=400, mean_length=10, max_length=25)
FAST = ["epochs=3", "workers=1", "evaluation.baselines=['popular']", "evaluation.bootstrap_resamples=0"]


def _post(url: str, payload: dict) -> dict:
    request = urllib.request.Request(url, data=json.dumps(payload).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


@pytest.fixture(scope="module")
def team(postgres: PostgresServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A team's store: MLflow on a PostgreSQL database, artifacts in a shared directory; the environment set."""
    postgres.create_database("team")
    root = tmp_path_factory.mktemp("team")
    playlists, metadata = write_synthetic(root / "data", SYNTH)
    env = {"MLFLOW_TRACKING_URI": postgres.uri("team"), "RECSYS_ARTIFACT_ROOT": str(root / "artifacts")}
    previous = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    mlflow.set_tracking_uri(env["MLFLOW_TRACKING_URI"])
    mlflow.MlflowClient().search_experiments()  # creates the schema once, as the team's first command does
    yield {**env, "playlists": str(playlists), "metadata": str(metadata), "root": str(root)}
    for key, value in previous.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    mlflow.set_tracking_uri(previous["MLFLOW_TRACKING_URI"] or "")


def _subprocess_env(team: dict[str, str]) -> dict[str, str]:
    return {**os.environ, "MLFLOW_TRACKING_URI": team["MLFLOW_TRACKING_URI"],
            "RECSYS_ARTIFACT_ROOT": team["RECSYS_ARTIFACT_ROOT"], "PYTHONHASHSEED": "0"}


@pytest.fixture(scope="module")
def team_training(team: dict[str, str]) -> dict[str, str]:
    """One `recsys train` into the team's store (experiment team-train), shared by the tests that need it.

    Returns what it printed, its run id and the champion's run id right after
    it (later tests may promote another), whichever test asks first.
    """
    result = CliRunner().invoke(main, ["train", "--data", team["playlists"], "--metadata", team["metadata"],
                                       "--name", "team-train", *[a for o in FAST for a in ("--set", o)], "--quiet"])
    assert result.exit_code == 0, result.output
    return {
        "output": result.output,
        "run_id": result.stdout.strip().splitlines()[-1].removeprefix("run_id="),
        "champion_run_id": mlflow.MlflowClient().get_model_version_by_alias("item2vec", "champion").run_id,
    }


def test_train_registers_a_champion_that_a_replica_serves(team: dict[str, str], team_training: dict[str, str]) -> None:
    run_id = team_training["run_id"]
    assert "(registered as item2vec, alias champion)" in team_training["output"]
    run = mlflow.get_run(run_id)
    assert run.info.artifact_uri.startswith(Path(team["RECSYS_ARTIFACT_ROOT"]).resolve().as_uri())
    assert team_training["champion_run_id"] == run_id

    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "recsys.cli", "serve", "--model", "models:/item2vec@champion",
                               "--port", str(port)], env=_subprocess_env(team), cwd=team["root"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}"
        health = wait_for_health(f"{url}/health", server)
        assert health["model"] == "models:/item2vec@champion" and health["n_items"] > 50
        item = Path(team["playlists"]).read_text(encoding="utf-8").split()[0]
        with urllib.request.urlopen(f"{url}/similar/{item}?k=5", timeout=10) as response:
            answer = json.loads(response.read())
        assert len(answer["recommendations"]) == 5 and item not in {r["item_id"] for r in answer["recommendations"]}
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def _sweep_config(team: dict[str, str], path: Path, seed: int) -> Path:
    path.write_text(f"""
[data]
name = "team-sweeps"
path = "{team['playlists']}"
metadata = "{team['metadata']}"

[item2vec]
epochs = 3
workers = 1

[evaluation]
baselines = ["popular"]
bootstrap_resamples = 0

[tracking]
registered_model = "team-item2vec"

[sweep]
trials = 3
parallel = 1  # the two sweeps run at once; trials within each one at a time (2 cores)
budget_minutes = 5
min_epochs = 2
sample_fraction = 0.5
seed = {seed}

[sweep.space]
window = [2, 3, 5]
vector_size = [8, 16]
""", encoding="utf-8")
    return path


def test_two_concurrent_sweeps_record_every_trial_and_leave_one_champion(team: dict[str, str], tmp_path: Path) -> None:
    sweeps = [
        subprocess.Popen([sys.executable, "-m", "recsys.cli", "sweep", "--config",
                          str(_sweep_config(team, tmp_path / f"sweep{seed}.toml", seed)), "--quiet"],
                         env=_subprocess_env(team), cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
        for seed in (1, 2)
    ]
    outputs = [sweep.communicate(timeout=600) for sweep in sweeps]
    for sweep, (stdout, stderr) in zip(sweeps, outputs):
        assert sweep.returncode == 0, stderr[-3000:]

    client = mlflow.MlflowClient()
    experiment = client.get_experiment_by_name("team-sweeps")
    final_runs = []
    for stdout, _ in outputs:
        parent_id = re.search(r"^run_id=(\w+)$", stdout, re.M).group(1)
        reported = int(re.search(r"^(\d+) trials in", stdout, re.M).group(1))
        trials = client.search_runs(
            [experiment.experiment_id],
            f"tags.mlflow.parentRunId = '{parent_id}' and tags.sweep_trial = 'true'", max_results=1000,
        )
        assert len(trials) == reported >= 3
        assert all(run.info.status == "FINISHED" and "hr_at_10" in run.data.metrics for run in trials)
        final_runs.append(client.get_run(re.search(r"^best run: (\w+)$", stdout, re.M).group(1)))

    versions = client.search_model_versions("name='team-item2vec'")
    assert sorted(v.run_id for v in versions) == sorted(run.info.run_id for run in final_runs)
    champion = client.get_model_version_by_alias("team-item2vec", "champion")
    best = max(final_runs, key=lambda run: run.data.metrics["hr_at_10"])
    assert client.get_run(champion.run_id).data.metrics["hr_at_10"] == best.data.metrics["hr_at_10"]


def test_ui_shows_the_team_store(team: dict[str, str], team_training: dict[str, str], tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "recsys.cli", "ui", "--port", str(port)],
                               env=_subprocess_env(team), cwd=tmp_path, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_up(url, timeout=180)
        names = {e["name"] for e in _post(f"{url}/api/2.0/mlflow/experiments/search", {"max_results": 100})["experiments"]}
        assert {"team-train"} <= names
        experiment = mlflow.MlflowClient().get_experiment_by_name("team-train")
        runs = _post(f"{url}/api/2.0/mlflow/runs/search", {"experiment_ids": [experiment.experiment_id]})["runs"]
        trainings = [run for run in runs  # not the selection's candidates, nested under them
                     if not any(tag["key"] == "mlflow.parentRunId" for tag in run["data"].get("tags", []))]
        assert trainings and all(any(m["key"] == "hr_at_10" for m in run["data"]["metrics"]) for run in trainings)
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=60)
    assert "MLflow UI for postgresql://" in output and "stopping the MLflow UI" in output


@pytest.mark.parametrize("store", ["postgres", "sqlite"])
def test_store_lock_makes_promotions_take_turns(team: dict[str, str], tmp_path: Path, store: str) -> None:
    import threading

    from recsys.store import store_lock

    uri = team["MLFLOW_TRACKING_URI"] if store == "postgres" else f"sqlite:///{tmp_path / 'mlflow.db'}"
    events: list[str] = []
    first_holds = threading.Event()

    def hold(name: str) -> None:
        with store_lock(uri, "champion:x"):
            events.append(f"{name} in")
            first_holds.set()
            time.sleep(0.5)
            events.append(f"{name} out")

    first = threading.Thread(target=hold, args=("a",))
    first.start()
    first_holds.wait(10)
    hold("b")
    first.join()
    assert events == ["a in", "a out", "b in", "b out"]
