"""A training run's report: the quality table, the ranking stage, the examples, the data and the configuration."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import mlflow
import numpy as np

from recsys import plots, tracking
from recsys.config import PipelineConfig
from recsys.evaluation.protocol import MethodResult
from recsys.item2vec import ItemVectors
from recsys.ranking import SIGNALS, Ranking
from recsys.results import PreparedData
from recsys.run_report._examples import EXAMPLE_K, RELATION_TITLES, example_items, examples, label_columns, relations_of
from recsys.run_report._quality import QualityRow, best_of, quality_rows, verdict
from recsys.run_report._render import (
    PLOTS_DIR,
    REPORT_ARTIFACT,
    TRAINING_FIGURES,
    config_sections,
    embedded_figures,
    num,
    render,
    run_plots,
    seconds,
    user_tags,
)

__all__ = ["headline_description", "log_training_report"]



# ------------------------------------------------------------------ dataset
def _distribution(values: np.ndarray) -> dict[str, float]:
    if values.size == 0:
        return {}
    return {
        "min": float(values.min()), "median": float(np.median(values)), "mean": float(values.mean()),
        "p90": float(np.percentile(values, 90)), "p99": float(np.percentile(values, 99)), "max": float(values.max()),
    }


def _popularity_summary(counts: np.ndarray) -> dict[str, float]:
    ranked = np.sort(np.asarray(counts, dtype=np.float64))[::-1]
    total = ranked.sum()
    if not ranked.size or total == 0:
        return {}
    top = lambda share: float(ranked[: max(1, int(round(share * ranked.size)))].sum() / total)  # noqa: E731
    return {
        "top_1_percent_share": top(0.01),
        "top_10_percent_share": top(0.10),
        "under_5_share": float((ranked < 5).mean()),
        **{f"count_{k}": v for k, v in _distribution(ranked).items()},
    }


def _ranking_table(ranking: Ranking | None) -> dict[str, Any] | None:
    """The ranking stage for the report: each signal's weight per blend, and what each kind of query uses."""
    if ranking is None:
        return None
    blends = {f"{kind} queries": blend for kind, blend in ranking.blends.items()}
    blends.update({f"{kind}, evidence only": blend for kind, blend in ranking.evidence_blends.items()})
    return {
        "signals": list(SIGNALS),
        "blends": {name: blend.by_signal for name, blend in blends.items()},
        "defaults": {kind: ranking.default(kind) for kind in ranking.blends},
        "validation": {kind: (ranking.validation.get(f"{kind}/ranker_score"),
                              ranking.validation.get(f"{kind}/vectors_score")) for kind in ranking.blends},
        "evidence_mb": ranking.evidence.nbytes / 2**20,
    }




# ----------------------------------------------------------------- training
def headline_description(rows: Sequence[QualityRow], *, k: int, dataset: str, train_seconds: float,
                         champion: str) -> str:
    """The run's description (Markdown, shown at the top of the MLflow run page): the headline numbers."""
    primary = rows[0]
    v = primary.values
    interval = f" [{num(v['hr_low'])}, {num(v['hr_high'])}]" if "hr_low" in v else ""
    lines = [
        f"**{primary.method} on {dataset}**: HR@{k} **{num(v['hr'])}**{interval}, NDCG@{k} **{num(v['ndcg'])}**, "
        f"coverage@{k} {num(v['coverage'], 3)}, trained in {seconds(train_seconds)}.",
        "",
        verdict(rows, k) + f" {champion}",
        "",
        f"The report (quality table with 95% intervals, curves, example recommendations): "
        f"*Artifacts > {REPORT_ARTIFACT}*. Headline metrics are bare (`hr_at_{k}`...); "
        "the *Model metrics* tab groups the rest in sections, one per method.",
    ]
    return "\n".join(lines)


def _champion_text(registered: str | None, promoted: bool, champion_value: float | None, value: float,
                   metric: str) -> str:
    if not registered:
        return "The model was not registered."
    if champion_value is None:
        return (f"Registered as {registered}; it " + ("became the champion" if promoted else "was not promoted")
                + " (no champion measured on the same test split).")
    verdict = "takes the alias champion" if promoted else "the old champion stays"
    return f"Champion {metric}: {num(champion_value)} before, this model {num(value)}: {verdict}."


