"""MLflow tracking: what runs log (the model they log and the champion alias are :mod:`recsys.registry`'s,
re-exported here).

The default store is SQLite at ``mlruns/mlflow.db`` with artifacts under
``mlruns/artifacts``, relative to the working directory;
``MLFLOW_TRACKING_URI`` overrides it. Where models are found again
(:func:`local_model_dir`, the store's URI, the artifact names) is
:mod:`recsys.model_store`, re-exported here.
"""

from __future__ import annotations

import math
import re
import subprocess
import time
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import mlflow
import polars as pl

from recsys.config import Item2VecConfig, PipelineConfig
from recsys.data.digest import file_digest
from recsys.data.prepare import PreparedSequences
from recsys.errors import TrackingStoreError
from recsys.evaluation.protocol import MethodResult
from recsys.item2vec import EpochReport
from recsys.model_store import (
    ARTIFACT_ROOT_ENV,
    artifact_root,
    default_tracking_uri,
    ModelSource,
    latest_version,
    local_model_dir,
    model_source,
    open_tracking_store,
    registered_version,
    use_tracking_uri,
)
from recsys.plots import loss_figure
from recsys.ranking import Ranking
from recsys.registry import log_ann_report, log_ann_reports, log_model, promote_champion
from recsys.runs_view import (
    BEST_BASELINE_PREFIX,
    experiment_description,
    save_runs_view,
)
from recsys.selection import Selection
from recsys.store import store_errors, store_lock

__all__ = [
    "HEADLINE_FAMILIES",
    "HEADLINE_SECTION",
    "headline_metrics",
    "experiment_description",
    "default_tracking_uri",
    "open_tracking_store",
    "use_tracking_uri",
    "experiment_id",
    "file_digest",
    "log_config",
    "ModelSource",
    "model_source",
    "log_dataset",
    "log_results",
    "log_prepared",
    "log_protocol_results",
    "log_epochs",
    "log_figure",
    "log_model",
    "log_ann_report",
    "log_ann_reports",
    "log_ranking",
    "local_model_dir",
    "registered_version",
    "promote_champion",
    "latest_version",
    "git_commit",
    "artifact_root",
    "ARTIFACT_ROOT_ENV",
]

HEADLINE_FAMILIES = ("hr", "ndcg", "mrr", "coverage")
"""Metric families logged bare at the headline k (``hr_at_10``...): the run's headline.

Every other metric name has a section prefix ending in ``/`` (``popular/hr_at_20``,
``data/n_items``), which is how the MLflow UI groups a run's charts into sections;
the bare names land in its "Model metrics" section, which it always shows last, so a
training run logs its headline once more in :data:`HEADLINE_SECTION`, which it shows first.
"""

HEADLINE_SECTION = "_headline/"
"""The chart section of the headline's copy: MLflow sorts sections by name, "_" before any letter."""


def headline_metrics(metrics: Mapping[str, float], k: int) -> dict[str, float]:
    """The headline subset of ``metrics``: ``hr_at_k``, ``ndcg_at_k``, ``mrr_at_k``, ``coverage_at_k``."""
    names = (f"{family}_at_{k}" for family in HEADLINE_FAMILIES)
    return {name: metrics[name] for name in names if name in metrics}


def experiment_id(name: str, *, headline_k: int = 10) -> str:
    """Return the id of experiment ``name``, creating it (artifacts beside the store) if needed.

    The experiment gets a description (:func:`experiment_description`) if it has none, and the
    item2vec view of its runs table at ``headline_k`` (:func:`recsys.runs_view.save_runs_view`).
    """
    client = mlflow.MlflowClient()
    uri = mlflow.get_tracking_uri()
    with store_errors(uri), store_lock(uri, f"experiment:{name}"):  # two first runs must not both create it
        existing = client.get_experiment_by_name(name)
        if existing is not None and existing.lifecycle_stage == "deleted":
            raise TrackingStoreError(
                uri, f"experiment {name!r} is deleted",
                f"restore it (MLflow UI, or mlflow experiments restore --experiment-id {existing.experiment_id}) "
                "or log under another name (--name, tracking.experiment)")
        if existing is not None:
            if "mlflow.note.content" not in existing.tags:
                client.set_experiment_tag(existing.experiment_id, "mlflow.note.content", experiment_description(name))
            save_runs_view(existing.experiment_id, k=headline_k, client=client)
            return existing.experiment_id
        root = artifact_root(uri)
        if root is None and re.match(r"^(postgres|mysql|mssql)", uri):
            warnings.warn(f"experiment {name!r} keeps its artifacts (models) in ./mlruns on this machine only; "
                          f"set {ARTIFACT_ROOT_ENV} to a location every machine of the team reaches", UserWarning)
        location = f"{root}/{name}" if root else None
        try:
            # "custom_model_development" makes the MLflow UI open on training runs rather than GenAI traces
            created_id = client.create_experiment(
                name,
                artifact_location=location,
                tags={"mlflow.experimentKind": "custom_model_development",
                      "mlflow.note.content": experiment_description(name)},
            )
            save_runs_view(created_id, k=headline_k, client=client)
            return created_id
        except mlflow.exceptions.MlflowException:  # another process created it meanwhile (no lock on a server)
            created = client.get_experiment_by_name(name)
            if created is None:
                raise
            return created.experiment_id


