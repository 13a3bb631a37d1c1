"""Comparing runs: the item2vec view saved in each experiment, the best baseline's HR logged with every
training run, and `recsys compare` putting sweep trials and training runs side by side in one page."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import mlflow
import pytest

from recsys.run_report import COMPARISON_ARTIFACT, ComparedRun, build_comparison
from recsys.runs_view import VIEW_ID, VIEW_TAG, save_runs_view, view_address, view_state
from recsys.tuning import SweepResult


def _recsys(*args: str, cwd: Path, store: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MLFLOW_TRACKING_URI": store, "PYTHONHASHSEED": "0"}
    return subprocess.run([sys.executable, "-m", "recsys.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def _item2vec_runs(sweep: SweepResult) -> dict[str, mlflow.entities.Run]:
    """The sweep's trials and its retrained best, by run id."""
    experiment = mlflow.get_run(sweep.parent_run_id).info.experiment_id
    trials = mlflow.search_runs(experiment_ids=[experiment], output_format="list",
                                filter_string=f"tags.mlflow.parentRunId = '{sweep.parent_run_id}' "
                                              "and tags.sweep_trial = 'true'")
    return {run.info.run_id: run for run in [*trials, mlflow.get_run(sweep.final.run_id)]}


def test_training_creates_the_item2vec_view_and_keeps_a_changed_one(sweep_result: SweepResult) -> None:
    client = mlflow.MlflowClient()
    experiment = client.get_experiment_by_name("sweep-test")
    envelope = json.loads(experiment.tags[VIEW_TAG])
    state = json.loads(envelope["state"])
    assert state == view_state(10)
    assert state["orderByKey"] == "metrics.`hr_at_10`" and state["orderByAsc"] is False
    assert state["columnOrder"][:3] == ["params.`context`", "params.`window`", "params.`vector_size`"]
    assert "metrics.`baselines/best_hr_at_10`" in state["selectedColumns"]
    assert isinstance(envelope["createdAt"], int) and envelope["name"]
    # a person's change to the view (here: another sort) survives the next training or `recsys ui`
    changed = {**envelope, "state": json.dumps({**state, "orderByKey": "metrics.`ndcg_at_10`"})}
    client.set_experiment_tag(experiment.experiment_id, VIEW_TAG, json.dumps(changed))
    try:
        assert save_runs_view(experiment.experiment_id) == VIEW_ID
        kept = json.loads(client.get_experiment(experiment.experiment_id).tags[VIEW_TAG])
        assert json.loads(kept["state"])["orderByKey"] == "metrics.`ndcg_at_10`"
    finally:
        client.set_experiment_tag(experiment.experiment_id, VIEW_TAG, json.dumps(envelope))
    assert view_address("http://h:1", "7") == (
        "http://h:1/#/experiments/7/runs?workflowType=machine_learning&viewStateShareKey=recsys-item2vec")


def test_training_run_logs_the_best_baselines_hr(sweep_result: SweepResult) -> None:
    run = mlflow.get_run(sweep_result.final.run_id)
    baselines = {r.method: r.metrics["hr_at_10"] for r in sweep_result.final.results if not r.method.startswith("item2vec")}
    best = max(baselines, key=baselines.get)
    assert run.data.tags["best_baseline"] == best
    assert run.data.metrics["baselines/best_hr_at_10"] == pytest.approx(baselines[best])
    assert run.data.metrics["baselines/best_hr_at_10"] == pytest.approx(run.data.metrics[f"{best}/hr_at_10"])


