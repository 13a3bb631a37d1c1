"""Hyperparameter sweeps for item2vec: successive halving on a validation split.

A sweep draws configurations from a search space (grid or random), trains
each on a sample of the training sequences with few epochs, scores it on a
validation split carved from the training data (the test split never feeds
tuning), keeps the best ``1/eta`` and trains those longer, until the full
epoch budget. Every trial is a nested MLflow run under one parent run; the
best configuration is then retrained on all training data by the ordinary
pipeline, evaluated on the test split against the baselines and registered.
"""

from __future__ import annotations

import itertools
import math
import multiprocessing
import os
import signal
import tempfile
import time
import tomllib
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import polars as pl

from recsys import plots, run_report, tracking
from recsys.config import (
    Item2VecConfig,
    PipelineConfig,
    Relation,
    SweepConfig,
    load_pipeline_config,
    read_toml,
    validate_config,
)
from recsys.data.load import load_training_data
from recsys.data.split import next_item_pairs, random_split
from recsys.errors import ConfigError
from recsys.evaluation.cases import train_validation_split
from recsys.evaluation.methods import Item2VecMethod
from recsys.evaluation.protocol import evaluate_method
from recsys.item2vec import train
from recsys.pipeline import run_training
from recsys.results import TrainingResult, Trial
from recsys.selection import corpus_stats, resolve_defaults
from recsys.store import killed_on_interrupt, store_errors

__all__ = [
    "SweepConfig",
    "Trial",
    "SweepResult",
    "load_sweep_config",
    "sample_space",
    "halving_epochs",
    "run_sweep",
    "write_tuned_config",
]

def load_sweep_config(path: str | Path, *, overrides: list[str] | None = None) -> tuple[PipelineConfig, SweepConfig]:
    """Read a sweep TOML: pipeline sections plus ``[sweep]`` and ``[sweep.space]``.

    Raises
    ------
    ConfigError
        If the file or an option is invalid.
    """
    pipeline = load_pipeline_config(path, overrides=overrides, ignore_sections=("sweep",))
    sweep = validate_config(SweepConfig, read_toml(path).get("sweep", {}), source=str(path))
    for key, values in sweep.space.items():
        for value in values:
            validate_config(Item2VecConfig, {**pipeline.item2vec.model_dump(), key: value}, source=f"{path}: sweep.space.{key}")
    return pipeline, sweep


def sample_space(sweep: SweepConfig) -> list[dict[str, Any]]:
    """The configurations a sweep tries, as option dictionaries, in a seeded order.

    ``relation`` is not sampled: every trial scores each listed relation on
    the same vectors and keeps the better one.
    """
    keys = sorted(k for k in sweep.space if k != "relation")
    rng = np.random.default_rng(sweep.seed)
    sizes = [len(sweep.space[k]) for k in keys]
    total = math.prod(sizes)
    if total <= 200_000:
        combos = list(itertools.product(*(range(n) for n in sizes)))
        order = rng.permutation(len(combos))[: sweep.trials]
        chosen = [combos[i] for i in order]
    else:  # too many to list: draw distinct random combinations
        seen: set[tuple[int, ...]] = set()
        while len(seen) < sweep.trials:
            seen.add(tuple(int(rng.integers(n)) for n in sizes))
        chosen = sorted(seen)
    if sweep.strategy == "grid" and total <= sweep.trials:
        chosen = sorted(chosen)
    return [{k: sweep.space[k][i] for k, i in zip(keys, combo)} for combo in chosen]


def halving_epochs(full_epochs: int, n_configs: int, *, eta: int, min_epochs: int) -> list[int]:
    """Epochs per rung: the last rung trains ``full_epochs``, each earlier one ``1/eta`` as many.

    There are as many rungs as it takes to cut ``n_configs`` down to one, but
    no rung trains fewer than ``min_epochs`` epochs.
    """
    rungs = max(1, math.ceil(math.log(max(n_configs, 1), eta)) + 1)
    epochs = [max(min_epochs, math.ceil(full_epochs / eta ** (rungs - 1 - r))) for r in range(rungs)]
    return sorted(set(min(e, full_epochs) for e in epochs))


@dataclass(frozen=True)
class SweepResult:
    """The outcome of :func:`run_sweep`."""

    parent_run_id: str
    trials: list[Trial]
    best: Item2VecConfig
    best_validation: float
    """The best configuration's validation metric."""
    final: TrainingResult
    seconds: float

    def frame(self) -> pl.DataFrame:
        """Trials as a frame: trial, rung, the tuned options and the metrics."""
        return _trials_frame(self.trials)


