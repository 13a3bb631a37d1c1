"""The quality report: item2vec and every baseline, same split, same cases, one table.

:func:`run_evaluation` prepares a dataset as ``recsys train`` does, fits
item2vec and each configured baseline on the training sequences, evaluates
each under every configured protocol, and logs one MLflow run per method in
the dataset's experiment (tag ``method``; all runs of one report share the
tag ``evaluation_report``). :meth:`EvaluationReport.to_markdown` writes the
table: method x metric with bootstrap confidence intervals, the paired
difference to item2vec, training and evaluation time.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import mlflow
import polars as pl

from recsys import tracking
from recsys.config import PipelineConfig, Relation
from recsys.data.load import load_training_data
from recsys.errors import DataError
from recsys.evaluation.baselines import make_baseline
from recsys.evaluation.cases import EvaluationCases, build_cases
from recsys.evaluation.cold_start import ColdStartReport, evaluate_cold_start
from recsys.evaluation.methods import Item2VecMethod, Method, RankedMethod
from recsys.evaluation.metrics import bootstrap_difference
from recsys.evaluation.protocol import MethodResult, evaluate_method, item_popularity
from recsys.item2vec import ItemVectors
from recsys.selection import choose_config, fit_ranking_stage, resolved_config, why_no_ranking
from recsys.store import tracked_run

__all__ = ["MethodReport", "EvaluationReport", "run_evaluation"]

"""The method every other one is compared with."""

_PROTOCOL_TITLES = {
    "next_item": "next item (every position; query = the current item)",
    "last_item": "last item (query = the second-to-last item, target = the last)",
    "session": "session (every position; query = the session so far, its latest items; target = the next new item)",
}


@dataclass(frozen=True)
class MethodReport:
    """One method's results under every protocol."""

    method: str
    fit_seconds: float
    """Wall time of :meth:`Method.fit` on the training sequences."""
    results: dict[str, MethodResult]
    """Results by protocol."""
    run_id: str | None
    """The method's MLflow run (None when not logged)."""


@dataclass(frozen=True)
class EvaluationReport:
    """Every method on one dataset, evaluated on the same cases."""

    dataset: str
    counts: dict[str, int]
    """Events, sequences, train/test sequences, items."""
    protocols: tuple[str, ...]
    ks: tuple[int, ...]
    methods: tuple[MethodReport, ...]
    report_id: str
    """Shared by the MLflow runs of the report (tag ``evaluation_report``)."""
    n_resamples: int
    """Bootstrap resamples behind the confidence intervals."""
    seed: int
    cold_start: ColdStartReport | None = None
    """The cold-start protocol, for a dataset with metadata (``cold_start.evaluate``)."""

    def to_markdown(self, *, k: int = 10) -> str:
        """The report as Markdown: one table per protocol at cut-off ``k`` (one of ``ks``).

        Cells read ``value [low, high]`` with the bootstrap 95% interval;
        ``Δ NDCG`` is the method's NDCG@k minus item2vec's with a paired
        bootstrap interval (positive: better than item2vec). A verdict
        under each table names the baselines whose difference to item2vec
        has an interval that excludes 0.
        """
        counts = self.counts
        lines = [
            f"### {self.dataset}",
            "",
            f"{counts.get('train_sequences', 0):,} training sequences, {counts.get('items', 0):,} items, "
            f"{counts.get('test_sequences', 0):,} test sequences; {self.n_resamples} bootstrap resamples.",
        ]
        for protocol in self.protocols:
            lines += ["", *self._protocol_table(protocol, k)]
        if self.cold_start is not None:
            lines += ["", self.cold_start.to_markdown(k=k).rstrip("\n")]
        return "\n".join(lines) + "\n"

    def _protocol_table(self, protocol: str, k: int) -> list[str]:
        """The lines of one protocol's table and its verdict."""
        reference = self.methods[0]  # item2vec as the model answers by default
        first = self.methods[0].results[protocol]
        header = (f"| method | HR@{k} | NDCG@{k} | MRR@{k} | P@{k} | cov@{k} | pop@{k} | "
                  f"Δ NDCG@{k} vs {reference.method} | unknown | fit s | eval s |")
        lines = [
            f"**{_PROTOCOL_TITLES.get(protocol, protocol)}**: {first.n_pairs:,} cases "
            f"(digest `{first.cases_digest}`)",
            "",
            header,
            "|" + "---|" * (header.count("|") - 1),
        ]
        verdicts: list[str] = []
        for method in self.methods:
            result = method.results[protocol]
            m = result.metrics
            delta = "—"
            if method is not reference:
                diff, low, high = bootstrap_difference(
                    result.ranks, reference.results[protocol].ranks, k,
                    n_resamples=max(self.n_resamples, 1), seed=self.seed,
                )
                delta = f"{diff:+.4f} [{low:+.4f}, {high:+.4f}]"
                if low > 0 or high < 0:
                    verdicts.append(f"{method.method} {'beats' if low > 0 else 'loses to'} {reference.method}")
            lines.append(
                f"| {method.method} | {_with_interval(m, 'hr', k)} | {_with_interval(m, 'ndcg', k)} "
                f"| {_with_interval(m, 'mrr', k)} | {m[f'precision_at_{k}']:.4f} | {m[f'coverage_at_{k}']:.3f} "
                f"| {m.get(f'popularity_at_{k}', float('nan')):.1f} | {delta} | {result.n_unknown:,} "
                f"| {method.fit_seconds:.1f} | {result.seconds:.1f} |"
            )
        lines += ["", "Differences whose 95% interval excludes 0: " + ("; ".join(verdicts) or "none") + "."]
        return lines