def git_commit() -> str | None:
    """The git commit of the code, if it runs from a git checkout."""
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() or None if result.returncode == 0 else None


def _flatten(config: PipelineConfig, *, exclude: tuple[str, ...] = ()) -> dict[str, Any]:
    """Config as MLflow params: item2vec options bare (``window``), others dotted; ``exclude`` sections left out."""
    params: dict[str, Any] = {}
    for section, values in config.model_dump(mode="json", exclude=set(exclude)).items():
        for key, value in values.items():
            name = key if section == "item2vec" else f"{section}.{key}"
            params[name] = "None" if value is None else value
    return params


def log_config(config: PipelineConfig, *, exclude: tuple[str, ...] = ()) -> None:
    """Log every config field as a param, so ``window`` and ``vector_size`` are UI columns.

    ``exclude`` names sections left out (``item2vec`` in a baseline's run).
    """
    mlflow.log_params(_flatten(config, exclude=exclude))


def log_dataset(
    config: PipelineConfig,
    *,
    counts: Mapping[str, int],
    train_sequences: pl.DataFrame,
    digest: str | None = None,
) -> str:
    """Log the dataset (name, path, content digest) as a run input and its counts as metrics
    (``data/n_events``, ``data/n_items``...).

    ``digest`` is the input file's content digest when already computed
    (hashing a large file twice costs seconds).

    Returns
    -------
    str
        The content digest of the input file.
    """
    digest = digest or file_digest(config.data.path)
    sample = train_sequences.head(1000).with_columns(pl.col("items").list.join(" "))
    with warnings.catch_warnings():  # MLflow warns that a local path fits two source types
        warnings.simplefilter("ignore", UserWarning)
        dataset = mlflow.data.from_polars(
            sample, source=str(config.data.path.resolve()), name=config.data.name, digest=digest
        )
    try:
        mlflow.log_input(dataset, context="training")
    except mlflow.exceptions.MlflowException:
        # MLflow inserts a dataset's row when it is absent: two runs logging the same dataset at once
        # (concurrent sweeps on one PostgreSQL store) race on it, and the loser fails; now the row exists
        time.sleep(0.5)
        mlflow.log_input(dataset, context="training")
    mlflow.set_tags({"dataset": config.data.name, "dataset.digest": digest, "dataset.path": str(config.data.path)})
    mlflow.log_metrics({f"data/n_{key}": float(value) for key, value in counts.items()})
    return digest


def log_prepared(sources: Iterable[PreparedSequences]) -> None:
    """Tag the run with the cached sequences files it read: cache key, path and hit or miss.

    One source gives ``sequences.cache_key``, ``sequences.path`` and
    ``sequences.cache`` (``hit``/``miss``); a second (a test file) the same
    under ``test_sequences.``.
    """
    for prefix, source in zip(("sequences", "test_sequences"), sources):
        mlflow.set_tags(
            {
                f"{prefix}.cache_key": source.key,
                f"{prefix}.path": str(source.path),
                f"{prefix}.cache": "hit" if source.cache_hit else "miss",
            }
        )