# The trial worker state lives in module globals, set once per worker process.
_WORKER: dict[str, Any] = {}


def _init_worker(
    train_sequences: pl.DataFrame, pairs: pl.DataFrame, ks: tuple[int, ...], metric: str,
    relations: tuple[Relation, ...],
) -> None:
    _WORKER.update(train=train_sequences, pairs=pairs, ks=ks, metric=metric, relations=relations)
    signal.signal(signal.SIGINT, _exit_on_interrupt)  # Ctrl-C reaches every worker: no traceback from each


def _exit_on_interrupt(signum: int, frame: object) -> None:
    os._exit(130)


def _run_trial(config: Item2VecConfig) -> tuple[Relation, dict[str, float], float]:
    """Train once and score every relation on the validation pairs; return the best relation's metrics.

    The relations share the vectors, so trying both costs one evaluation, not
    one training; and they cannot be halved apart at a few epochs, where
    "next" (output vectors train slower) would lose before it catches up.
    """
    started = time.perf_counter()
    vectors = train(_WORKER["train"], config)
    scored = [
        (relation, evaluate_method(Item2VecMethod.from_vectors(vectors, relation=relation), _WORKER["pairs"],
                                   ks=_WORKER["ks"]).metrics)
        for relation in _WORKER["relations"]
    ]
    relation, metrics = max(scored, key=lambda pair: pair[1][_WORKER["metric"]])
    return relation, metrics, time.perf_counter() - started


def _trials_frame(trials: list[Trial]) -> pl.DataFrame:
    rows = [
        {"trial": t.trial, "rung": t.rung, **t.config.model_dump(), **t.metrics, "seconds": t.seconds}
        for t in trials
    ]
    return pl.DataFrame(rows) if rows else pl.DataFrame()


def _log_trial(
    client: mlflow.MlflowClient, experiment: str, parent: str, trial: Trial, extra: dict[str, Any], *, bare: set[str]
) -> None:
    """Log a trial as a nested run: validation metrics in the ``validation/`` chart section, ``bare`` ones also bare."""
    metrics = {**{f"validation/{k}": v for k, v in trial.metrics.items()},
               **{k: v for k, v in trial.metrics.items() if k in bare}, "trial_seconds": trial.seconds}
    tracking.log_child_run(
        client, experiment, parent,
        name=f"trial-{trial.trial:03d}-rung-{trial.rung}",
        tags={"method": "item2vec", "sweep_trial": "true", "rung": str(trial.rung), **extra},
        params={**trial.config.model_dump(mode="json"), "trial": trial.trial, "rung": trial.rung},
        metrics=metrics,
    )


