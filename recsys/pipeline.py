"""The batch training pipeline: read, sessionize, split, train, evaluate, log.

:func:`recsys.data.load.load_training_data` turns the configured input into
leak-free training and test sequences; :func:`run_training` trains item2vec on
them, evaluates it against the baselines on the same pairs, logs everything to
MLflow and registers the model.
"""

from __future__ import annotations

import math
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import mlflow
import polars as pl

from recsys import run_report, tracking
from recsys._beside import start_beside
from recsys.coldstart import ColdStart, MetadataMapper
from recsys.config import PipelineConfig
from recsys.data.load import PreparedData, load_training_data
from recsys.errors import CollapseWarning, DataError
from recsys.evaluation.baselines import make_baseline
from recsys.evaluation.cases import EvaluationCases, build_cases
from recsys.evaluation.methods import Item2VecMethod, Method, RankedMethod
from recsys.evaluation.protocol import MethodResult, evaluate_methods, item_popularity
from recsys.item2vec import EpochReport, ItemVectors, corpus_mode, effective_workers, train, usable_cores
from recsys.model_store import VECTORS_ARTIFACT
from recsys.plots import metric_at_k_figure
from recsys.progress import Progress, Task
from recsys.ranking import Ranking
from recsys.recommender import Recommender
from recsys.resources import StageTimer
from recsys.results import TrainingResult
from recsys.selection import (
    Candidate,
    RankingFit,
    Selection,
    check_collapse,
    choose_config,
    fit_ranking_stage,
    why_no_ranking,
)
from recsys.search_store import SearchStore
from recsys.store import tracked_run

__all__ = ["PreparedData", "TrainingResult", "run_training"]


def run_training(
    config: PipelineConfig,
    *,
    on_epoch: Callable[[EpochReport], None] | None = None,
    on_stage: Callable[[str], None] | None = None,
    tags: dict[str, str] | None = None,
    prepared: PreparedData | None = None,
    progress: Progress | None = None,
    stages: StageTimer | None = None,
) -> TrainingResult:
    """Run the whole pipeline and log it as one MLflow run.

    Every stage's wall time and peak memory is logged as
    ``stage.<name>.seconds`` and ``stage.<name>.peak_rss_mb``. The store is
    checked first (what usually goes wrong fails at once) and opened, or
    created, while the data is read and the configuration chosen; the run
    starts once it is chosen, and logs the candidates as its nested runs.

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
        The output of :func:`~recsys.data.load.load_training_data` for this config, if already at hand.
    progress
        Draws progress bars for reading, sessionizing, training (per epoch,
        with words/s) and evaluation (default: none).
    stages
        Records the stages (default: a new :class:`StageTimer`); the result
        carries its records either way.

    Returns
    -------
    TrainingResult
    """
    say = on_stage or (lambda _message: None)
    progress = progress or Progress(quiet=True)
    stages = stages if stages is not None else StageTimer()
    # a broken store fails before any work; a new store's tables are built while the data is read and chosen on
    with tracking.open_tracking_store(config.tracking.tracking_uri) as store:
        if prepared is None:
            say(f"reading {config.data.path} ({config.data.format})")
            prepared = load_training_data(config, stages=stages, progress=progress)
        protocol = config.evaluation.protocols[0]
        with stages.stage("evaluate"):
            cases = build_cases(prepared.test, protocol, session_window=config.evaluation.session_window)
        with progress.task("select", total=_UNITS * (config.selection.budget + 1 + _AFTER_TRAINING),
                           percent=True) as task:
            work = _Work(task)
            with stages.stage("select"):
                selection = _select(config, prepared.train, say, work)
            mlflow.set_tracking_uri(store.wait())
            return _train_and_log(config, prepared, cases, selection, work, say=say, on_epoch=on_epoch, tags=tags,
                                  stages=stages)


