"""Each relation's search space over one catalogue, and the structures prepared over it.

A :class:`Space` is one relation's search: each item's query vector against
the candidate vectors (unit input vectors for "similar", input against
output vectors for "next"). :class:`SearchSpaces` holds the spaces of a
catalogue and makes ready what single-item queries then only read: a
neighbour table of every item's top :data:`TABLE_DEPTH` (up to
:data:`TABLE_MAX_ITEMS` items; for "next" with a ranking stage, in the
stage's order) or a faiss HNSW graph beyond, loaded from a
:class:`~recsys.search_store.SearchStore` when one fits, else built (and
kept there).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from recsys.config import Relation
from recsys.errors import ConfigError
from recsys.index import EF_CONSTRUCTION, HNSW_M, TARGET_RECALL, AnnReport, ExactIndex, HNSWIndex, build_hnsw
from recsys.item2vec import ItemVectors
from recsys.neighbours import NeighbourTable, Progress
from recsys.ranking import Blend, Ranker
from recsys.recommender._results import (
    RELATIONS,
    TABLE_DEPTH,
    TABLE_MAX_ITEMS,
    IndexKind,
    Preparation,
    SearchMode,
    check_choice,
)
from recsys.search_store import SearchStore, StructureKind

__all__ = ["Space", "SearchSpaces", "ranked_table"]

_HNSW_SETTINGS = {"m": HNSW_M, "ef_construction": EF_CONSTRUCTION, "target_recall": TARGET_RECALL}
"""What a stored HNSW graph must have been built with to be used."""

RankedTable = Callable[[NeighbourTable, Progress | None], NeighbourTable]
"""Builds the ranked "next" table from the plain one (with progress), for :meth:`SearchSpaces.prepare`."""


@dataclass(eq=False)
class Space:
    """One relation's search: each item's query vector against the candidate vectors, and what is built over them."""

    relation: Relation
    queries: np.ndarray
    """Query vector of each item, rows as the catalogue (unit rows for cosine search)."""
    exact: ExactIndex
    """Exact search over the candidate vectors."""
    table: NeighbourTable | None = None
    """Top :data:`TABLE_DEPTH` of every item in the space's plain (vector) order."""
    ranked_table: NeighbourTable | None = None
    """The same in the order of the ranking stage ("next" only)."""
    ann: HNSWIndex | None = None
    ann_report: AnnReport | None = None


def _part_progress(on_progress: Progress | None, part: int, parts: int) -> Progress | None:
    """Report the progress of part ``part`` of ``parts`` equal parts as progress over all of them
    (None without ``on_progress``)."""
    if on_progress is None:
        return None
    return lambda done, total: on_progress(part * total + done, parts * total)


