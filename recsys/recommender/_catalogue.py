"""The catalogue as queries see it: ids, rows, popularity, cold flags, filters and the popular fallback."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from recsys.errors import UnknownItemError
from recsys.item2vec import ItemVectors
from recsys.recommender._results import UNKNOWN_HINT, OnUnknown, Recommendations

__all__ = ["Catalogue"]


class Catalogue:
    """Ids in row order, their popularity and cold flags, and how results are made of rows.

    Parameters
    ----------
    vectors
        The catalogue's vectors (trained items, then cold ones).
    cold
        True for the cold rows.
    """

    def __init__(self, vectors: ItemVectors, cold: np.ndarray) -> None:
        self.vocabulary = vectors.vocabulary
        self.ids = np.asarray(vectors.item_ids, dtype=object)
        self.cold = cold
        counts = np.asarray(vectors.counts, dtype=np.float64)
        self._popular = np.argsort(-counts, kind="stable")
        self._shares = (counts / max(counts.sum(), 1.0)).astype(np.float32)

    def __len__(self) -> int:
        return len(self.ids)

    def mask(self, exclude: Iterable[str] | None, include_only: Iterable[str] | None) -> np.ndarray | None:
        """The rows a query may return (None: all): ``include_only`` if given, never ``exclude``."""
        if exclude is None and include_only is None:
            return None
        mask = np.ones(len(self.ids), dtype=bool)
        if include_only is not None:
            mask[:] = False
            rows = self.vocabulary.rows(include_only, missing="negative")
            mask[rows[rows >= 0]] = True
        if exclude is not None:
            rows = self.vocabulary.rows(exclude, missing="negative")
            mask[rows[rows >= 0]] = False
        return mask

    def popular(self, k: int, mask: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` most played eligible rows and their share of all training occurrences."""
        order = self._popular if mask is None else self._popular[mask[self._popular]]
        rows = order[:k]
        return rows, self._shares[rows]

    def unknown(self, item_id: object, k: int, mask: np.ndarray | None, on_unknown: OnUnknown) -> Recommendations:
        """An unknown query: :class:`UnknownItemError`, or the popular items flagged as a fallback."""
        if on_unknown == "error":
            raise UnknownItemError(item_id, hint=UNKNOWN_HINT)
        rows, shares = self.popular(k, mask)
        return Recommendations(self.ids[rows], shares, fallback=True, cold=self.cold[rows])

    def single(self, rows: np.ndarray, scores: np.ndarray) -> Recommendations:
        """One query's result from its rows (-1: padding, dropped) and scores."""
        keep = rows >= 0
        rows = rows[keep]
        return Recommendations(self.ids[rows], scores[keep], cold=self.cold[rows])

    def batch(self, found: np.ndarray, scores: np.ndarray, fallback: np.ndarray) -> Recommendations:
        """Several queries' results from their rows (-1: padding, None ids) and scores."""
        safe = np.maximum(found, 0)
        ids = np.where(found >= 0, self.ids[safe], None)
        return Recommendations(ids, scores, fallback=fallback, cold=(found >= 0) & self.cold[safe])
