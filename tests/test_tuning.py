"""Sweeps: search space, successive halving, nested MLflow runs, plots, champion."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pytest

from recsys.errors import ConfigError
from recsys.tuning import SweepConfig, SweepResult, halving_epochs, load_sweep_config, sample_space

from conftest import SWEEP_SPACE as SPACE


def test_sample_space_is_seeded_distinct_and_capped() -> None:
    sweep = SweepConfig(trials=5, space=SPACE)
    first = sample_space(sweep)
    assert first == sample_space(sweep)
    assert len(first) == 5 and len({tuple(sorted(c.items())) for c in first}) == 5
    assert sample_space(sweep.model_copy(update={"seed": 1})) != first
    grid = sample_space(SweepConfig(strategy="grid", trials=100, space=SPACE))
    assert len(grid) == 8 and grid == sorted(grid, key=lambda c: (c["ns_exponent"], c["vector_size"], c["window"]))


@pytest.mark.parametrize(
    ("full", "n", "eta", "minimum", "expected"),
    [(20, 16, 2, 2, [2, 3, 5, 10, 20]), (20, 6, 2, 2, [3, 5, 10, 20]), (10, 1, 2, 2, [10]),
     (9, 9, 3, 1, [1, 3, 9]), (4, 16, 2, 2, [2, 4])],
)
def test_halving_epochs(full: int, n: int, eta: int, minimum: int, expected: list[int]) -> None:
    assert halving_epochs(full, n, eta=eta, min_epochs=minimum) == expected


def test_bad_sweep_configs_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown search-space key 'windw'"):
        SweepConfig(space={"windw": [1]})
    with pytest.raises(ValueError, match="metric must look like"):
        SweepConfig(metric="hit@10")
    path = tmp_path / "sweep.toml"
    path.write_text('[data]\npath = "x.txt"\n[sweep.space]\nwindow = [3, -1]\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="sweep.space.window"):
        load_sweep_config(path)
    path.write_text('[data]\npath = "x.txt"\n[sweep]\ntrails = 3\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown option 'trails'"):
        load_sweep_config(path)


def test_sweep_logs_nested_trials_with_params_and_metric(sweep_result: SweepResult) -> None:
    client = mlflow.MlflowClient()
    parent = client.get_run(sweep_result.parent_run_id)
    children = client.search_runs(
        [parent.info.experiment_id], f"tags.mlflow.parentRunId = '{sweep_result.parent_run_id}'"
    )
    trials = [r for r in children if r.data.tags.get("sweep_trial") == "true"]
    assert len(trials) == len(sweep_result.trials) >= 4
    for run in trials:
        assert {"window", "vector_size", "ns_exponent", "epochs"} <= set(run.data.params)
        assert "hr_at_10" in run.data.metrics
    # successive halving: fewer configurations in later rungs, trained longer
    rungs = sorted({t.rung for t in sweep_result.trials})
    counts = [sum(t.rung == r for t in sweep_result.trials) for r in rungs]
    assert len(counts) >= 2 and all(a > b for a, b in zip(counts, counts[1:]))
    epochs = [max(t.config.epochs for t in sweep_result.trials if t.rung == r) for r in rungs]
    assert epochs == sorted(epochs) and epochs[-1] == 4
    # the best configuration was retrained as a child run and evaluated on the test split
    best = [r for r in children if r.data.tags.get("sweep_role") == "best"]
    assert len(best) == 1 and best[0].info.run_id == sweep_result.final.run_id
    assert parent.data.metrics["test_hr_at_10"] == pytest.approx(sweep_result.final.results[0].metrics["hr_at_10"])
    assert parent.data.params["space.window"] == "[2, 5]"
    artifacts = {a.path for a in client.list_artifacts(sweep_result.parent_run_id, "plots")}
    assert {"plots/heatmap_window_vector_size.png", "plots/metric_vs_ns_exponent.png", "plots/item_map.png"} <= artifacts


def test_best_trial_is_the_best_of_the_last_rung(sweep_result: SweepResult) -> None:
    last = max(t.rung for t in sweep_result.trials)
    top = max((t for t in sweep_result.trials if t.rung == last), key=lambda t: t.metrics["hr_at_10"])
    assert sweep_result.best.model_dump(exclude={"workers"}) == top.config.model_dump(exclude={"workers"})
    assert sweep_result.final.promoted  # the first model of its registered name
