"""The signals that order a query's candidates, computed for a batch of contexts at once.

A context is a session of catalogue rows, oldest first; an item query is a
one-item session. For candidate ``c`` of a context whose last item is ``q``:

* ``vector``: the context's query vector (the recency-weighted mean of its
  items' input vectors) dot ``c``'s output vector, item2vec's "next" score;
* ``after``: ``log(1 + n(q -> c))``, the distance-weighted count of ``c``
  following ``q`` (sequential rules);
* ``share``: ``n(q -> c)`` over everything that followed ``q``;
* ``after_earlier``: ``log(1 + sum_i w_i n(i -> c))`` over the context's
  earlier items ``i``, weighted by recency (always 0 for an item query);
* ``before``: ``log(1 + sum_i w_i n(c -> i))`` over every item of the
  context: ``c`` was seen before them (co-occurrence the other way round);
* ``popularity``: ``log(1 + plays of c)``.

Each signal is computed only at the candidates (a sparse gather), so a
batch costs its candidates, not the catalogue.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from recsys.ranking._evidence import Evidence, log_plays

__all__ = ["SIGNALS", "EVIDENCE_SIGNALS", "SESSION_DECAY", "recency_weights", "context_signals", "gather", "padded_rows"]

SIGNALS: tuple[str, ...] = ("vector", "after", "share", "after_earlier", "before", "popularity")
"""Every signal, in the order of the last axis of :func:`context_signals`."""
EVIDENCE_SIGNALS: tuple[str, ...] = SIGNALS[1:]
"""The signals observed in the training sequences (all but ``vector``)."""
SESSION_DECAY = 0.5
"""Weight ratio between an item of a context and the item after it."""


_DENSE_GATHER = 1 << 22
"""Sparse rows gathered from a dense copy when it holds at most this many values (16 MB of float32)."""


def recency_weights(
    sessions: Sequence[np.ndarray], n_items: int, *, decay: float, normalise: bool = True
) -> sp.csr_matrix:
    """Recency weights of each session's items as a sparse ``(n_sessions, n_items)`` matrix.

    The last item of a session weighs 1, the one before it ``decay``, then
    ``decay**2``...; with ``normalise`` each row sums to 1 (``decay=1``: the
    plain mean). An item that occurs twice adds up.
    """
    lengths = np.fromiter((len(s) for s in sessions), dtype=np.int64, count=len(sessions))
    indptr = np.concatenate([[0], np.cumsum(lengths)])
    indices = np.concatenate(sessions).astype(np.int64) if len(sessions) else np.empty(0, dtype=np.int64)
    ages = np.repeat(lengths, lengths) - 1 - (np.arange(indices.size) - np.repeat(indptr[:-1], lengths))
    weights = np.power(decay, ages, dtype=np.float64)
    if normalise and indices.size:
        weights /= np.repeat(np.add.reduceat(weights, indptr[:-1]), lengths)
    matrix = sp.csr_matrix((weights.astype(np.float32), indices, indptr), shape=(len(sessions), n_items))
    matrix.sum_duplicates()
    return matrix


def padded_rows(matrix: sp.csr_matrix, rows: np.ndarray) -> np.ndarray:
    """The column indices of ``matrix``'s ``rows`` as a ``(len(rows), longest)`` int64 array padded with -1."""
    starts, stops = matrix.indptr[rows], matrix.indptr[rows + 1]
    lengths = stops - starts
    width = int(lengths.max(initial=0))
    out = np.full((len(rows), width), -1, dtype=np.int64)
    if width:
        column = np.arange(width)
        inside = column[None, :] < lengths[:, None]
        out[inside] = matrix.indices[(starts[:, None] + column[None, :])[inside]]
    return out


def gather(matrix: sp.csr_matrix, candidates: np.ndarray) -> np.ndarray:
    """``matrix[i, candidates[i, j]]`` for every ``i, j`` (0 at padding), float64: a sparse gather."""
    if matrix.shape[0] * matrix.shape[1] <= _DENSE_GATHER:
        values = np.take_along_axis(matrix.toarray(), np.maximum(candidates, 0), axis=1)
        return np.where(candidates >= 0, values, 0.0).astype(np.float64)
    matrix = matrix.tocsr()
    matrix.sum_duplicates()  # also sorts the indices
    n = matrix.shape[1]
    lengths = np.diff(matrix.indptr)
    keys = np.repeat(np.arange(matrix.shape[0], dtype=np.int64), lengths) * n + matrix.indices
    if keys.size == 0:
        return np.zeros(candidates.shape, dtype=np.float64)
    wanted = np.arange(len(candidates), dtype=np.int64)[:, None] * n + np.maximum(candidates, 0)
    at = np.minimum(np.searchsorted(keys, wanted), keys.size - 1)
    found = (keys[at] == wanted) & (candidates >= 0)
    return np.where(found, matrix.data[at], 0.0).astype(np.float64)


def context_signals(
    sessions: Sequence[np.ndarray],
    candidates: np.ndarray,
    evidence: Evidence,
    *,
    profiles: np.ndarray | None,
    outputs: np.ndarray | None,
) -> np.ndarray:
    """Every signal of every candidate of a batch of contexts.

    Parameters
    ----------
    sessions
        Catalogue rows of each context, oldest first, each non-empty.
    candidates
        ``(n_contexts, n_candidates)`` catalogue rows, -1 for padding.
    evidence
        The successor counts and plays of the catalogue.
    profiles, outputs
        Each context's query vector and the catalogue's output vectors; None
        leaves the ``vector`` signal at 0 (rankings without vectors).

    Returns
    -------
    numpy.ndarray
        ``(n_contexts, n_candidates, len(SIGNALS))`` float64, 0 at padding.
    """
    n_items = len(evidence)
    safe = np.maximum(candidates, 0)
    last = np.fromiter((s[-1] for s in sessions), dtype=np.int64, count=len(sessions))
    signals = np.zeros((*candidates.shape, len(SIGNALS)), dtype=np.float64)
    if profiles is not None and outputs is not None:
        signals[..., 0] = np.einsum("bd,bcd->bc", profiles, outputs[safe], optimize=True)
    after = gather(evidence.successors[last], candidates)
    signals[..., 1] = np.log1p(after)
    totals = evidence.totals[last].astype(np.float64)
    signals[..., 2] = np.divide(after, totals[:, None], out=np.zeros_like(after), where=totals[:, None] > 0)
    weights = recency_weights(sessions, n_items, decay=SESSION_DECAY, normalise=False)
    if any(len(s) > 1 for s in sessions):
        earlier = recency_weights([s[:-1] if len(s) > 1 else s[:0] for s in sessions], n_items,
                                  decay=SESSION_DECAY, normalise=False) * SESSION_DECAY
        signals[..., 3] = np.log1p(gather(earlier @ evidence.successors, candidates))
    signals[..., 4] = np.log1p(gather(weights @ evidence.predecessors, candidates))
    signals[..., 5] = log_plays(evidence.plays)[safe]
    signals[candidates < 0] = 0.0
    return signals
