"""recsys add-items end to end: train, serve, add items, reload, answer them; bad metadata registers nothing."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import mlflow.pyfunc
import pandas as pd
import pytest

from click.testing import CliRunner

from recsys import Recommender
from recsys.cli import main
from recsys.data.synthetic import SynthConfig, write_synthetic
from recsys.serving import create_app
from tests.test_cli import _in_process, _recsys
from tests.test_serving import running

MODEL = "cold-e2e"
NEW_ITEMS = (
    "item_id,title,artist,genre\n"
    "new-1,Song of the day,rock artist 01,rock\n"
    "new-2,Another new one,jazz artist 02,jazz\n"
)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, mlflow_store: str) -> Path:
    """A model trained with metadata on small synthetic playlists, registered as champion of ``cold-e2e``
    (`recsys train` in the test process: test_cli runs it for real)."""
    workdir = tmp_path_factory.mktemp("add-items")
    write_synthetic(workdir / "data", SynthConfig(n_playlists=400))  # what `recsys data synth --playlists 400` writes
    result = _in_process("train", "--data", "data/playlists.txt", "--metadata", "data/metadata.csv", "--name", MODEL,
                     "--set", "epochs=10", "--set", "vector_size=16", "--set", "workers=1",
                     "--set", f"tracking.registered_model={MODEL}", "--quiet", cwd=workdir, store=mlflow_store)
    assert result.returncode == 0, result.stderr
    return workdir


def _versions() -> int:
    return len(mlflow.MlflowClient().search_model_versions(f"name='{MODEL}'"))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("title,artist\nx,rock artist 01\n", "missing id column"),
        ("item_id,title,colour\nn9,x,red\n", "unknown metadata column(s) ['colour']"),
        ("item_id,title,artist,genre\nn9,,,\n", "'n9' have no metadata to make a vector from"),
        ("item_id,title,artist,genre\n{known},x,rock artist 01,rock\n", "'{known}' are already in the catalogue"),
    ],
    ids=["no-id-column", "unknown-column", "empty-text", "already-known"],
)
def test_bad_metadata_exits_2_and_registers_nothing(trained: Path, mlflow_store: str, content: str,
                                                     message: str) -> None:
    known = Recommender.load(f"models:/{MODEL}@champion").item_ids[0]
    bad = trained / "bad.csv"
    bad.write_text(content.format(known=known), encoding="utf-8")
    before = _versions()
    result = CliRunner().invoke(main, ["add-items", "--model", f"models:/{MODEL}@champion", "--metadata", str(bad)])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {bad}") and message.format(known=known) in lines[0]
    assert _versions() == before


def test_added_items_are_served_after_a_reload(trained: Path, mlflow_store: str) -> None:
    uri = f"models:/{MODEL}@champion"
    with running(create_app(uri)) as client:
        assert client.get("/similar/new-1").status_code == 404
        before = client.get("/health").json()
        assert before["n_cold"] == 0

        (trained / "new.csv").write_text(NEW_ITEMS, encoding="utf-8")
        added = _recsys("add-items", "--model", uri, "--metadata", "new.csv", cwd=trained, store=mlflow_store)
        assert added.returncode == 0, added.stderr
        lines = added.stdout.strip().splitlines()
        assert lines[0].startswith("added 2 item(s)") and "alias champion" in added.stdout
        run_id = lines[-1].removeprefix("run_id=")
        run = mlflow.get_run(run_id)
        base = run.data.tags["base_run_id"]
        assert run.data.tags["mlflow.parentRunId"] == run.data.tags["training_run_id"] == base
        assert run.data.metrics["hr_at_10"] == mlflow.get_run(base).data.metrics["hr_at_10"]
        assert run.data.metrics["cold_start/n_added"] == 2
        assert mlflow.get_run(base).data.metrics["cold_start/output.r2"] > 0  # the mapper's fit, logged at training

        reload = client.post("/reload")
        assert reload.status_code == 200 and reload.json()["n_cold"] == 2
        assert reload.json()["n_items"] == before["n_items"] + 2
        answer = client.get("/similar/new-1", params={"k": 5})
        assert answer.status_code == 200
        recommendations = answer.json()["recommendations"]
        assert len(recommendations) == 5 and all(r["cold"] is False for r in recommendations)
        everything = client.get("/similar/new-2", params={"k": 1000}).json()["recommendations"]
        assert [r["item_id"] for r in everything if r["cold"]] == ["new-1"]
        warm = next(r["item_id"] for r in everything if not r["cold"])
        batch = client.post("/similar", json={"item_ids": [warm, "new-2"], "k": 3}).json()["results"]
        assert [len(result["recommendations"]) for result in batch] == [3, 3]
        assert all(isinstance(r["cold"], bool) for result in batch for r in result["recommendations"])

    pyfunc = mlflow.pyfunc.load_model(uri).predict(pd.DataFrame({"item_id": ["new-2"]}), params={"k": 1000})
    assert pyfunc.loc[pyfunc["cold"], "item_id"].tolist() == ["new-1"]

    cli = _in_process("recommend", "new-2", "--model", uri, "-k", "3", "--json", cwd=trained, store=mlflow_store)
    assert cli.returncode == 0, cli.stderr
    payload = json.loads(cli.stdout)
    assert len(payload["recommendations"]) == 3 and all("cold" in r for r in payload["recommendations"])
    assert all(r["genre"] == "jazz" for r in payload["recommendations"])  # a new jazz item gets jazz