def _train_and_log(
    config: PipelineConfig, prepared: PreparedData, cases: EvaluationCases, selection: Selection, work: _Work, *,
    say: Callable[[str], None], on_epoch: Callable[[EpochReport], None] | None, tags: dict[str, str] | None,
    stages: StageTimer,
) -> TrainingResult:
    """The pipeline once the configuration is chosen, in one MLflow run: train, fit the ranking stage and the
    cold start, build the search structures, evaluate, log and register."""
    experiment = tracking.experiment_id(config.tracking.experiment or config.data.name,
                                        headline_k=config.evaluation.headline_k)
    run_tags = {"method": "item2vec", "git_commit": tracking.git_commit() or "unknown", "sweep_trial": "false"}
    with (tracked_run(experiment_id=experiment, tags={**run_tags, **(tags or {})}) as run,
          tempfile.TemporaryDirectory(prefix="recsys-model-") as staging):
        with stages.stage("log"):
            tracking.log_config(config, exclude=("item2vec",))
            tracking.log_dataset(
                config, counts=prepared.counts, train_sequences=prepared.train, digest=prepared.digest
            )
            tracking.log_prepared(prepared.sources)
        work.planned(1 + work.after)
        config = config.model_copy(update={"item2vec": selection.config})
        with stages.stage("log"):
            tracking.log_item2vec_config(selection.config)
            tracking.log_selection(selection, metric=_selection_metric(config))

        say(f"training item2vec on {prepared.counts['train_sequences']:,} sequences")
        beside = _fit_ranking_beside(config, prepared.train, selection)
        started = time.perf_counter()
        work.stage("train")
        with stages.stage("train"):
            vectors = train(prepared.train, config.item2vec, on_epoch=_epoch_progress(work, config.item2vec.epochs,
                                                                                     on_epoch))
        train_seconds = time.perf_counter() - started
        with stages.stage("log"):
            _log_training(config, prepared, vectors, train_seconds)
        work.stage("rank")
        vectors, ranking = _fit_ranking(config, prepared.train, selection, vectors, stages=stages, say=say,
                                        beside=beside)
        work.finished("rank")
        cold_start = _fit_cold_start(config, prepared, vectors, stages=stages, say=say)
        work.stage("prepare")
        serving = _search_structures(config, vectors, ranking, cold_start, Path(staging), stages=stages, say=say)

        say(f"evaluating on {len(cases):,} {cases.protocol} cases")
        baselines = config.evaluation.baselines
        with stages.stage("evaluate"):
            methods = _item2vec_methods(vectors, ranking, serving)
            for name in baselines:
                work.stage("evaluate", note=f"fitting {name}")
                methods.append(make_baseline(name).fit(prepared.train))
            work.stage("evaluate", note=f"{len(cases):,} cases")
            results = evaluate_methods(
                methods,
                cases,
                ks=config.evaluation.ks,
                n_catalogue=len(vectors),
                batch_size=config.evaluation.batch_size,
                popularity=item_popularity(prepared.train),
                bootstrap_resamples=config.evaluation.bootstrap_resamples,
                seed=config.evaluation.seed,
                exclude_seen=config.evaluation.exclude_seen,
            )
        work.finished("evaluate")
        work.stage("log")
        with stages.stage("log"):
            k = config.evaluation.headline_k
            tracking.log_results(results, primary=results[0].method, headline_k=k)
            _guard_collapse(results, n_items=len(vectors), k=k, selection=selection)
            mlflow.set_tag("default_relation", vectors.default_relation)
            tracking.log_figure(metric_at_k_figure(results), "plots/metric_at_k.png")
            model_uri, promoted, champion_value = None, False, None
            if config.tracking.log_model:
                say("logging the model to MLflow")
                registered = config.tracking.registered_model
                model_uri = tracking.log_model(
                    vectors, metadata=prepared.metadata, registered_model=registered, cold_start=cold_start,
                    ranking=ranking, prepared=serving,
                )
                if registered:
                    promoted, champion_value = tracking.promote_champion(registered, run.info.run_id, metric=f"hr_at_{k}")
            say("writing the run report")
            run_report.log_training_report(config, prepared, vectors, results, train_seconds=train_seconds,
                                           promoted=promoted, champion_value=champion_value, ranking=ranking)
        mlflow.log_metrics(stages.metrics())
        work.finished("log", note="done")
    return TrainingResult(
        run_id=run.info.run_id,
        vectors=vectors,
        results=results,
        model_uri=model_uri,
        promoted=promoted,
        champion_value=champion_value,
        train_seconds=train_seconds,
        data=prepared,
        stages=tuple(stages.records),
        ranking=ranking,
    )