def test_compare_puts_trials_and_the_training_run_in_one_page(sweep_result: SweepResult, mlflow_store: str,
                                                              tmp_path: Path) -> None:
    out = tmp_path / "page" / "comparison.html"
    result = _recsys("compare", "--experiment", "sweep-test", "--out", str(out), cwd=tmp_path, store=mlflow_store)
    assert result.returncode == 0, result.stderr
    expected = _item2vec_runs(sweep_result)
    assert f"compared {len(expected)} runs" in result.stdout
    assert f"wrote {out.resolve()}" in result.stdout
    html = out.read_text(encoding="utf-8")
    rows = re.findall(r'<tr data-run-id="(\w+)"', html)
    assert set(rows) == set(expected) and len(rows) == len(expected)
    values = [expected[run_id].data.metrics["hr_at_10"] for run_id in rows]
    assert values == sorted(values, reverse=True)  # best first
    for run_id, run in expected.items():
        row = html.split(f'data-run-id="{run_id}"', 1)[1].split("</tr>", 1)[0]
        assert 'data-param="window" class="mono differs' in row  # the sweep varies window: highlighted
        assert f'>{run.data.params["window"]}</td>' in row and f'>{run.data.params["vector_size"]}</td>' in row
        assert f'{run.data.metrics["hr_at_10"]:.4f}' in row
    kinds = re.findall(r"<td class=\"kind\">(training|sweep best|sweep trial \(rung \d\))</td>", html)
    assert kinds.count("sweep best") == 1 and len(kinds) == len(expected)
    # the only run measured on the test split is the best of its dataset
    best_card = html.split('<div class="card" data-dataset="sweep-test">', 1)[1].split("</div></div>", 1)[0]
    assert sweep_result.final.run_id in best_card
    assert len(re.findall(r'<img src="data:image/png;base64,', html)) == 2  # test and validation heatmaps
    run_id = re.search(r"comparison run (\w+)", result.stdout).group(1)
    comparison = mlflow.get_run(run_id)
    assert comparison.data.tags["method"] == "comparison"
    assert mlflow.get_experiment(comparison.info.experiment_id).name == "comparisons"
    logged = mlflow.artifacts.load_text(f"runs:/{run_id}/{COMPARISON_ARTIFACT}")
    assert logged == html
    # chosen runs only; the comparison run itself is never compared
    some = list(expected)[:2]
    chosen = _recsys("compare", "--runs", ",".join(some), "--out", str(tmp_path / "two.html"),
                     cwd=tmp_path, store=mlflow_store)
    assert chosen.returncode == 0, chosen.stderr
    assert set(re.findall(r'<tr data-run-id="(\w+)"', (tmp_path / "two.html").read_text())) == set(some)


@pytest.mark.parametrize(("args", "message"), [
    (("--experiment", "nope"), "no experiment named 'nope' in the store; experiments: "),
    (("--runs", "0123456789abcdef"), "no run with id '0123456789abcdef' in the store"),
    (("--experiment", "sweep-test", "--runs", "x"), "give --experiment or --runs, not both"),
    (("--experiment", "Default"), "nothing to compare in experiment 'Default'"),
])
def test_compare_bad_input_is_one_line_and_exit_2(args: tuple[str, ...], message: str, sweep_result: SweepResult,
                                                  mlflow_store: str, tmp_path: Path) -> None:
    result = _recsys("compare", *args, "--out", str(tmp_path / "c.html"), cwd=tmp_path, store=mlflow_store)
    assert result.returncode == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_compare_reads_the_projects_store(tmp_path: Path) -> None:
    """Without MLFLOW_TRACKING_URI: mlruns/mlflow.db under the working directory, as train, sweep and ui use."""
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    result = subprocess.run([sys.executable, "-m", "recsys.cli", "compare"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and "the store has no item2vec runs" in result.stderr
    assert (tmp_path / "mlruns" / "mlflow.db").is_file() and not (tmp_path / "mlflow.db").exists()


def _run(run_id: str, split: str, dataset: str, hr: float, seconds: float, **params: str) -> ComparedRun:
    return ComparedRun(run_id=run_id, name=run_id, dataset=dataset, kind="training",
                       split=split, params={"window": "5", "vector_size": "32", "negative": "10", **params},
                       metrics={"hr_at_10": hr, "train_seconds": seconds})


def test_comparison_highlights_differences_and_picks_the_best_per_dataset() -> None:
    runs = [
        _run("a", "validation", "yes", 0.50, 9.0, window="2"),
        _run("b", "test", "yes", 0.30, 4.0),
        _run("c", "test", "yes", 0.35, 6.0, vector_size="64"),
        _run("d", "test", "lastfm", 0.10, 2.0),
    ]
    c = build_comparison(runs)
    assert c.differing == {"window", "vector_size"}  # negative is the same everywhere
    assert c.usual["window"] == "5" and c.usual["vector_size"] == "32"
    assert c.params == ["window", "vector_size"]
    assert c.metrics == ["hr_at_10", "train_seconds"]  # only the view's metrics the runs have
    assert c.best == {"hr_at_10": "a", "train_seconds": "d"}  # the fastest training is the best one
    # a validation number is not set against test numbers: c, not a, is the best on "yes"
    assert [r.run_id for r in c.best_per_dataset] == ["d", "c"]
    assert [f.title for f in c.figures] == ["lastfm, test split", "yes, test split", "yes, validation split"]
    assert all(f.src.startswith("data:image/png;base64,") for f in c.figures)


def test_an_update_is_compared_on_its_own_cases_not_beside_the_test_split() -> None:
    from recsys.run_report._comparison import _kind

    assert _kind({"update": "true", "update.chain": "2", "method": "item2vec"}) == ("update (chain 2)", "new data")
    assert _kind({"sweep_trial": "true", "rung": "1"}) == ("sweep trial (rung 1)", "validation")
    assert _kind({"sweep_role": "best"}) == ("sweep best", "test")
    assert _kind({"method": "item2vec"}) == ("training", "test")
