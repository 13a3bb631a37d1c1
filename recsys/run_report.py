"""The run report: ``report.html``, one self-contained page per training run or sweep.

It answers the two questions a person opens a recommender run for: how good
is the model against the baselines (the quality table with 95% intervals,
HR/NDCG@k curves, coverage and popularity bias) and what does it recommend
(example items with their titles and artists, under both relations), with
the data and the configuration behind it. It is rendered from what the run
already produced (its results, its params and tags, the PNGs under
``plots/``) through the Jinja2 templates in ``recsys/templates``
(autoescaped), with every image embedded as a data URI, and logged as the
artifact ``report.html``, which MLflow's artifact viewer shows.

A sweep's parent run gets its own page: the trials table, the sweep plots
and the champion decision with both numbers.
"""

from __future__ import annotations

import base64
import math
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
import mlflow
import numpy as np
import polars as pl

from recsys import plots, tracking
from recsys.config import PipelineConfig
from recsys.evaluation.metrics import bootstrap_difference
from recsys.evaluation.protocol import MethodResult
from recsys.item2vec import ItemVectors
from recsys.ranking import SIGNALS, Ranking
from recsys.recommender import Recommender

if TYPE_CHECKING:
    from recsys.pipeline import PreparedData, TrainingResult
    from recsys.tuning import SweepConfig, Trial

__all__ = [
    "REPORT_ARTIFACT",
    "Figure",
    "Example",
    "QualityRow",
    "quality_rows",
    "log_training_report",
    "log_sweep_report",
    "render",
    "example_items",
    "headline_description",
]

REPORT_ARTIFACT = "report.html"
"""Artifact path of the report within its run."""

PLOTS_DIR = "plots"

EXAMPLE_K = 5
"""Recommendations shown per example item and relation."""

_TRAINING_FIGURES = {
    "metric_at_k.png": ("HR@k and NDCG@k", "Every method on the same test cases; higher is better."),
    "loss.png": ("Training loss per epoch", "gensim's summed skip-gram loss; it should fall and flatten."),
    "coverage_popularity.png": (
        "Coverage and popularity bias",
        "Right: more of the catalogue gets recommended; low: the recommendations reach into the long tail "
        "(the percentile of 50 is an item of median popularity).",
    ),
    "sequence_lengths.png": ("Sequence lengths", "Items per training sequence."),
    "item_popularity.png": ("Item popularity", "Occurrences of each item by popularity rank, log-log."),
}
_SWEEP_FIGURES = {
    "heatmap_window_vector_size.png": ("Validation metric by window and vector_size", "Best trial of the first rung per cell."),
    "metric_vs_ns_exponent.png": ("Validation metric against ns_exponent", "Every first-rung trial; the line joins the best per value."),
    "item_map.png": ("Item vectors of the retrained best model", "PCA of the item vectors, coloured by a metadata field."),
}
_RELATION_TITLES = {
    "next": "next: what comes after or goes with it",
    "similar": "similar: substitutes, items that play the same role",
}


@dataclass(frozen=True)
class Figure:
    """An image embedded in the report."""

    title: str
    caption: str
    src: str
    """``data:image/png;base64,...``."""
    name: str = ""
    """The file name under ``plots/``."""


@dataclass(frozen=True)
class QualityRow:
    """One method's line of the quality table at the headline k."""

    method: str
    values: dict[str, float]
    """``hr``, ``ndcg``, ``mrr``, ``precision``, ``coverage``, ``popularity`` and
    ``hr_low``/``hr_high``... when the run has intervals."""
    delta_hr: tuple[float, float, float] | None
    """HR@k minus the primary method's, with its paired 95% interval (None for the primary)."""
    n_unknown: int
    n_pairs: int
    seconds: float
    primary: bool


