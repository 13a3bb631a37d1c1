"""What comes after a cold item: a learned blend of three signals, fitted on held-out warm items.

A cold item's predicted input vector is a ridge prediction, a conditional
mean pulled towards the average item. Scored against the trained output
vectors alone ("next", the dot product), it ranks like a blurred warm item
and loses two things a trained query vector carries: how much the answer
leans on popular items, and how much on items that share its metadata.
:class:`ColdQueryRanker` scores candidate ``j`` for a cold query ``q`` by

    w_vector * <predicted input of q, output of j>
    + w_metadata * cos(features of q, features of j)
    + w_popularity * log(1 + plays of j)

with the three weights fitted by maximum likelihood (the conditional logit
of :func:`recsys.ranking.fit_logit`, which fits the warm queries' ranking
stage too: softmax over the candidates) on what actually followed the held-out warm
items in the training sequences, their input vectors predicted by a ridge
that never saw them. Where metadata says little, its weight comes out
small; where the predicted vector says little, the others take over.

Measured with ``python benchmarks/cold_start.py`` (10% of the training
items cold, seed 0; cold queries, HR@10 / NDCG@10, the dot product alone
-> this blend, metadata-knn for reference): synthetic 0.5070/0.2581 ->
0.5111/0.2721 (0.5312/0.2815), yes 0.0443/0.0197 -> 0.0629/0.0276
(0.0114/0.0067), ml-100k 0.0752/0.0350 -> 0.0855/0.0448 (0.0288/0.0139).
Choosing the weights by NDCG@10 on the fitting pairs instead of by
likelihood tied metadata-knn on synthetic (0.5292/0.2817) but lost a
fifth of the gain on ml-100k (0.0762/0.0391), whose 1,676 items the
softmax only samples, so the likelihood stays.

A cold candidate has no plays: it takes the median log plays of the warm
items (a typical item), so the popularity term neither buries nor favours it.
The metadata cosine uses the vectorizers' and encoders' features, never
sentence embeddings (those would run the sentence model over the whole
catalogue whenever a model with new items is served).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import polars as pl
import scipy.sparse as sp

from recsys.index import best_in_blocks
from recsys.ranking import fit_logit, log_plays

__all__ = ["ColdNextScorer", "ColdQueryRanker", "log_plays", "transitions_from"]

_MAX_PAIRS = 2000
"""Observed (held-out item, next item) pairs the weights are fitted on, at most."""
_MAX_CANDIDATES = 1024
"""Candidates per pair in the softmax: all items up to this many, else the
target and a uniform sample (a uniform sample shifts every logit by the same
constant, so the weights stay unbiased)."""
_MIN_PAIRS = 20
"""Fewer observed pairs than this fit nothing: the plain dot product is kept."""

def transitions_from(sequences: pl.DataFrame, item_ids: Sequence[str], *, starting_at: np.ndarray) -> np.ndarray:
    """Every (item, next item) pair of catalogue rows in ``sequences`` whose first item is in ``starting_at``.

    An item followed by itself is left out, and so is a pair with an item
    the catalogue lacks.

    Parameters
    ----------
    sequences
        The sequences contract (an ``items`` list column).
    item_ids
        The catalogue, in row order.
    starting_at
        Catalogue rows of the items whose successors are wanted.

    Returns
    -------
    numpy.ndarray
        ``(n_pairs, 2)`` int64, in sequence order.
    """
    catalogue = pl.DataFrame({"item": list(item_ids), "row": np.arange(len(item_ids), dtype=np.int64)},
                             schema={"item": pl.String, "row": pl.Int64})
    events = (
        sequences.select(pl.int_range(pl.len(), dtype=pl.Int64).alias("sequence"), pl.col("items").alias("item"))
        .explode("item")
        .with_row_index("position")
        .join(catalogue, on="item", how="left")
        .sort("position")
    )
    pairs = events.select(
        pl.col("row").alias("first"),
        pl.col("row").shift(-1).alias("next"),
        (pl.col("sequence") == pl.col("sequence").shift(-1)).alias("same_sequence"),
    ).filter(
        pl.col("same_sequence") & pl.col("first").is_in(starting_at.tolist())
        & pl.col("next").is_not_null() & (pl.col("first") != pl.col("next"))
    )
    return pairs.select("first", "next").to_numpy().astype(np.int64).reshape(-1, 2)


@dataclass(frozen=True)
class ColdQueryRanker:
    """Weights of the three signals that rank candidates for a cold query.

    Attributes
    ----------
    vector, metadata, popularity
        Weights of the predicted-vector dot product, the metadata cosine and
        the candidate's log plays (``1, 0, 0`` is the plain dot product).
    cold_log_plays
        The log plays a cold candidate takes (the warm items' median).
    n_pairs
        Observed pairs the weights were fitted on (0: not fitted).
    log_likelihood, log_likelihood_vector_only
        Mean log-likelihood of the observed next items under the blend and
        under the dot product alone (its scale fitted), on the fitting pairs.
    """

    vector: float = 1.0
    metadata: float = 0.0
    popularity: float = 0.0
    cold_log_plays: float = 0.0
    n_pairs: int = 0
    log_likelihood: float = float("nan")
    log_likelihood_vector_only: float = float("nan")

    @classmethod
    def fit(
        cls,
        predicted_inputs: np.ndarray,
        pairs: np.ndarray,
        output_vectors: np.ndarray,
        features: sp.csr_matrix,
        log_plays_of: np.ndarray,
        *,
        seed: int = 0,
    ) -> "ColdQueryRanker":
        """Fit the weights on what followed held-out items.

        Parameters
        ----------
        predicted_inputs
            ``(n_pairs, dim)``: each pair's query item's input vector as the
            mapper predicts it without having seen the item.
        pairs
            ``(n_pairs, 2)`` catalogue rows: the query item and what came next.
        output_vectors
            Trained output vectors of the catalogue.
        features
            Unit-norm metadata features of the catalogue (zero rows for items
            without metadata).
        log_plays_of
            :func:`log_plays` of the catalogue.
        seed
            Seed of the pair and candidate samples.

        Returns
        -------
        ColdQueryRanker
            The plain dot product (weights ``1, 0, 0``) when there are fewer
            than :data:`_MIN_PAIRS` pairs.
        """
        cold_plays = float(np.median(log_plays_of)) if log_plays_of.size else 0.0
        if len(pairs) < _MIN_PAIRS:
            return cls(cold_log_plays=cold_plays)
        rng = np.random.default_rng(seed)
        pick = np.sort(rng.choice(len(pairs), size=min(len(pairs), _MAX_PAIRS), replace=False))
        queries, pairs = predicted_inputs[pick], pairs[pick]
        n_items = output_vectors.shape[0]
        if n_items <= _MAX_CANDIDATES:
            candidates = np.broadcast_to(np.arange(n_items), (len(pairs), n_items))
        else:
            candidates = np.concatenate(
                [pairs[:, 1:], rng.integers(0, n_items, size=(len(pairs), _MAX_CANDIDATES - 1))], axis=1
            )
        signals = _signals(queries, pairs[:, 0], candidates, output_vectors, features, log_plays_of)
        allowed = candidates != pairs[:, :1]
        target = np.argmax(candidates == pairs[:, 1:], axis=1)
        vector_only, plain_ll = fit_logit(signals, allowed, target, start=np.array([1.0, 0.0, 0.0]),
                                          fixed=np.array([False, True, True]))
        weights, ll = fit_logit(signals, allowed, target, start=vector_only)
        return cls(
            vector=float(weights[0]), metadata=float(weights[1]), popularity=float(weights[2]),
            cold_log_plays=cold_plays, n_pairs=len(pairs), log_likelihood=ll, log_likelihood_vector_only=plain_ll,
        )

    def score(
        self, query_inputs: np.ndarray, query_features: sp.csr_matrix, output_vectors: np.ndarray,
        features_by_column: sp.csr_matrix, log_plays_of: np.ndarray,
    ) -> np.ndarray:
        """``(n_queries, n_items)`` float32 scores of every catalogue item for cold queries.

        ``query_features`` are unit-norm rows; ``features_by_column`` is the
        catalogue's unit-norm features transposed (``n_features x n_items``,
        CSR, so that the product stays sparse); ``log_plays_of`` already holds
        :attr:`cold_log_plays` for cold items.
        """
        scores = self.vector * (np.asarray(query_inputs, dtype=np.float32) @ output_vectors.T)
        if self.metadata:
            scores += self.metadata * (query_features @ features_by_column).toarray().astype(np.float32)
        if self.popularity:
            scores += self.popularity * log_plays_of[None, :]
        return scores.astype(np.float32, copy=False)

    def to_json(self) -> dict[str, Any]:
        """The fields as JSON values."""
        return asdict(self)

    @classmethod
    def from_json(cls, payload: dict[str, Any]) -> "ColdQueryRanker":
        """Read what :meth:`to_json` wrote."""
        return cls(**payload)


@dataclass(frozen=True, eq=False)
class ColdNextScorer:
    """A :class:`ColdQueryRanker` bound to a catalogue: answers "next" for its cold items.

    Attributes
    ----------
    ranker
        The weights.
    inputs, outputs
        The catalogue's input and output vectors (cold items' predicted).
    features
        Unit-norm metadata features of the catalogue (zero rows for items without metadata).
    features_by_column
        ``features`` transposed, as CSR.
    log_plays_of
        :func:`log_plays` of each item, :attr:`ColdQueryRanker.cold_log_plays` for cold ones.
    cold
        True for the cold items (the queries this scorer is for).
    """

    ranker: ColdQueryRanker
    inputs: np.ndarray
    outputs: np.ndarray
    features: sp.csr_matrix
    log_plays_of: np.ndarray
    cold: np.ndarray
    features_by_column: sp.csr_matrix = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "features_by_column", self.features.T.tocsr())

    def score(self, rows: np.ndarray) -> np.ndarray:
        """``(len(rows), n_items)`` scores of every item for the query items at catalogue ``rows``."""
        return self.ranker.score(self.inputs[rows], self.features[rows], self.outputs, self.features_by_column,
                                 self.log_plays_of)

    def search(self, rows: np.ndarray, k: int, mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` best items for each query row, itself excluded (see :func:`recsys.index.best_in_blocks`)."""
        return best_in_blocks(
            lambda block: self.score(rows[block]), len(rows), len(self.cold), k, exclude_rows=rows, mask=mask
        )


