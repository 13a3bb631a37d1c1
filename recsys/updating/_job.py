"""The update job: load the model, continue its training, evaluate, log."""

from __future__ import annotations

import dataclasses
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import mlflow
import numpy as np
import polars as pl
from mlflow.tracking._tracking_service.utils import is_tracking_uri_set

from recsys import tracking
from recsys.config import ColdStartConfig, UpdateConfig
from recsys.data.load import load_sequences, load_training_data
from recsys.errors import ConfigError, DriftWarning, ModelLoadError
from recsys.evaluation.cases import build_cases
from recsys.evaluation.methods import Method, RecommenderMethod
from recsys.evaluation.protocol import evaluate_methods, item_popularity
from recsys.item2vec import ItemVectors, continue_training, occurrences, train
from recsys.model_store import MODEL_NAME
from recsys.progress import Progress
from recsys.ranking import Evidence, Ranking
from recsys.recommender import Recommender
from recsys.resources import StageTimer
from recsys.updating._drift import Drift, Lineage, vector_drift
from recsys.updating._log import UpdateResult, log_update
from recsys.updating._prepare import (
    check_overlap,
    merged_metadata,
    refit_cold_start,
    replay_sequences,
    sort_new_items,
    starting_vectors,
    update_configs,
)

__all__ = ["update"]


# ------------------------------------------------------------------------------ the job
def update(
    model_uri: str,
    data: str | Path,
    *,
    config: UpdateConfig | None = None,
    data_format: str | None = None,
    metadata: str | Path | None = None,
    test_data: str | Path | None = None,
    overrides: Sequence[str] = (),
    on_stage: Callable[[str], None] | None = None,
    progress: Progress | None = None,
) -> UpdateResult:
    """Update a model with new sequences and log the result as a new, linked, registered model version.

    Parameters
    ----------
    model_uri
        The model to update: ``models:/item2vec@champion``, a run id,
        ``runs:/<id>/model`` or a directory.
    data
        The new data, in the format of the model's training data (its run's
        ``data`` options) unless ``data_format`` or ``overrides`` say otherwise.
    config
        How to update (:class:`~recsys.config.UpdateConfig`); ``update.*``
        overrides are applied on top of it.
    data_format
        The new data's format (``playlists``, ``events``, ``mpd``, ``sequences``).
    metadata
        Metadata of the new items (the model's own metadata is kept).
    test_data
        Held-out sequences in a file of their own (``split.method = "file"``);
        by default the model's split holds out part of ``data``.
    overrides
        ``KEY=VALUE`` strings: ``update.replay_fraction=0.5``, ``split.test_fraction=0.2``...
    on_stage
        Called with a short description when a stage starts.
    progress
        Draws the training progress bar (default: none).

    Returns
    -------
    UpdateResult

    Raises
    ------
    ModelLoadError
        If the model cannot be found or loaded.
    ConfigError
        If an option is bad, the model has no output vectors (training cannot
        continue without them), or ``compare_full`` lacks the old data.
    DataError
        If the new data breaks its contract or has none of the model's items.

    Every error above is raised before anything is logged or registered.
    """
    say = on_stage or (lambda _message: None)
    progress = progress or Progress(quiet=True)
    stages = StageTimer()
    if not is_tracking_uri_set():
        tracking.use_tracking_uri()
    say(f"loading {model_uri}")
    with stages.stage("read"):
        previous = Recommender.load(model_uri)
        source = tracking.model_source(model_uri)
        client = mlflow.MlflowClient()
        parent = client.get_run(source.run_id) if source.run_id else None
    vectors = previous.trained_vectors
    if vectors.context_vectors is None:
        raise ConfigError(f"{model_uri} has no output vectors, and training continues from both the input and the "
                          "output vectors (negative sampling updates one against the other); retrain it with "
                          "recsys train")
    pipeline, update_config = update_configs(parent, data, data_format=data_format, metadata=metadata,
                                       test_data=test_data, config=config, overrides=overrides)
    say(f"reading {data}")
    prepared = load_training_data(pipeline, stages=stages, progress=progress)
    check_overlap(prepared, previous, data)
    old = None
    if update_config.old_data is not None:
        say(f"reading the old data {update_config.old_data}")
        old = load_sequences(pipeline, update_config.old_data, stages=stages, progress=progress)
    cases = build_cases(prepared.test, pipeline.evaluation.protocols[0],
                        session_window=pipeline.evaluation.session_window)

    all_metadata = merged_metadata(previous.metadata, prepared.metadata)
    mapper = previous.cold_start.mapper if previous.cold_start is not None else None
    min_count = update_config.min_count or vectors.config.min_count
    counted = prepared.train.select(pl.col("items").explode().alias("item_id")).group_by("item_id").len()
    new_counts = dict(zip(counted["item_id"].to_list(), counted["len"].to_list()))
    new_items = sort_new_items(vectors, new_counts, min_count=min_count, previous_cold=previous.cold_item_ids,
                           metadata=all_metadata, mapper=pipeline.cold_start.enabled)
    replay, replay_source = replay_sequences(update_config, prepared.train.height, prepared.train, old, previous.ranking,
                                      vectors.item_ids)
    sequences = pl.concat([prepared.train, replay]).sample(fraction=1.0, shuffle=True, seed=update_config.seed)
    epochs = update_config.epochs or int(vectors.config.epochs or 1)
    alpha = update_config.alpha_scale * float(vectors.config.alpha or 0.025)
    catalogue = vectors.item_ids + new_items.trained
    counts = np.concatenate([vectors.counts, np.zeros(len(new_items.trained), dtype=np.int64)]) + occurrences(
        prepared.train, catalogue)
    say(f"continuing training on {prepared.train.height:,} new and {replay.height:,} replayed sequences "
        f"({epochs} epochs from alpha {alpha:g}; {len(new_items.trained):,} new items trained)")
    started = time.perf_counter()
    with stages.stage("train"), progress.task("updating", total=epochs, unit="epoch") as task:
        updated = continue_training(
            vectors, sequences, epochs=epochs, alpha=alpha, new_items=new_items.trained, counts=counts,
            new_vectors=starting_vectors(new_items.trained, mapper, all_metadata, vectors.config.vector_size,
                                          update_config.seed + len(vectors)),
            on_epoch=lambda report: task.advance(note=f"{report.words_per_second:,.0f} words/s"))
    train_seconds = time.perf_counter() - started
    ranking = None
    if previous.ranking is not None:
        with stages.stage("rank"):
            ranking = previous.ranking.updated(prepared.train, item_ids=vectors.item_ids, catalogue=updated.item_ids)
    cold_config = mapper.config if mapper is not None else pipeline.cold_start
    with stages.stage("cold_start"):
        cold_start, unserved = refit_cold_start(cold_config, updated, all_metadata, sequences, new_items.cold)
    new_items = dataclasses.replace(new_items, cold=tuple(i for i in new_items.cold if i not in unserved),
                                    left_out=new_items.left_out + unserved)
    recommender = Recommender(updated, all_metadata, cold_start=cold_start, ranking=ranking)

    methods: list[Method] = [RecommenderMethod("item2vec", recommender), RecommenderMethod("previous", previous)]
    full_seconds = None
    if update_config.compare_full:
        assert old is not None
        say("retraining from scratch on the old and new data, for comparison")
        full, full_seconds = _full_retrain(vectors, old, prepared.train, ranking, all_metadata, cold_config,
                                           new_items.cold, stages=stages)
        methods.append(RecommenderMethod("full-retrain", full))
    say(f"evaluating on {len(cases):,} held-out cases of the new data")
    with stages.stage("evaluate"):
        evaluation = pipeline.evaluation
        results = evaluate_methods(
            methods, cases, ks=evaluation.ks, n_catalogue=len(recommender), batch_size=evaluation.batch_size,
            popularity=item_popularity(prepared.train), bootstrap_resamples=evaluation.bootstrap_resamples,
            seed=evaluation.seed, exclude_seen=evaluation.exclude_seen,
        )
        drift = vector_drift(vectors, updated, seed=update_config.seed)
        lineage = Lineage.after(parent, source.version)
        chain_drift = _chain_drift(lineage, drift, updated, seed=update_config.seed)
    if chain_drift is not None and chain_drift.top10_overlap < update_config.drift_warning:
        warnings.warn(DriftWarning(
            f"{lineage.chain} updates since the last full training (run {lineage.base_run_id}) kept "
            f"{chain_drift.top10_overlap:.0%} of the items' top-10 'next' neighbours, under "
            f"update.drift_warning={update_config.drift_warning:g}: retrain from scratch (recsys train)"), stacklevel=2)

    return log_update(
        model_uri=model_uri, data=data, pipeline=pipeline, update_config=update_config, prepared=prepared,
        source=source, parent=parent, lineage=lineage, previous=previous, updated=updated, recommender=recommender,
        cold_start=cold_start, ranking=ranking, metadata=all_metadata, results=results, new_items=new_items,
        drift=drift, chain_drift=chain_drift, train_seconds=train_seconds, full_seconds=full_seconds,
        replay=(replay.height, replay_source), schedule=(epochs, alpha, min_count), stages=stages, say=say,
    )