@dataclass(frozen=True)
class Example:
    """One query item and what the model recommends for it, per relation."""

    kind: str
    """``popular`` or ``rare``."""
    item_id: str
    label: dict[str, str]
    """The query's metadata (title, artist, ...)."""
    count: int
    """The query's occurrences in training."""
    relations: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Rows (rank, item_id, metadata, score, count) per relation."""


# ------------------------------------------------------------------ rendering
def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("recsys", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(num=_num, count=_count, signed=_signed, seconds=_seconds)
    return environment


def render(template: str, **context: Any) -> str:
    """Render one of the report templates (``training_report.html.j2``, ``sweep_report.html.j2``)."""
    generated = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return _environment().get_template(template).render(generated=generated, **context)


def _num(value: Any, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:.{digits}f}"


def _signed(value: Any, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:+.{digits}f}"


def _count(value: Any) -> str:
    return "—" if value is None else f"{int(value):,}"


def _seconds(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:.1f} s" if value < 120 else f"{value / 60:.1f} min"


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


# ------------------------------------------------------------ run contents
def _run_plots(run_id: str) -> dict[str, bytes]:
    """The PNGs a run logged under ``plots/``, by file name."""
    client = mlflow.MlflowClient()
    if not any(a.path.endswith(".png") for a in client.list_artifacts(run_id, PLOTS_DIR)):
        return {}
    with tempfile.TemporaryDirectory() as staging:
        local = Path(mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=PLOTS_DIR, dst_path=staging))
        return {path.name: path.read_bytes() for path in sorted(local.glob("*.png"))}


def _figures(pngs: Mapping[str, bytes], known: Mapping[str, tuple[str, str]]) -> tuple[dict[str, Figure], list[Figure]]:
    """The known plots by name, and every other plot of the run (so new plots show up too)."""
    named = {name: Figure(*known[name], _data_uri(png), name) for name, png in pngs.items() if name in known}
    others = [
        Figure(name.removesuffix(".png").replace("_", " "), f"plots/{name}", _data_uri(png), name)
        for name, png in pngs.items()
        if name not in known and name not in _TRAINING_FIGURES and name not in _SWEEP_FIGURES
    ]
    return named, others


def _config_sections(params: Mapping[str, str]) -> list[tuple[str, list[tuple[str, str]]]]:
    """The run's params grouped like the config: bare names are item2vec's, dotted ones by section."""
    sections: dict[str, list[tuple[str, str]]] = {}
    for name in sorted(params):
        section, dot, key = name.partition(".")
        if not dot:
            section, key = "item2vec", name
        sections.setdefault(section, []).append((key, params[name]))
    order = sorted(sections, key=lambda s: (s != "item2vec", s))
    return [(section, sections[section]) for section in order]


def _user_tags(tags: Mapping[str, str]) -> list[tuple[str, str]]:
    return sorted((k, v) for k, v in tags.items() if not k.startswith("mlflow."))


# ------------------------------------------------------------------ quality
def quality_rows(
    results: Sequence[MethodResult], k: int, *, n_resamples: int = 1000, seed: int = 0
) -> list[QualityRow]:
    """The quality table at cut-off ``k``: the first result is the primary method.

    ``delta_hr`` is each method's HR@k minus the primary's with a paired
    bootstrap interval over the same cases (when the results carry ranks).
    """
    primary = results[0]
    rows = []
    for result in results:
        m = result.metrics
        values = {family: m.get(f"{family}_at_{k}", float("nan"))
                  for family in ("hr", "ndcg", "mrr", "precision", "coverage", "popularity")}
        for family in ("hr", "ndcg", "mrr"):
            for side in ("low", "high"):
                if f"{family}_at_{k}_ci_{side}" in m:
                    values[f"{family}_{side}"] = m[f"{family}_at_{k}_ci_{side}"]
        delta = None
        if result is not primary and result.ranks.size and result.ranks.size == primary.ranks.size and n_resamples:
            delta = bootstrap_difference(result.ranks, primary.ranks, k, metric="hr", n_resamples=n_resamples, seed=seed)
        rows.append(QualityRow(method=result.method, values=values, delta_hr=delta, n_unknown=result.n_unknown,
                               n_pairs=result.n_pairs, seconds=result.seconds, primary=result is primary))
    return rows


def _best_of(rows: Sequence[QualityRow]) -> dict[str, str]:
    """The method with the highest value of each column (lowest for popularity bias is not 'best': left out)."""
    best = {}
    for column in ("hr", "ndcg", "mrr", "precision", "coverage"):
        finite = [r for r in rows if not math.isnan(r.values[column])]
        if finite:
            best[column] = max(finite, key=lambda r: r.values[column]).method
    return best


def _is_baseline(method: str) -> bool:
    return not method.startswith("item2vec")


def _verdict(rows: Sequence[QualityRow], k: int) -> str:
    """One sentence: the primary method against the best baseline on HR@k."""
    primary = rows[0]
    baselines = [r for r in rows if _is_baseline(r.method) and not math.isnan(r.values["hr"])]
    if not baselines:
        return f"{primary.method}: HR@{k} {_num(primary.values['hr'])} (no baseline evaluated)."
    best = max(baselines, key=lambda r: r.values["hr"])
    text = (f"{primary.method} HR@{k} {_num(primary.values['hr'])} against the best baseline, "
            f"{best.method}, {_num(best.values['hr'])}")
    if best.delta_hr is None:
        return text + "."
    diff, low, high = (-value for value in best.delta_hr)  # primary minus baseline
    low, high = min(low, high), max(low, high)
    if low > 0:
        verdict = "better"
    elif high < 0:
        verdict = "worse"
    else:
        verdict = "not distinguishable (the interval holds 0)"
    return text + f": {_signed(diff)} [{_signed(low)}, {_signed(high)}], {verdict}."


# ----------------------------------------------------------------- examples
def example_items(
    vectors: ItemVectors, metadata: pl.DataFrame | None = None, *, n_popular: int = 3, n_rare: int = 3
) -> list[tuple[str, str]]:
    """A few popular and a few rare items to show recommendations for, as ``(kind, item_id)``.

    Popular items are the most frequent in training, rare ones the least
    frequent (from the rarest tenth of the catalogue, or the rarest
    ``3 * n_rare`` items); with metadata, items of a genre (or artist)
    already shown are passed over while others are left.
    """
    order = np.argsort(-vectors.counts, kind="stable")
    ids = vectors.item_ids
    group_of: Callable[[str], Any] = lambda _item: None  # noqa: E731
    if metadata is not None:
        column = next((c for c in ("genre", "artist") if c in metadata.columns), None)
        if column is not None:
            groups = dict(zip(metadata["item_id"].to_list(), metadata[column].to_list()))
            group_of = groups.get
    popular = _diverse([ids[i] for i in order], n_popular, group_of)
    tail = [ids[i] for i in order[::-1][: max(3 * n_rare, len(order) // 10)] if ids[i] not in popular]
    rare = _diverse(tail, n_rare, group_of)
    return [("popular", item) for item in popular] + [("rare", item) for item in rare]


def _diverse(candidates: Sequence[str], n: int, group_of: Callable[[str], Any]) -> list[str]:
    """The first ``n`` candidates, preferring items whose group was not taken yet."""
    chosen: list[str] = []
    seen: set[Any] = set()
    for item in candidates:
        group = group_of(item)
        if group is None or group not in seen:
            chosen.append(item)
            seen.add(group)
        if len(chosen) == n:
            return chosen
    return chosen + [item for item in candidates if item not in chosen][: n - len(chosen)]


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


def _relations(vectors: ItemVectors) -> list[str]:
    """The relations a model can answer, its default first."""
    available = ["next", "similar"] if vectors.context_vectors is not None else ["similar"]
    return sorted(available, key=lambda relation: relation != vectors.default_relation)


def _label_columns(metadata: pl.DataFrame | None) -> list[str]:
    if metadata is None:
        return []
    preferred = [c for c in ("title", "artist", "album", "genre", "genres", "tags") if c in metadata.columns]
    rest = [c for c in metadata.columns if c != "item_id" and c not in preferred]
    return (preferred + rest)[:3]


def _text(value: Any, limit: int = 60) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple, pl.Series)):
        value = ", ".join(str(v) for v in value)
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def examples(
    vectors: ItemVectors, metadata: pl.DataFrame | None, items: Iterable[tuple[str, str]], *, k: int = 5,
    ranking: Ranking | None = None,
) -> list[Example]:
    """Top-``k`` recommendations of every item in ``items`` under each relation the model has, as the
    model answers them (with its ranking stage, if it has one)."""
    recommender = Recommender(vectors, metadata, ranking=ranking)
    columns = _label_columns(metadata)
    count_of = dict(zip(vectors.item_ids, vectors.counts.tolist()))
    labels: dict[str, dict[str, str]] = {}
    if metadata is not None and columns:
        for row in metadata.select("item_id", *columns).iter_rows(named=True):
            labels[row["item_id"]] = {c: _text(row[c]) for c in columns}
    relations = _relations(vectors)
    shown = []
    for kind, item in items:
        example = Example(kind=kind, item_id=item, label=labels.get(item, {}), count=int(count_of[item]))
        for relation in relations:
            ids, scores = recommender.recommend(item, k, relation=relation)  # type: ignore[arg-type]
            example.relations[relation] = [
                {"rank": rank, "item_id": other, "label": labels.get(other, {}), "score": float(score),
                 "count": int(count_of.get(other, 0))}
                for rank, (other, score) in enumerate(zip(ids.tolist(), scores.tolist()), start=1)
            ]
        shown.append(example)
    return shown


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


# ----------------------------------------------------------------- training
def headline_description(rows: Sequence[QualityRow], *, k: int, dataset: str, train_seconds: float,
                         champion: str) -> str:
    """The run's description (Markdown, shown at the top of the MLflow run page): the headline numbers."""
    primary = rows[0]
    v = primary.values
    interval = f" [{_num(v['hr_low'])}, {_num(v['hr_high'])}]" if "hr_low" in v else ""
    lines = [
        f"**{primary.method} on {dataset}**: HR@{k} **{_num(v['hr'])}**{interval}, NDCG@{k} **{_num(v['ndcg'])}**, "
        f"coverage@{k} {_num(v['coverage'], 3)}, trained in {_seconds(train_seconds)}.",
        "",
        _verdict(rows, k) + f" {champion}",
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
    return f"Champion {metric}: {_num(champion_value)} before, this model {_num(value)}: {verdict}."


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
        The champion decision (see :func:`recsys.tracking.promote_champion`).
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
    figures, other_figures = _figures(_run_plots(run.info.run_id), _TRAINING_FIGURES)
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
        best=_best_of(rows),
        verdict=_verdict(rows, k),
        champion=champion,
        train_seconds=train_seconds,
        epochs=vectors.epochs,
        default_relation=vectors.default_relation,
        examples=examples(vectors, prepared.metadata, example_items(vectors, prepared.metadata), k=EXAMPLE_K,
                          ranking=ranking),
        ranking=_ranking_table(ranking),
        example_k=EXAMPLE_K,
        relations=_relations(vectors),
        label_columns=_label_columns(prepared.metadata),
        relation_titles=_RELATION_TITLES,
        config_sections=_config_sections(stored.data.params),
        tags=_user_tags(stored.data.tags),
        figures=figures,
        other_figures=other_figures,
    )
    mlflow.log_text(html, REPORT_ARTIFACT)
    mlflow.set_tag("mlflow.note.content", headline_description(
        rows, k=k, dataset=config.data.name, train_seconds=train_seconds, champion=champion))
    return html


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
    figures, other_figures = _figures(_run_plots(run.info.run_id), _SWEEP_FIGURES)
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
