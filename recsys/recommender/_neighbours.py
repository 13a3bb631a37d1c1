"""How a query's neighbours are found: a prepared table, the ranking stage, the search structure, or the
scorer of cold items."""

from __future__ import annotations

import numpy as np

from recsys.errors import ConfigError
from recsys.ranking import RANKS, QueryKind, Rank, Ranker, Ranking
from recsys.recommender._cold import ColdItems
from recsys.recommender._results import check_choice
from recsys.recommender._spaces import SearchSpaces, Space

__all__ = ["Neighbours"]


class Neighbours:
    """Finds the neighbours of catalogue rows, and knows when the ranking stage orders them.

    Parameters
    ----------
    search
        The catalogue's search spaces and prepared structures.
    cold
        The catalogue's cold items.
    ranking, ranker
        The model's ranking stage and it bound to the catalogue (None: none).
    """

    def __init__(self, search: SearchSpaces, cold: ColdItems, ranking: Ranking | None, ranker: Ranker | None) -> None:
        self.search = search
        self.cold = cold
        self.ranking = ranking
        self.ranker = ranker

    def default_ranked(self, space: Space, kind: QueryKind) -> bool:
        """Whether ``kind`` queries of ``space`` use the ranking stage when no ``rank`` is asked for."""
        return self.ranking is not None and space.relation == "next" and self.ranking.default(kind) == "ranker"

    def uses_ranker(self, space: Space, rank: Rank | None, kind: QueryKind) -> bool:
        """Whether a ``kind`` query of ``space`` asking for ``rank`` is answered by the ranking stage.

        Raises
        ------
        ConfigError
            If ``rank`` is unknown, or ``"ranker"`` is asked without a stage or of "similar".
        """
        if rank is None:
            return self.default_ranked(space, kind)
        check_choice("rank", rank, RANKS)
        if rank == "vectors":
            return False
        if self.ranking is None:
            raise ConfigError("rank='ranker' needs a ranking stage, and this model has none (it was trained "
                              "without one, or before they existed): ask for rank='vectors', or retrain the model")
        if space.relation != "next":
            raise ConfigError("the ranking stage orders 'next'; ask for relation='next', or rank='vectors'")
        return True

    def of_items(
        self, space: Space, rows: np.ndarray, k: int, mask: np.ndarray | None, ranked: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        """Neighbour rows and scores of catalogue ``rows``, each row itself excluded.

        A cold item's "next" is ranked by its cold start's
        :class:`~recsys.coldstart.ranker.ColdNextScorer` (predicted vector,
        metadata and popularity), exactly, over the whole catalogue.
        """
        cold = self.cold.flags[rows] if space.relation == "next" else np.zeros(len(rows), dtype=bool)
        scorer = self.cold.scorer() if cold.any() else None
        if scorer is None:
            return self._searched(space, rows, k, mask, ranked)
        if cold.all():
            return self.cold.neighbours(scorer, rows, k, mask)
        width = min(k, len(self.cold.flags))
        found = np.full((len(rows), width), -1, dtype=np.int64)
        scores = np.full((len(rows), width), -np.inf, dtype=np.float32)
        found[~cold], scores[~cold] = self._searched(space, rows[~cold], k, mask, ranked)
        found[cold], scores[cold] = self.cold.neighbours(scorer, rows[cold], k, mask)
        return found, scores

    def _searched(
        self, space: Space, rows: np.ndarray, k: int, mask: np.ndarray | None, ranked: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        """Neighbours from the space's table, the ranking stage or the search structure."""
        table = self.search.table_for(space, k, mask, ranked)
        if table is not None:
            return table.lookup(rows, k)
        if ranked:
            return self.ranker.rank([np.array([row]) for row in rows], self.ranking.blends["item"], k, mask=mask)
        return self.search.searcher(space).search(space.queries[rows], k, exclude_rows=rows, mask=mask)

    def of_session(
        self, space: Space, rows: np.ndarray, weights: np.ndarray | None, k: int, mask: np.ndarray, ranked: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` best rows for a session of known ``rows`` (oldest first), ``mask`` already without them:
        ranked by the stage's session blend, or by the vectors' ``weights``-weighted mean query."""
        if ranked:
            found, scores = self.ranker.rank([rows], self.ranking.blends["session"], k, mask=mask)
            return found[0], scores[0]
        query = (weights / weights.sum()).astype(np.float32) @ space.queries[rows]
        found, scores = self.search.searcher(space).search(query[None, :], k, mask=mask)
        return found[0], scores[0]
