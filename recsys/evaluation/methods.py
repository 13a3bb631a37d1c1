"""The one small interface every evaluated method implements.

A method learns from training sequences (:meth:`Method.fit`) and scores its
whole catalogue for a batch of query items (:meth:`Method.score`) or of
sessions (:meth:`Method.score_sessions`, by default the mean of the scores
of the session's items). The evaluation protocol does the rest (masking
the query, top-k, metrics), so a new method is one class in one file.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Literal

import numpy as np
import polars as pl
import scipy.sparse as sp

from recsys.config import NEXT_SESSION_DECAY, Item2VecConfig, Relation
from recsys.errors import ConfigError
from recsys.evaluation._topk import drop_excluded, sparse_top_k
from recsys.index import knn, normalize_rows
from recsys.item2vec import ItemVectors, train
from recsys.neighbours import NeighbourTable
from recsys.ranking import Blend, Evidence, Ranker, Ranking, recency_weights
from recsys.recommender import Recommender

__all__ = [
    "Method", "EmbeddingMethod", "Item2VecMethod", "RankedMethod", "RecommenderMethod", "ScoreTable", "SparseMethod",
    "session_matrix", "recency_weights",
]

_SCORE_CHUNK = 1024
"""Items scored per call of :meth:`Method.score` in the default session scoring."""


def session_matrix(sessions: Sequence[np.ndarray], n_items: int) -> sp.csr_matrix:
    """The mean of each session's items as a sparse ``(n_sessions, n_items)`` matrix.

    Row ``i`` holds ``1 / len(sessions[i])`` at each item of session ``i``
    (an item that occurs twice counts twice), so ``session_matrix(s) @ X``
    averages the rows of ``X`` over each session.

    Parameters
    ----------
    sessions
        Catalogue rows of the items of each session, each non-empty.
    n_items
        Catalogue size.

    Returns
    -------
    scipy.sparse.csr_matrix
        float32 weights.
    """
    return recency_weights(sessions, n_items, decay=1.0)




class Method(ABC):
    """Base class of the methods in the evaluation harness.

    Subclasses set ``name``, learn in :meth:`fit` (which returns ``self``) and
    expose the learned catalogue as ``item_ids_`` (row order of the scores).
    """

    name: str = "method"

    item_ids_: tuple[str, ...]

    @abstractmethod
    def fit(self, train_sequences: pl.DataFrame) -> "Method":
        """Learn from training sequences (sequences contract) and return self."""

    @abstractmethod
    def score(self, query_rows: np.ndarray) -> np.ndarray:
        """Score every catalogue item for each query row.

        Parameters
        ----------
        query_rows
            Rows (in ``item_ids_``) of the query items, shape ``(n,)``.

        Returns
        -------
        numpy.ndarray
            float32 scores of shape ``(n, len(item_ids_))``; higher is better.
        """

    def top_items(self, query_rows: np.ndarray, depth: int) -> np.ndarray | None:
        """The ``depth`` best rows for each query row, best first, the query itself never among them
        (-1: fewer eligible), when the method finds them without scoring the whole catalogue.

        The harness asks this first and scores the catalogue (:meth:`score`)
        when it gets None, the default.
        """
        return None

    def top_sessions(self, sessions: Sequence[np.ndarray], depth: int) -> np.ndarray | None:
        """:meth:`top_items` for sessions: their own items never among the rows (None: use
        :meth:`score_sessions`)."""
        return None

    def score_sessions(self, sessions: Sequence[np.ndarray]) -> np.ndarray:
        """Score every catalogue item for each session (the items seen so far).

        The default is the mean of the scores of the session's items; a
        method overrides it when it knows better or faster (the last item
        alone for sequential rules, the mean vector for embeddings).

        Parameters
        ----------
        sessions
            For each session, the rows of its items in order (the last one is
            the current item), each non-empty.

        Returns
        -------
        numpy.ndarray
            float32 scores of shape ``(len(sessions), len(item_ids_))``.
        """
        weights = session_matrix(sessions, len(self.item_ids_)).tocsc()
        used = np.unique(weights.indices)
        scores = np.zeros(weights.shape, dtype=np.float32)
        for start in range(0, used.size, _SCORE_CHUNK):
            chunk = used[start : start + _SCORE_CHUNK]
            scores += weights[:, chunk] @ self.score(chunk)
        return scores


class SparseMethod(Method):
    """A method whose scores are sparse, non-negative and 0 where unstored (co-occurrence, rules).

    Subclasses give the stored scores (:meth:`sparse_scores`,
    :meth:`sparse_session_scores`); the harness takes the top items from
    them (:func:`~recsys.evaluation._topk.sparse_top_k`) rather than from a
    dense row per query, the same lists at a fraction of the cost.
    """

    @abstractmethod
    def sparse_scores(self, query_rows: np.ndarray) -> sp.csr_matrix:
        """:meth:`score` as a sparse ``(n, len(item_ids_))`` matrix."""

    @abstractmethod
    def sparse_session_scores(self, sessions: Sequence[np.ndarray]) -> sp.csr_matrix:
        """:meth:`score_sessions` as a sparse ``(len(sessions), len(item_ids_))`` matrix."""

    def score(self, query_rows: np.ndarray) -> np.ndarray:
        return self.sparse_scores(query_rows).toarray()

    def score_sessions(self, sessions: Sequence[np.ndarray]) -> np.ndarray:
        return self.sparse_session_scores(sessions).toarray()

    def top_items(self, query_rows: np.ndarray, depth: int) -> np.ndarray | None:
        return sparse_top_k(self.sparse_scores(query_rows), [np.array([row]) for row in query_rows], depth)

    def top_sessions(self, sessions: Sequence[np.ndarray], depth: int) -> np.ndarray | None:
        return sparse_top_k(self.sparse_session_scores(sessions), sessions, depth)


class ScoreTable(Method):
    """Scores read from a fixed item-by-item table: a known answer, not a learned one.

    Row ``q`` of ``table`` scores every item for query ``q``; for example
    :func:`recsys.data.synthetic.planted_next_counts`, the generator's own
    next-track counts, which no method can beat on average. :meth:`fit`
    keeps only the items the training sequences hold, so that the table
    answers from the same catalogue as the methods it is compared with.

    Parameters
    ----------
    name
        The method's name in reports.
    item_ids
        Row and column order of ``table``.
    table
        ``(n_items, n_items)`` scores, sparse or dense.
    """

    def __init__(self, name: str, item_ids: Sequence[str], table: sp.spmatrix | np.ndarray) -> None:
        self.name = name
        self._all_ids = tuple(item_ids)
        self._table = sp.csr_matrix(table, dtype=np.float32)
        if self._table.shape != (len(self._all_ids),) * 2:
            raise ConfigError(f"a score table for {len(self._all_ids)} items must be square, got {self._table.shape}")

    def fit(self, train_sequences: pl.DataFrame) -> "ScoreTable":
        trained = set(train_sequences["items"].explode().drop_nulls().to_list())
        keep = np.flatnonzero([item in trained for item in self._all_ids])
        self.item_ids_ = tuple(self._all_ids[i] for i in keep)
        self.table_ = self._table[keep][:, keep].tocsr()
        return self

    def score(self, query_rows: np.ndarray) -> np.ndarray:
        return self.table_[query_rows].toarray()


class EmbeddingMethod(Method):
    """A method that scores by the cosine similarity of learned item vectors.

    Subclasses call :meth:`_set_embeddings` in ``fit``. A session is scored
    by the cosine similarity to the normalized mean of its items' unit
    vectors, which ranks items as the mean of their cosine similarities does.
    """

    table: NeighbourTable | None = None
    """Every item's best neighbours already listed (a prepared model's table): item queries
    read their top items from it rather than search for them."""

    def _set_embeddings(self, item_ids: Sequence[str], vectors: np.ndarray) -> None:
        self.item_ids_ = tuple(item_ids)
        self._unit = normalize_rows(vectors)

    def score(self, query_rows: np.ndarray) -> np.ndarray:
        return self._queries(query_rows) @ self._candidates().T

    def score_sessions(self, sessions: Sequence[np.ndarray]) -> np.ndarray:
        return self._session_queries(sessions) @ self._candidates().T

    def top_items(self, query_rows: np.ndarray, depth: int) -> np.ndarray | None:
        listed = _from_table(self.table, query_rows, depth)
        if listed is not None:
            return listed
        rows, _scores = knn(self._queries(query_rows), self._candidates(), depth, exclude_rows=query_rows)
        return rows

    def top_sessions(self, sessions: Sequence[np.ndarray], depth: int) -> np.ndarray | None:
        # faiss's blocked kernel (about twice as fast as scoring the catalogue densely), deep enough
        # that the session's own items can be dropped
        width = depth + max((s.size for s in sessions), default=0)
        rows, _scores = knn(self._session_queries(sessions), self._candidates(), width)
        return drop_excluded(rows, sessions, depth)

    def _queries(self, query_rows: np.ndarray) -> np.ndarray:
        """The query vectors of items."""
        return self._unit[query_rows]

    def _session_queries(self, sessions: Sequence[np.ndarray]) -> np.ndarray:
        """The query vectors of sessions."""
        return normalize_rows(session_matrix(sessions, len(self.item_ids_)) @ self._unit)

    def _candidates(self) -> np.ndarray:
        """The vectors the queries are scored against (their inner products)."""
        return self._unit


class Item2VecMethod(EmbeddingMethod):
    """item2vec, scored by one of its two relations.

    ``relation="similar"`` ranks by the cosine of input vectors (items that
    play the same role: substitutes); ``relation="next"`` ranks candidate
    ``c`` for query ``q`` by the dot product of q's input vector and c's
    output (context) vector, which is what skip-gram trains to predict: items
    that come after or go with ``q``. Raw dot products rank better than
    cosines of the two (yes playlists, HR@10 0.0651 vs 0.0518 on the test
    split), so "next" scores are not normalised. A session is the recency
    weighted mean of its items' input vectors, the last item weighing most.

    Parameters
    ----------
    config
        Training configuration used by :meth:`fit`.
    relation
        ``"similar"`` or ``"next"``; None takes the configuration's ``relation``.
    """

    def __init__(self, config: Item2VecConfig | None = None, *, relation: Relation | None = None) -> None:
        self.config = config
        self.relation: Relation = relation or (config or Item2VecConfig()).relation or "next"

    @property
    def name(self) -> str:  # type: ignore[override]
        return f"item2vec-{self.relation}"

    @classmethod
    def from_vectors(
        cls, vectors: ItemVectors, *, relation: Relation | None = None, table: NeighbourTable | None = None
    ) -> "Item2VecMethod":
        """Wrap already trained vectors without training again (``table``: their prepared neighbour
        table of this relation, see :attr:`EmbeddingMethod.table`)."""
        method = cls(vectors.config, relation=relation or vectors.default_relation)
        method._set_vectors(vectors)
        method.table = table
        return method

    def _set_vectors(self, vectors: ItemVectors) -> None:
        if self.relation == "next" and vectors.context_vectors is None:
            raise ConfigError("relation='next' needs output vectors, and these item vectors have none")
        self.vectors_ = vectors
        self._set_embeddings(vectors.item_ids, vectors.vectors)

    def fit(self, train_sequences: pl.DataFrame) -> "Item2VecMethod":
        self._set_vectors(train(train_sequences, self.config))
        return self

    def _queries(self, query_rows: np.ndarray) -> np.ndarray:
        if self.relation == "similar":
            return super()._queries(query_rows)
        return self.vectors_.vectors[query_rows]

    def _session_queries(self, sessions: Sequence[np.ndarray]) -> np.ndarray:
        if self.relation == "similar":
            return super()._session_queries(sessions)
        weights = recency_weights(sessions, len(self.item_ids_), decay=NEXT_SESSION_DECAY)
        return np.asarray(weights @ self.vectors_.vectors, dtype=np.float32)

    def _candidates(self) -> np.ndarray:
        return super()._candidates() if self.relation == "similar" else self.vectors_.context_vectors


RankedVariant = Literal["ranker", "evidence", "default"]
"""Which ranking of a :class:`RankedMethod`: the fitted blend, the blend without the vector signal, or
the model's default (per kind of query: the blend, or the vectors alone where validation chose them)."""


