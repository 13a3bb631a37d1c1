"""The catalogue's cold items: which rows they are, and what ranks "next" when one is the query.

Cold items (added by :meth:`~recsys.recommender.Recommender.add_items`)
join the catalogue after the trained items, with vectors from their
metadata. A cold query's "next" is ranked by its cold start's
:class:`~recsys.coldstart.ranker.ColdNextScorer` (predicted vector, metadata
and popularity); :meth:`ColdItems.prepare` ranks it once per cold item (its
top :data:`~recsys.recommender.TABLE_DEPTH`), so that a prepared cold query
costs what a trained one does.
"""

from __future__ import annotations

import threading

import numpy as np
import polars as pl

from recsys.coldstart import ColdStart
from recsys.coldstart.ranker import ColdNextScorer
from recsys.item2vec import ItemVectors
from recsys.recommender._results import TABLE_DEPTH

__all__ = ["ColdItems"]

_NOT_MADE = object()
"""Marks a scorer made on first use that has not been made yet."""


class ColdItems:
    """Which catalogue rows are cold, and their "next" scorer and table.

    Parameters
    ----------
    cold_start
        The model's metadata mapper and cold items (None: no cold items).
    catalogue
        The catalogue's vectors: the trained items, then the cold ones.
    n_trained
        How many of the catalogue's items were trained.
    metadata
        Metadata of the catalogue's items (the cold ones' at least).
    """

    def __init__(self, cold_start: ColdStart | None, catalogue: ItemVectors, n_trained: int,
                 metadata: pl.DataFrame | None) -> None:
        self.cold_start = cold_start
        self.flags = np.arange(len(catalogue)) >= n_trained
        """True for the cold rows of the catalogue."""
        self._catalogue = catalogue
        self._metadata = metadata
        self._n_trained = n_trained
        self._scorer: object = _NOT_MADE
        self._table: tuple[np.ndarray, np.ndarray] | None = None
        """Top :data:`TABLE_DEPTH` "next" rows and scores of each cold item (made by :meth:`prepare`)."""
        self._lock = threading.Lock()

    def scorer(self) -> ColdNextScorer | None:
        """What ranks "next" for cold queries (made on first use), None when cold queries use the dot product."""
        if self._scorer is _NOT_MADE:
            with self._lock:
                if self._scorer is _NOT_MADE:
                    self._scorer = (
                        None if self.cold_start is None or not self.flags.any()
                        else self.cold_start.next_scorer(self._catalogue, self._metadata)
                    )
        return self._scorer  # type: ignore[return-value]

    def prepare(self) -> None:
        """Rank every cold item's "next" once (its top :data:`TABLE_DEPTH`), when there is a scorer."""
        scorer = self.scorer()
        with self._lock:
            if scorer is not None and self._table is None:
                self._table = scorer.search(np.flatnonzero(self.flags), TABLE_DEPTH)

    def neighbours(self, scorer: ColdNextScorer, rows: np.ndarray, k: int,
                   mask: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """"next" of cold ``rows``: sliced from the table :meth:`prepare` made when it can answer, else scored now."""
        table = self._table
        if table is not None and mask is None and k <= table[0].shape[1]:
            at = rows - self._n_trained
            return table[0][at, :k], table[1][at, :k]
        return scorer.search(rows, k, mask)