def _with_interval(metrics: dict[str, float], name: str, k: int) -> str:
    """``value [low, high]``, or the value alone without a bootstrap."""
    value = f"{metrics[f'{name}_at_{k}']:.4f}"
    low = metrics.get(f"{name}_at_{k}_ci_low")
    if low is None:
        return value
    return f"{value} [{low:.4f}, {metrics[f'{name}_at_{k}_ci_high']:.4f}]"


def _method_params(method: Method) -> dict[str, object]:
    """A baseline's constructor settings (public attributes not ending in ``_``), for MLflow."""
    return {f"method.{k}": v for k, v in vars(method).items() if not k.startswith("_") and not k.endswith("_")}


def _log_run(
    config: PipelineConfig,
    method: Method,
    report: MethodReport,
    *,
    experiment: str,
    counts: dict[str, int],
    train: pl.DataFrame,
    report_id: str,
) -> str:
    """Log one method's run: tags, params, dataset, metrics under every protocol."""
    with tracked_run(experiment_id=experiment, run_name=method.name) as run:
        mlflow.set_tags({
            "method": method.name,
            "evaluation_report": report_id,
            "git_commit": tracking.git_commit() or "unknown",
        })
        if isinstance(method, (Item2VecMethod, RankedMethod)):  # the options its vectors were trained with
            tracking.log_config(config.model_copy(update={"item2vec": method.vectors_.config}))
            if isinstance(method, RankedMethod):
                tracking.log_ranking(method.ranking)
        else:
            tracking.log_config(config, exclude=("item2vec",))
            mlflow.log_params(_method_params(method))
        tracking.log_dataset(config, counts=counts, train_sequences=train)
        mlflow.log_metric("train_seconds", report.fit_seconds)
        tracking.log_protocol_results(report.results.values(), primary=config.evaluation.protocols[0],
                                      headline_k=config.evaluation.headline_k)
        return run.info.run_id


def _fitted_methods(
    config: PipelineConfig, train: pl.DataFrame, say: Callable[[str], None]
) -> Iterator[tuple[Method, float]]:
    """item2vec (trained once) as the model answers, then its other rankings, then every baseline; with fit times.

    item2vec's configuration and ranking stage are resolved as ``recsys
    train`` resolves them (the automatic selection on a validation split,
    unless ``selection.auto`` is off, and the ranking stage fitted on the
    same split); its fit time includes both. Its rows: ``item2vec`` (the
    model's default ranking, first: the reference of the report), then
    ``item2vec-ranked`` where the default is not the blend for every kind of
    query, the vectors alone by each relation, and ``item2vec-evidence``.
    """
    say("choosing item2vec's configuration")
    started = time.perf_counter()
    selection = choose_config(train, config.item2vec, config.selection, k=config.evaluation.headline_k)
    vectors = Item2VecMethod(selection.config).fit(train).vectors_
    ranking = None
    if why_no_ranking(config.ranking, train, vectors) is None:
        say("fitting the ranking stage")
        fitted = fit_ranking_stage(train, selection, config.ranking, config.selection,
                                   k=config.evaluation.headline_k)
        ranking = fitted.ranking(train, vectors)
        vectors = fitted.answering(vectors)
    fit_seconds = time.perf_counter() - started
    relations: list[Relation] = [vectors.default_relation, "similar" if vectors.default_relation == "next" else "next"]
    plain = [Item2VecMethod.from_vectors(vectors, relation=r) for r in relations
             if r == "similar" or vectors.context_vectors is not None]
    if ranking is None:
        yield from ((method, fit_seconds) for method in plain)
    else:
        yield RankedMethod(vectors, ranking, variant="default"), fit_seconds
        if any(ranking.default(kind) != "ranker" for kind in ("item", "session")):
            yield RankedMethod(vectors, ranking), fit_seconds
        yield from ((method, fit_seconds) for method in plain)
        yield RankedMethod(vectors, ranking, variant="evidence"), fit_seconds
    for name in config.evaluation.baselines:
        method = make_baseline(name, seed=config.evaluation.seed)
        say(f"fitting {method.name}")
        started = time.perf_counter()
        yield method.fit(train), time.perf_counter() - started


