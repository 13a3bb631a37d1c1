"""A sweep's report: the trials, the sweep plots and the champion decision."""

from __future__ import annotations

import mlflow
import polars as pl

from recsys.config import SweepConfig
from recsys.results import TrainingResult, Trial
from recsys.run_report._render import REPORT_ARTIFACT, SWEEP_FIGURES, embedded_figures, render, run_plots

__all__ = ["log_sweep_report"]



# -------------------------------------------------------------------- sweep
def _trial_columns(frame: pl.DataFrame, metric: str) -> list[str]:
    """Trial, rung, epochs, the options that vary, relation, the metric, seconds."""
    fixed = ["trial", "rung", "epochs"]
    varying = [c for c in frame.columns
               if c not in fixed and c not in ("relation", "seconds", "workers", "seed")
               and "_at_" not in c and frame[c].n_unique() > 1]
    return fixed + varying + ["relation", metric, "seconds"]


def log_sweep_report(
    sweep: SweepConfig,
    trials: pl.DataFrame,
    best: Trial,
    final: TrainingResult,
    *,
    tune_seconds: float,
) -> str:
    """Render and log the active sweep parent run's ``report.html``.

    Parameters
    ----------
    sweep
        The sweep's settings (metric, budget, space).
    trials
        Every finished trial (:meth:`recsys.tuning.SweepResult.frame`).
    best
        The best trial of the last rung.
    final
        The retrained best configuration's training run, with its champion decision.
    tune_seconds
        Wall time of the trials.

    Returns
    -------
    str
        The HTML logged.
    """
    run = mlflow.active_run()
    if run is None:
        raise RuntimeError("log_sweep_report needs an active MLflow run")
    metric = sweep.metric
    columns = _trial_columns(trials, metric)
    ordered = trials.sort(["rung", metric], descending=[True, True]).select(columns)
    test_value = final.results[0].metrics.get(metric, float("nan"))
    if final.champion_value is None:
        decision = ("no champion was measured on this test split: this model "
                    + ("became the champion" if final.promoted else "was not registered"))
    else:
        decision = "this model takes the alias champion" if final.promoted else "the old champion stays"
    figures, other_figures = embedded_figures(run_plots(run.info.run_id), SWEEP_FIGURES)
    stored = mlflow.MlflowClient().get_run(run.info.run_id)
    html = render(
        "sweep_report.html.j2",
        run_id=run.info.run_id,
        run_name=stored.info.run_name,
        dataset=stored.data.tags.get("dataset", ""),
        metric=metric,
        columns=columns,
        trials=ordered.rows(named=True),
        best_trial=best.trial,
        best_rung=best.rung,
        best_validation=best.metrics[metric],
        best_config=best.config.model_dump(mode="json"),
        test_value=test_value,
        champion_value=final.champion_value,
        promoted=final.promoted,
        decision=decision,
        final_run_id=final.run_id,
        n_trials=trials.height,
        n_configurations=trials["trial"].n_unique(),
        tune_seconds=tune_seconds,
        space={k: v for k, v in sweep.space.items()},
        settings=sweep.model_dump(mode="json", exclude={"space"}),
        figures=figures,
        other_figures=other_figures,
    )
    mlflow.log_text(html, REPORT_ARTIFACT)
    return html
