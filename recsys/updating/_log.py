"""An update logged as an MLflow run linked to the run it updates, registered, and given the aliases
of the model it updates when it is at least as good."""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import polars as pl

from recsys import tracking
from recsys.coldstart import ColdStart
from recsys.config import PipelineConfig, UpdateConfig
from recsys.data.load import PreparedData
from recsys.errors import ModelLoadError
from recsys.evaluation.protocol import MethodResult
from recsys.item2vec import ItemVectors
from recsys.ranking import Ranking
from recsys.recommender import Recommender
from recsys.resources import StageRecord, StageTimer
from recsys.store import store_lock, tracked_run
from recsys.updating._drift import Drift, Lineage
from recsys.updating._prepare import NewItems

__all__ = ["UpdateResult", "log_update"]


@dataclass(frozen=True)
class UpdateResult:
    """What :func:`update` did and logged."""

    run_id: str
    model_uri: str
    """``runs:/<run id>/model``."""
    vectors: ItemVectors
    """The updated trained vectors."""
    recommender: Recommender
    """The updated model (its cold items and ranking stage included)."""
    results: list[MethodResult]
    """``item2vec`` (the update), ``previous`` (the model it updates) and, with ``compare_full``,
    ``full-retrain``, on the same held-out cases of the new data."""
    new_items: NewItems
    lineage: Lineage
    drift: Drift
    """Since the model it updates."""
    chain_drift: Drift | None
    """Since the last full training (None when it could not be loaded)."""
    promoted: bool
    """Whether the update took the aliases of the model it updates."""
    registered_model: str | None
    version: str | None
    aliases: tuple[str, ...]
    """The aliases it took."""
    train_seconds: float
    full_retrain_seconds: float | None
    n_replayed: int
    """Old sequences trained with the new ones."""
    replay: str
    """Where they came from: ``data``, ``evidence`` or ``none``."""
    stages: tuple[StageRecord, ...]

    def summary(self) -> list[str]:
        """What ``recsys update`` prints: new items, scores, drift, the registered version, the stages."""
        new = self.new_items
        lines = [f"new items: {len(new.trained):,} trained, {len(new.cold):,} from metadata, {len(new.left_out):,} "
                 f"left out; {self.n_replayed:,} old sequences replayed ({self.replay}); "
                 f"training took {self.train_seconds:.1f} s"]
        scores = {r.method: r for r in self.results}
        for method, label in (("item2vec", "update"), ("previous", "previous model"), ("full-retrain", "full retrain")):
            if method in scores:
                shown = "  ".join(f"{name} {value:.4f}" for name, value in scores[method].metrics.items()
                                  if re.fullmatch(r"(hr|ndcg)_at_\d+", name))
                lines.append(f"{label:<15} {shown}  ({scores[method].n_pairs:,} held-out cases)")
        chain = self.chain_drift
        lines.append(f"drift: mean cosine {self.drift.mean_cosine:.3f}, top-10 kept {self.drift.top10_overlap:.0%}"
                     + (f"; since the last full training {chain.mean_cosine:.3f}, {chain.top10_overlap:.0%}"
                        if chain else "") + f" (update {self.lineage.chain} of the chain)")
        note = ""
        if self.registered_model:
            note = f" (registered as {self.registered_model} version {self.version}"
            note += (", alias " + ", ".join(self.aliases) if self.aliases else
                     ", the previous model keeps its aliases" if not self.promoted else "") + ")"
        return [*lines, f"model: {self.model_uri}{note}", f"stages: {StageTimer.from_records(self.stages).summary()}"]


# ------------------------------------------------------------------------------ logging
def _link(experiment: str, run_id: str, text: str) -> str:
    """A Markdown link to a run's page in the MLflow UI (the run description renders it)."""
    return f"[{text}](#/experiments/{experiment}/runs/{run_id})"


