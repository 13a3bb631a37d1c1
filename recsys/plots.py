"""Matplotlib figures logged with runs: loss, metric@k, sweep heatmaps, item maps, data distributions.

Every function returns a :class:`matplotlib.figure.Figure` (Agg backend, no
screen needed); the caller logs it with ``mlflow.log_figure`` and closes it.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import polars as pl  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from recsys.evaluation.protocol import MethodResult  # noqa: E402
from recsys.item2vec import EpochReport, ItemVectors  # noqa: E402

__all__ = [
    "loss_figure",
    "metric_at_k_figure",
    "heatmap_figure",
    "metric_vs_param_figure",
    "projection_figure",
    "sequence_length_figure",
    "item_popularity_figure",
    "coverage_popularity_figure",
]


def loss_figure(reports: Sequence[EpochReport]) -> Figure:
    """Training loss per epoch."""
    figure, axis = plt.subplots(figsize=(6, 3.5))
    axis.plot([r.epoch for r in reports], [r.loss for r in reports], marker="o")
    axis.set_xlabel("epoch")
    axis.set_ylabel("training loss (sum over epoch)")
    axis.set_title("item2vec training loss")
    axis.grid(alpha=0.3)
    figure.tight_layout()
    return figure


def metric_at_k_figure(results: Sequence[MethodResult], metrics: Sequence[str] = ("hr", "ndcg")) -> Figure:
    """One panel per metric family: value at each k, one line per method."""
    figure, axes = plt.subplots(1, len(metrics), figsize=(5 * len(metrics), 3.5), squeeze=False)
    for axis, family in zip(axes[0], metrics):
        for result in results:
            points = sorted(
                (int(name.rsplit("_at_", 1)[1]), value)
                for name, value in result.metrics.items()
                if name.startswith(f"{family}_at_") and name.rsplit("_at_", 1)[1].isdigit()
            )
            if points:
                axis.plot(*zip(*points), marker="o", label=result.method)
        axis.set_xlabel("k")
        axis.set_ylabel(f"{family.upper()}@k")
        axis.set_title(f"{family.upper()}@k on the test pairs")
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    figure.tight_layout()
    return figure


def heatmap_figure(trials: pl.DataFrame, metric: str, *, x: str = "window", y: str = "vector_size") -> Figure:
    """Best ``metric`` for each (x, y) pair of hyperparameters, as an annotated heatmap."""
    table = trials.group_by(x, y).agg(pl.col(metric).max()).sort(x, y)
    xs = sorted(table[x].unique().to_list())
    ys = sorted(table[y].unique().to_list())
    grid = np.full((len(ys), len(xs)), np.nan)
    for row in table.iter_rows(named=True):
        grid[ys.index(row[y]), xs.index(row[x])] = row[metric]
    figure, axis = plt.subplots(figsize=(1.2 * len(xs) + 3, 0.8 * len(ys) + 2.5))
    image = axis.imshow(grid, cmap="viridis", aspect="auto", origin="lower")
    axis.set_xticks(range(len(xs)), [str(v) for v in xs])
    axis.set_yticks(range(len(ys)), [str(v) for v in ys])
    axis.set_xlabel(x)
    axis.set_ylabel(y)
    finite = grid[np.isfinite(grid)]
    middle = float(finite.mean()) if finite.size else 0.0
    for (i, j), value in np.ndenumerate(grid):
        if np.isfinite(value):
            axis.text(j, i, f"{value:.3f}", ha="center", va="center",
                      color="black" if value > middle else "white", fontsize=9)
    figure.colorbar(image, ax=axis, label=f"best {metric}")
    axis.set_title(f"{metric} by {x} and {y}")
    figure.tight_layout()
    return figure


def metric_vs_param_figure(trials: pl.DataFrame, metric: str, param: str = "ns_exponent") -> Figure:
    """Every trial's ``metric`` against one hyperparameter, with the best per value joined."""
    figure, axis = plt.subplots(figsize=(6, 3.5))
    axis.scatter(trials[param].to_numpy(), trials[metric].to_numpy(), alpha=0.6, label="trials")
    best = trials.group_by(param).agg(pl.col(metric).max()).sort(param)
    axis.plot(best[param].to_numpy(), best[metric].to_numpy(), color="C3", marker="o", label="best")
    axis.set_xlabel(param)
    axis.set_ylabel(metric)
    axis.set_title(f"{metric} against {param}")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    figure.tight_layout()
    return figure


def _colour_field(metadata: pl.DataFrame) -> str | None:
    for field in ("genre", "tag", "tags", "artist"):
        if field in metadata.columns:
            return field
    return None