def log_results(results: Iterable[MethodResult], *, primary: str, headline_k: int) -> None:
    """Log every method's metrics in a chart section of its own (``item2vec-next/hr_at_20``,
    ``popular/ndcg_at_10``, ``popular/eval_seconds``), the ``primary`` method's
    headline metrics at ``headline_k`` bare (``hr_at_10``, see :data:`HEADLINE_FAMILIES`) and in
    :data:`HEADLINE_SECTION`,
    and the best baseline's HR at ``headline_k`` as ``baselines/best_hr_at_10`` (tag
    ``best_baseline`` names it; a baseline is a method whose name does not start with ``item2vec``)."""
    results = list(results)
    metrics: dict[str, float] = {}
    for result in results:
        metrics.update(_result_metrics(result, f"{result.method}/"))
        if result.method == primary:
            headline = headline_metrics(result.metrics, headline_k)
            metrics.update({**headline, **{HEADLINE_SECTION + name: v for name, v in headline.items()}})
    hr = f"hr_at_{headline_k}"
    baselines = [r for r in results if not r.method.startswith("item2vec") and not math.isnan(r.metrics.get(hr, math.nan))]
    if baselines:
        best = max(baselines, key=lambda r: r.metrics[hr])
        metrics[f"{BEST_BASELINE_PREFIX}{hr}"] = best.metrics[hr]
        mlflow.set_tag("best_baseline", best.method)
    mlflow.log_metrics(metrics)  # one batch


def log_protocol_results(results: Iterable[MethodResult], *, primary: str, headline_k: int) -> None:
    """Log one method's metrics under several protocols to the active run.

    Every protocol's metrics go to a chart section of its own
    (``next_item/hr_at_20``, ``session/ndcg_at_10``); the ``primary``
    protocol's headline metrics at ``headline_k`` are also bare
    (``hr_at_10``). Each protocol's cases digest is a tag
    (``eval_cases_digest`` for the primary, ``session.eval_cases_digest``),
    equal in the runs of every method evaluated on the same cases.
    """
    for result in results:
        mlflow.log_metrics(_result_metrics(result, f"{result.protocol}/"))
        if result.protocol == primary:
            mlflow.log_metrics(headline_metrics(result.metrics, headline_k))
        mlflow.set_tag("eval_cases_digest" if result.protocol == primary else f"{result.protocol}.eval_cases_digest",
                       result.cases_digest)


def _result_metrics(result: MethodResult, prefix: str) -> dict[str, float]:
    """A result's metrics, evaluation time and case counts, names prefixed."""
    metrics = {f"{prefix}{name}": value for name, value in result.metrics.items()}
    metrics[f"{prefix}eval_seconds"] = result.seconds
    metrics[f"{prefix}eval_unknown_pairs"] = float(result.n_unknown)
    metrics[f"{prefix}eval_pairs"] = float(result.n_pairs)
    return metrics


def log_child_run(
    client: mlflow.MlflowClient,
    experiment: str,
    parent: str,
    *,
    name: str,
    tags: Mapping[str, str],
    params: Mapping[str, Any],
    metrics: Mapping[str, float],
) -> str:
    """Log a finished run nested under run ``parent`` (a sweep trial, a selection candidate) in one batch.

    Returns
    -------
    str
        The new run's id.
    """
    run = client.create_run(experiment, run_name=name, tags={"mlflow.parentRunId": parent, **tags})
    timestamp = int(time.time() * 1000)
    client.log_batch(
        run.info.run_id,
        metrics=[mlflow.entities.Metric(k, float(v), timestamp, 0) for k, v in metrics.items()],
        params=[mlflow.entities.Param(k, str(v)) for k, v in params.items()],
    )
    client.set_terminated(run.info.run_id)
    return run.info.run_id


def log_item2vec_config(config: Item2VecConfig) -> None:
    """Log the item2vec options actually trained with as bare params (``window``, ``epochs``...)."""
    mlflow.log_params({k: "None" if v is None else v for k, v in config.model_dump(mode="json").items()})


