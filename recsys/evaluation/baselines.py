"""Baselines evaluated in the same harness and split as item2vec.

* :class:`PopularBaseline` (``popular``): the most played items, whatever the query;
* :class:`CooccurrenceBaseline` (``cooccurrence``): cosine of sequence co-occurrence;
* :class:`SequentialRulesBaseline` (``sr``) and :class:`TransitionsBaseline`
  (``transitions``): which items follow the current one, the "SR" family
  that the session-rec benchmarks found strong (Ludewig & Jannach 2018);
* :class:`CosineBaseline` (``cosine``) and :class:`BM25Baseline` (``bm25``):
  implicit's item-item nearest neighbours;
* :class:`ALSBaseline` (``als``) and :class:`BPRBaseline` (``bpr``): implicit's
  matrix factorizations, answering with ``similar_items`` (cosine of item factors).

Every baseline learns from the training sequences alone (a sequence plays
the part of a user for the implicit models) and is created by name with
:func:`make_baseline`.
"""

from __future__ import annotations

import warnings
from abc import abstractmethod
from collections.abc import Callable, Sequence

import numpy as np
import polars as pl
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from recsys.errors import ConfigError
from recsys.evaluation.methods import EmbeddingMethod, Method, session_matrix

__all__ = [
    "PopularBaseline",
    "CooccurrenceBaseline",
    "SequentialRulesBaseline",
    "TransitionsBaseline",
    "CosineBaseline",
    "BM25Baseline",
    "ALSBaseline",
    "BPRBaseline",
    "BASELINES",
    "make_baseline",
    "incidence_matrix",
]


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

    @classmethod
    def from_counts(cls, item_ids: Sequence[str], counts: np.ndarray) -> "PopularBaseline":
        """Already counted plays of a catalogue (an item never played scores 0), without fitting."""
        method = cls()
        method.item_ids_ = tuple(item_ids)
        method.counts_ = np.asarray(counts, dtype=np.float32)
        return method

    def score(self, query_rows: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.counts_, (len(query_rows), len(self.counts_))).copy()

    def score_sessions(self, sessions: Sequence[np.ndarray]) -> np.ndarray:
        return self.score(np.zeros(len(sessions), dtype=np.int64))


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
        return self._similarities(self._normalized_t[query_rows])

    def score_sessions(self, sessions: Sequence[np.ndarray]) -> np.ndarray:
        return self._similarities(session_matrix(sessions, len(self.item_ids_)) @ self._normalized_t)

    def _similarities(self, profiles: sp.csr_matrix) -> np.ndarray:
        return np.asarray((profiles @ self._normalized).todense(), dtype=np.float32)


class _ItemItemMethod(Method):
    """A method whose answer is a row of a sparse item-item matrix ``similarity_``.

    A session scores the mean of its items' rows (unless a subclass says otherwise).
    """

    similarity_: sp.csr_matrix

    def score(self, query_rows: np.ndarray) -> np.ndarray:
        return self.similarity_[query_rows].toarray()

    def score_sessions(self, sessions: Sequence[np.ndarray]) -> np.ndarray:
        weights = session_matrix(sessions, len(self.item_ids_))
        return (weights @ self.similarity_).toarray()


