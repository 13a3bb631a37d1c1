"""The quality report: every method on the same cases, one MLflow run each, a Markdown table."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import mlflow
import pytest

from recsys.config import load_pipeline_config
from recsys.data.synthetic import SynthConfig, write_synthetic
from recsys.evaluate import EvaluationReport, run_evaluation
from recsys.evaluation.baselines import BASELINES
from tests.test_cli import _in_process

PROJECT_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def small_synthetic(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return write_synthetic(tmp_path_factory.mktemp("report"), SynthConfig(n_playlists=800))


@pytest.fixture(scope="module")
def report(mlflow_store: str, small_synthetic: tuple[Path, Path]) -> EvaluationReport:
    playlists, metadata = small_synthetic
    config = load_pipeline_config(
        PROJECT_ROOT / "pipelines" / "configs" / "synthetic.toml",
        base={"data": {"name": "report-test", "path": str(playlists), "metadata": str(metadata)}},
        overrides=["epochs=10", "evaluation.bootstrap_resamples=300", "split.test_fraction=0.2"],
    )
    return run_evaluation(config)


def test_structure_aware_methods_rank_above_popularity(report: EvaluationReport) -> None:
    popular = next(m for m in report.methods if m.method == "popular").results["next_item"].metrics
    for name in ("item2vec-next", "item2vec-similar", "cooccurrence", "sr"):
        metrics = next(m for m in report.methods if m.method == name).results["next_item"].metrics
        # the whole interval above popularity's whole interval
        assert metrics["hr_at_10_ci_low"] > popular["hr_at_10_ci_high"], name
        assert metrics["ndcg_at_10_ci_low"] > popular["ndcg_at_10_ci_high"], name
    assert popular["popularity_at_10"] > 95


def test_every_method_saw_the_same_cases(report: EvaluationReport) -> None:
    # item2vec as the model answers first (the reference), the blend itself only where it is not the default
    names = [m.method for m in report.methods]
    assert names[0] == "item2vec" and names[-len(BASELINES) - 3:-len(BASELINES)] == [
        "item2vec-next", "item2vec-similar", "item2vec-evidence"]
    assert names[1:-len(BASELINES) - 3] in ([], ["item2vec-ranked"])
    assert names[-len(BASELINES):] == list(BASELINES)
    for protocol in ("next_item", "last_item", "session"):
        digests = {m.results[protocol].cases_digest for m in report.methods}
        sizes = {m.results[protocol].n_pairs for m in report.methods}
        assert len(digests) == 1 and len(sizes) == 1


def test_each_method_is_an_mlflow_run_tagged_with_it(report: EvaluationReport) -> None:
    client = mlflow.MlflowClient()
    runs = {m.method: client.get_run(m.run_id) for m in report.methods if m.run_id}
    assert set(runs) == {m.method for m in report.methods}
    for method, run in runs.items():
        assert run.data.tags["method"] == method
        assert run.data.tags["evaluation_report"] == report.report_id
        assert run.data.tags["session.eval_cases_digest"] == report.methods[0].results["session"].cases_digest
        for name in ("hr_at_10", "next_item/hr_at_10_ci_low", "session/ndcg_at_20", "last_item/mrr_at_5",
                     "next_item/popularity_at_10", "next_item/precision_at_5", "train_seconds",
                     "next_item/eval_seconds"):
            assert name in run.data.metrics, (method, name)
        # the headline is bare, everything else sits in a chart section (a "/" prefix)
        bare = {name for name in run.data.metrics if "/" not in name}
        assert bare == {"hr_at_10", "ndcg_at_10", "mrr_at_10", "coverage_at_10", "train_seconds"}, method
    assert runs["item2vec-next"].data.params["window"] == "5"
    assert runs["item2vec-next"].data.params["epochs"] != "None"  # what trained, set from the data
    assert runs["item2vec-similar"].data.params["relation"] == "next"  # the model's default, same vectors
    assert "window" not in runs["als"].data.params and runs["als"].data.params["method.factors"] == "64"
    experiment = mlflow.get_experiment(runs["item2vec-next"].info.experiment_id)
    assert experiment.name == "report-test"


def test_markdown_table_has_every_method_and_interval(report: EvaluationReport) -> None:
    table = report.to_markdown(k=10)
    assert table.startswith("### report-test")
    assert table.count("| HR@10 | NDCG@10 |") == 3
    protocols, cold_start = table.split("**cold start** (report-test)")  # the data has metadata
    for method in report.methods:
        assert protocols.count(f"\n| {method.method} | ") == 3
    assert "| coldstart-next |" in cold_start
    assert "popular loses to item2vec" in table
    row = next(line for line in table.splitlines() if line.startswith("| popular |"))
    metrics = next(m for m in report.methods if m.method == "popular").results["next_item"].metrics
    assert f"{metrics['hr_at_10']:.4f} [{metrics['hr_at_10_ci_low']:.4f}, {metrics['hr_at_10_ci_high']:.4f}]" in row


def test_evaluate_command_prints_the_table(tmp_path: Path, mlflow_store: str,
                                           small_synthetic: tuple[Path, Path]) -> None:
    playlists, _ = small_synthetic
    config = tmp_path / "eval.toml"
    config.write_text(f'[data]\nname = "cli-eval"\npath = "{playlists}"\n'
                      '[evaluation]\nbaselines = ["popular", "transitions"]\nprotocols = ["last_item"]\n'
                      "bootstrap_resamples = 50\n", encoding="utf-8")
    env = {**os.environ, "MLFLOW_TRACKING_URI": mlflow_store, "PYTHONHASHSEED": "0"}
    result = subprocess.run(
        [sys.executable, "-m", "recsys.cli", "evaluate", "--config", str(config), "--set", "epochs=2",
         "-k", "5", "--out", str(tmp_path / "table.md"), "--quiet"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "| transitions | " in result.stdout and "HR@5" in result.stdout
    assert result.stdout.strip().splitlines()[-1].startswith("evaluation_report=")
    assert (tmp_path / "table.md").read_text(encoding="utf-8") in result.stdout
    bad = _in_process("evaluate", "--config", str(config), "-k", "7", cwd=tmp_path, store=mlflow_store)
    assert bad.returncode == 2 and "-k 7 is not one of evaluation.ks" in bad.stderr