def _description(*, experiment: str, lineage: Lineage, parent: Any | None, name: str | None, data: str | Path,
                 prepared: PreparedData, replayed: int, new_items: NewItems, results: list[MethodResult], k: int,
                 promoted: bool, moved: tuple[str, ...], drift: Drift, chain_drift: Drift | None,
                 threshold: float) -> str:
    """The run's description (Markdown): where it comes from, what it saw, how it scores, how far it moved."""
    client = mlflow.MlflowClient()
    lines = []
    if lineage.base_run_id:
        base = client.get_run(lineage.base_run_id)
        lines.append(f"**Incremental update {lineage.chain}** of the full training "
                     f"{_link(experiment, lineage.base_run_id, base.info.run_name or lineage.base_run_id)}.")
    else:
        lines.append(f"**Incremental update {lineage.chain}** of a model outside MLflow.")
    if parent is not None:
        version = f" ({name} version {lineage.parent_version})" if lineage.parent_version else ""
        lines.append(f"Continued from {_link(experiment, parent.info.run_id, parent.info.run_name or 'its parent')}"
                     f"{version} on `{data}`: {prepared.train.height:,} new training sequences, {replayed:,} old ones "
                     f"replayed; new items: {len(new_items.trained):,} trained, {len(new_items.cold):,} from "
                     f"metadata, {len(new_items.left_out):,} left out.")
    scores = {r.method: r for r in results}
    mine, before = scores["item2vec"], scores["previous"]
    verdict = (f"took the alias {', '.join(moved)}" if promoted and moved else
               "is at least as good" if promoted else "kept the previous model's aliases")
    lines.append(f"On {mine.n_pairs:,} held-out cases of the new data: HR@{k} {mine.metrics[f'hr_at_{k}']:.4f}, "
                 f"NDCG@{k} {mine.metrics[f'ndcg_at_{k}']:.4f}; the previous model on the same cases "
                 f"{before.metrics[f'hr_at_{k}']:.4f} / {before.metrics[f'ndcg_at_{k}']:.4f}: the update {verdict}.")
    if "full-retrain" in scores:
        full = scores["full-retrain"]
        lines.append(f"A full retrain on the old and new data: {full.metrics[f'hr_at_{k}']:.4f} / "
                     f"{full.metrics[f'ndcg_at_{k}']:.4f}.")
    moved_text = (f"Vectors moved: mean cosine {drift.mean_cosine:.3f}, {drift.top10_overlap:.0%} of the top-10 "
                  "'next' kept since the previous model")
    if chain_drift is not None:
        due = " **a full retrain is due**" if chain_drift.top10_overlap < threshold else ""
        moved_text += (f"; since the last full training {chain_drift.mean_cosine:.3f} and "
                       f"{chain_drift.top10_overlap:.0%} (warning under {threshold:.0%}){due}")
    lines.append(moved_text + ".")
    return "\n\n".join(lines)