class RankedMethod(Method):
    """item2vec through its ranking stage (:mod:`recsys.ranking`), as the recommender answers "next".

    A query's candidates (the vectors' best items and the items observed
    after it) are ordered by the stage's fitted blend of item queries, a
    session's by the blend of sessions; every other item scores ``-inf``
    and is never recommended, as the recommender never returns it.

    Parameters
    ----------
    vectors
        The trained vectors (with output vectors).
    ranking
        The fitted ranking stage over the same catalogue.
    variant
        ``"ranker"`` (``item2vec-ranked``): the fitted blend;
        ``"evidence"`` (``item2vec-evidence``): the blend fitted without the
        vector signal, candidates from plays; ``"default"`` (``item2vec``):
        what the model answers when no ranking is asked for, the blend or,
        for a kind of query where validation chose them, the vectors alone
        by the model's relation.
    table
        The ``"ranker"`` variant's answers to item queries already listed (a
        prepared model's ranked "next" table, whose depth the stage's
        candidates cover): item queries read their top items from it.
    """

    def __init__(self, vectors: ItemVectors, ranking: Ranking, *, variant: RankedVariant = "ranker",
                 table: NeighbourTable | None = None) -> None:
        if vectors.context_vectors is None:
            raise ConfigError("the ranking stage needs output vectors, and these item vectors have none")
        if table is not None and (variant != "ranker" or ranking.candidates < table.depth):
            raise ConfigError("a ranked table lists the 'ranker' variant's item queries, ranked among at least "
                              f"as many candidates as it is deep ({table.depth}; the stage has {ranking.candidates})")
        self.vectors_ = vectors
        self.ranking = ranking
        self.variant = variant
        self.table = table
        self.item_ids_ = vectors.item_ids
        self._ranker = self._bind(ranking.evidence)
        self._plain = Item2VecMethod.from_vectors(vectors)

    @property
    def name(self) -> str:  # type: ignore[override]
        return {"ranker": "item2vec-ranked", "evidence": "item2vec-evidence", "default": "item2vec"}[self.variant]

    def _bind(self, evidence: Evidence) -> Ranker:
        with_vectors = self.variant != "evidence"
        return Ranker(evidence, inputs=self.vectors_.vectors if with_vectors else None,
                      outputs=self.vectors_.context_vectors if with_vectors else None,
                      candidates=self.ranking.candidates)

    def fit(self, train_sequences: pl.DataFrame) -> "RankedMethod":
        """Count the evidence of ``train_sequences`` anew (the vectors and the weights stay)."""
        evidence = self.ranking.evidence
        self._ranker = self._bind(Evidence.from_sequences(
            train_sequences, self.item_ids_, steps=evidence.steps, depth=evidence.depth))
        return self

    def _ranked(self, kind: str) -> bool:
        return self.variant != "default" or self.ranking.default(kind) == "ranker"  # type: ignore[arg-type]

    def _blend(self, kind: str) -> Blend:
        return (self.ranking.evidence_blends if self.variant == "evidence" else self.ranking.blends)[kind]

    def _scores(self, sessions: Sequence[np.ndarray], kind: str) -> np.ndarray:
        blend = self._blend(kind)
        source = "popularity" if self.variant == "evidence" else "vectors"
        candidates, values = self._ranker.scored(sessions, blend, self.ranking.candidates, source=source)
        scores = np.full((len(sessions), len(self.item_ids_)), -np.inf, dtype=np.float32)
        rows = np.repeat(np.arange(len(sessions)), candidates.shape[1])
        keep = candidates.ravel() >= 0
        scores[rows[keep], candidates.ravel()[keep]] = values.ravel()[keep]
        return scores

    def _top(self, sessions: Sequence[np.ndarray], kind: str, depth: int) -> np.ndarray | None:
        if not self._ranked(kind):
            return None
        source = "popularity" if self.variant == "evidence" else "vectors"
        return self._ranker.rank(sessions, self._blend(kind), depth, source=source)[0]

    def top_items(self, query_rows: np.ndarray, depth: int) -> np.ndarray | None:
        listed = _from_table(self.table, query_rows, depth)
        if listed is not None:
            return listed
        return self._top([np.array([row]) for row in query_rows], "item", depth)

    def top_sessions(self, sessions: Sequence[np.ndarray], depth: int) -> np.ndarray | None:
        return self._top(sessions, "session", depth)

    def score(self, query_rows: np.ndarray) -> np.ndarray:
        if not self._ranked("item"):
            return self._plain.score(query_rows)
        return self._scores([np.array([row]) for row in query_rows], "item")

    def score_sessions(self, sessions: Sequence[np.ndarray]) -> np.ndarray:
        if not self._ranked("session"):
            return self._plain.score_sessions(sessions)
        return self._scores(sessions, "session")