def _full_retrain(vectors: ItemVectors, old: pl.DataFrame, new: pl.DataFrame, ranking: Ranking | None,
                  metadata: pl.DataFrame | None, cold_config: ColdStartConfig, cold: Sequence[str], *,
                  stages: StageTimer) -> tuple[Recommender, float]:
    """The model's configuration trained from scratch on old and new sequences, served like the update
    (the ranking stage's weights, evidence counted on all the sequences; the same cold items); its training time."""
    everything = pl.concat([old, new])
    started = time.perf_counter()
    with stages.stage("full_retrain"):
        full = train(everything, vectors.config)
    seconds = time.perf_counter() - started
    full_ranking = None
    if ranking is not None:
        evidence = Evidence.from_sequences(everything, full.item_ids, steps=ranking.evidence.steps,
                                           depth=ranking.evidence.depth)
        full_ranking = dataclasses.replace(ranking, evidence=evidence)
    cold_start, _ = refit_cold_start(cold_config, full, metadata, everything,
                                [item for item in cold if item not in full.vocabulary])
    return Recommender(full, metadata, cold_start=cold_start, ranking=full_ranking), seconds


def _chain_drift(lineage: Lineage, drift: Drift, updated: ItemVectors, *, seed: int) -> Drift | None:
    """The drift since the chain's full training: this update's own on a first update, else against that
    training's model (None when it cannot be loaded)."""
    if lineage.chain == 1:
        return drift
    if lineage.base_run_id is None:
        return None
    try:
        base = Recommender.load(f"runs:/{lineage.base_run_id}/{MODEL_NAME}").trained_vectors
    except ModelLoadError as error:
        warnings.warn(f"no drift since the last full training: {error}", stacklevel=3)
        return None
    return vector_drift(base, updated, seed=seed)
