"""The batch training pipeline: read, sessionize, split, train, evaluate, log.

:func:`prepare` turns the configured input into leak-free training and test
sequences; :func:`run_training` trains item2vec on them, evaluates it against
the baselines on the same pairs, logs everything to MLflow and registers the
model.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import mlflow
import polars as pl

from recsys.config import DataConfig, PipelineConfig, SessionConfig
from recsys.data.readers import read_events, read_metadata, read_mpd, read_playlists
from recsys.data.sessions import prune_rare_items, sessionize
from recsys.data.split import next_item_pairs, random_split, time_split
from recsys.data._schema import check_sequences
from recsys.errors import ConfigError
from recsys.evaluation.baselines import make_baseline
from recsys.evaluation.methods import Item2VecMethod
from recsys.evaluation.protocol import MethodResult, evaluate_methods
from recsys.item2vec import EpochReport, ItemVectors, train
from recsys import tracking
from recsys.plots import metric_at_k_figure

__all__ = ["PreparedData", "TrainingResult", "prepare", "run_training"]


@dataclass(frozen=True)
class PreparedData:
    """Training and test sequences of one dataset, ready for training."""

    train: pl.DataFrame
    """Training sequences (rare items pruned)."""
    test: pl.DataFrame
    """Held-out test sequences."""
    metadata: pl.DataFrame | None
    """Item metadata, if the input has some."""
    counts: dict[str, int]
    """Events, sequences, train/test sequences and items, for logging."""


@dataclass(frozen=True)
class TrainingResult:
    """What a training run produced."""

    run_id: str
    vectors: ItemVectors
    results: list[MethodResult]
    model_uri: str | None
    promoted: bool
    """Whether the registered version became the ``champion``."""
    champion_value: float | None
    """The previous champion's headline metric on the same test split, if any."""
    train_seconds: float
    data: PreparedData


def _read_events(data: DataConfig) -> pl.LazyFrame:
    return read_events(
        data.path,
        user_column=data.user_column,
        item_column=data.item_column,
        time_column=data.time_column,
        time_unit=data.time_unit,
        separator=data.separator,
    )


def _sessionize(events: pl.LazyFrame | pl.DataFrame, sessions: SessionConfig) -> pl.DataFrame:
    return sessionize(
        events,
        gap_minutes=sessions.gap_minutes,
        drop_repeats=sessions.drop_repeats,
        max_length=sessions.max_length,
    )


def prepare(config: PipelineConfig) -> PreparedData:
    """Read the input, build sequences and split them into train and test.

    Raises
    ------
    DataError
        If the input breaks its contract.
    ConfigError
        If the split method does not fit the input format.
    """
    data, split = config.data, config.split
    metadata = read_metadata(data.metadata, format=data.metadata_format, id_column=data.metadata_id_column) if data.metadata else None
    counts: dict[str, int] = {}
    if split.method == "time":
        if data.format != "events":
            raise ConfigError(
                f"split.method='time' needs timestamps, but data.format is {data.format!r}; "
                "use split.method='random' or events input"
            )
        events = _read_events(data).collect()
        counts["events"] = events.height
        train_events, test_events = time_split(events, test_fraction=split.test_fraction)
        train_seqs = _sessionize(train_events, config.sessions)
        test_seqs = _sessionize(test_events, config.sessions)
        sequences_count = train_seqs.height + test_seqs.height
    else:
        if data.format == "playlists":
            sequences = read_playlists(data.path, skip_lines=data.skip_lines)
        elif data.format == "mpd":
            sequences, mpd_metadata = read_mpd(data.path)
            metadata = metadata if metadata is not None else mpd_metadata
        else:
            events = _read_events(data)
            counts["events"] = events.select(pl.len()).collect().item()
            sequences = check_sequences(_sessionize(events, config.sessions), source=data.path)
        sequences_count = sequences.height
        train_seqs, test_seqs = random_split(sequences, test_fraction=split.test_fraction, seed=split.seed)
    train_seqs = check_sequences(
        prune_rare_items(train_seqs, min_item_count=data.min_item_count), source=data.path
    )
    counts.update(
        sequences=sequences_count,
        train_sequences=train_seqs.height,
        test_sequences=test_seqs.height,
        items=train_seqs.select(pl.col("items").explode().n_unique()).item(),
    )
    counts.setdefault("events", int(train_seqs["items"].list.len().sum() + test_seqs["items"].list.len().sum()))
    return PreparedData(train=train_seqs, test=test_seqs, metadata=metadata, counts=counts)