def _from_table(table: NeighbourTable | None, query_rows: np.ndarray, depth: int) -> np.ndarray | None:
    """The top ``depth`` rows of each query read from ``table`` (None: no table, or not that deep)."""
    if table is None or depth > table.depth:
        return None
    return table.rows[query_rows, :depth].astype(np.int64)


class RecommenderMethod(Method):
    """A model exactly as it answers: the lists of a :class:`~recsys.recommender.Recommender`.

    Whatever the recommender does by default is scored: its relation, its
    ranking stage where it ranks by default, cold items (vectors from
    metadata, and their own ranking of "next" as queries). Its top
    ``depth`` items score by their place in the list; every other item
    scores ``-inf`` and is never recommended. Two models with different
    catalogues (a model and its update) are compared on the same cases
    this way; a case the catalogue lacks counts as a miss.

    Parameters
    ----------
    name
        The method's name in reports.
    recommender
        The model.
    depth
        Items listed per query: at least the largest cut-off evaluated.
    """

    def __init__(self, name: str, recommender: Recommender, *, depth: int = 100) -> None:
        self.name = name
        self.recommender = recommender
        self.depth = depth
        self.item_ids_ = recommender.item_ids

    def fit(self, train_sequences: pl.DataFrame) -> "RecommenderMethod":
        """Nothing to learn: the recommender is the fitted model."""
        return self

    def _scores(self, lists: np.ndarray) -> np.ndarray:
        """Scores from lists of ids (None: no item), best first: ``depth - place``, ``-inf`` elsewhere."""
        rows = self.recommender.item_vectors.vocabulary.rows(
            ["" if item is None else item for item in lists.ravel()], missing="negative").reshape(lists.shape)
        scores = np.full((lists.shape[0], len(self.item_ids_)), -np.inf, dtype=np.float32)
        places = np.broadcast_to(np.arange(lists.shape[1], 0, -1, dtype=np.float32), lists.shape)
        keep = rows >= 0
        scores[np.nonzero(keep)[0], rows[keep]] = places[keep]
        return scores

    def score(self, query_rows: np.ndarray) -> np.ndarray:
        ids, _ = self.recommender.recommend_many([self.item_ids_[row] for row in query_rows], k=self.depth)
        return self._scores(np.asarray(ids, dtype=object))

    def score_sessions(self, sessions: Sequence[np.ndarray]) -> np.ndarray:
        width = min(self.depth, len(self.item_ids_))
        lists = np.full((len(sessions), width), None, dtype=object)
        for i, session in enumerate(sessions):
            ids, _ = self.recommender.for_session([self.item_ids_[row] for row in session], k=self.depth)
            lists[i, : len(ids)] = ids
        return self._scores(lists)
