"""The library is as quiet as the CLI: no MLflow download bars, registry notices or logs in the
caller's terminal, unless RECSYS_VERBOSE asks for them."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import metadata
from pathlib import Path

from recsys.data.synthetic import SynthConfig, write_synthetic

TRAIN_AND_LOAD = """
from recsys import Recommender, load_pipeline_config
from recsys.pipeline import run_training
config = load_pipeline_config(base={"data": {"name": "quiet", "path": %r}},
                              overrides=["epochs=20", "vector_size=8", "tracking.registered_model=quiet"])
run_training(config)
print("trained")
print(len(Recommender.load("models:/quiet@champion")))
"""
LOAD = """
from recsys import Recommender
print(len(Recommender.load("models:/quiet@champion")))
"""


def _python(code: str, *, cwd: Path, store: str, **env: str) -> subprocess.CompletedProcess[str]:
    tmp = cwd / f"tmp-{len(list(cwd.glob('tmp-*')))}"  # a fresh download cache: the model is really downloaded
    tmp.mkdir()
    inherited = {k: v for k, v in os.environ.items() if k not in ("RECSYS_VERBOSE", "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR")}
    environment = {**inherited, "MLFLOW_TRACKING_URI": store, "PYTHONHASHSEED": "0", "TMPDIR": str(tmp), **env}
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=environment, capture_output=True, text=True,
                          timeout=300)


def test_training_and_loading_from_python_print_nothing_of_mlflows(tmp_path: Path) -> None:
    playlists, _ = write_synthetic(tmp_path / "data", SynthConfig(n_playlists=100))
    store = f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}"  # a new store: its creation logs nothing either
    quiet = _python(TRAIN_AND_LOAD % str(playlists), cwd=tmp_path, store=store)
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stderr == ""
    assert quiet.stdout.split() == ["trained", quiet.stdout.split()[-1]] and int(quiet.stdout.split()[-1]) > 0

    verbose = _python(LOAD, cwd=tmp_path, store=store, RECSYS_VERBOSE="1")
    assert verbose.returncode == 0, verbose.stderr
    assert "Downloading artifacts" in verbose.stderr  # what RECSYS_VERBOSE=1 brings back
    assert verbose.stdout.strip() == quiet.stdout.split()[-1]


def test_the_license_is_an_spdx_expression() -> None:
    assert metadata("recsys")["License-Expression"] == "MIT"  # no deprecated license table for setuptools to warn about