class SequentialRulesBaseline(_ItemItemMethod):
    """Sequential rules: how often, and how closely, an item follows the current one.

    For every training sequence and every pair of positions ``i < j`` at most
    ``steps`` apart, the rule ``items[i] -> items[j]`` gains ``1 / (j - i)``
    (session-rec's SR with its ``div`` weighting; repeats of the same item
    make no rule). A query, and a session through its last item, scores each
    item by the weight of its rule.

    Parameters
    ----------
    steps
        Farthest distance between the two items of a rule (1: the next item only).
    """

    name = "sr"

    def __init__(self, steps: int = 10) -> None:
        self.steps = steps

    def fit(self, train_sequences: pl.DataFrame) -> "SequentialRulesBaseline":
        flat = train_sequences.select(pl.col("items").explode())["items"]
        self.item_ids_ = tuple(flat.unique().sort().to_list())
        rows = pl.Series(self.item_ids_).to_frame("items").with_row_index("row")
        coded = (
            train_sequences.select(pl.int_range(pl.len()).alias("seq"), "items")
            .explode("items")
            .join(rows, on="items", how="left", maintain_order="left")
        )
        sequence = coded["seq"].to_numpy()
        item = coded["row"].to_numpy().astype(np.int64)
        pieces = []
        for distance in range(1, self.steps + 1):
            same = sequence[distance:] == sequence[:-distance]
            before, after = item[:-distance][same], item[distance:][same]
            keep = before != after
            pieces.append((before[keep], after[keep], np.full(keep.sum(), 1.0 / distance, np.float32)))
        before, after, weight = (np.concatenate(parts) for parts in zip(*pieces))
        n = len(self.item_ids_)
        self.similarity_ = sp.csr_matrix((weight, (before, after)), shape=(n, n), dtype=np.float32)
        return self

    def score_sessions(self, sessions: Sequence[np.ndarray]) -> np.ndarray:
        return self.score(np.fromiter((s[-1] for s in sessions), dtype=np.int64, count=len(sessions)))


class TransitionsBaseline(SequentialRulesBaseline):
    """Transition counts: how often each item directly follows the current one.

    Sequential rules with ``steps=1``, a first-order Markov chain.
    """

    name = "transitions"

    def __init__(self) -> None:
        super().__init__(steps=1)


class _ImplicitItemItem(_ItemItemMethod):
    """implicit's item-item nearest neighbours (its ``similarity`` matrix, ``K`` per item)."""

    def __init__(self, neighbours: int = 100) -> None:
        self.neighbours = neighbours

    @abstractmethod
    def _model(self) -> object:
        """The unfitted implicit model."""

    def fit(self, train_sequences: pl.DataFrame) -> "_ImplicitItemItem":
        incidence, self.item_ids_ = incidence_matrix(train_sequences)
        model = self._model()
        with warnings.catch_warnings():  # implicit converts its own transposes back to CSR, and says so
            warnings.filterwarnings("ignore", message="Method expects CSR input")
            model.fit(incidence.astype(np.float64), show_progress=False)  # type: ignore[attr-defined]
        self.model_ = model
        self.similarity_ = model.similarity.astype(np.float32).tocsr()  # type: ignore[attr-defined]
        return self


class CosineBaseline(_ImplicitItemItem):
    """implicit's ``CosineRecommender``: cosine of incidence columns, ``neighbours`` kept per item.

    Parameters
    ----------
    neighbours
        Most similar items kept per item (implicit's ``K``, itself included).
    """

    name = "cosine"

    def _model(self) -> object:
        from implicit.nearest_neighbours import CosineRecommender

        return CosineRecommender(K=self.neighbours)


class BM25Baseline(_ImplicitItemItem):
    """implicit's ``BM25Recommender``: item-item similarity of BM25-weighted incidence.

    Parameters
    ----------
    neighbours
        Most similar items kept per item (implicit's ``K``, itself included).
    k1, b
        BM25 saturation and length normalization.
    """

    name = "bm25"

    def __init__(self, neighbours: int = 100, k1: float = 1.2, b: float = 0.75) -> None:
        super().__init__(neighbours)
        self.k1 = k1
        self.b = b

    def _model(self) -> object:
        from implicit.nearest_neighbours import BM25Recommender

        return BM25Recommender(K=self.neighbours, K1=self.k1, B=self.b)


