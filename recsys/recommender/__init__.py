"""The recommender: "items like this one" and "what comes after it", answered from trained item vectors.

- :class:`Recommender` (``_recommender``): the query API, ``recommend``,
  ``recommend_many``, ``for_session``, ``explain``, frames and export;
- ``_results``: what it answers (:class:`Recommendations`,
  :class:`Explanation`, :class:`Preparation`) and the options it checks;
- ``_spaces``: each relation's search space and the structures prepared over
  it (neighbour tables, ranked tables, HNSW graphs, the store);
- ``_neighbours``: how a query's neighbours are found (table, ranking stage,
  search, cold scorer); ``_catalogue``: ids, popularity, filters, fallbacks;
- ``_cold``: the cold items and their "next"; ``_explain``, ``_frames``.

The recommender reads models and never logs: :mod:`recsys.tracking` asks it
for its reports (:attr:`Recommender.ann_reports`).
"""

from recsys.recommender._recommender import Recommender
from recsys.recommender._results import (
    MAX_K,
    TABLE_DEPTH,
    TABLE_MAX_ITEMS,
    Explanation,
    IndexKind,
    OnUnknown,
    Preparation,
    Recommendations,
    SearchMode,
)

__all__ = [
    "Explanation",
    "IndexKind",
    "MAX_K",
    "OnUnknown",
    "Preparation",
    "Recommendations",
    "Recommender",
    "SearchMode",
    "TABLE_DEPTH",
    "TABLE_MAX_ITEMS",
]
