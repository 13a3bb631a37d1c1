"""Baselines evaluated in the same harness and split as item2vec."""

from __future__ import annotations

import numpy as np
import polars as pl
import scipy.sparse as sp

from recsys.evaluation.methods import Method

__all__ = ["PopularBaseline", "CooccurrenceBaseline", "make_baseline", "incidence_matrix"]


def incidence_matrix(sequences: pl.DataFrame) -> tuple[sp.csr_matrix, tuple[str, ...]]:
    """Binary sequence-by-item matrix of a sequences frame.

    Returns
    -------
    matrix, item_ids
        CSR matrix of shape ``(n_sequences, n_items)`` with 1 where the item
        occurs in the sequence, and the item ids of its columns, sorted.
    """
    exploded = (
        sequences.select(pl.int_range(pl.len(), dtype=pl.Int64).alias("row"), "items")
        .explode("items")
        .unique(["row", "items"])
    )
    item_ids = tuple(sorted(exploded["items"].unique().to_list()))
    column = {item: i for i, item in enumerate(item_ids)}
    cols = np.fromiter((column[i] for i in exploded["items"].to_list()), dtype=np.int64)
    rows = exploded["row"].to_numpy()
    matrix = sp.csr_matrix(
        (np.ones(len(rows), dtype=np.float32), (rows, cols)),
        shape=(sequences.height, len(item_ids)),
    )
    return matrix, item_ids


class PopularBaseline(Method):
    """Recommend the most played items, whatever the query."""

    name = "popular"

    def fit(self, train_sequences: pl.DataFrame) -> "PopularBaseline":
        counts = (
            train_sequences.select(pl.col("items").explode().alias("item_id"))
            .group_by("item_id")
            .len()
            .sort("item_id")
        )
        self.item_ids_ = tuple(counts["item_id"].to_list())
        self.counts_ = counts["len"].to_numpy().astype(np.float32)
        return self

    def score(self, query_rows: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.counts_, (len(query_rows), len(self.counts_))).copy()


class CooccurrenceBaseline(Method):
    """Item-to-item cosine similarity of sequence-by-item incidence columns.

    ``score(a, b) = n_ab / sqrt(n_a * n_b)``, where ``n_ab`` counts sequences
    holding both items and ``n_a`` those holding ``a``.
    """

    name = "cooccurrence"

    def fit(self, train_sequences: pl.DataFrame) -> "CooccurrenceBaseline":
        incidence, self.item_ids_ = incidence_matrix(train_sequences)
        column_norms = np.sqrt(np.asarray(incidence.sum(axis=0)).ravel())
        column_norms[column_norms == 0] = 1.0
        normalized = incidence @ sp.diags(1.0 / column_norms).astype(np.float32)
        self._normalized_t = normalized.T.tocsr()
        self._normalized = normalized.tocsc()
        return self

    def score(self, query_rows: np.ndarray) -> np.ndarray:
        similarities = self._normalized_t[query_rows] @ self._normalized
        return np.asarray(similarities.todense(), dtype=np.float32)


_BASELINES: dict[str, type[Method]] = {
    PopularBaseline.name: PopularBaseline,
    CooccurrenceBaseline.name: CooccurrenceBaseline,
}


def make_baseline(name: str) -> Method:
    """Create an unfitted baseline by name (``popular``, ``cooccurrence``)."""
    return _BASELINES[name]()