def run_sweep(
    pipeline: PipelineConfig,
    sweep: SweepConfig,
    *,
    on_trial: Callable[[Trial], None] | None = None,
    on_stage: Callable[[str], None] | None = None,
) -> SweepResult:
    """Tune item2vec on the validation split, then retrain, test and register the best.

    Parameters
    ----------
    pipeline
        Data, split and base item2vec options; the space overrides the latter.
    sweep
        Search space and strategy.
    on_trial
        Called after each trial (progress).
    on_stage
        Called with a short description when a stage starts.

    Returns
    -------
    SweepResult
    """
    say = on_stage or (lambda _message: None)
    started = time.perf_counter()
    say(f"reading {pipeline.data.path}")
    prepared = load_training_data(pipeline)
    tune_train, validation = train_validation_split(
        prepared.train, validation_fraction=sweep.validation_fraction, seed=sweep.seed
    )
    if sweep.sample_fraction < 1.0:
        _, tune_train = random_split(tune_train, test_fraction=sweep.sample_fraction, seed=sweep.seed + 1)
    pairs = next_item_pairs(validation).select("query_id", "target_id")
    k_needed = int(sweep.metric.rpartition("_at_")[2])
    headline_k = pipeline.evaluation.headline_k
    ks = tuple(sorted({*pipeline.evaluation.ks, k_needed}))

    stats = corpus_stats(prepared.train)
    configs = [  # options neither the space nor the config sets: the data-adaptive rules'
        resolve_defaults(
            validate_config(Item2VecConfig, {**pipeline.item2vec.model_dump(exclude_none=True), **options,
                                             "workers": 1}),
            stats,
        )
        for options in sample_space(sweep)
    ]
    tracking.use_tracking_uri(pipeline.tracking.tracking_uri)
    experiment = tracking.experiment_id(pipeline.tracking.experiment or pipeline.data.name)
    client = mlflow.MlflowClient()
    parent = client.create_run(
        experiment,
        run_name=f"sweep-{pipeline.data.name}",
        tags={"method": "item2vec", "sweep": "true", "sweep_trial": "false", "dataset": pipeline.data.name,
              "git_commit": tracking.git_commit() or "unknown"},
    )
    parent_id = parent.info.run_id
    client.log_batch(parent_id, params=[
        mlflow.entities.Param(k, str(v)) for k, v in {
            **{f"sweep.{k}": v for k, v in sweep.model_dump(mode="json", exclude={"space"}).items()},
            **{f"space.{k}": v for k, v in sweep.space.items()},
            "sweep.tune_sequences": tune_train.height, "sweep.validation_pairs": pairs.height,
        }.items()
    ])

    with killed_on_interrupt(parent_id), store_errors():
        trials = _search(configs, sweep, tune_train, pairs, ks, started,
                         log=lambda t: (_log_trial(client, experiment, parent_id, t, {"dataset": pipeline.data.name},
                                                   bare={sweep.metric, *tracking.headline_metrics(t.metrics, headline_k)}),
                                        on_trial and on_trial(t)),
                         say=say)
        best = _best(trials, sweep.metric)
        frame = _trials_frame(trials)
        tune_seconds = time.perf_counter() - started

        say(f"retraining the best configuration on all {prepared.counts['train_sequences']:,} training sequences")
        final_config = pipeline.model_copy(update={
            "item2vec": best.config.model_copy(update={"workers": pipeline.item2vec.workers}),
            "selection": pipeline.selection.model_copy(update={"auto": False}),  # the sweep has chosen
        })
        final = run_training(final_config, on_stage=say, prepared=prepared,
                             tags={"mlflow.parentRunId": parent_id, "sweep_role": "best"})
        _log_parent(client, parent_id, frame, best, final, sweep, tune_seconds)
    return SweepResult(parent_run_id=parent_id, trials=trials, best=final_config.item2vec,
                       best_validation=best.metrics[sweep.metric], final=final,
                       seconds=time.perf_counter() - started)


def _search(
    configs: list[Item2VecConfig],
    sweep: SweepConfig,
    tune_train: pl.DataFrame,
    pairs: pl.DataFrame,
    ks: tuple[int, ...],
    started: float,
    *,
    log: Callable[[Trial], Any],
    say: Callable[[str], None],
) -> list[Trial]:
    """Successive halving over ``configs``; returns every finished trial."""
    deadline = started + sweep.budget_minutes * 60
    workers = sweep.parallel or os.cpu_count() or 1
    trials: list[Trial] = []
    alive = list(enumerate(configs))
    full_epochs = max(c.epochs for c in configs)
    rungs = halving_epochs(full_epochs, len(configs), eta=sweep.eta, min_epochs=sweep.min_epochs)
    context = multiprocessing.get_context("spawn")  # polars' thread pool does not survive fork
    width = min(workers, len(configs))
    relations = tuple(sweep.space.get("relation", ("similar", "next")))
    with ProcessPoolExecutor(max_workers=width, mp_context=context, initializer=_init_worker,
                             initargs=(tune_train, pairs, ks, sweep.metric, relations)) as pool:
        for rung, rung_epochs in enumerate(rungs):
            say(f"rung {rung + 1}/{len(rungs)}: {len(alive)} configurations, "
                f"{rung_epochs if rung < len(rungs) - 1 else 'full'} epochs")
            rung_trials = _run_rung(pool, width, alive, rung_epochs if rung < len(rungs) - 1 else None,
                                    rung, deadline, log)
            trials += rung_trials
            if time.perf_counter() > deadline or not rung_trials:
                say("time budget reached")
                break
            keep = max(1, math.ceil(len(rung_trials) / sweep.eta))
            ranked = sorted(rung_trials, key=lambda t: -t.metrics[sweep.metric])[:keep]
            alive = [(t.trial, configs[t.trial]) for t in ranked]
    if not trials:
        raise ConfigError("the sweep finished no trial within its budget; raise budget_minutes")
    return trials