def log_update(*, model_uri: str, data: str | Path, pipeline: PipelineConfig, update_config: UpdateConfig,
         prepared: PreparedData, source: tracking.ModelSource, parent: Any | None, lineage: Lineage,
         previous: Recommender, updated: ItemVectors, recommender: Recommender, cold_start: ColdStart | None,
         ranking: Ranking | None, metadata: pl.DataFrame | None, results: list[MethodResult], new_items: NewItems,
         drift: Drift, chain_drift: Drift | None, train_seconds: float, full_seconds: float | None,
         replay: tuple[int, str], schedule: tuple[int, float, int], stages: StageTimer,
         say: Callable[[str], None]) -> UpdateResult:
    """Log the update as a run linked to its parent, register its model and move the aliases if it is as good."""
    client = mlflow.MlflowClient()
    experiment = parent.info.experiment_id if parent is not None else tracking.experiment_id(
        pipeline.tracking.experiment or pipeline.data.name)
    name = pipeline.tracking.registered_model or source.registered_model  # the run's, unless --set names another
    k = pipeline.evaluation.headline_k
    metric = f"hr_at_{k}"
    scores = {r.method: r.metrics.get(metric, float("-inf")) for r in results}
    promoted = scores["item2vec"] >= scores["previous"]
    epochs, alpha, min_count = schedule
    tags = {"method": "item2vec", "update": "true", "update.model_uri": model_uri, "update.replay": replay[1],
            "update.promoted": str(promoted).lower(), "git_commit": tracking.git_commit() or "unknown",
            "default_relation": updated.default_relation, **lineage.tags()}
    with tracked_run(experiment_id=experiment, run_name=f"update-{lineage.chain}", tags=tags) as run:
        with stages.stage("log"):
            tracking.log_config(pipeline, exclude=("item2vec",))
            tracking.log_item2vec_config(updated.config)
            mlflow.log_params({f"update.{key}": "None" if value is None else value
                               for key, value in update_config.model_dump(mode="json").items()})
            tracking.log_dataset(pipeline, counts=prepared.counts, train_sequences=prepared.train,
                                 digest=prepared.digest)
            tracking.log_results(results, primary="item2vec", headline_k=k)
            tracking.log_epochs(updated.epochs)
            metrics = {
                "train_seconds": train_seconds, "update/train_seconds": train_seconds,
                "update/epochs": float(epochs), "update/alpha": alpha, "update/min_count": float(min_count),
                "update/n_new_sequences": float(prepared.train.height), "update/n_replayed": float(replay[0]),
                "update/n_items": float(len(recommender)), "update/n_new_trained": float(len(new_items.trained)),
                "update/n_new_cold": float(len(new_items.cold)), "update/n_left_out": float(len(new_items.left_out)),
                "update/chain": float(lineage.chain),
                **drift.metrics("update/drift."),
            }
            if chain_drift is not None:
                metrics.update(chain_drift.metrics("update/chain_drift."))
            if full_seconds is not None:
                metrics.update({"update/full_retrain_seconds": full_seconds,
                                "update/time_share": train_seconds / max(full_seconds, 1e-9)})
            mlflow.log_metrics(metrics)
            if ranking is not None:
                tracking.log_ranking(ranking)
            if cold_start is not None:
                mlflow.log_metrics(cold_start.mapper.report_.metrics())
            say("logging the updated model to MLflow")
            model = tracking.log_model(updated, metadata=metadata, registered_model=name, cold_start=cold_start,
                                       ranking=ranking)
        version, moved = None, ()
        if name:
            versions = client.search_model_versions(f"name='{name}' and run_id='{run.info.run_id}'")
            if not versions:
                raise ModelLoadError(f"the updated model of run {run.info.run_id} was not registered as {name!r}")
            version = tracking.latest_version(versions).version
            if promoted and name == source.registered_model:
                moved = _move_aliases(client, name, source, version)
        mlflow.set_tag("mlflow.note.content", _description(
            experiment=experiment, lineage=lineage, parent=parent, name=name, data=data, prepared=prepared,
            replayed=replay[0], new_items=new_items, results=results, k=k, promoted=promoted, moved=moved,
            drift=drift, chain_drift=chain_drift, threshold=update_config.drift_warning))
        mlflow.log_metrics(stages.metrics())
    return UpdateResult(
        run_id=run.info.run_id, model_uri=model, vectors=updated, recommender=recommender, results=results,
        new_items=new_items, lineage=lineage, drift=drift, chain_drift=chain_drift, promoted=promoted,
        registered_model=name, version=None if version is None else str(version), aliases=moved,
        train_seconds=train_seconds, full_retrain_seconds=full_seconds, n_replayed=replay[0], replay=replay[1],
        stages=tuple(stages.records),
    )


def _move_aliases(client: mlflow.MlflowClient, name: str, source: tracking.ModelSource,
                  version: str) -> tuple[str, ...]:
    """Give ``version`` the aliases the updated version held, each only if it still holds it (an alias
    another run moved meanwhile is left where it is, with a warning)."""
    moved = []
    for alias in source.aliases:
        with store_lock(mlflow.get_tracking_uri(), f"{alias}:{name}"):  # the lock promote_champion takes
            try:
                current = client.get_model_version_by_alias(name, alias)
            except mlflow.exceptions.MlflowException:
                current = None
            if current is not None and str(current.version) != str(source.version):
                warnings.warn(f"the alias {alias} of {name} moved to version {current.version} during the update; "
                              "left there", stacklevel=4)
                continue
            client.set_registered_model_alias(name, alias, version)
            moved.append(alias)
    return tuple(moved)
