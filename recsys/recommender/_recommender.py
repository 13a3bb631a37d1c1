"""The query API: :class:`Recommender`, "items like this one" and "what comes after it".

Every query names a relation (see :data:`recsys.config.Relation`):
``"similar"`` scores candidates by the cosine of input vectors (substitutes),
``"next"`` by the raw dot product of the query's input vector with each
candidate's output vector (what comes after or goes with the query; raw dot
products ranked better than cosines in evaluation), or, with a ranking
stage, by its fitted blend of that score with the observed evidence. Each
relation is one search space (:mod:`recsys.recommender._spaces`).

Whole-catalogue work is done once: vectors are normalised when the
recommender is made, and :meth:`Recommender.prepare` builds what single-item
queries then only look up (a table of every item's top-100 neighbours for
catalogues up to 100,000 items) or walk (a faiss HNSW graph beyond).
Without :meth:`~Recommender.prepare`, queries use exact search: one matrix
product and a partition.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import polars as pl

from recsys.coldstart import ColdStart
from recsys.config import Relation
from recsys.data._schema import check_sequences
from recsys.errors import ConfigError, UnknownItemError
from recsys.index import AnnReport
from recsys.item2vec import ItemVectors
from recsys.neighbours import ExportReport, NeighbourTable, Progress, export_neighbours
from recsys.ranking import QueryKind, Rank, Ranker, Ranking
from recsys.recommender._catalogue import Catalogue
from recsys.recommender._cold import ColdItems
from recsys.recommender._explain import explain
from recsys.recommender._frames import Frames
from recsys.recommender._loading import find_model, read_model
from recsys.recommender._neighbours import Neighbours
from recsys.recommender._results import (
    INDEX_KINDS,
    ON_UNKNOWN,
    UNKNOWN_HINT,
    Explanation,
    IndexKind,
    OnUnknown,
    Preparation,
    Recommendations,
    SearchMode,
    check_choice,
    check_k,
)
from recsys.recommender._sessions import SessionQueries
from recsys.recommender._spaces import SearchSpaces, Space, ranked_table
from recsys.search_store import SearchStore

__all__ = ["Recommender"]


class Recommender(SessionQueries, Frames):
    """Nearest-neighbour recommendations over item vectors, for either relation.

    Parameters
    ----------
    item_vectors
        Trained vectors.
    metadata
        Optional item metadata (``item_id`` plus columns such as ``title``,
        ``artist``) joined onto the frames returned for people.
    index
        Search strategy (see :data:`IndexKind`).
    sequences
        Optional training sequences (sequences contract), used by
        :meth:`explain` to count co-occurrences.
    cold_start
        The model's metadata mapper and cold items (:class:`recsys.coldstart.ColdStart`);
        its items join the catalogue after the trained ones, with zero plays.

    ranking
        The model's ranking stage (:class:`recsys.ranking.Ranking`): "next"
        is then answered by its fitted blend of the vectors with the observed
        evidence, unless a query asks for ``rank="vectors"`` or the stage
        chose the vectors for that kind of query on validation.
    store
        Where :meth:`prepare` finds (and keeps) its search structures
        between runs; None builds them in memory only. Models loaded from a
        directory or MLflow use the structures stored beside them.

    Attributes
    ----------
    item_vectors
        The catalogue's vectors: the trained items, then the cold ones.
    trained_vectors
        The vectors as trained, without cold items.
    """

    def __init__(
        self,
        item_vectors: ItemVectors,
        metadata: pl.DataFrame | None = None,
        *,
        index: IndexKind = "auto",
        sequences: pl.DataFrame | None = None,
        cold_start: ColdStart | None = None,
        store: SearchStore | None = None,
        ranking: Ranking | None = None,
    ) -> None:
        check_choice("index", index, INDEX_KINDS)
        self.trained_vectors = item_vectors
        self.cold_start = cold_start
        if cold_start is not None:
            item_vectors = cold_start.extend(item_vectors)
        self.item_vectors = item_vectors
        self.metadata = metadata
        self.index = index
        self.sequences = None if sequences is None else check_sequences(sequences)
        cold = ColdItems(cold_start, item_vectors, len(self.trained_vectors), metadata)
        self._catalogue = Catalogue(item_vectors, cold.flags)
        # stored structures belong to the trained model: a catalogue with cold items builds its own
        self.store = None if cold.flags.any() else store
        self._search = SearchSpaces(item_vectors, index=index, store=self.store)
        self.ranking = ranking if "next" in self._search.spaces else None
        ranker: Ranker | None = None
        if self.ranking is not None:
            space = self._search.spaces["next"]
            ranker = self.ranking.ranker(
                inputs=space.queries, outputs=space.exact.vectors, n_items=len(item_vectors),
                search=lambda queries, n, **options: self._search.searcher(space).search(queries, n, **options),
            )
        self._neighbours = Neighbours(self._search, cold, self.ranking, ranker)

    @property
    def preparations(self) -> dict[Relation, Preparation]:
        """How each relation's structure was made ready (filled by :meth:`prepare`)."""
        return self._search.preparations

    # ------------------------------------------------------------------ loading
    @classmethod
    def from_directory(
        cls,
        vectors_dir: str | Path,
        *,
        metadata_path: str | Path | None = None,
        index: IndexKind = "auto",
        sequences: pl.DataFrame | None = None,
        cold_start_dir: str | Path | None = None,
        ranking_dir: str | Path | None = None,
        store: bool = True,
    ) -> "Recommender":
        """Load from an item-vectors directory, an optional metadata Parquet file, cold-start and ranking directory.

        With ``store`` (the default), :meth:`prepare` uses the search
        structures stored in the directory's ``search/`` folder when they
        match the model, and stores what it builds there.

        Raises
        ------
        ModelLoadError
            If a file is missing, truncated or edited (see :meth:`ItemVectors.load`).
        """
        parts = read_model(vectors_dir, metadata_path=metadata_path, cold_start_dir=cold_start_dir,
                           ranking_dir=ranking_dir, store=store)
        return cls(**parts, index=index, sequences=sequences)

    @classmethod
    def load(
        cls, uri: str | Path, *, index: IndexKind = "auto", sequences: pl.DataFrame | None = None, store: bool = True
    ) -> "Recommender":
        """Load a trained model.

        Parameters
        ----------
        uri
            A local model directory, an MLflow run id, a ``runs:/<id>/model``
            URI or a registry URI such as ``models:/item2vec@champion``.
        index, sequences
            As for :class:`Recommender`.
        store
            Use (and keep) the search structures stored beside the model
            (see :meth:`from_directory`).

        Raises
        ------
        ModelLoadError
            If nothing loadable is found at ``uri``.
        """
        files = find_model(uri)
        return cls.from_directory(
            files.vectors, metadata_path=files.metadata, index=index, sequences=sequences,
            cold_start_dir=files.cold_start, ranking_dir=files.ranking, store=store,
        )

    def prepare(
        self, *, relations: Iterable[Relation] | None = None, on_progress: Progress | None = None
    ) -> "Recommender":
        """Do the whole-catalogue work once per relation, so that single-item queries are cheap.

        Builds the neighbour table (exact top-100 of every item) when the
        catalogue has at most :data:`TABLE_MAX_ITEMS` items and ``index`` is
        not ``"hnsw"``; otherwise, unless ``index`` is ``"exact"``, the HNSW
        index (its recall is in :attr:`ann_reports`, and logged to the active
        MLflow run if there is one). With a :attr:`store`, structures stored
        for this very model (same digest) are loaded instead of built, and
        what is built is stored (:mod:`recsys.search_store`);
        :attr:`preparations` says which. With cold items, preparing
        ``"next"`` also ranks it for each of them once (their top 100), so
        that a cold query is as cheap as a warm one. Calling it again does
        nothing. Where the ranking stage orders "next" by default, its table
        holds each item's top 100 in that order (stored keyed by the stage's
        digest), so a ranked query costs a lookup too; the plain "next" table
        its candidates are read from, when it is built, is kept in memory
        (not stored) for plain "next" queries.

        Parameters
        ----------
        relations
            Relations to prepare; None prepares every relation the model has
            (``"next"`` only with output vectors).
        on_progress
            Called with (items done, items in all), over all relations, while tables are built.

        Returns
        -------
        Recommender
            ``self``, so that ``Recommender.load(uri).prepare()`` chains.

        Raises
        ------
        ConfigError
            If a relation is unknown or the model cannot answer it.
        """
        spaces = list(self._search.spaces.values()) if relations is None else [self._space(r) for r in relations]
        self._search.prepare(
            spaces, ranked=lambda space: self._neighbours.default_ranked(space, "item"),
            ranked_table=lambda listed, progress: ranked_table(self._neighbours.ranker, self.ranking.blends["item"],
                                                               len(self), listed, progress),
            ranking_digest=None if self.ranking is None else self.ranking.digest, on_progress=on_progress,
        )
        if any(space.relation == "next" for space in spaces):
            self._neighbours.cold.prepare()
        return self

    def _space(self, relation: Relation | None) -> Space:
        return self._search.space(relation)

    def neighbour_table(self, relation: Relation, *, ranked: bool = False) -> NeighbourTable | None:
        """The table :meth:`prepare` made for ``relation`` (``ranked``: "next" in the ranking stage's
        order of item queries), None if it made none (a large catalogue, or the other order)."""
        space = self._search.spaces.get(relation)
        if space is None:
            return None
        return space.ranked_table if ranked else space.table

    def ranks_by_default(self, kind: QueryKind = "item") -> bool:
        """Whether ``kind`` queries of the default relation are ordered by the ranking stage when no ``rank`` is asked."""
        return self._neighbours.default_ranked(self._space(None), kind)

    @property
    def relations(self) -> tuple[Relation, ...]:
        """Relations this model can answer (``"next"`` needs output vectors)."""
        return tuple(space.relation for space in self._search.spaces.values())

    @property
    def ann_reports(self) -> dict[Relation, AnnReport]:
        """Build settings and measured recall of each relation's HNSW index, once built."""
        return self._search.ann_reports

    @property
    def ann_report(self) -> AnnReport | None:
        """The :attr:`ann_reports` entry of the default relation, if its index is built."""
        return self.ann_reports.get(self.item_vectors.default_relation)

    def search_mode_of(self, relation: Relation | None = None, rank: Rank | None = None) -> SearchMode:
        """How single-item queries of ``relation`` and ``rank`` (None: the defaults) without filters are answered now."""
        space = self._space(relation)
        return self._search.mode(space, self._neighbours.uses_ranker(space, rank, "item"))

    @property
    def search_mode(self) -> SearchMode:
        """How single-item queries of the default relation without filters are answered now."""
        return self.search_mode_of()

    # ---------------------------------------------------------------- catalogue
    @property
    def item_ids(self) -> tuple[str, ...]:
        """Catalogue ids in row order."""
        return self.item_vectors.item_ids

    @property
    def vectors(self) -> np.ndarray:
        """Unit-normalised float32 item (input) vectors (read-only), rows as ``item_ids``."""
        return self._search.spaces["similar"].exact.vectors

    def __len__(self) -> int:
        return len(self._catalogue)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._catalogue.vocabulary

    def is_cold(self, item_id: str) -> bool:
        """Whether ``item_id``'s vector came from its metadata rather than training.

        Raises
        ------
        UnknownItemError
            If the item is not in the catalogue.
        """
        return bool(self._catalogue.cold[self._catalogue.vocabulary.row(item_id)])

    @property
    def cold_item_ids(self) -> tuple[str, ...]:
        """The cold items (vectors from metadata), in the order they were added."""
        return () if self.cold_start is None else self.cold_start.item_ids

    def add_items(self, metadata: pl.DataFrame, *, source: str | Path | None = None) -> "Recommender":
        """A recommender that also knows new items, with vectors from their metadata (flagged cold).

        The model's metadata mapper (fitted at training time) predicts each
        new item's input and output vectors; the trained vectors do not
        change. The new items can be queried and recommended at once, and
        every result flags them (:attr:`Recommendations.cold`).

        Parameters
        ----------
        metadata
            ``item_id`` plus columns of the model's metadata (title, artist...).
        source
            Where the metadata came from, named in error messages.

        Returns
        -------
        Recommender
            A new recommender (this one is unchanged), not yet prepared.

        Raises
        ------
        ConfigError
            If the model has no metadata mapper (it was trained without metadata).
        DataError
            If the metadata lacks ``item_id``, has no rows, has columns the
            model's metadata did not have, has an item whose feature columns
            are all empty, or names an item already in the catalogue.
        """
        if self.cold_start is None:
            raise ConfigError(
                "this model has no metadata mapper, so it cannot give new items vectors: "
                "train it with item metadata (--metadata) and cold_start.enabled = true"
            )
        new_rows = self.cold_start.check_new_items(metadata, catalogue=self._catalogue.vocabulary, source=source)
        cold_start = self.cold_start.with_checked_items(new_rows)
        # the model's metadata may already have a row for an item it never trained (too few plays): replaced
        kept = None if self.metadata is None else self.metadata.filter(
            ~pl.col("item_id").is_in(new_rows["item_id"].to_list())
        )
        merged = new_rows if kept is None else pl.concat([kept, new_rows], how="diagonal_relaxed")
        return Recommender(
            self.trained_vectors, merged, index=self.index, sequences=self.sequences, cold_start=cold_start,
            ranking=self.ranking,
        )

    # ------------------------------------------------------------ recommending
    def recommend(
        self,
        item_id: str,
        k: int = 10,
        *,
        exclude: Iterable[str] | None = None,
        include_only: Iterable[str] | None = None,
        on_unknown: OnUnknown = "error",
        relation: Relation | None = None,
        rank: Rank | None = None,
    ) -> Recommendations:
        """Top-``k`` items for ``item_id`` by ``relation``, best first, never the item itself.

        Parameters
        ----------
        item_id
            Query item.
        k
            Number of recommendations (1..10,000).
        exclude
            Items never to recommend.
        include_only
            If given, recommend only these items.
        on_unknown
            ``"error"`` raises for an unknown ``item_id``; ``"popular"``
            returns the most popular eligible items with ``fallback=True``.
        relation
            ``"similar"``: substitutes, scored by the cosine of input vectors;
            ``"next"``: what comes after or goes with the item, scored by the
            raw dot product of its input vector with each candidate's output
            vector (unbounded; it ranked better than cosines). None: the
            model's :attr:`~recsys.item2vec.ItemVectors.default_relation`.
        rank
            How "next" is ordered: ``"ranker"``, the ranking stage's fitted
            blend of the vector score with the observed evidence (what
            followed the item in training, co-occurrence, popularity);
            ``"vectors"``, the plain nearest-neighbour order. None: the
            model's default (the ranker, where the model has one and it
            helped on validation).

        Returns
        -------
        Recommendations
            1-D ``(item_ids, scores)`` with only eligible items (shorter than
            ``k`` if filters leave fewer). Ranked scores are the blend's
            (log-odds up to a constant per query), not dot products.

        Raises
        ------
        UnknownItemError
            If the item is not in the catalogue and ``on_unknown="error"``.
        ConfigError
            If ``k``, ``on_unknown``, ``relation`` or ``rank`` is invalid,
            ``relation="next"`` is asked of a model without output vectors, or
            ``rank="ranker"`` of a model without a ranking stage or with ``relation="similar"``.
        """
        k = check_k(k)
        check_choice("on_unknown", on_unknown, ON_UNKNOWN)
        space = self._space(relation)
        ranked = self._neighbours.uses_ranker(space, rank, "item")
        mask = self._catalogue.mask(exclude, include_only)
        if item_id not in self._catalogue.vocabulary:
            return self._catalogue.unknown(item_id, k, mask, on_unknown)
        row = self._catalogue.vocabulary.row(item_id)
        table = None if self._catalogue.cold[row] else self._search.table_for(space, k, mask, ranked)
        if table is not None:  # the fast path: two slices of the table
            rows, scores = table.lookup(row, k)
            return Recommendations(self._catalogue.ids[rows], scores.copy(), cold=self._catalogue.cold[rows])
        rows, scores = self._neighbours.of_items(space, np.array([row]), k, mask, ranked)
        return self._catalogue.single(rows[0], scores[0])

    def recommend_many(
        self,
        item_ids: Sequence[str],
        k: int = 10,
        *,
        exclude: Iterable[str] | None = None,
        include_only: Iterable[str] | None = None,
        on_unknown: OnUnknown = "error",
        relation: Relation | None = None,
        rank: Rank | None = None,
    ) -> Recommendations:
        """Top-``k`` items by ``relation`` for each of several items, in one call.

        Parameters are those of :meth:`recommend`, with several query items.

        Returns
        -------
        Recommendations
            Object array of ids and float32 scores, shape
            ``(len(item_ids), min(k, n_items))``; ``fallback`` is a boolean
            array, one flag per query. A query is never its own
            recommendation. Where fewer than ``k`` items are eligible, ids are
            None and scores ``-inf``.

        Raises
        ------
        UnknownItemError
            If a query item is not in the catalogue and ``on_unknown="error"``.
        ConfigError
            If an option is invalid (see :meth:`recommend`).
        """
        k = check_k(k)
        check_choice("on_unknown", on_unknown, ON_UNKNOWN)
        space = self._space(relation)
        ranked = self._neighbours.uses_ranker(space, rank, "item")
        rows = self._catalogue.vocabulary.rows(item_ids, missing="negative")
        unknown = rows < 0
        if unknown.any() and on_unknown == "error":
            raise UnknownItemError(item_ids[int(np.argmax(unknown))], hint=UNKNOWN_HINT)
        mask = self._catalogue.mask(exclude, include_only)
        width = min(k, len(self))
        found = np.full((len(rows), width), -1, dtype=np.int64)
        scores = np.full((len(rows), width), -np.inf, dtype=np.float32)
        if not unknown.all():
            found[~unknown], scores[~unknown] = self._neighbours.of_items(space, rows[~unknown], k, mask, ranked)
        if unknown.any():
            popular, shares = self._catalogue.popular(width, mask)
            found[unknown, : len(popular)] = popular
            scores[unknown, : len(popular)] = shares
        return self._catalogue.batch(found, scores, unknown)

    def export_neighbours(
        self,
        path: str | Path,
        *,
        k: int = 50,
        relation: Relation | None = None,
        rank: Rank | None = None,
        on_progress: Progress | None = None,
    ) -> ExportReport:
        """Write every item's exact top-``k`` items by ``relation`` to Parquet.

        See :func:`recsys.neighbours.export_neighbours` for the columns; lists
        and scores are those of :meth:`recommend` (cosines, or dot products for
        ``"next"``, or the ranking stage's scores where it orders "next"; a
        cold item's "next" ranked by its cold start's scorer).

        Raises
        ------
        ConfigError
            If ``relation`` or ``rank`` is invalid or the model cannot answer it.
        """
        space = self._space(relation)
        if self._neighbours.uses_ranker(space, rank, "item"):
            elsewhere = (np.ones(len(self), dtype=bool),
                         lambda rows, width: self._neighbours.of_items(space, rows, width, None, True))
        else:
            scorer = self._neighbours.cold.scorer() if space.relation == "next" else None
            elsewhere = None if scorer is None else (self._catalogue.cold, scorer.search)
        return export_neighbours(
            space.queries, self.item_ids, path, k=k, candidates=space.exact.vectors, on_progress=on_progress,
            answered_elsewhere=elsewhere,
        )

    def explain(self, item_a: str, item_b: str) -> Explanation:
        """How similar two items are, how often they were seen together in training, and, with a
        ranking stage, what each signal adds to ``item_b``'s place in ``item_a``'s "next".

        Raises
        ------
        UnknownItemError
            If either item is not in the catalogue.
        ConfigError
            If the two items are the same.
        """
        return explain(
            item_a, item_b, vocabulary=self._catalogue.vocabulary, unit_vectors=self.vectors, counts=self.item_vectors.counts,
            cold=self._catalogue.cold, sequences=self.sequences, ranker=self._neighbours.ranker,
            blend=None if self.ranking is None else self.ranking.blends["item"],
            candidates=0 if self.ranking is None else self.ranking.candidates,
        )
