"""Recommendations for a whole session: :class:`SessionQueries` gives
:class:`~recsys.recommender.Recommender` its ``for_session``."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import numpy as np

from recsys.config import NEXT_SESSION_DECAY, Relation
from recsys.errors import ConfigError
from recsys.ranking import Rank
from recsys.recommender._catalogue import Catalogue
from recsys.recommender._neighbours import Neighbours
from recsys.recommender._results import ON_UNKNOWN, OnUnknown, Recommendations, check_choice, check_k
from recsys.recommender._spaces import Space

__all__ = ["SessionQueries"]


class SessionQueries:
    """``for_session`` over a recommender's catalogue, search spaces and neighbours."""

    _catalogue: Catalogue
    _neighbours: Neighbours
    _space: Callable[[Relation | None], Space]

    def for_session(
        self,
        items: Sequence[str],
        k: int = 10,
        *,
        recency_decay: float | None = None,
        exclude: Iterable[str] | None = None,
        include_only: Iterable[str] | None = None,
        on_unknown: OnUnknown = "error",
        relation: Relation | None = None,
        rank: Rank | None = None,
    ) -> Recommendations:
        """Top-``k`` items for a sequence of items (a session, a playlist), oldest first.

        The query is the weighted mean of the items' query vectors, scored
        as a single item's by ``relation``: for ``"similar"`` the mean of
        unit input vectors against unit input vectors (cosine), for
        ``"next"`` the mean of raw input vectors against output vectors
        (dot product). With a ranking stage, "next" candidates (the
        vectors' best and what followed the session's last item) are
        ordered by the stage's blend for sessions: the same signals, what
        followed and preceded each of the session's items summed with
        recency decay. Items of the session are never recommended.

        Parameters
        ----------
        items
            The session, oldest item first.
        k
            Number of recommendations (1..10,000).
        recency_decay
            If given (in ``(0, 1]``), the item ``a`` steps before the last
            one weighs ``recency_decay ** a``; None weighs all items equally
            for ``"similar"`` and uses :data:`~recsys.config.NEXT_SESSION_DECAY`
            (as evaluation does) for ``"next"``. A decay orders by the vectors
            (the ranking stage weighs a session as it was fitted), so it goes
            with ``rank="vectors"`` or no ``rank``.
        exclude, include_only
            As for :meth:`recommend`.
        on_unknown
            ``"error"`` raises for the first unknown item; ``"popular"``
            ignores unknown items and, if no item is known, returns the most
            popular eligible items with ``fallback=True``.
        relation, rank
            As for :meth:`recommend`.

        Returns
        -------
        Recommendations
            1-D ``(item_ids, scores)``, best first.

        Raises
        ------
        UnknownItemError
            If an item is not in the catalogue and ``on_unknown="error"``.
        ConfigError
            If the session is empty or an option is invalid.
        """
        k = check_k(k)
        check_choice("on_unknown", on_unknown, ON_UNKNOWN)
        items = list(items)
        if not items:
            raise ConfigError("a session needs at least one item")
        if recency_decay is not None and not 0 < recency_decay <= 1:
            raise ConfigError(f"recency_decay must be in (0, 1], got {recency_decay!r}")
        space = self._space(relation)
        if recency_decay is not None and rank == "ranker":
            raise ConfigError("recency_decay weighs the vectors of a session; the ranking stage weighs it as it "
                              "was fitted: drop recency_decay, or ask for rank='vectors'")
        ranked = recency_decay is None and self._neighbours.uses_ranker(space, rank, "session")
        if recency_decay is None:
            recency_decay = NEXT_SESSION_DECAY if space.relation == "next" else 1.0
        rows = self._catalogue.vocabulary.rows(items, missing="negative")
        known = rows >= 0
        mask = self._catalogue.mask(exclude, include_only)
        if not known.all():
            first_unknown = items[int(np.argmax(~known))]
            if on_unknown == "error" or not known.any():
                return self._catalogue.unknown(first_unknown, k, mask, on_unknown)
        weights = float(recency_decay) ** np.arange(len(rows) - 1, -1, -1)[known]
        mask = np.ones(len(self._catalogue), dtype=bool) if mask is None else mask
        mask[rows[known]] = False
        found, scores = self._neighbours.of_session(space, rows[known], weights, k, mask, ranked)
        return self._catalogue.single(found, scores)
