"""Corpus statistics: the measurements the data-adaptive defaults are set from."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import polars as pl

from recsys.data._schema import check_sequences

__all__ = ["CorpusStats", "corpus_stats"]

WINDOW = 5
"""The symmetric window :attr:`CorpusStats.pairs_per_item` counts pairs in."""


@dataclass(frozen=True)
class CorpusStats:
    """Size, sparsity and sequentiality of a set of training sequences."""

    n_sequences: int
    """Sequences."""
    n_words: int
    """Item occurrences in all sequences (what one training epoch reads)."""
    n_items: int
    """Distinct items."""
    mean_length: float
    """Mean sequence length."""
    occurrences_per_item: float
    """``n_words / n_items``: how often the average item is seen. Under ~10
    the corpus is sparse: most items are seen a handful of times and need
    many updates to move away from their random start."""
    singleton_share: float
    """Share of items seen exactly once."""
    pairs_per_item: float
    """Context pairs per item: the pairs a symmetric window of 5 makes
    (nearer ones weighted more, as gensim shrinks windows) over ``n_items``.
    Short sessions make few pairs per occurrence, long histories many;
    this, not the occurrences alone, is what sets how much training the
    items need."""
    successor_share: float
    """How predictable the next item is: over all transitions ``a -> b``
    (consecutive, different items), the share that go to ``a``'s most
    frequent successor, for items with at least two transitions. Near 1 for
    albums replayed in order, low for shuffled playlists or rating histories."""

    def as_dict(self) -> dict[str, float]:
        """The statistics by name."""
        return asdict(self)


def corpus_stats(sequences: pl.DataFrame) -> CorpusStats:
    """Measure a sequences frame (the sequences contract).

    Parameters
    ----------
    sequences
        Training sequences.

    Returns
    -------
    CorpusStats
    """
    sequences = check_sequences(sequences)
    lengths = sequences["items"].list.len().to_numpy().astype(np.float64)
    pairs = sum(2.0 * np.maximum(lengths - d, 0.0).sum() * (WINDOW - d + 1) / WINDOW for d in range(1, WINDOW + 1))
    items = sequences.select(pl.int_range(pl.len()).alias("sequence"), "items").explode("items")
    counts = items.group_by("items").len()
    n_words, n_items = items.height, counts.height
    transitions = (
        items.with_columns(pl.col("items").shift(-1).over("sequence").alias("next"))
        .filter(pl.col("next").is_not_null() & (pl.col("next") != pl.col("items")))
        .group_by("items", "next")
        .len()
    )
    per_item = transitions.group_by("items").agg(pl.col("len").sum().alias("total"), pl.col("len").max().alias("top"))
    repeated = per_item.filter(pl.col("total") >= 2)
    total = int(repeated["total"].sum() or 0)
    return CorpusStats(
        n_sequences=sequences.height,
        n_words=n_words,
        n_items=n_items,
        mean_length=n_words / max(sequences.height, 1),
        occurrences_per_item=n_words / max(n_items, 1),
        pairs_per_item=float(pairs) / max(n_items, 1),
        singleton_share=float((counts["len"] == 1).mean() or 0.0) if n_items else 0.0,
        successor_share=int(repeated["top"].sum() or 0) / total if total else 0.0,
    )