def _run_rung(
    pool: ProcessPoolExecutor,
    width: int,
    alive: list[tuple[int, Item2VecConfig]],
    rung_epochs: int | None,
    rung: int,
    deadline: float,
    log: Callable[[Trial], Any],
) -> list[Trial]:
    """Train one rung, at most ``width`` trials at a time, none started after ``deadline``.

    ``rung_epochs`` caps each configuration's epochs (None: its own epochs).
    """
    pending: dict[Future[tuple[Relation, dict[str, float], float]], tuple[int, Item2VecConfig]] = {}
    queue = list(alive)
    finished: list[Trial] = []
    while queue or pending:
        while queue and len(pending) < width and time.perf_counter() < deadline:
            index, config = queue.pop(0)
            trial_config = config
            if rung_epochs is not None:
                trial_config = config.model_copy(update={"epochs": min(rung_epochs, config.epochs)})
            pending[pool.submit(_run_trial, trial_config)] = (index, trial_config)
        if not pending:
            break
        done, _ = wait(pending, return_when=FIRST_COMPLETED)
        for future in done:
            index, trial_config = pending.pop(future)
            relation, metrics, seconds = future.result()
            trial = Trial(trial=index, rung=rung, config=trial_config.model_copy(update={"relation": relation}),
                          metrics=metrics, seconds=seconds)
            finished.append(trial)
            log(trial)
    return finished


def _best(trials: list[Trial], metric: str) -> Trial:
    """The best trial of the highest rung any configuration reached."""
    top_rung = max(t.rung for t in trials)
    return max((t for t in trials if t.rung == top_rung), key=lambda t: t.metrics[metric])


def _log_parent(
    client: mlflow.MlflowClient,
    parent_id: str,
    frame: pl.DataFrame,
    best: Trial,
    final: TrainingResult,
    sweep: SweepConfig,
    tune_seconds: float,
) -> None:
    test = final.results[0].metrics
    with mlflow.start_run(run_id=parent_id):
        mlflow.log_params({f"best.{k}": v for k, v in best.config.model_dump(mode="json").items()})
        # the two numbers a sweep is judged by; the retrained run (sweep_role=best) has all the test metrics
        mlflow.log_metrics({
            f"best_validation_{sweep.metric}": best.metrics[sweep.metric],
            f"test_{sweep.metric}": test.get(sweep.metric, float("nan")),
            "trials_finished": float(len(frame)),
            "tune_seconds": tune_seconds,
        })
        mlflow.set_tags({
            "best_trial": str(best.trial),
            "best_run_id": final.run_id,
            "mlflow.note.content": (
                f"sweep of {len(frame)} trials; best validation {sweep.metric}={best.metrics[sweep.metric]:.4f} "
                f"(window={best.config.window}, vector_size={best.config.vector_size}, "
                f"ns_exponent={best.config.ns_exponent}); test {sweep.metric}={test.get(sweep.metric, float('nan')):.4f}"
            ),
        })
        first_rung = frame.filter(pl.col("rung") == 0)
        if first_rung["window"].n_unique() * first_rung["vector_size"].n_unique() > 1:
            tracking.log_figure(plots.heatmap_figure(first_rung, sweep.metric), "plots/heatmap_window_vector_size.png")
        if first_rung["ns_exponent"].n_unique() > 1:
            tracking.log_figure(plots.metric_vs_param_figure(first_rung, sweep.metric, "ns_exponent"),
                                "plots/metric_vs_ns_exponent.png")
        tracking.log_figure(plots.projection_figure(final.vectors, final.data.metadata), "plots/item_map.png")
        with tempfile.TemporaryDirectory() as staging:
            trials_csv = Path(staging) / "trials.csv"
            frame.write_csv(trials_csv)
            mlflow.log_artifact(str(trials_csv), "sweep")
        run_report.log_sweep_report(sweep, frame, best, final, tune_seconds=tune_seconds)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_tuned_config(path: str | Path, *, sweep_config: str | Path, result: SweepResult, metric: str) -> Path:
    """Write a pipeline TOML with the sweep's best item2vec options.

    The file ``extends`` the dataset config that the sweep config extends
    (or, without one, nothing), so it trains on the same data and split;
    it is written to a temporary file and renamed into place.

    Returns
    -------
    pathlib.Path
        The file written.
    """
    target = Path(path)
    sweep_path = Path(sweep_config)
    base = tomllib.loads(sweep_path.read_text(encoding="utf-8")).get("extends")
    lines = [
        f"# Tuned by `recsys sweep --config {sweep_path}` (MLflow parent run {result.parent_run_id}).",
        f"# Validation {metric}: {result.best_validation:.4f}; test {metric} after retraining: "
        f"{result.final.results[0].metrics.get(metric, float('nan')):.4f}.",
    ]
    if base:
        relative = os.path.relpath((sweep_path.parent / base).resolve(), target.resolve().parent)
        lines.append(f'extends = "{relative}"')
    lines += ["", "[item2vec]"]
    lines += [f"{key} = {_toml_value(value)}" for key, value in result.best.model_dump(mode="json").items()]
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f".{target.name}.tmp")
    staging.write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.replace(staging, target)
    return target
