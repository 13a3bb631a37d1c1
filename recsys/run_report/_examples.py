"""Example recommendations of a report: a few popular and a few rare items, and what the model answers for them."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from recsys.item2vec import ItemVectors
from recsys.ranking import Ranking
from recsys.recommender import Recommender

__all__ = ["EXAMPLE_K", "Example", "RELATION_TITLES", "example_items", "examples", "label_columns", "relations_of"]

EXAMPLE_K = 5
"""Recommendations shown per example item and relation."""

RELATION_TITLES = {
    "next": "next: what comes after or goes with it",
    "similar": "similar: substitutes, items that play the same role",
}


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


def relations_of(vectors: ItemVectors) -> list[str]:
    """The relations a model can answer, its default first."""
    available = ["next", "similar"] if vectors.context_vectors is not None else ["similar"]
    return sorted(available, key=lambda relation: relation != vectors.default_relation)


def label_columns(metadata: pl.DataFrame | None) -> list[str]:
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
    columns = label_columns(metadata)
    count_of = dict(zip(vectors.item_ids, vectors.counts.tolist()))
    labels: dict[str, dict[str, str]] = {}
    if metadata is not None and columns:
        for row in metadata.select("item_id", *columns).iter_rows(named=True):
            labels[row["item_id"]] = {c: _text(row[c]) for c in columns}
    relations = relations_of(vectors)
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