def run_evaluation(
    config: PipelineConfig,
    *,
    log: bool = True,
    on_stage: Callable[[str], None] | None = None,
) -> EvaluationReport:
    """Fit item2vec and every configured baseline, evaluate them on the same cases, log them.

    Parameters
    ----------
    config
        The pipeline configuration: data and split as for training,
        ``evaluation.baselines``, ``evaluation.protocols`` (and
        ``session_window``), ``evaluation.ks`` and the bootstrap settings.
    log
        Log one MLflow run per method (in ``tracking.experiment``, default
        the dataset name).
    on_stage
        Called with a short description when a stage starts.

    Returns
    -------
    EvaluationReport
    """
    say = on_stage or (lambda _message: None)
    say(f"reading {config.data.path}")
    prepared = load_training_data(config)
    evaluation = config.evaluation
    cases: dict[str, EvaluationCases] = {
        p: build_cases(prepared.test, p, session_window=evaluation.session_window) for p in evaluation.protocols
    }
    popularity = item_popularity(prepared.train)
    report_id = uuid.uuid4().hex[:12]
    experiment = None
    if log:
        tracking.use_tracking_uri(config.tracking.tracking_uri)
        experiment = tracking.experiment_id(config.tracking.experiment or config.data.name)
    reports = []
    warm_vectors = None
    for method, fit_seconds in _fitted_methods(config, prepared.train, say):
        if isinstance(method, Item2VecMethod):
            warm_vectors = method.vectors_
        results = {}
        for protocol, protocol_cases in cases.items():
            say(f"evaluating {method.name} on {len(protocol_cases):,} {protocol} cases")
            results[protocol] = evaluate_method(
                method, protocol_cases, ks=evaluation.ks, n_catalogue=prepared.counts["items"],
                batch_size=evaluation.batch_size, popularity=popularity,
                bootstrap_resamples=evaluation.bootstrap_resamples, seed=evaluation.seed,
                exclude_seen=evaluation.exclude_seen,
            )
        report = MethodReport(method=method.name, fit_seconds=fit_seconds, results=results, run_id=None)
        if experiment is not None:
            run_id = _log_run(config, method, report, experiment=experiment, counts=prepared.counts,
                              train=prepared.train, report_id=report_id)
            report = dataclasses.replace(report, run_id=run_id)
        reports.append(report)
    cold_start = None
    if prepared.metadata is not None and config.cold_start.evaluate:
        cold_start = _cold_start(config, prepared.train, prepared.test, prepared.metadata, warm_vectors=warm_vectors,
                                 experiment=experiment, report_id=report_id, say=say)
    return EvaluationReport(
        dataset=config.data.name,
        counts=prepared.counts,
        protocols=tuple(evaluation.protocols),
        ks=tuple(evaluation.ks),
        methods=tuple(reports),
        report_id=report_id,
        n_resamples=evaluation.bootstrap_resamples,
        seed=evaluation.seed,
        cold_start=cold_start,
    )


def _cold_start(
    config: PipelineConfig, train: pl.DataFrame, test: pl.DataFrame, metadata: pl.DataFrame, *,
    warm_vectors: ItemVectors | None, experiment: str | None, report_id: str, say: Callable[[str], None],
) -> ColdStartReport | None:
    """The cold-start protocol, logged as one run (tag ``method=cold-start``); None (with a warning) when
    too few items have metadata."""
    say("cold-start protocol")
    try:
        report = evaluate_cold_start(config, train, test, metadata, warm_vectors=warm_vectors,
                                     resolve=resolved_config, say=say)
    except DataError as error:
        warnings.warn(f"no cold-start protocol: {error}", stacklevel=2)
        return None
    if experiment is not None:
        with tracked_run(experiment_id=experiment, run_name="cold-start"):
            mlflow.set_tags({"method": "cold-start", "evaluation_report": report_id,
                             "git_commit": tracking.git_commit() or "unknown"})
            tracking.log_config(config)
            mlflow.log_metrics({**report.metrics(), **report.mapper.metrics()})
    return report