class _ImplicitFactors(EmbeddingMethod):
    """An implicit matrix factorization fitted on the sequence-by-item matrix.

    Scores are the cosine of item factors, as implicit's ``similar_items``
    computes them, here as one matrix product per batch.
    """

    def __init__(self, factors: int = 64, iterations: int = 15, seed: int = 0) -> None:
        self.factors = factors
        self.iterations = iterations
        self.seed = seed

    @abstractmethod
    def _model(self) -> object:
        """The unfitted implicit model."""

    def fit(self, train_sequences: pl.DataFrame) -> "_ImplicitFactors":
        incidence, item_ids = incidence_matrix(train_sequences)
        with threadpool_limits(1, "blas"):  # implicit's advice: its own threads, one BLAS thread each
            model = self._model()
            model.fit(incidence, show_progress=False)  # type: ignore[attr-defined]
        self.model_ = model
        self._set_embeddings(item_ids, np.asarray(model.item_factors))  # type: ignore[attr-defined]
        return self


class ALSBaseline(_ImplicitFactors):
    """implicit's ``AlternatingLeastSquares`` (Hu, Koren & Volinsky 2008), items by ``similar_items``.

    Parameters
    ----------
    factors
        Latent dimensions.
    iterations
        Alternating passes.
    regularization
        L2 penalty.
    seed
        Seed of the initial factors.
    """

    name = "als"

    def __init__(self, factors: int = 64, iterations: int = 15, regularization: float = 0.01,
                 seed: int = 0) -> None:
        super().__init__(factors, iterations, seed)
        self.regularization = regularization

    def _model(self) -> object:
        from implicit.cpu.als import AlternatingLeastSquares

        return AlternatingLeastSquares(factors=self.factors, iterations=self.iterations,
                                       regularization=self.regularization, random_state=self.seed)


class BPRBaseline(_ImplicitFactors):
    """implicit's ``BayesianPersonalizedRanking`` (Rendle et al. 2009), items by ``similar_items``.

    The item factors include implicit's item bias column, as ``similar_items`` uses them.
    One thread, so that a seed gives the same factors.

    Parameters
    ----------
    factors
        Latent dimensions.
    iterations
        Passes of stochastic gradient descent.
    learning_rate, regularization
        SGD step size and L2 penalty.
    seed
        Seed of the initial factors and of the sampling.
    """

    name = "bpr"

    def __init__(self, factors: int = 64, iterations: int = 100, learning_rate: float = 0.01,
                 regularization: float = 0.01, seed: int = 0) -> None:
        super().__init__(factors, iterations, seed)
        self.learning_rate = learning_rate
        self.regularization = regularization

    def _model(self) -> object:
        from implicit.cpu.bpr import BayesianPersonalizedRanking

        return BayesianPersonalizedRanking(factors=self.factors, iterations=self.iterations,
                                           learning_rate=self.learning_rate,
                                           regularization=self.regularization,
                                           num_threads=1, random_state=self.seed)


BASELINES: dict[str, Callable[[int], Method]] = {
    PopularBaseline.name: lambda seed: PopularBaseline(),
    CooccurrenceBaseline.name: lambda seed: CooccurrenceBaseline(),
    TransitionsBaseline.name: lambda seed: TransitionsBaseline(),
    SequentialRulesBaseline.name: lambda seed: SequentialRulesBaseline(),
    CosineBaseline.name: lambda seed: CosineBaseline(),
    BM25Baseline.name: lambda seed: BM25Baseline(),
    ALSBaseline.name: lambda seed: ALSBaseline(seed=seed),
    BPRBaseline.name: lambda seed: BPRBaseline(seed=seed),
}
"""Every baseline by name, each made with its defaults from a seed."""


def make_baseline(name: str, *, seed: int = 0) -> Method:
    """Create an unfitted baseline by name (see :data:`BASELINES`).

    Parameters
    ----------
    name
        ``popular``, ``cooccurrence``, ``transitions``, ``sr``, ``cosine``,
        ``bm25``, ``als`` or ``bpr``.
    seed
        Seed of the baselines that draw random numbers (ALS, BPR).

    Raises
    ------
    ConfigError
        If no baseline has that name.
    """
    if name not in BASELINES:
        raise ConfigError(f"unknown baseline {name!r}; baselines are {', '.join(BASELINES)}")
    return BASELINES[name](seed)
