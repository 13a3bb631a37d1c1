"""Nearest-neighbour search over item vectors: exact (numpy) and approximate (faiss HNSW).

Both indexes answer :meth:`search` with the same contract, so callers can
swap one for the other; :func:`build_hnsw` builds the approximate one and
measures its recall@10 against exact search.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "AnnReport",
    "ExactIndex",
    "HNSWIndex",
    "best_in_blocks",
    "best_of",
    "build_hnsw",
    "knn",
    "normalize_rows",
    "recall_at_k",
    "top_k",
]

_BLOCK_BYTES = 64 << 20
"""Largest score matrix (bytes) one exact search block may allocate."""
_KNN_MIN_QUERIES = 32
"""Unmasked batches at least this large go through faiss's exact kernel (:func:`knn`)."""


def normalize_rows(matrix: np.ndarray) -> np.ndarray:
    """Return a float32 copy of ``matrix`` with unit-length rows (zero rows stay zero)."""
    matrix = np.asarray(matrix, dtype=np.float32)
    norms = np.sqrt(np.einsum("ij,ij->i", matrix, matrix))[:, None]  # no squared copy of the matrix, unlike norm()
    norms[norms == 0] = 1.0
    return matrix / norms


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Row-wise indices of the ``k`` highest scores, best first.

    Ties are broken by the lower column index, so the result equals
    ``np.argsort(-scores, axis=1, kind="stable")[:, :k]`` at the cost of a
    partition rather than a full sort. Masked items (score ``-inf``) come
    last. Scores must not be NaN.

    Parameters
    ----------
    scores
        ``(n_queries, n_items)`` scores.
    k
        Number of items per row; if it is at least ``n_items`` every column
        is returned, sorted.

    Returns
    -------
    numpy.ndarray
        ``(n_queries, min(k, n_items))`` int64 column indices.
    """
    if k < 1:
        raise ValueError(f"k must be a positive integer, got {k}")
    scores = np.asarray(scores)
    if scores.ndim != 2:
        raise ValueError(f"scores must be 2-D (queries x items), got shape {scores.shape}")
    n_rows, n_cols = scores.shape
    k = min(k, n_cols)
    if n_rows == 0 or k == 0:
        return np.empty((n_rows, k), dtype=np.int64)
    kth = np.partition(scores, n_cols - k, axis=1)[:, n_cols - k, None]
    keep = scores > kth
    tied = scores == kth
    wanted = k - keep.sum(axis=1)
    crowded = np.flatnonzero(tied.sum(axis=1) > wanted)
    tied[crowded] &= np.cumsum(tied[crowded], axis=1) <= wanted[crowded, None]
    keep |= tied
    columns = np.nonzero(keep)[1].reshape(n_rows, k)
    order = np.argsort(-np.take_along_axis(scores, columns, axis=1), axis=1, kind="stable")
    return np.take_along_axis(columns, order, axis=1)


def _top_k_row(scores: np.ndarray, k: int) -> np.ndarray:
    """:func:`top_k` of a single row, in fewer passes over it."""
    k = min(k, len(scores))
    kth = np.partition(scores, len(scores) - k)[len(scores) - k]
    candidates = np.flatnonzero(scores >= kth)
    return candidates[np.argsort(-scores[candidates], kind="stable")[:k]]


def knn(
    queries: np.ndarray, vectors: np.ndarray, k: int, *, exclude_rows: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-``k`` inner products with faiss's blocked kernel (BLAS products, a heap per query).

    Memory stays bounded: faiss scores the queries against the vectors tile
    by tile. Tied scores come in any order.

    Parameters
    ----------
    queries
        float32 query vectors, shape ``(n_queries, dim)``.
    vectors
        float32 item vectors, shape ``(n_items, dim)``.
    k
        Neighbours per query.
    exclude_rows
        For each query, one row never to return (the query item itself), or -1 for none.

    Returns
    -------
    rows, scores
        As :meth:`ExactIndex.search`: shape ``(n_queries, min(k, n_items))``,
        best first, padded with -1 and ``-inf``.
    """
    import faiss

    width = min(k, len(vectors))
    scores, rows = faiss.knn(queries, vectors, min(width + 1, len(vectors)), metric=faiss.METRIC_INNER_PRODUCT)
    own = np.full((len(queries), 1), -1) if exclude_rows is None else np.asarray(exclude_rows)[:, None]
    # The excluded row is usually first; move it last (it falls off unless every row is asked for).
    order = np.argsort(rows == own, axis=1, kind="stable")[:, :width]
    rows = np.take_along_axis(rows, order, axis=1)
    scores = np.take_along_axis(scores, order, axis=1)
    dropped = (rows == own) | (rows < 0)
    rows[dropped], scores[dropped] = -1, -np.inf
    return rows, scores