class SearchSpaces:
    """The search spaces of a catalogue and the structures prepared over them.

    Parameters
    ----------
    vectors
        The catalogue's vectors ("next" needs output vectors).
    index
        Search strategy (see :data:`~recsys.recommender.IndexKind`).
    store
        Where prepared structures are found and kept between runs (None: in memory only).
    """

    def __init__(self, vectors: ItemVectors, *, index: IndexKind, store: SearchStore | None) -> None:
        self.index = index
        self.store = store
        self.default_relation: Relation = vectors.default_relation
        self.preparations: dict[Relation, Preparation] = {}
        """How each relation's structure was made ready."""
        self._build_lock = threading.Lock()
        similar = ExactIndex(vectors.vectors)
        self.spaces: dict[str, Space] = {"similar": Space("similar", similar.vectors, similar)}
        if vectors.context_vectors is not None:
            raw = ExactIndex(vectors.context_vectors, normalize=False)
            self.spaces["next"] = Space("next", raw.prepare_queries(vectors.vectors), raw)
        self._n_items = len(vectors)

    def space(self, relation: Relation | None) -> Space:
        """The search space of ``relation`` (None: the default relation).

        Raises
        ------
        ConfigError
            If the relation is unknown, or "next" is asked of vectors without output vectors.
        """
        relation = self.default_relation if relation is None else relation
        check_choice("relation", relation, RELATIONS)
        space = self.spaces.get(relation)
        if space is None:
            raise ConfigError(
                f"relation={relation!r} needs output (context) vectors, and this model has none "
                "(it was saved before they were kept): ask for relation='similar', or retrain the model"
            )
        return space

    def searcher(self, space: Space) -> ExactIndex | HNSWIndex:
        """What searches ``space`` now: its HNSW graph when asked for or built, else exact search."""
        return self.hnsw(space) if self.index == "hnsw" or space.ann is not None else space.exact

    @staticmethod
    def table_for(space: Space, k: int, mask: np.ndarray | None, ranked: bool) -> NeighbourTable | None:
        """The space's neighbour table (``ranked``: in the ranking stage's order), if it can answer
        unfiltered queries for ``k`` items."""
        table = space.ranked_table if ranked else space.table
        return table if mask is None and table is not None and k <= table.depth else None

    def mode(self, space: Space, ranked: bool) -> SearchMode:
        """How unfiltered single-item queries of ``space`` (``ranked`` or not) are answered now."""
        if (space.ranked_table if ranked else space.table) is not None:
            return "table"
        return "hnsw" if self.index == "hnsw" or space.ann is not None else "exact"

    # ------------------------------------------------------------------ prepare
    def prepare(
        self,
        spaces: Iterable[Space],
        *,
        ranked: Callable[[Space], bool],
        ranked_table: RankedTable,
        ranking_digest: str | None,
        on_progress: Progress | None = None,
    ) -> None:
        """Make each space ready: a table up to :data:`TABLE_MAX_ITEMS` items (unless ``index`` is
        ``"hnsw"``; ranked where ``ranked(space)``), else an HNSW graph (unless ``index`` is ``"exact"``).

        Parameters
        ----------
        spaces
            The spaces to prepare.
        ranked
            Whether a space's table is in the ranking stage's order.
        ranked_table
            Builds that table from the space's plain table (built first when
            the ranked one is not stored, and kept in memory).
        ranking_digest
            The ranking stage's digest, which a stored ranked table is keyed by.
        on_progress
            Called with (items done, items in all), over all spaces, while tables are built.
        """
        spaces = list(spaces)
        for part, space in enumerate(spaces):
            if self.index != "hnsw" and self._n_items <= TABLE_MAX_ITEMS:
                progress = _part_progress(on_progress, part, len(spaces))
                with self._build_lock:
                    if ranked(space):
                        if space.ranked_table is None:
                            space.ranked_table = self._table(space, progress, ranked_table=ranked_table,
                                                             ranking_digest=ranking_digest)
                    elif space.table is None:
                        space.table = self._table(space, progress)
            elif self.index != "exact":
                self.hnsw(space)

    def _table(self, space: Space, on_progress: Progress | None, *, ranked_table: RankedTable | None = None,
               ranking_digest: str | None = None) -> NeighbourTable:
        """The space's neighbour table (with ``ranked_table``: in the ranking stage's order): the stored one if
        it fits this model, else built (and stored)."""
        started = time.perf_counter()
        stored = None if self.store is None else self.store.load_table(space.relation, depth=TABLE_DEPTH,
                                                                       ranking=ranking_digest)
        if stored is not None:
            self._prepared(space, "table", "stored", started)
            return stored
        if ranked_table is not None:
            if space.table is None:  # its candidates; kept for plain queries too, not stored
                space.table = NeighbourTable.build(space.queries, TABLE_DEPTH, candidates=space.exact.vectors,
                                                   on_progress=_part_progress(on_progress, 0, 2))
            table = ranked_table(space.table, _part_progress(on_progress, 1, 2))
        else:
            table = NeighbourTable.build(space.queries, TABLE_DEPTH, candidates=space.exact.vectors,
                                         on_progress=on_progress)
        kept = self.store is not None and self.store.save_table(space.relation, table, depth=TABLE_DEPTH,
                                                                ranking=ranking_digest)
        self._prepared(space, "table", "built", started, stored=kept)
        return table

    def hnsw(self, space: Space) -> HNSWIndex:
        """The space's HNSW graph: made once (loaded from the store when one fits, else built and stored)."""
        with self._build_lock:
            if space.ann is None:
                started = time.perf_counter()
                stored = None
                if self.store is not None:
                    stored = self.store.load_hnsw(space.relation, space.exact, settings=_HNSW_SETTINGS)
                if stored is not None:
                    space.ann, space.ann_report = stored
                    self._prepared(space, "hnsw", "stored", started)
                    return space.ann
                space.ann, space.ann_report = build_hnsw(space.exact, queries=space.queries)
                saved = self.store is not None and self.store.save_hnsw(
                    space.relation, space.ann, space.ann_report, settings=_HNSW_SETTINGS
                )
                self._prepared(space, "hnsw", "built", started, stored=saved)
        return space.ann

    def _prepared(self, space: Space, kind: StructureKind, source: Literal["stored", "built"], started: float,
                  *, stored: bool = True) -> None:
        where = self.store.directory if self.store is not None and stored else None
        self.preparations[space.relation] = Preparation(
            space.relation, kind, source, time.perf_counter() - started, where
        )

    @property
    def ann_reports(self) -> dict[Relation, AnnReport]:
        """Build settings and measured recall of each relation's HNSW index, once built."""
        return {space.relation: space.ann_report for space in self.spaces.values() if space.ann_report is not None}


_TABLE_BLOCK = 4096
"""Items ranked per block while a ranked table is built."""


def ranked_table(ranker: Ranker, blend: Blend, n_items: int, listed: NeighbourTable,
                 on_progress: Progress | None = None) -> NeighbourTable:
    """Every item's top :data:`TABLE_DEPTH` "next" in the order of a ranking stage's ``blend``.

    ``listed`` is the plain "next" table: the vectors' best items of every
    item, which are the ranker's candidates, read there rather than searched
    for again (unless the ranker asks for more candidates than it lists).
    """
    width = min(TABLE_DEPTH, n_items - 1)
    if ranker.candidates <= listed.depth:
        # every context here is one item (never masked), whose own row is the one its search excludes
        ranker = ranker.searching(lambda _queries, n, *, exclude_rows, mask=None: listed.lookup(exclude_rows, n))
    rows = np.full((n_items, width), -1, dtype=np.int32)
    scores = np.full((n_items, width), -np.inf, dtype=np.float32)
    for start in range(0, n_items, _TABLE_BLOCK):
        block = np.arange(start, min(start + _TABLE_BLOCK, n_items))
        found, values = ranker.rank([np.array([r]) for r in block], blend, width)
        rows[block, : found.shape[1]], scores[block, : found.shape[1]] = found, values
        if on_progress is not None:
            on_progress(int(block[-1]) + 1, n_items)
    rows.setflags(write=False)
    scores.setflags(write=False)
    return NeighbourTable(rows, scores)