def log_selection(selection: Selection, *, metric: str) -> None:
    """Log how item2vec's configuration was chosen to the active run.

    Each candidate becomes a nested run (tag ``selection_candidate``, its
    options as params, validation metrics under ``validation/``, its cost
    in trainings). The active run gets the corpus statistics
    (``corpus/...``), each candidate's selection score
    (``selection/<candidate>_score``; the tag ``selection.metric`` names it,
    ``metric``), the wall time and the candidates' cost in final trainings
    (``selection/seconds``, ``selection/trainings``), the budget they had in
    final trainings and the share of the training part they trained on
    (``selection/budget_trainings``, ``selection/sample_fraction``), the tag
    ``selection.chosen`` and, when every candidate failed the collapse
    guard, ``selection.collapse`` with the chosen one's reasons.
    """
    run = mlflow.active_run()
    assert run is not None, "log_selection needs an active run"
    client = mlflow.MlflowClient()
    for candidate in selection.candidates:
        log_child_run(
            client, run.info.experiment_id, run.info.run_id,
            name=f"candidate-{candidate.name}",
            tags={"method": "item2vec", "selection_candidate": "true", "candidate": candidate.name,
                  "collapse": str(candidate.collapse.collapsed).lower(),
                  "chosen": str(candidate is selection.chosen).lower()},
            params=candidate.config.model_dump(mode="json"),
            metrics={**{f"validation/{k}": v for k, v in candidate.metrics.items()},
                     "train_seconds": candidate.train_seconds, "selection/trainings": candidate.cost},
        )
    metrics = {f"corpus/{k}": float(v) for k, v in selection.stats.as_dict().items()}
    metrics.update({f"selection/{c.name}_score": c.score for c in selection.candidates})
    if selection.candidates:
        metrics.update({"selection/seconds": selection.seconds, "selection/trainings": selection.spent})
    if selection.candidates and selection.parts is not None:
        metrics.update({"selection/budget_trainings": selection.parts.budget,
                        "selection/sample_fraction": selection.parts.fraction})
    mlflow.log_metrics(metrics)
    tags = {"selection.chosen": selection.chosen.name if selection.chosen else f"rules ({selection.note})",
            "selection.metric": metric}
    if selection.collapsed:
        tags["selection.collapse"] = "; ".join(selection.chosen.collapse.reasons)
    mlflow.set_tags(tags)


def log_ranking(ranking: Ranking) -> None:
    """Log the ranking stage to the active run.

    Metrics under ``ranking/``: each kind of query's fitted weights
    (``ranking/item.share_weight``...) and those of its evidence-only blend
    (``ranking/item.evidence.after_weight``), the mean log-likelihood of
    the validation next items under the blend and under the vectors alone
    (``ranking/item.log_likelihood``, ``..._vectors``), the cases fitted on,
    the validation scores that chose between them
    (``ranking/item.ranker_score``, ``ranking/item.vectors_score``), and the
    size of the saved evidence (``ranking/evidence_mb``). Tags
    ``ranking.item`` and ``ranking.session`` name the ranking each kind of
    query uses by default (``ranker`` or ``vectors``).
    """
    metrics: dict[str, float] = {"ranking/evidence_mb": ranking.evidence.nbytes / 2**20}
    for kind, blend in ranking.blends.items():
        metrics.update({f"ranking/{kind}.{signal}_weight": w for signal, w in blend.by_signal.items()})
        metrics[f"ranking/{kind}.n_cases"] = float(blend.n_cases)
        for name in ("log_likelihood", "log_likelihood_vectors"):
            if not math.isnan(getattr(blend, name)):
                metrics[f"ranking/{kind}.{name}"] = getattr(blend, name)
    for kind, blend in ranking.evidence_blends.items():
        metrics.update({f"ranking/{kind}.evidence.{signal}_weight": w for signal, w in blend.by_signal.items()
                        if signal != "vector"})
    for name, value in ranking.validation.items():
        kind, _, what = name.partition("/")
        metrics[f"ranking/{kind}.{what}"] = value
    mlflow.log_metrics(metrics)
    mlflow.set_tags({f"ranking.{kind}": ranking.default(kind) for kind in ("item", "session")})


def log_figure(figure: Any, path: str) -> None:
    """Log a matplotlib figure as an artifact of the active run and close it."""
    import matplotlib.pyplot as plt

    mlflow.log_figure(figure, path)
    plt.close(figure)


def log_epochs(reports: Iterable[EpochReport]) -> None:
    """Log per-epoch loss, time and words/s as step metrics (``training/loss``,
    ``training/epoch_seconds``, ``training/words_per_second``), and a loss plot.

    With several workers there is no loss (NaN, see :class:`EpochReport`):
    only time and throughput are logged, and no plot.
    """

    reports = list(reports)
    timestamp = int(time.time() * 1000)
    metrics = []
    for report in reports:
        values = {"training/epoch_seconds": report.seconds, "training/words_per_second": report.words_per_second}
        if not math.isnan(report.loss):
            values["training/loss"] = report.loss
        metrics += [mlflow.entities.Metric(key, float(value), timestamp, report.epoch) for key, value in values.items()]
    if metrics:  # one batch, one transaction: an epoch at a time cost about 18 ms each on a SQLite store
        run = mlflow.active_run() or mlflow.start_run()  # as mlflow.log_metrics does without one
        mlflow.MlflowClient().log_batch(run.info.run_id, metrics=metrics)
    if reports and not any(math.isnan(r.loss) for r in reports):
        log_figure(loss_figure(reports), "plots/loss.png")