class ExactIndex:
    """Exact search: one matrix product against the candidate vectors.

    Parameters
    ----------
    vectors
        Candidate item vectors, shape ``(n_items, dim)``.
    normalize
        True (cosine search): the vectors are normalised once here, and every
        query when it is asked, so queries do no whole-catalogue work besides
        the product itself. False (inner-product search): vectors and queries
        are scored as they are.
    """

    def __init__(self, vectors: np.ndarray, *, normalize: bool = True) -> None:
        self.normalize = normalize
        # raw vectors are a read-only view, not a copy (1M x 64 floats: 256 MB less, and no copy at start)
        self.vectors = normalize_rows(vectors) if normalize else np.asarray(vectors, dtype=np.float32).view()
        self.vectors.setflags(write=False)

    def prepare_queries(self, queries: np.ndarray) -> np.ndarray:
        """Query vectors as this index scores them: 2-D float32, unit rows if :attr:`normalize`."""
        queries = np.atleast_2d(queries)
        return normalize_rows(queries) if self.normalize else np.asarray(queries, dtype=np.float32)

    def __len__(self) -> int:
        return self.vectors.shape[0]

    def search(
        self,
        queries: np.ndarray,
        k: int,
        *,
        exclude_rows: np.ndarray | None = None,
        mask: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Find the ``k`` best-scoring items (cosine or inner product) of each query vector.

        Parameters
        ----------
        queries
            Query vectors, shape ``(n_queries, dim)``; normalised here if
            :attr:`normalize`. They are
            scored in blocks, so a large batch never holds more than about
            64 MB of scores at once.
        k
            Neighbours per query.
        exclude_rows
            For each query, one row never to return (the query item itself),
            or -1 for none.
        mask
            Boolean array of shape ``(n_items,)``; False rows are never returned.

        Returns
        -------
        rows, scores
            int64 and float32 arrays of shape ``(n_queries, k')`` where ``k'`` is
            ``k`` clipped to the number of eligible items; rows that had fewer
            eligible items are padded with -1 and ``-inf``.

        Notes
        -----
        Batches of at least 32 queries without a mask go through :func:`knn`
        (faiss's blocked kernel, which orders tied scores arbitrarily); other
        queries through a numpy product and :func:`top_k` (ties: lower row first).
        """
        queries = self.prepare_queries(queries)
        if mask is None and len(queries) >= _KNN_MIN_QUERIES:
            return knn(queries, self.vectors, k, exclude_rows=exclude_rows)
        return best_in_blocks(
            lambda block: queries[block] @ self.vectors.T, len(queries), len(self), k,
            exclude_rows=exclude_rows, mask=mask,
        )


def best_of(
    scores: np.ndarray, k: int, *, exclude_rows: np.ndarray | None = None, mask: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best items of each row of a score matrix, as :meth:`ExactIndex.search` returns them.

    Parameters
    ----------
    scores
        ``(n_queries, n_items)`` float32 scores; changed in place (excluded
        items become ``-inf``).
    k
        Items per query.
    exclude_rows, mask
        As in :meth:`ExactIndex.search`.

    Returns
    -------
    rows, scores
        int64 and float32 arrays of shape ``(n_queries, min(k, n_items))``,
        padded with -1 and ``-inf`` where fewer items are eligible.
    """
    if mask is not None:
        scores[:, ~mask] = -np.inf
    if exclude_rows is not None:
        valid = exclude_rows >= 0
        scores[np.flatnonzero(valid), exclude_rows[valid]] = -np.inf
    rows = top_k(scores, k) if len(scores) > 1 else _top_k_row(scores[0], k)[None, :]
    top_scores = np.take_along_axis(scores, rows, axis=1)
    rows = np.where(np.isneginf(top_scores), -1, rows)
    return rows, top_scores


def best_in_blocks(
    score: Callable[[slice], np.ndarray],
    n_queries: int,
    n_items: int,
    k: int,
    *,
    exclude_rows: np.ndarray | None = None,
    mask: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`best_of` over a score matrix made a block of queries at a time.

    Parameters
    ----------
    score
        Scores of the queries in a slice, ``(block, n_items)`` float32; each
        block holds at most about 64 MB of scores.
    n_queries, n_items
        Shape of the whole score matrix.
    k, exclude_rows, mask
        As in :func:`best_of` (``exclude_rows`` for all queries).
    """
    step = max(1, _BLOCK_BYTES // (4 * max(n_items, 1)))
    width = min(k, n_items)
    rows = np.empty((n_queries, width), dtype=np.int64)
    scores = np.empty((n_queries, width), dtype=np.float32)
    for start in range(0, n_queries, step):
        block = slice(start, start + step)
        rows[block], scores[block] = best_of(
            score(block), k, exclude_rows=None if exclude_rows is None else exclude_rows[block], mask=mask
        )
    return rows, scores


HNSW_M = 32
"""Default number of graph neighbours per HNSW node."""
EF_CONSTRUCTION = 80
"""Default HNSW construction effort."""
TARGET_RECALL = 0.98
"""Recall@10 against exact search that the default search effort must reach."""
_EF_SEARCH_START = 64
_EF_SEARCH_MAX = 4096


def recall_at_k(found: np.ndarray, truth: np.ndarray) -> float:
    """Mean share of each row of ``truth`` that also appears in the same row of ``found``.

    Parameters
    ----------
    found, truth
        Row indices, shape ``(n_queries, k)``; -1 marks a missing answer and
        never counts as found.
    """
    hits = (found[:, :, None] == truth[:, None, :]) & (truth[:, None, :] >= 0)
    return float(hits.any(axis=1).sum() / max(int((truth >= 0).sum()), 1))


@dataclass(frozen=True)
class AnnReport:
    """How an approximate index was built and how well it agrees with exact search."""

    n_items: int
    """Items in the index."""
    m: int
    """HNSW graph neighbours per node."""
    ef_construction: int
    """HNSW construction effort."""
    ef_search: int
    """Search effort the index answers with (tuned to reach the target recall)."""
    recall_at_10: float
    """Share of the exact top-10 found, averaged over the sampled items."""
    sample_size: int
    """Items whose top-10 was compared with exact search."""
    build_seconds: float
    """Time to build the graph (the recall measurement not included)."""

    def summary(self) -> str:
        """One line for people, e.g. for the command line."""
        return (
            f"hnsw index over {self.n_items:,} items: M={self.m}, efSearch={self.ef_search}, "
            f"recall@10={self.recall_at_10:.4f} against exact search on {self.sample_size:,} sampled items "
            f"(built in {self.build_seconds:.1f} s)"
        )


class HNSWIndex:
    """Approximate search over a faiss HNSW graph, with the contract (and metric) of :class:`ExactIndex`.

    Use :func:`build_hnsw` to make one. Queries ask the graph for enough
    extra neighbours to drop the excluded and masked items; a query left
    with fewer than ``k`` answers (or a mask that bans more than a tenth of
    the catalogue) is answered by the exact index instead.

    Parameters
    ----------
    exact
        The exact index over the same vectors (the graph's row numbers are its rows).
    graph
        A ``faiss.IndexHNSWFlat`` with inner-product metric holding ``exact.vectors``
        (unit rows for cosine search, raw rows for inner-product search).
    """

    def __init__(self, exact: ExactIndex, graph: Any) -> None:
        self.exact = exact
        self._graph = graph

    def __len__(self) -> int:
        return len(self.exact)

    @property
    def graph(self) -> Any:
        """The ``faiss.IndexHNSWFlat`` searched (to store it with ``faiss.write_index``)."""
        return self._graph

    @property
    def ef_search(self) -> int:
        """Search effort: candidates kept while walking the graph (higher: slower, better recall)."""
        return int(self._graph.hnsw.efSearch)

    @ef_search.setter
    def ef_search(self, value: int) -> None:
        self._graph.hnsw.efSearch = int(value)

    def search(
        self,
        queries: np.ndarray,
        k: int,
        *,
        exclude_rows: np.ndarray | None = None,
        mask: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Approximate :meth:`ExactIndex.search` (same parameters and result)."""
        n_items = len(self)
        banned = 0 if mask is None else n_items - int(np.count_nonzero(mask))
        if banned > n_items // 10:
            return self.exact.search(queries, k, exclude_rows=exclude_rows, mask=mask)
        queries = self.exact.prepare_queries(queries)
        width = min(k, n_items)
        scores, rows = self._graph.search(queries, min(n_items, k + 1 + banned))
        valid = rows >= 0
        if exclude_rows is not None:
            valid &= rows != exclude_rows[:, None]
        if mask is not None:
            valid &= mask[np.maximum(rows, 0)]
        order = np.argsort(~valid, axis=1, kind="stable")[:, :width]
        rows = np.take_along_axis(rows, order, axis=1).astype(np.int64)
        scores = np.take_along_axis(scores, order, axis=1)
        short = np.flatnonzero(~np.take_along_axis(valid, order, axis=1).all(axis=1))
        if len(short):
            rows[short], scores[short] = self.exact.search(
                queries[short], k, exclude_rows=None if exclude_rows is None else exclude_rows[short], mask=mask
            )
        return rows, scores


def build_hnsw(
    exact: ExactIndex,
    *,
    queries: np.ndarray | None = None,
    m: int = HNSW_M,
    ef_construction: int = EF_CONSTRUCTION,
    ef_search: int | None = None,
    target_recall: float = TARGET_RECALL,
    sample_size: int = 1000,
    seed: int = 0,
) -> tuple[HNSWIndex, AnnReport]:
    """Build a faiss HNSW index over the exact index's vectors and measure its recall.

    The recall@10 of the approximate index is measured against exact search
    (cosine or inner product, as ``exact`` scores) on ``sample_size`` random
    items (each query item excluded from both answers). Unless ``ef_search``
    is given, the search effort starts at 64 and doubles until the measured
    recall reaches ``target_recall``.

    Parameters
    ----------
    exact
        Exact index whose vectors are indexed.
    queries
        The query vector of each item, row for row with ``exact``'s vectors
        (for example input vectors searched against output vectors); None
        queries with the indexed vectors themselves.
    m
        Graph neighbours per node.
    ef_construction
        Construction effort.
    ef_search
        Fixed search effort; None tunes it as described above.
    target_recall
        Recall@10 the tuned search effort must reach.
    sample_size
        Items used to measure recall.
    seed
        Seed of the item sample.

    Returns
    -------
    index, report
        The index, with its search effort set, and an :class:`AnnReport`.
    """
    import faiss

    started = time.perf_counter()
    graph = faiss.IndexHNSWFlat(exact.vectors.shape[1], m, faiss.METRIC_INNER_PRODUCT)
    graph.hnsw.efConstruction = ef_construction
    graph.add(exact.vectors)
    build_seconds = time.perf_counter() - started
    index = HNSWIndex(exact, graph)

    sample = np.random.default_rng(seed).choice(len(exact), size=min(sample_size, len(exact)), replace=False)
    sampled = (exact.vectors if queries is None else queries)[sample]
    truth, _ = exact.search(sampled, 10, exclude_rows=sample)
    effort = ef_search or _EF_SEARCH_START
    while True:
        index.ef_search = effort
        found, _ = index.search(sampled, 10, exclude_rows=sample)
        recall = recall_at_k(found, truth)
        if ef_search is not None or recall >= target_recall or effort >= _EF_SEARCH_MAX:
            break
        effort *= 2
    report = AnnReport(
        n_items=len(exact),
        m=m,
        ef_construction=ef_construction,
        ef_search=effort,
        recall_at_10=recall,
        sample_size=len(sample),
        build_seconds=build_seconds,
    )
    return index, report