def _search_structures(
    config: PipelineConfig, vectors: ItemVectors, ranking: Ranking | None, cold_start: ColdStart | None,
    staging: Path, *, stages: StageTimer, say: Callable[[str], None],
) -> Recommender | None:
    """The registered model's search structures, built once before the evaluation (which reads item
    queries' answers from its tables) and logged with the model; None where the model carries none
    (not registered, or with cold items).

    The vectors are saved to ``staging`` first: the structures are stored beside them, keyed by
    their digest, as a model loaded from MLflow finds them.
    """
    if not (config.tracking.log_model and config.tracking.registered_model):
        return None
    if cold_start is not None and len(cold_start) > 0:
        return None
    say("preparing the search structures of the model (neighbour tables)")
    with stages.stage("prepare"):
        store = SearchStore(vectors.save(staging / VECTORS_ARTIFACT))
        return Recommender(vectors, store=store, ranking=ranking).prepare()


def _item2vec_methods(vectors: ItemVectors, ranking: Ranking | None, serving: Recommender | None) -> list[Method]:
    """item2vec as the harness scores it: the model's default ranking first (the run's headline), then the others.

    The vectors alone by each relation (the default relation first) and,
    with a ranking stage, its blend (``item2vec-ranked``, first where it is
    the default of item queries) and the evidence alone (``item2vec-evidence``).
    Item queries read their answers from ``serving``'s tables where it has
    them: the very lists the model serves, not searched for twice.
    """
    relations = [vectors.default_relation] + [r for r in ("next", "similar") if r != vectors.default_relation]
    table = (lambda relation, ranked=False: None) if serving is None else serving.neighbour_table
    plain: list[Method] = [Item2VecMethod.from_vectors(vectors, relation=r, table=table(r))
                           for r in relations if r == "similar" or vectors.context_vectors is not None]
    if ranking is None:
        return plain
    ranked_table = table("next", ranked=True)
    if ranked_table is not None and ranking.candidates < ranked_table.depth:
        ranked_table = None
    ranked = RankedMethod(vectors, ranking, table=ranked_table)
    evidence = RankedMethod(vectors, ranking, variant="evidence")
    return [ranked, *plain, evidence] if ranking.default("item") == "ranker" else [*plain, ranked, evidence]


def _fit_ranking_beside(
    config: PipelineConfig, train_sequences: pl.DataFrame, selection: Selection
) -> Callable[[], RankingFit] | None:
    """Start fitting the ranking stage beside the final training when that training runs on one thread
    and leaves a core idle (a run pinned to one worker so that it repeats, as the demo is); returns what
    waits for the fit, or None (it is fitted after the training).

    The fit reads the selection's split and vectors only, never the final vectors, so it is the same
    either way (:func:`~recsys._beside.start_beside`: Ctrl-C during the training stops the run at once).
    """
    if not config.ranking.enabled or selection.parts is None:
        return None
    if effective_workers(config.item2vec) != 1 or usable_cores() < 2:
        return None
    return start_beside(lambda: fit_ranking_stage(train_sequences, selection, config.ranking, config.selection,
                                                  k=config.evaluation.headline_k), name="ranking-stage")


def _fit_ranking(
    config: PipelineConfig, train_sequences: pl.DataFrame, selection: Selection, vectors: ItemVectors, *,
    stages: StageTimer, say: Callable[[str], None], beside: Callable[[], RankingFit] | None = None,
) -> tuple[ItemVectors, Ranking | None]:
    """Fit the ranking stage on the selection's validation split and log it (None, tagged, when it does not apply).

    ``beside`` waits for a fit started beside the training (:func:`_fit_ranking_beside`).
    Returns the vectors with the relation the model answers by default
    ("next" where the blend beat the "similar" vectors) and the stage.
    """
    reason = why_no_ranking(config.ranking, train_sequences, vectors)
    if reason is not None:
        mlflow.set_tag("ranking", f"none: {reason}")
        return vectors, None
    say("fitting the ranking stage on the validation split" if beside is None else
        "the ranking stage was fitted on the validation split beside the training (one training thread)")
    with stages.stage("rank"):
        fitted = beside() if beside is not None else fit_ranking_stage(
            train_sequences, selection, config.ranking, config.selection, k=config.evaluation.headline_k)
        ranking = fitted.ranking(train_sequences, vectors)
    say(f"ranking: {fitted.summary()}")
    answering = fitted.answering(vectors)
    if answering is not vectors:
        say("the ranking stage beat the 'similar' vectors on validation: the model answers 'next', ranked")
    with stages.stage("log"):
        tracking.log_ranking(ranking)
    return answering, ranking