def projection_figure(
    vectors: ItemVectors,
    metadata: pl.DataFrame | None = None,
    *,
    field: str | None = None,
    max_points: int = 3000,
    n_labels: int = 8,
    seed: int = 0,
) -> Figure:
    """2-D PCA map of the item vectors, coloured by a metadata field, a few items labelled.

    Parameters
    ----------
    vectors
        Trained item vectors.
    metadata
        Item metadata; without it all points share one colour.
    field
        Column to colour by (default: genre, tag, or artist, the first present).
        The 10 most frequent values get colours, the rest are grey.
    max_points
        Items drawn at most (a seeded sample of the catalogue).
    n_labels
        The most popular items among those drawn are labelled with their title.
    """
    rng = np.random.default_rng(seed)
    n = len(vectors)
    rows = np.sort(rng.choice(n, size=min(n, max_points), replace=False))
    unit = vectors.vectors[rows] / np.maximum(np.linalg.norm(vectors.vectors[rows], axis=1, keepdims=True), 1e-12)
    centred = unit - unit.mean(axis=0)
    _, _, components = np.linalg.svd(centred, full_matrices=False)
    points = centred @ components[:2].T
    ids = [vectors.item_ids[r] for r in rows]
    frame = pl.DataFrame({"item_id": ids})
    if metadata is not None:
        frame = frame.join(metadata, on="item_id", how="left", maintain_order="left")
    field = field or (_colour_field(metadata) if metadata is not None else None)
    figure, axis = plt.subplots(figsize=(7.5, 6))
    if field is not None and field in frame.columns:
        values = frame[field].fill_null("unknown").to_list()
        top = [v for v, _ in pl.Series(values).value_counts(sort=True).rows()[:10]]
        for colour, value in enumerate(top):
            mask = np.array([v == value for v in values])
            axis.scatter(points[mask, 0], points[mask, 1], s=8, alpha=0.7, color=f"C{colour}", label=str(value))
        rest = np.array([v not in top for v in values])
        if rest.any():
            axis.scatter(points[rest, 0], points[rest, 1], s=6, alpha=0.3, color="lightgrey", label="other")
        axis.legend(fontsize=7, markerscale=2, title=field, loc="best")
    else:
        axis.scatter(points[:, 0], points[:, 1], s=8, alpha=0.7)
    popular = np.argsort(-vectors.counts[rows], kind="stable")[:n_labels]
    titles = frame["title"].to_list() if "title" in frame.columns else ids
    for i in popular:
        axis.annotate(str(titles[i] or ids[i])[:24], points[i], fontsize=7, alpha=0.9)
    axis.set_title(f"item vectors, PCA ({len(rows):,} of {n:,} items)" + (f", coloured by {field}" if field else ""))
    axis.set_xticks([])
    axis.set_yticks([])
    figure.tight_layout()
    return figure


def sequence_length_figure(lengths: np.ndarray) -> Figure:
    """Histogram of sequence lengths (items per training sequence), log-scaled counts."""
    lengths = np.asarray(lengths, dtype=np.int64)
    figure, axis = plt.subplots(figsize=(6, 3.5))
    if lengths.size:
        top = int(np.percentile(lengths, 99.5))
        bins = np.arange(lengths.min(), max(top, int(lengths.min())) + 2) if top < 80 else 60
        axis.hist(np.minimum(lengths, top + 1), bins=bins, color="C0", alpha=0.85)
        axis.axvline(float(np.median(lengths)), color="C3", linestyle="--", label=f"median {np.median(lengths):g}")
        axis.legend(fontsize=8)
    axis.set_yscale("log")
    axis.set_xlabel("items per sequence (the top 0.5% in the last bin)")
    axis.set_ylabel("sequences")
    axis.set_title("sequence lengths (training sequences)")
    axis.grid(alpha=0.3)
    figure.tight_layout()
    return figure


def item_popularity_figure(counts: np.ndarray) -> Figure:
    """Item occurrences against popularity rank, log-log (a straight line is a power law)."""
    ranked = np.sort(np.asarray(counts, dtype=np.int64))[::-1]
    figure, axis = plt.subplots(figsize=(6, 3.5))
    if ranked.size:
        axis.loglog(np.arange(1, ranked.size + 1), np.maximum(ranked, 1), color="C0")
    axis.set_xlabel("item popularity rank")
    axis.set_ylabel("occurrences in training")
    axis.set_title("item popularity (long tail)")
    axis.grid(alpha=0.3, which="both")
    figure.tight_layout()
    return figure


def coverage_popularity_figure(results: Sequence[MethodResult], k: int) -> Figure:
    """Catalogue coverage against the mean popularity percentile of the recommendations, one point per method."""
    figure, axis = plt.subplots(figsize=(6, 3.8))
    for index, result in enumerate(results):
        coverage = result.metrics.get(f"coverage_at_{k}")
        popularity = result.metrics.get(f"popularity_at_{k}")
        if coverage is None or popularity is None:
            continue
        axis.scatter([coverage], [popularity], s=60, color=f"C{index}", zorder=3)
        axis.annotate(result.method, (coverage, popularity), textcoords="offset points", xytext=(6, 4), fontsize=8)
    axis.set_xlim(-0.02, 1.05)
    axis.set_ylim(0, 105)
    axis.axhline(50, color="grey", linestyle=":", linewidth=1)
    axis.set_xlabel(f"catalogue coverage@{k} (share of items ever recommended)")
    axis.set_ylabel(f"popularity percentile@{k}")
    axis.set_title("coverage and popularity bias (lower right: diverse, long tail)")
    axis.grid(alpha=0.3)
    figure.tight_layout()
    return figure
