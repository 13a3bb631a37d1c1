"""Why two items are, or are not, recommended for each other: :func:`explain`."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from recsys.errors import ConfigError
from recsys.ranking import SIGNALS, Blend, Ranker
from recsys.recommender._results import Explanation
from recsys.vocab import Vocabulary

__all__ = ["explain"]


def explain(
    item_a: str,
    item_b: str,
    *,
    vocabulary: Vocabulary,
    unit_vectors: np.ndarray,
    counts: np.ndarray,
    cold: np.ndarray,
    sequences: pl.DataFrame | None,
    ranker: Ranker | None,
    blend: Blend | None,
    candidates: int,
) -> Explanation:
    """The cosine of two items, ``b``'s rank among ``a``'s neighbours, their counts, co-occurrences and,
    with a ranking stage (``ranker`` and the ``blend`` of item queries), what each signal adds to ``b``'s
    place in ``a``'s ranked "next" (``candidates``: the vectors' best items it ranks).

    Raises
    ------
    UnknownItemError
        If either item is not in the catalogue.
    ConfigError
        If the two items are the same.
    """
    if item_a == item_b:
        raise ConfigError(f"explain compares two different items, got {item_a!r} twice")
    row_a, row_b = vocabulary.row(item_a), vocabulary.row(item_b)
    scores = unit_vectors @ unit_vectors[row_a]
    scores[row_a] = -np.inf
    together = None
    if sequences is not None:
        both = pl.col("items").list.contains(item_a) & pl.col("items").list.contains(item_b)
        together = int(sequences.select(both.sum()).item())
    ranked: dict[str, Any] = {}
    if ranker is not None and blend is not None and not cold[row_a]:
        ranked = _ranked(ranker, blend, candidates, row_a, row_b)
    return Explanation(
        item_a=item_a,
        item_b=item_b,
        similarity=float(scores[row_b]),
        rank=int(np.count_nonzero(scores > scores[row_b])) + 1,
        counts=(int(counts[row_a]), int(counts[row_b])),
        co_occurrences=together,
        from_metadata=(bool(cold[row_a]), bool(cold[row_b])),
        **ranked,
    )


def _ranked(ranker: Ranker, blend: Blend, candidates: int, row_a: int, row_b: int) -> dict[str, Any]:
    """The ranking stage's view of ``row_b`` as a "next" of ``row_a``: the fields of :class:`Explanation`."""
    query = [np.array([row_a])]
    values = ranker.signals(query, np.array([[row_b]]))[0, 0]
    contributions = values * blend.array
    found, scores = ranker.scored(query, blend, candidates)
    listed = found[0] == row_b
    rank = None
    if listed.any():  # its place among the candidates, by the score they were ranked with
        rank = int(np.count_nonzero(scores[0][~listed] > scores[0][listed][0])) + 1
    return {
        "signals": dict(zip(SIGNALS, values.tolist())),
        "contributions": dict(zip(SIGNALS, contributions.tolist())),
        "next_score": float(contributions.sum()),
        "next_rank": rank,
    }