def _selection_metric(config: PipelineConfig) -> str:
    """The name of what the automatic selection ranks by, at the headline cut-off (``hr+ndcg_at_10``)."""
    return f"{config.selection.metric}_at_{config.evaluation.headline_k}"


def _select(config: PipelineConfig, train_sequences: pl.DataFrame, say: Callable[[str], None],
            work: "_Work") -> Selection:
    """Resolve item2vec's configuration (automatic selection or data-adaptive rules), saying what happens."""
    k = config.evaluation.headline_k
    metric = _selection_metric(config)
    if config.selection.auto:
        say("choosing item2vec's configuration on a validation split")

    def report(candidate: Candidate) -> None:
        work.done(candidate.cost, note=f"candidate {candidate.name}")
        scores = ", ".join(f"{relation} {value:.4f}" for relation, value in candidate.scores.items())
        flag = f"  [collapsed: {'; '.join(candidate.collapse.reasons)}]" if candidate.collapse.collapsed else ""
        say(f"  candidate {candidate.name} (epochs {candidate.config.epochs}, alpha {candidate.config.alpha:g}, "
            f"window {candidate.config.window}): "
            f"validation {metric} {scores}; {candidate.train_seconds:.1f} s{flag}")

    selection = choose_config(train_sequences, config.item2vec, config.selection, k=k, on_candidate=report,
                              on_plan=work.planned_selection)
    chosen = selection.config
    summary = (f"context {chosen.context}, relation {chosen.relation}, epochs {chosen.epochs}, "
               f"alpha {chosen.alpha:g}, sample {chosen.sample:g}")
    if selection.chosen is not None:
        say(f"chose {selection.chosen.name}: {summary} (validation {metric} {selection.chosen.score:.4f})")
        parts = selection.parts
        say(f"  the selection took {selection.seconds:.1f} s, {selection.spent:.2f} final trainings of work "
            f"(budget {parts.budget:.2f}); the candidates trained on {parts.fraction:.0%} of the training part")
    else:
        say(f"{selection.note}: {summary}")
    if selection.collapsed:
        warnings.warn(CollapseWarning(
            f"every candidate failed the collapse guard; the chosen one because "
            f"{'; '.join(selection.chosen.collapse.reasons)}"), stacklevel=3)
    return selection


def _guard_collapse(results: list[MethodResult], *, n_items: int, k: int, selection: Selection) -> None:
    """The collapse guard on the test lists of the model's default relation: tag ``collapse`` on the
    run, and warn when it collapsed (unless the selection already warned)."""
    popular = next((r for r in results if r.method == "popular"), None)
    model = results[0]
    check = check_collapse(model.metrics, k=k, n_items=n_items, n_queries=model.n_pairs - model.n_unknown,
                           popular_hit_rate=popular.metrics[f"hr_at_{k}"] if popular else 0.0)
    mlflow.set_tag("collapse", str(check.collapsed).lower())
    if check.collapsed:
        mlflow.set_tag("collapse.reasons", "; ".join(check.reasons))
        if not selection.collapsed:
            warnings.warn(CollapseWarning(f"{model.method} collapsed on the test split: {'; '.join(check.reasons)}"),
                          stacklevel=3)


def _fit_cold_start(
    config: PipelineConfig, prepared: PreparedData, vectors: ItemVectors, *, stages: StageTimer,
    say: Callable[[str], None],
) -> ColdStart | None:
    """Fit the metadata mapper when the data has metadata (and ``cold_start.enabled``); log its fit quality.

    Metadata that cannot feed a mapper (too few trained items with metadata)
    is a warning, not a failed run: the model is logged without a mapper.
    """
    if prepared.metadata is None or not config.cold_start.enabled:
        return None
    say("fitting the metadata mapper (vectors for new items)")
    try:
        with stages.stage("cold_start"):
            cold_start = ColdStart(MetadataMapper(config.cold_start).fit(vectors, prepared.metadata, prepared.train))
    except DataError as error:
        warnings.warn(f"no metadata mapper for new items: {error}", stacklevel=2)
        mlflow.set_tag("cold_start", f"skipped: {error}")
        return None
    mlflow.log_metrics(cold_start.mapper.report_.metrics())
    return cold_start


