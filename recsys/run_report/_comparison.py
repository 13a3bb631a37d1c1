"""The comparison page: item2vec runs side by side, by window, dimension and quality.

``recsys compare`` renders it from the runs already in the store: single
training runs, a sweep's trials and its retrained best alike. One table has
every run's configuration and headline metrics (options that differ between
runs highlighted, the best value of each metric marked), a heatmap of the
headline metric over ``window`` x ``vector_size`` per dataset and split, and
the best run per dataset. The page is self-contained (plots embedded as
PNG data URIs, the run report's templates and style) and logged as the
artifact ``comparison.html`` of a small run of its own (tag
``method=comparison``) in the experiment ``comparisons``.
"""

from __future__ import annotations

import base64
import io
import math
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlflow
import polars as pl

from recsys import plots, tracking
from recsys.errors import RecsysError
from recsys.run_report._render import Figure, render
from recsys.runs_view import VIEW_PARAMS, view_metrics

__all__ = ["COMPARISON_ARTIFACT", "COMPARISON_EXPERIMENT", "ComparedRun", "Comparison", "compared_runs", "build_comparison", "log_comparison"]

COMPARISON_ARTIFACT = "comparison.html"
"""Artifact path of the page within the comparison run."""

COMPARISON_EXPERIMENT = "comparisons"
"""The experiment comparison runs are logged to by default."""

_NOT_OPTIONS = {"trial", "rung", "workers", "corpus"}
"""Bare params that are bookkeeping, not options a person compares by."""


@dataclass(frozen=True)
class ComparedRun:
    """One run as the comparison shows it."""

    run_id: str
    name: str
    dataset: str
    """The run's tag ``dataset``, else its experiment's name."""
    kind: str
    """``training``, ``sweep best`` (a sweep's retrained best) or ``sweep trial (rung N)``."""
    split: str
    """Where its headline metric was measured: ``test``, or ``validation`` for a sweep trial."""
    params: dict[str, str]
    """Its item2vec options (bare params)."""
    metrics: dict[str, float]
    started: int = 0
    """Start time, ms since the epoch."""


@dataclass(frozen=True)
class Comparison:
    """What the page shows: the runs, the columns, the best runs and the figures."""

    runs: list[ComparedRun]
    metric: str
    params: list[str]
    """Option columns: the view's options, then any other option that differs between runs."""
    metrics: list[str]
    differing: set[str]
    """Option columns whose values differ between runs."""
    usual: dict[str, str]
    """The most common value of each option column (cells that differ from it are highlighted)."""
    best: dict[str, str]
    """Run id of the best value of each metric column (the lowest ``train_seconds``)."""
    best_per_dataset: list[ComparedRun]
    figures: list[Figure] = field(default_factory=list)


def _kind(tags: dict[str, str]) -> tuple[str, str]:
    """What a run is and which cases scored it: an update is scored on its new data's held-out part,
    not comparable with the test split of a training on all the data."""
    if tags.get("update") == "true":
        return f"update (chain {tags.get('update.chain', '?')})", "new data"
    if tags.get("sweep_trial") == "true":
        return f"sweep trial (rung {tags.get('rung', '?')})", "validation"
    if tags.get("sweep_role") == "best":
        return "sweep best", "test"
    return "training", "test"


def compared_runs(
    *, experiment: str | None = None, run_ids: Sequence[str] = (), k: int = 10, tracking_uri: str | None = None
) -> list[ComparedRun]:
    """The item2vec runs to compare, best ``hr_at_k`` first.

    Parameters
    ----------
    tracking_uri
        The store (default: the project's, :func:`recsys.tracking.default_tracking_uri`).
    experiment
        Compare this experiment's runs.
    run_ids
        Compare these runs (they may come from several experiments).
    k
        The headline cut-off: runs without ``hr_at_k`` are left out.

    Without either, the experiment of the most recent run is compared.
    Runs without ``window``/``vector_size`` params or the headline metric
    (a sweep's parent run, selection candidates, baselines' evaluation runs,
    earlier comparisons) are left out.

    Raises
    ------
    RecsysError
        An unknown experiment or run id, or nothing to compare.
    """
    tracking.use_tracking_uri(tracking_uri)
    client = mlflow.MlflowClient()
    metric = f"hr_at_{k}"
    if run_ids:
        runs = []
        for run_id in run_ids:
            try:
                runs.append(client.get_run(run_id))
            except mlflow.exceptions.MlflowException:
                raise RecsysError(f"no run with id {run_id!r} in the store; copy run ids from the MLflow UI "
                                  "or leave --runs out to compare a whole experiment") from None
        where = f"runs {', '.join(run_ids)}"
    else:
        experiment_id, name = _experiment(client, experiment)
        runs = mlflow.search_runs(experiment_ids=[experiment_id], filter_string="tags.method = 'item2vec'",
                                  output_format="list")
        where = f"experiment {name!r}"
    names = {e: client.get_experiment(e).name for e in {r.info.experiment_id for r in runs}}
    compared = []
    for run in runs:
        params, metrics, tags = run.data.params, run.data.metrics, run.data.tags
        if tags.get("method", "item2vec") != "item2vec" or metric not in metrics:
            continue
        if "window" not in params or "vector_size" not in params:
            continue
        kind, split = _kind(tags)
        options = {k2: v for k2, v in params.items() if "." not in k2 and k2 not in _NOT_OPTIONS}
        compared.append(ComparedRun(
            run_id=run.info.run_id, name=run.info.run_name or run.info.run_id[:8],
            dataset=tags.get("dataset", names[run.info.experiment_id]),
            kind=kind, split=split, params=options, metrics=dict(metrics), started=run.info.start_time or 0,
        ))
    if not compared:
        raise RecsysError(f"nothing to compare in {where}: no item2vec run with window, vector_size and {metric}; "
                          "train some first (make demo, recsys train --set window=..., make sweep)")
    return sorted(compared, key=lambda r: (-r.metrics[metric], r.started))


