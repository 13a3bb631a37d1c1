"""The dashboard: `recsys ui` serves the MLflow UI on loopback and stops as a group."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from recsys.dashboard import wait_until_up
from recsys.tuning import SweepResult

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _post(url: str, payload: dict) -> dict:
    request = urllib.request.Request(
        url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


@pytest.fixture(scope="module")
def ui(mlflow_store: str, sweep_result: SweepResult, tmp_path_factory: pytest.TempPathFactory):
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "recsys.cli", "ui", "--port", str(port)],
        env={**os.environ, "MLFLOW_TRACKING_URI": mlflow_store},
        cwd=tmp_path_factory.mktemp("ui"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    wait_until_up(url, timeout=180)
    yield url, process, sweep_result
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
    # whatever happened above, leave no server behind
    subprocess.run(["pkill", "-f", f"mlflow.*--port {port} "], check=False)


def test_ui_lists_sweep_runs_with_window_vector_size_and_metric(ui) -> None:
    url, _, sweep_result = ui
    experiments = _post(f"{url}/api/2.0/mlflow/experiments/search", {"max_results": 100})["experiments"]
    experiment = next(e for e in experiments if e["name"] == "sweep-test")
    runs = _post(f"{url}/api/2.0/mlflow/runs/search", {
        "experiment_ids": [experiment["experiment_id"]],
        "filter": f"tags.mlflow.parentRunId = '{sweep_result.parent_run_id}' and tags.sweep_trial = 'true'",
        "max_results": 1000,
    })["runs"]
    assert len(runs) == len(sweep_result.trials)
    for run in runs:
        params = {p["key"]: p["value"] for p in run["data"]["params"]}
        metrics = {m["key"]: m["value"] for m in run["data"]["metrics"]}
        assert params["window"] in {"2", "5"} and params["vector_size"] in {"16", "32"}
        assert 0.0 <= metrics["hr_at_10"] <= 1.0


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed (make test-browser installs it)")
def test_ui_experiment_page_renders_in_chromium(ui, tmp_path: Path) -> None:
    url, _, sweep_result = ui
    experiments = _post(f"{url}/api/2.0/mlflow/experiments/search", {"max_results": 100})["experiments"]
    experiment_id = next(e["experiment_id"] for e in experiments if e["name"] == "sweep-test")
    screenshot = Path(os.environ.get("RECSYS_SCREENSHOT", tmp_path / "experiment.png"))
    subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1600,1000", "--virtual-time-budget=20000",
         f"--screenshot={screenshot}", f"{url}/#/experiments/{experiment_id}"],
        check=True, capture_output=True, timeout=120,
    )
    assert screenshot.stat().st_size > 20_000  # a rendered page, not a blank one


def test_ctrl_c_stops_the_whole_process_group(ui) -> None:
    url, process, _ = ui
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output
    assert "at http://127.0.0.1:" in output and "stopping the MLflow UI" in output
    with pytest.raises(OSError):
        urllib.request.urlopen(f"{url}/health", timeout=3)
    # the server ran in a group of its own; nothing of it is left
    server_groups = subprocess.run(["pgrep", "-f", f"--port {url.rsplit(':', 1)[1]}"], capture_output=True, text=True)
    assert server_groups.stdout.strip() == ""