_UNITS = 100
"""Units of the progress bar per final training (it counts percent of one training)."""
_AFTER_TRAINING = 0.5
"""The stages after training, in final trainings, until the data's size is known."""
_AFTER_TRAINING_SHARE, _AFTER_TRAINING_WORK = 0.25, 8.5e7
"""The stages after training (ranking stage, metadata mapper, search structures, evaluation,
logging) cost about this share of the final training plus this fixed work in gensim pair
updates, whatever the data (cases and catalogues are capped): measured 1.3-1.5 final trainings
on the shipped demo data, 0.7-1.0 on 900 yes playlists, 0.27-0.35 on 1M events."""
_STAGE_SHARES = {"rank": 0.4, "evaluate": 0.35, "log": 0.25}
"""How the stages after training share that work (``evaluate`` with the search structures)."""


class _Work:
    """One progress bar over the selection, the training, the ranking stage, the evaluation and the logging.

    It counts work in final trainings (each candidate its cost, each epoch
    its share, the stages after training their estimated share), so that
    its remaining time is an estimate from the first candidate on.
    """

    def __init__(self, task: Task) -> None:
        self._task = task
        self._done = 0.0
        self.after = _AFTER_TRAINING
        """The stages after training, in final trainings."""

    def stage(self, label: str, *, note: str = "") -> None:
        self._task.stage(label, note=note)

    def done(self, trainings: float, *, note: str | None = None) -> None:
        """Count ``trainings`` more final trainings of work done."""
        self._done += trainings
        self._task.advance(_UNITS * trainings, note=note)

    def planned(self, left: float) -> None:
        """``left`` final trainings of work remain (a better estimate than the first)."""
        self._task.replan(_UNITS * (self._done + left))

    def planned_selection(self, candidates: float, final_cost: float) -> None:
        """Plan the candidates' work (final trainings), the training and the stages after it, whose
        fixed part weighs more the cheaper the final training (``final_cost``, pair updates)."""
        self.after = _AFTER_TRAINING_SHARE + _AFTER_TRAINING_WORK / max(final_cost, 1.0)
        self.planned(candidates + 1 + self.after)
        if candidates > 0:  # the contexts may train side by side: nothing is named until both are done
            self.stage("select", note="training the candidates")

    def finished(self, stage: str, *, note: str | None = None) -> None:
        """Count a stage after training (``rank``, ``evaluate``, ``log``) done."""
        self.done(self.after * _STAGE_SHARES[stage], note=note)


def _epoch_progress(
    work: _Work, epochs: int, on_epoch: Callable[[EpochReport], None] | None
) -> Callable[[EpochReport], None]:
    """Advance the bar by one epoch's share of the training (words/s and loss after it), then call ``on_epoch``."""

    def report(epoch: EpochReport) -> None:
        note = f"epoch {epoch.epoch}/{epochs}, {epoch.words_per_second:,.0f} words/s"
        if not math.isnan(epoch.loss):
            note += f", loss {epoch.loss:.4g}"
        work.done(1 / epochs, note=note)
        if on_epoch is not None:
            on_epoch(epoch)

    return report


def _log_training(config: PipelineConfig, prepared: PreparedData, vectors: ItemVectors, seconds: float) -> None:
    """Log training time, the workers and corpus mode actually used, and the epochs."""
    n_words = int(prepared.train["items"].list.len().sum())
    mlflow.log_metrics({"train_seconds": seconds, f"{tracking.HEADLINE_SECTION}train_seconds": seconds,
                        "training/workers": float(effective_workers(config.item2vec))})
    mlflow.set_tag("train.corpus", corpus_mode(config.item2vec, n_words))
    tracking.log_epochs(vectors.epochs)


def default_config_path() -> Path:
    """The shipped default pipeline config (``pipelines/configs/default.toml``)."""
    return Path(__file__).resolve().parent.parent / "pipelines" / "configs" / "default.toml"
