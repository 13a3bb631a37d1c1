"""The experiment dashboard: the MLflow UI on the project's store, on loopback.

``mlflow server`` starts worker processes of its own, so it runs in a new
process group and is stopped as a group. MLflow's own start page is its
GenAI home; :func:`landing_url` gives the address of an experiment's runs
table in the model-training view instead, opened on the item2vec view
(:mod:`recsys.runs_view`: window, dimension and quality columns, best run
first), which ``recsys ui`` prints (and opens with ``--open``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import webbrowser
from collections.abc import Callable
from pathlib import Path

import mlflow

from recsys.errors import RecsysError
from recsys.model_store import artifact_root, default_tracking_uri
from recsys.run_report import COMPARISON_EXPERIMENT
from recsys.runs_view import save_runs_view, view_address
from recsys.store import check_store

__all__ = ["start_ui", "stop_ui", "wait_until_up", "landing_url", "run_ui"]


def start_ui(*, host: str = "127.0.0.1", port: int = 5000, tracking_uri: str | None = None) -> subprocess.Popen[bytes]:
    """Start ``mlflow server`` against the project's store in its own process group.

    Parameters
    ----------
    host
        Address to bind; loopback by default.
    port
        TCP port.
    tracking_uri
        Backend store (default: :func:`recsys.model_store.default_tracking_uri`).
    """
    uri = tracking_uri or default_tracking_uri()
    check_store(uri)  # a store that cannot be opened is one line here, not the server's traceback
    command = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", uri,
               "--host", host, "--port", str(port), "--workers", "1",
               "--uvicorn-opts", "--no-access-log --log-level warning"]  # keep the printed address readable
    root = artifact_root(uri)
    if root:
        command += ["--default-artifact-root", root]
    env = {
        **os.environ,
        "MLFLOW_LOGGING_LEVEL": os.environ.get("MLFLOW_LOGGING_LEVEL", "WARNING"),
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",  # GenAI job workers: a dozen processes we do not use
        "PYTHONWARNINGS": os.environ.get("PYTHONWARNINGS", "ignore"),  # the server's own deprecation notes
    }
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    return subprocess.Popen(command, start_new_session=True, env=env)


def wait_until_up(url: str, *, timeout: float = 60.0, process: subprocess.Popen[bytes] | None = None) -> None:
    """Poll ``url/health`` until it answers.

    Raises
    ------
    RecsysError
        If the server exits or does not answer within ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RecsysError(f"the MLflow UI exited with status {process.returncode}; is the port in use?")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.3)
    raise RecsysError(f"the MLflow UI did not answer at {url} within {timeout:.0f} s")


def stop_ui(process: subprocess.Popen[bytes], *, timeout: float = 15.0) -> None:
    """Stop the server's whole process group: SIGTERM, then SIGKILL after ``timeout``."""
    try:
        group = os.getpgid(process.pid)
    except ProcessLookupError:
        return
    for sig, wait_for in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(group, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait_for)
        except subprocess.TimeoutExpired:
            continue
        _wait_group_gone(group, wait_for)
        return


def _wait_group_gone(group: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    try:
        os.killpg(group, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _post(url: str, payload: dict[str, object]) -> dict[str, object]:
    request = urllib.request.Request(
        url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def landing_url(url: str, *, experiment: str | None = None) -> tuple[str, str | None]:
    """The address of an experiment's runs table in MLflow's model-training view, on the item2vec view.

    The experiment gets the view (:func:`recsys.runs_view.save_runs_view`,
    through the server) if it has none yet: experiments from before it.

    Parameters
    ----------
    url
        The running UI (``http://127.0.0.1:5000``).
    experiment
        Experiment name; default: the experiment of the most recent run (not
        counting ``recsys compare``'s runs).

    Returns
    -------
    address, name
        The address, and the experiment's name; without any run (and no
        ``experiment``), the experiments list and None.

    Raises
    ------
    RecsysError
        If ``experiment`` does not exist in the store.
    """
    api = f"{url}/api/2.0/mlflow"
    found = _post(f"{api}/experiments/search", {"max_results": 1000})
    experiments = {e["name"]: e["experiment_id"] for e in found.get("experiments", [])}  # type: ignore[union-attr]
    if experiment is not None:
        if experiment not in experiments:
            known = ", ".join(sorted(experiments)) or "none"
            raise RecsysError(f"no experiment named {experiment!r} in the store; experiments: {known}")
        return _view(url, experiments[experiment]), experiment
    models = [i for n, i in experiments.items() if n != COMPARISON_EXPERIMENT]  # `recsys compare` runs no model
    latest = _post(f"{api}/runs/search", {
        "experiment_ids": models, "order_by": ["attributes.start_time DESC"], "max_results": 1,
    }).get("runs", [])
    if not latest:
        return f"{url}/#/experiments?workflowType=machine_learning", None
    experiment_id = latest[0]["info"]["experiment_id"]  # type: ignore[index]
    name = next(n for n, i in experiments.items() if i == experiment_id)
    return _view(url, experiment_id), name


def _view(url: str, experiment_id: str) -> str:
    """The item2vec view's address, after saving the view through the server if the experiment lacks it."""
    save_runs_view(experiment_id, client=mlflow.MlflowClient(tracking_uri=url))
    return view_address(url, experiment_id)


def run_ui(
    *,
    host: str = "127.0.0.1",
    port: int = 5000,
    experiment: str | None = None,
    open_browser: bool = False,
    echo: Callable[[str], None] = print,
) -> None:
    """Start the UI, print the address of the experiment's runs, and stop cleanly on Ctrl-C or SIGTERM.

    Parameters
    ----------
    host, port
        Where the UI listens.
    experiment
        The experiment to link to (default: the one of the most recent run).
    open_browser
        Also open the address in the default web browser.
    echo
        Prints a line.
    """
    process = start_ui(host=host, port=port)
    url = f"http://{host}:{port}"
    # Ctrl-C must stop the UI even where SIGINT was ignored by whoever started us
    # (background jobs inherit an ignored SIGINT); SIGTERM stops it the same way.
    previous = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        wait_until_up(url, process=process)
        echo(f"MLflow UI for {default_tracking_uri()} at {url} (Ctrl-C stops it)")
        address, name = landing_url(url, experiment=experiment)
        if name is None:
            echo(f"no runs yet (`make demo` logs one); experiments: {address}")
        else:
            echo(f"runs of experiment {name!r}: {address}")
        if open_browser and not webbrowser.open(address):
            echo("no web browser found to open it; open the address above")
        process.wait()
    except KeyboardInterrupt:
        echo("stopping the MLflow UI")
    finally:
        stop_ui(process)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