def run_training(
    config: PipelineConfig,
    *,
    on_epoch: Callable[[EpochReport], None] | None = None,
    on_stage: Callable[[str], None] | None = None,
    tags: dict[str, str] | None = None,
    prepared: PreparedData | None = None,
) -> TrainingResult:
    """Run the whole pipeline and log it as one MLflow run.

    Parameters
    ----------
    config
        The pipeline configuration.
    on_epoch
        Called after each training epoch (progress bars).
    on_stage
        Called with a short description when a stage starts.
    tags
        Extra run tags (``mlflow.parentRunId`` nests the run under a sweep).
    prepared
        The output of :func:`prepare` for this config, if already at hand.

    Returns
    -------
    TrainingResult
    """
    say = on_stage or (lambda _message: None)
    if prepared is None:
        say(f"reading {config.data.path}")
        prepared = prepare(config)
    pairs = next_item_pairs(prepared.test)

    tracking.use_tracking_uri(config.tracking.tracking_uri)
    experiment = tracking.experiment_id(config.tracking.experiment or config.data.name)
    run_tags = {"method": "item2vec", "git_commit": tracking.git_commit() or "unknown", "sweep_trial": "false"}
    with mlflow.start_run(experiment_id=experiment, tags={**run_tags, **(tags or {})}) as run:
        tracking.log_config(config)
        tracking.log_dataset(config, counts=prepared.counts, train_sequences=prepared.train)

        say(f"training item2vec on {prepared.counts['train_sequences']:,} sequences")
        started = time.perf_counter()
        vectors = train(prepared.train, config.item2vec, on_epoch=on_epoch)
        train_seconds = time.perf_counter() - started
        mlflow.log_metric("train_seconds", train_seconds)
        tracking.log_epochs(vectors.epochs)

        say(f"evaluating on {len(pairs):,} next-item pairs")
        methods = [Item2VecMethod.from_vectors(vectors)]
        methods += [make_baseline(name).fit(prepared.train) for name in config.evaluation.baselines]
        results = evaluate_methods(
            methods,
            pairs,
            ks=config.evaluation.ks,
            n_catalogue=len(vectors),
            batch_size=config.evaluation.batch_size,
        )
        tracking.log_results(results)
        tracking.log_figure(metric_at_k_figure(results), "plots/metric_at_k.png")
        headline = results[0].metrics
        k = min(config.evaluation.ks)
        mlflow.set_tag(
            "mlflow.note.content",
            f"item2vec on {config.data.name}: hr_at_{k}={headline[f'hr_at_{k}']:.4f}, "
            f"ndcg_at_{k}={headline[f'ndcg_at_{k}']:.4f}; window={config.item2vec.window}, "
            f"vector_size={config.item2vec.vector_size}, epochs={config.item2vec.epochs}",
        )
        model_uri, promoted, champion_value = None, False, None
        if config.tracking.log_model:
            say("logging the model to MLflow")
            registered = config.tracking.registered_model
            model_uri = tracking.log_model(vectors, metadata=prepared.metadata, registered_model=registered)
            if registered:
                promoted, champion_value = tracking.promote_champion(registered, run.info.run_id, metric=f"hr_at_{k}")
    return TrainingResult(
        run_id=run.info.run_id,
        vectors=vectors,
        results=results,
        model_uri=model_uri,
        promoted=promoted,
        champion_value=champion_value,
        train_seconds=train_seconds,
        data=prepared,
    )


def default_config_path() -> Path:
    """The shipped default pipeline config (``pipelines/configs/default.toml``)."""
    return Path(__file__).resolve().parent.parent / "pipelines" / "configs" / "default.toml"