def log_training_report(
    config: PipelineConfig,
    prepared: PreparedData,
    vectors: ItemVectors,
    results: Sequence[MethodResult],
    *,
    train_seconds: float,
    promoted: bool = False,
    champion_value: float | None = None,
    ranking: Ranking | None = None,
) -> str:
    """Render and log the active training run's ``report.html``; set its description to the headline.

    Also logs the data and coverage plots the report shows
    (``plots/sequence_lengths.png``, ``plots/item_popularity.png``,
    ``plots/coverage_popularity.png``).

    Parameters
    ----------
    config
        The run's pipeline config (data source, headline k, bootstrap settings).
    prepared
        The training and test sequences, metadata and counts.
    vectors
        The trained item vectors.
    results
        Every method's results on the test cases, the model's default relation first.
    train_seconds
        Wall time of training.
    promoted, champion_value
        The champion decision (see :func:`recsys.registry.promote_champion`).
    ranking
        The model's ranking stage: its weights and choice are shown, and the
        examples are ranked by it as the model answers.

    Returns
    -------
    str
        The HTML logged.
    """
    run = mlflow.active_run()
    if run is None:
        raise RuntimeError("log_training_report needs an active MLflow run")
    k = config.evaluation.headline_k
    evaluation = config.evaluation
    lengths = prepared.train["items"].list.len().to_numpy()
    tracking.log_figure(plots.sequence_length_figure(lengths), f"{PLOTS_DIR}/sequence_lengths.png")
    tracking.log_figure(plots.item_popularity_figure(vectors.counts), f"{PLOTS_DIR}/item_popularity.png")
    tracking.log_figure(plots.coverage_popularity_figure(results, k), f"{PLOTS_DIR}/coverage_popularity.png")

    stored = mlflow.MlflowClient().get_run(run.info.run_id)
    rows = quality_rows(results, k, n_resamples=evaluation.bootstrap_resamples, seed=evaluation.seed)
    champion = _champion_text(config.tracking.registered_model if config.tracking.log_model else None,
                              promoted, champion_value, results[0].metrics.get(f"hr_at_{k}", float("nan")),
                              f"hr_at_{k}")
    figures, other_figures = embedded_figures(run_plots(run.info.run_id), TRAINING_FIGURES)
    html = render(
        "training_report.html.j2",
        run_id=run.info.run_id,
        run_name=stored.info.run_name,
        dataset=config.data.name,
        source={"path": str(config.data.path), "format": config.data.format,
                "digest": stored.data.tags.get("dataset.digest", ""),
                "metadata": str(config.data.metadata) if config.data.metadata else None,
                "test_path": str(config.data.test_path) if config.data.test_path else None},
        counts=prepared.counts,
        lengths=_distribution(lengths),
        popularity=_popularity_summary(vectors.counts),
        k=k,
        ks=list(evaluation.ks),
        protocol=results[0].protocol,
        n_resamples=evaluation.bootstrap_resamples,
        rows=rows,
        best=best_of(rows),
        verdict=verdict(rows, k),
        champion=champion,
        train_seconds=train_seconds,
        epochs=vectors.epochs,
        default_relation=vectors.default_relation,
        examples=examples(vectors, prepared.metadata, example_items(vectors, prepared.metadata), k=EXAMPLE_K,
                          ranking=ranking),
        ranking=_ranking_table(ranking),
        example_k=EXAMPLE_K,
        relations=relations_of(vectors),
        label_columns=label_columns(prepared.metadata),
        relation_titles=RELATION_TITLES,
        config_sections=config_sections(stored.data.params),
        tags=user_tags(stored.data.tags),
        figures=figures,
        other_figures=other_figures,
    )
    mlflow.log_text(html, REPORT_ARTIFACT)
    mlflow.set_tag("mlflow.note.content", headline_description(
        rows, k=k, dataset=config.data.name, train_seconds=train_seconds, champion=champion))
    return html
