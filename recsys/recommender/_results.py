"""What the recommender answers and says: :class:`Recommendations`, :class:`Explanation`,
:class:`Preparation`, and the options every query is checked against."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

import numpy as np

from recsys.config import Relation
from recsys.errors import ConfigError
from recsys.search_store import StructureKind

__all__ = [
    "Explanation", "INDEX_KINDS", "IndexKind", "MAX_K", "ON_UNKNOWN", "OnUnknown", "Preparation", "RELATIONS",
    "Recommendations", "SearchMode", "TABLE_DEPTH", "TABLE_MAX_ITEMS", "UNKNOWN_HINT", "check_choice", "check_k",
]

MAX_K = 10_000
"""Largest ``k`` accepted by the recommend methods."""
TABLE_MAX_ITEMS = 100_000
"""Largest catalogue for which :meth:`Recommender.prepare` builds a neighbour table."""
TABLE_DEPTH = 100
"""Neighbours per item in the table; larger ``k`` use the index."""

IndexKind = Literal["auto", "exact", "hnsw"]
"""``exact``: exact search (plus a neighbour table when prepared and small enough);
``hnsw``: approximate search; ``auto``: exact, and when prepared a table up to
:data:`TABLE_MAX_ITEMS` items, an HNSW index beyond."""
OnUnknown = Literal["error", "popular"]
"""What an unknown query item does: raise :class:`UnknownItemError`, or fall back to popular items."""
SearchMode = Literal["table", "hnsw", "exact"]
"""How single-item queries are answered right now."""

INDEX_KINDS: tuple[str, ...] = get_args(IndexKind)
ON_UNKNOWN: tuple[str, ...] = get_args(OnUnknown)
RELATIONS: tuple[str, ...] = get_args(Relation)
UNKNOWN_HINT = "Ask with on_unknown=popular (CLI: --on-unknown popular) for the most popular items instead"


def check_k(k: int) -> int:
    """``k`` as an int, or :class:`ConfigError` unless it is an integer from 1 to :data:`MAX_K`."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= MAX_K:
        raise ConfigError(f"k must be an integer between 1 and {MAX_K}, got {k!r}")
    return int(k)


def check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    """:class:`ConfigError` naming option ``name`` unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}")


class Recommendations(tuple[np.ndarray, np.ndarray]):
    """Recommendations as ``(item_ids, scores)``: unpacks as a 2-tuple, and says whether it fell back.

    Attributes
    ----------
    item_ids
        Object array of ids, best first. For a batch it is 2-D, one row per
        query, padded with None where fewer items are eligible.
    scores
        float32 scores (padding: ``-inf``): cosine similarities for the
        ``"similar"`` relation, raw dot products (unbounded) for ``"next"``. For popular items
        returned instead of an unknown query's neighbours, each item's share
        of all training occurrences.
    fallback
        True when the query was unknown and popular items were returned; for
        a batch, a boolean array with one flag per query.
    cold
        Boolean array shaped as ``item_ids``: True where the item is cold (its
        vector came from its metadata, see :meth:`Recommender.add_items`).
    """

    fallback: bool | np.ndarray
    cold: np.ndarray

    def __new__(
        cls, item_ids: np.ndarray, scores: np.ndarray, fallback: bool | np.ndarray = False,
        cold: np.ndarray | None = None,
    ) -> "Recommendations":
        result = super().__new__(cls, (item_ids, scores))
        result.fallback = fallback
        result.cold = np.zeros(np.shape(item_ids), dtype=bool) if cold is None else cold
        return result

    def __getnewargs__(self) -> tuple[np.ndarray, np.ndarray, bool | np.ndarray, np.ndarray]:  # type: ignore[override]
        return self[0], self[1], self.fallback, self.cold

    @property
    def item_ids(self) -> np.ndarray:
        """Recommended ids, best first."""
        return self[0]

    @property
    def scores(self) -> np.ndarray:
        """Scores of :attr:`item_ids`."""
        return self[1]

    def __repr__(self) -> str:
        return (f"Recommendations(item_ids={self[0]!r}, scores={self[1]!r}, fallback={self.fallback!r}, "
                f"cold={self.cold!r})")


@dataclass(frozen=True)
class Explanation:
    """Why two items are (or are not) recommended for each other."""

    item_a: str
    item_b: str
    similarity: float
    """Cosine similarity of the two item vectors."""
    rank: int
    """Position of ``item_b`` among ``item_a``'s neighbours by exact search (1 = most similar)."""
    counts: tuple[int, int]
    """Occurrences of each item in the training sequences."""
    co_occurrences: int | None
    """Training sequences that hold both items; None when the training sequences
    are not at hand (pass ``sequences=`` to the :class:`Recommender`)."""
    from_metadata: tuple[bool, bool] = (False, False)
    """Whether each item's vector came from its metadata (a cold item, added by
    :meth:`Recommender.add_items`) rather than from training."""
    signals: dict[str, float] | None = None
    """With a ranking stage: each signal's value for ``item_b`` as a "next"
    candidate of ``item_a`` (:data:`recsys.ranking.SIGNALS`)."""
    contributions: dict[str, float] | None = None
    """Each signal's share of ``item_b``'s ranked score: its value times its
    fitted weight (they sum to :attr:`next_score`)."""
    next_score: float | None = None
    """``item_b``'s score in ``item_a``'s ranked "next" list."""
    next_rank: int | None = None
    """``item_b``'s position in that list (1 = first), None when it is not
    among ``item_a``'s candidates (neither in the vectors' best nor observed after it)."""


@dataclass(frozen=True)
class Preparation:
    """How one relation's search structure was made ready by :meth:`Recommender.prepare`."""

    relation: Relation
    kind: StructureKind
    """``table`` (exact top-100 of every item) or ``hnsw`` (approximate graph)."""
    source: Literal["stored", "built"]
    """Loaded from the structures stored beside the model, or built now."""
    seconds: float
    """Time to load or to build (and store) it."""
    stored_in: Path | None = None
    """Where it is stored, if it is."""

    def summary(self) -> str:
        """One line for people, e.g. ``similar: neighbour table loaded from .../search in 0.1 s``."""
        what = "neighbour table" if self.kind == "table" else "hnsw graph"
        if self.source == "stored":
            return f"{self.relation}: {what} loaded from {self.stored_in} in {self.seconds:.1f} s"
        where = f", stored in {self.stored_in}" if self.stored_in is not None else ""
        return f"{self.relation}: {what} built in {self.seconds:.1f} s{where}"