_PAIRS_PER_BLOCK = 128
"""Pairs whose signals are computed at once (their candidates' rows gathered together)."""


def _signals(
    queries: np.ndarray, query_rows: np.ndarray, candidates: np.ndarray, output_vectors: np.ndarray,
    features: sp.csr_matrix, log_plays_of: np.ndarray,
) -> np.ndarray:
    """``(n_pairs, n_candidates, 3)`` float64: dot product, metadata cosine and log plays of each candidate.

    Only the candidates' rows are read (at most 1,024 a pair), never the whole catalogue.
    """
    signals = np.empty((*candidates.shape, 3), dtype=np.float64)
    width = candidates.shape[1]
    for start in range(0, len(candidates), _PAIRS_PER_BLOCK):
        block = slice(start, start + _PAIRS_PER_BLOCK)
        rows = candidates[block]
        query = np.asarray(queries[block], dtype=output_vectors.dtype)
        signals[block, :, 0] = np.einsum("pcd,pd->pc", output_vectors[rows], query)
        own = features[np.repeat(query_rows[block], width)]
        signals[block, :, 1] = np.asarray(own.multiply(features[rows.ravel()]).sum(axis=1)).reshape(rows.shape)
    signals[:, :, 2] = log_plays_of[candidates]
    return signals