def _experiment(client: mlflow.MlflowClient, name: str | None) -> tuple[str, str]:
    """The id and name of experiment ``name``, or of the most recent item2vec run's experiment."""
    if name is not None:
        found = client.get_experiment_by_name(name)
        if found is None or found.lifecycle_stage == "deleted":
            known = ", ".join(sorted(e.name for e in client.search_experiments())) or "none"
            raise RecsysError(f"no experiment named {name!r} in the store; experiments: {known}")
        return found.experiment_id, name
    latest = mlflow.search_runs(search_all_experiments=True, filter_string="tags.method = 'item2vec'",
                                order_by=["attributes.start_time DESC"], max_results=1, output_format="list")
    if not latest:
        raise RecsysError("nothing to compare: the store has no item2vec runs; train some first (make demo)")
    experiment_id = latest[0].info.experiment_id
    return experiment_id, client.get_experiment(experiment_id).name


def _png(figure: Any) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    plt.close(figure)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _heatmaps(runs: Sequence[ComparedRun], metric: str) -> list[Figure]:
    """One heatmap of ``metric`` over window x vector_size per dataset and split."""
    frame = pl.DataFrame(
        {"dataset": [r.dataset for r in runs], "split": [r.split for r in runs],
         "window": [int(r.params["window"]) for r in runs], "vector_size": [int(r.params["vector_size"]) for r in runs],
         metric: [r.metrics[metric] for r in runs]}
    )
    figures = []
    for (dataset, split), group in sorted(frame.group_by("dataset", "split"), key=lambda item: item[0]):
        figure = plots.heatmap_figure(group, metric)
        figure.axes[0].set_title(f"{dataset}, {split}: {metric}", fontsize=10)
        figures.append(Figure(
            f"{dataset}, {split} split",
            f"Best {metric} of the {group.height} run(s) in each cell; an empty cell was not tried.",
            _png(figure), f"heatmap_{dataset}_{split}.png",
        ))
    return figures


def build_comparison(runs: Sequence[ComparedRun], *, k: int = 10) -> Comparison:
    """Columns, highlights, best runs and figures for ``runs`` (as :func:`compared_runs` returns them)."""
    runs = list(runs)
    metric = f"hr_at_{k}"
    metrics = [m for m in view_metrics(k) if any(m in r.metrics for r in runs)]
    seen = sorted({p for r in runs for p in r.params})
    usual = {p: Counter(r.params.get(p, "") for r in runs).most_common(1)[0][0] for p in seen}
    differing = {p for p in seen if len({r.params.get(p, "") for r in runs}) > 1}
    params = [p for p in VIEW_PARAMS if p in seen] + [p for p in seen if p in differing and p not in VIEW_PARAMS]
    best = {}
    for name in metrics:
        scored = [r for r in runs if not math.isnan(r.metrics.get(name, math.nan))]
        if scored:
            pick = min if name == "train_seconds" else max
            best[name] = pick(scored, key=lambda r: r.metrics[name]).run_id
    best_per_dataset = []
    for dataset in sorted({r.dataset for r in runs}):
        candidates = [r for r in runs if r.dataset == dataset]
        tested = [r for r in candidates if r.split == "test"] or candidates
        best_per_dataset.append(max(tested, key=lambda r: r.metrics[metric]))
    return Comparison(runs=runs, metric=metric, params=params, metrics=metrics, differing=differing, usual=usual,
                      best=best, best_per_dataset=best_per_dataset, figures=_heatmaps(runs, metric))


def log_comparison(comparison: Comparison, *, out: Path, experiment_id: str | None = None) -> tuple[str, Path]:
    """Render the page, write it to ``out`` (whole or not at all) and log it to a new comparison run.

    Parameters
    ----------
    comparison
        What to show (:func:`build_comparison`).
    out
        Local file to write.
    experiment_id
        Where the comparison run goes; default: the experiment ``comparisons``
        (so that the datasets' runs tables hold runs of models only).

    Returns
    -------
    run_id, path
        The comparison run and the file written.
    """
    experiment_id = experiment_id or tracking.experiment_id(COMPARISON_EXPERIMENT)
    datasets = sorted({r.dataset for r in comparison.runs})
    with mlflow.start_run(experiment_id=experiment_id, run_name="comparison",
                          tags={"method": "comparison", "dataset": ", ".join(datasets)}) as run:
        html = render("comparison.html.j2", run_id=run.info.run_id, c=comparison, datasets=datasets)
        mlflow.log_params({"compared_runs": len(comparison.runs), "metric": comparison.metric})
        mlflow.log_text(html, COMPARISON_ARTIFACT)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        staging.write_text(html, encoding="utf-8")
        os.replace(staging, out)
    finally:
        staging.unlink(missing_ok=True)
    return run.info.run_id, out
