"""Baselines evaluated in the same harness and split as item2vec.

* :class:`PopularBaseline` (``popular``): the most played items, whatever the query;
* :class:`CooccurrenceBaseline` (``cooccurrence``): cosine of sequence co-occurrence;
* :class:`SequentialRulesBaseline` (``sr``) and :class:`TransitionsBaseline`
  (``transitions``): which items follow the current one, the "SR" family
  that the session-rec benchmarks found strong (Ludewig & Jannach 2018);
* :class:`VSKNNBaseline` (``vsknn``): the items of the training sessions most
  like the current session, session-rec's V-SKNN from the same benchmarks;
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
from typing import Literal

import numpy as np
import polars as pl
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from recsys.errors import ConfigError
from recsys.evaluation.methods import EmbeddingMethod, Method, SparseMethod, session_matrix

__all__ = [
    "PopularBaseline",
    "CooccurrenceBaseline",
    "SequentialRulesBaseline",
    "TransitionsBaseline",
    "VSKNNBaseline",
    "SessionSimilarity",
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
    # sorted as sorted() sorts them: polars compares strings by their UTF-8 bytes, in code point order
    ids = exploded["items"].unique().sort()
    item_ids = tuple(ids.to_list())
    cols = exploded["items"].cast(pl.Enum(ids)).to_physical().to_numpy().astype(np.int64)  # place among ids
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

    def top_items(self, query_rows: np.ndarray, depth: int) -> np.ndarray | None:
        return self.top_sessions([np.array([row]) for row in query_rows], depth)

    def top_sessions(self, sessions: Sequence[np.ndarray], depth: int) -> np.ndarray | None:
        # the same list for every query (most played first, ties by the lower row) without its own items
        order = np.argsort(-self.counts_, kind="stable")
        result = np.full((len(sessions), min(depth, order.size)), -1, dtype=np.int64)
        for i, session in enumerate(sessions):
            head = order[: depth + session.size]
            head = head[~np.isin(head, session)][:depth]
            result[i, : head.size] = head
        return result


class CooccurrenceBaseline(SparseMethod):
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

    def sparse_scores(self, query_rows: np.ndarray) -> sp.csr_matrix:
        return self._similarities(self._normalized_t[query_rows])

    def sparse_session_scores(self, sessions: Sequence[np.ndarray]) -> sp.csr_matrix:
        return self._similarities(session_matrix(sessions, len(self.item_ids_)) @ self._normalized_t)

    def _similarities(self, profiles: sp.csr_matrix) -> sp.csr_matrix:
        return sp.csr_matrix(profiles @ self._normalized, dtype=np.float32)


class _ItemItemMethod(SparseMethod):
    """A method whose answer is a row of a sparse item-item matrix ``similarity_``.

    A session scores the mean of its items' rows (unless a subclass says otherwise).
    """

    similarity_: sp.csr_matrix

    def sparse_scores(self, query_rows: np.ndarray) -> sp.csr_matrix:
        return self.similarity_[query_rows]

    def sparse_session_scores(self, sessions: Sequence[np.ndarray]) -> sp.csr_matrix:
        return session_matrix(sessions, len(self.item_ids_)) @ self.similarity_


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

    def sparse_session_scores(self, sessions: Sequence[np.ndarray]) -> sp.csr_matrix:
        return self.sparse_scores(np.fromiter((s[-1] for s in sessions), dtype=np.int64, count=len(sessions)))


class TransitionsBaseline(SequentialRulesBaseline):
    """Transition counts: how often each item directly follows the current one.

    Sequential rules with ``steps=1``, a first-order Markov chain.
    """

    name = "transitions"

    def __init__(self) -> None:
        super().__init__(steps=1)


SessionSimilarity = Literal["cosine", "dot"]
"""How :class:`VSKNNBaseline` compares a session with a training session."""

_VSKNN_CHUNK = 256
"""Sessions :class:`VSKNNBaseline` scores together (bounds its session-by-neighbour matrices)."""


class VSKNNBaseline(Method):
    """Vector-multiplied session kNN (V-SKNN): the items of the training sessions most like the current one.

    session-rec's ``VMContextKNN`` (Ludewig & Jannach 2018, "Evaluation of
    session-based recommendation algorithms"), computed for many sessions at
    once with sparse matrix products:

    1. the items of the current session of length ``L`` weigh ``p / L`` by
       their position ``p`` (1 = the oldest, ``L`` = the current item; a
       repeated item weighs by its latest position): session-rec's ``div``;
    2. the candidate neighbours are the training sessions holding one of its
       items, at most ``sample_size`` of them, the most recent. Sequences
       carry no time, so the most recent are the last rows of the training
       frame (session-rec takes the latest timestamps);
    3. a candidate's similarity is the weighted dot product of the session
       with the candidate's set of items, divided, for ``"cosine"``, by the
       norms of both; the ``neighbours`` most similar candidates are kept,
       the more recent first on a tie;
    4. every item of a neighbour gains the neighbour's similarity divided by
       the step ``s`` of the latest item of the current session that the
       neighbour holds (``s = 1`` for the current item, 2 for the one
       before...): session-rec's ``div_score``; with ``idf_weighting`` the
       gain is multiplied by ``1 + idf_weighting * log(n_sessions / n_i)``,
       where ``n_i`` counts the training sessions holding the item
       (session-rec counts its clicks).

    Every item of a neighbour gains the same, wherever it sits in the
    neighbour: V-SKNN knows the order of the current session only. A query
    item (:meth:`score`) is a one-item session. Items of the current session
    are scored like any other (session-rec's ``remind``); the harness masks them.

    Parameters
    ----------
    neighbours
        Most similar training sessions whose items are scored (session-rec's ``k``).
    sample_size
        Most candidate neighbours per session, the most recent ones; None
        compares the session with every training session that shares an item with it.
    similarity
        ``"cosine"``, or ``"dot"``: the weighted dot product alone, which ranks
        neighbours as session-rec's ``vec`` does (it divides by the session's
        length, the same for every neighbour).
    idf_weighting
        Weight of an item's idf in its score; 0 leaves scores unweighted.
    """

    name = "vsknn"

    def __init__(self, *, neighbours: int = 100, sample_size: int | None = 500,
                 similarity: SessionSimilarity = "cosine", idf_weighting: float = 0.0) -> None:
        self.neighbours = neighbours
        self.sample_size = sample_size
        self.similarity = similarity
        self.idf_weighting = idf_weighting

    def _check_options(self) -> None:
        if self.neighbours < 1:
            raise ConfigError(f"vsknn: neighbours must be at least 1, got {self.neighbours}")
        if self.sample_size is not None and self.sample_size < 1:
            raise ConfigError(f"vsknn: sample_size must be at least 1 (or None: every candidate), "
                              f"got {self.sample_size}")
        if self.similarity not in ("cosine", "dot"):
            raise ConfigError(f"vsknn: similarity must be 'cosine' or 'dot', got {self.similarity!r}")
        if not self.idf_weighting >= 0:
            raise ConfigError(f"vsknn: idf_weighting must be at least 0, got {self.idf_weighting}")

    def fit(self, train_sequences: pl.DataFrame) -> "VSKNNBaseline":
        self._check_options()
        sessions, self.item_ids_ = incidence_matrix(train_sequences)
        sessions.sort_indices()
        n_sessions, n_items = sessions.shape
        self.sessions_ = sessions
        self.item_sessions_ = sessions.T.tocsr()
        self.item_sessions_.sort_indices()
        sizes = np.diff(sessions.indptr)
        self.session_norms_ = (1.0 / np.sqrt(np.maximum(sizes, 1)) if self.similarity == "cosine"
                               else np.ones(n_sessions))
        holders = np.diff(self.item_sessions_.indptr)
        self.item_weights_ = (1.0 + self.idf_weighting * np.log(n_sessions / holders)).astype(np.float32)
        # (session, item) pairs as sorted keys, to look up which items a neighbour holds
        self._held = np.repeat(np.arange(n_sessions, dtype=np.int64), sizes) * n_items + sessions.indices
        return self

    def score(self, query_rows: np.ndarray) -> np.ndarray:
        return self.score_sessions(list(np.asarray(query_rows, dtype=np.int64).reshape(-1, 1)))

    def score_sessions(self, sessions: Sequence[np.ndarray]) -> np.ndarray:
        scores = np.empty((len(sessions), len(self.item_ids_)), dtype=np.float32)
        for start in range(0, len(sessions), _VSKNN_CHUNK):
            scores[start : start + _VSKNN_CHUNK] = self._score_chunk(sessions[start : start + _VSKNN_CHUNK])
        return scores

    def _score_chunk(self, sessions: Sequence[np.ndarray]) -> np.ndarray:
        n, n_items = len(sessions), len(self.item_ids_)
        lengths = np.fromiter((len(s) for s in sessions), dtype=np.int64, count=n)
        rows = np.repeat(np.arange(n), lengths)
        items = np.concatenate(sessions).astype(np.int64)
        positions = np.arange(items.size) - np.repeat(np.cumsum(lengths) - lengths, lengths) + 1
        # 1. position weights; a repeated item's latest position is the first one seen backwards
        keys, backwards = np.unique((rows * n_items + items)[::-1], return_index=True)
        weights = positions[items.size - 1 - backwards] / lengths[keys // n_items]
        query = sp.csr_matrix((weights, (keys // n_items, keys % n_items)), shape=(n, n_items))
        # 2. candidates: the sessions sharing an item, the latest rows last in each row of the product
        overlap = (query @ self.item_sessions_).tocsr()
        overlap.sort_indices()
        counts = np.diff(overlap.indptr)
        pair_rows = np.repeat(np.arange(n), counts)
        keep = np.ones(overlap.nnz, dtype=bool)
        if self.sample_size is not None:
            keep = np.repeat(overlap.indptr[1:], counts) - np.arange(overlap.nnz) <= self.sample_size
        pair_rows, candidates, dot = pair_rows[keep], overlap.indices[keep], overlap.data[keep]
        # 3. similarity; the `neighbours` most similar per session, the more recent first on a tie
        similarity = dot * self.session_norms_[candidates]
        if self.similarity == "cosine":
            similarity /= np.sqrt(np.bincount(keys // n_items, weights=weights**2, minlength=n))[pair_rows]
        order = np.lexsort((-candidates, -similarity, pair_rows))
        rank = np.arange(order.size) - np.searchsorted(pair_rows[order], pair_rows[order])
        kept = order[rank < self.neighbours]
        pair_rows, candidates, similarity = pair_rows[kept], candidates[kept], similarity[kept]
        # 4. step of the latest session item each neighbour holds: look its items up, the current one first
        # (the padding comes after them, and every neighbour holds one of them, so the first match is real)
        latest_first = np.full((n, int(lengths.max())), -1, dtype=np.int64)
        latest_first[rows, lengths[rows] - positions] = items
        wanted = candidates[:, None].astype(np.int64) * n_items + latest_first[pair_rows]
        found = self._held[np.searchsorted(self._held, wanted).clip(max=self._held.size - 1)] == wanted
        steps = np.argmax(found, axis=1) + 1
        votes = sp.csr_matrix((similarity / steps, (pair_rows, candidates)), shape=(n, self.sessions_.shape[0]))
        return (votes @ self.sessions_).toarray() * self.item_weights_


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
    VSKNNBaseline.name: lambda seed: VSKNNBaseline(),
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
        ``popular``, ``cooccurrence``, ``transitions``, ``sr``, ``vsknn``,
        ``cosine``, ``bm25``, ``als`` or ``bpr``.
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
