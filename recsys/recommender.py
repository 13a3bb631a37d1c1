"""Recommender: "items like this one" and "what comes after it" from trained item vectors.

Every query names a relation (see :data:`recsys.config.Relation`):
``"similar"`` scores candidates by the cosine of input vectors (substitutes),
``"next"`` by the raw dot product of the query's input vector with each
candidate's output vector (what comes after or goes with the query; raw dot
products ranked better than cosines in evaluation). Each relation is one
search space, a query matrix against a candidate matrix, with its own
precomputed state.

Whole-catalogue work is done once: vectors are normalised when the
recommender is made, and :meth:`Recommender.prepare` builds what single-item
queries then only look up (a table of every item's exact top-100 neighbours
for catalogues up to 100,000 items) or walk (a faiss HNSW graph beyond).
Without :meth:`~Recommender.prepare`, queries use exact search: one matrix
product and a partition.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args

import numpy as np
import polars as pl

from recsys.config import NEXT_SESSION_DECAY, Relation
from recsys.data._schema import check_sequences
from recsys.errors import ConfigError, ModelLoadError, UnknownItemError, first_line
from recsys.index import EF_CONSTRUCTION, HNSW_M, TARGET_RECALL, AnnReport, ExactIndex, HNSWIndex, build_hnsw
from recsys.item2vec import ItemVectors
from recsys.neighbours import ExportReport, NeighbourTable, Progress, export_neighbours
from recsys.ranking import RANKS, SIGNALS, QueryKind, Rank, Ranker, Ranking
from recsys.search_store import SearchStore, StructureKind

if TYPE_CHECKING:
    from recsys.coldstart import ColdStart
    from recsys.coldstart.ranker import ColdNextScorer

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

_INDEX_KINDS: tuple[str, ...] = get_args(IndexKind)
_ON_UNKNOWN: tuple[str, ...] = get_args(OnUnknown)
_RELATIONS: tuple[str, ...] = get_args(Relation)
_UNKNOWN_HINT = "Ask with on_unknown=popular (CLI: --on-unknown popular) for the most popular items instead"


def _check_k(k: int) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= MAX_K:
        raise ConfigError(f"k must be an integer between 1 and {MAX_K}, got {k!r}")
    return int(k)


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}")


def _offset_progress(on_progress: Progress, part: int, parts: int) -> Progress:
    """Report the progress of part ``part`` of ``parts`` equal parts as progress over all of them."""
    return lambda done, total: on_progress(part * total + done, parts * total)


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


_NOT_MADE = object()
"""Marks a structure made on first use that has not been made yet."""

_TABLE_BLOCK = 1024
"""Items ranked per block while a ranked table is built."""

_HNSW_SETTINGS = {"m": HNSW_M, "ef_construction": EF_CONSTRUCTION, "target_recall": TARGET_RECALL}
"""What a stored HNSW graph must have been built with to be used."""


@dataclass(eq=False)
class _Space:
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


class Recommender:
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
        cold_start: "ColdStart | None" = None,
        store: SearchStore | None = None,
        ranking: Ranking | None = None,
    ) -> None:
        _check_choice("index", index, _INDEX_KINDS)
        self.trained_vectors = item_vectors
        self.cold_start = cold_start
        if cold_start is not None:
            item_vectors = cold_start.extend(item_vectors)
        self.item_vectors = item_vectors
        self.metadata = metadata
        self.index = index
        self.sequences = None if sequences is None else check_sequences(sequences)
        self.preparations: dict[Relation, Preparation] = {}
        """How each relation's structure was made ready (filled by :meth:`prepare`)."""
        self._vocab = item_vectors.vocabulary
        similar = ExactIndex(item_vectors.vectors)
        self._spaces: dict[str, _Space] = {"similar": _Space("similar", similar.vectors, similar)}
        if item_vectors.context_vectors is not None:
            raw = ExactIndex(item_vectors.context_vectors, normalize=False)
            self._spaces["next"] = _Space("next", raw.prepare_queries(item_vectors.vectors), raw)
        self._ids = np.asarray(item_vectors.item_ids, dtype=object)
        counts = np.asarray(item_vectors.counts, dtype=np.float64)
        self._popular = np.argsort(-counts, kind="stable")
        self._shares = (counts / max(counts.sum(), 1.0)).astype(np.float32)
        self._cold = np.arange(len(self._ids)) >= len(self.trained_vectors)
        # stored structures belong to the trained model: a catalogue with cold items builds its own
        self.store = None if self._cold.any() else store
        self._build_lock = threading.Lock()
        self._cold_next: object = _NOT_MADE
        self._cold_table: tuple[np.ndarray, np.ndarray] | None = None
        """Top :data:`TABLE_DEPTH` "next" rows and scores of each cold item (made by :meth:`prepare`)."""
        self._cold_next_lock = threading.Lock()
        self.ranking = ranking if "next" in self._spaces else None
        self._ranker: Ranker | None = None
        if self.ranking is not None:
            space = self._spaces["next"]
            self._ranker = self.ranking.ranker(
                inputs=space.queries, outputs=space.exact.vectors, n_items=len(self._ids),
                search=lambda queries, n, **options: self._searcher(space).search(queries, n, **options),
            )

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
        vectors = ItemVectors.load(vectors_dir)
        try:
            metadata = pl.read_parquet(metadata_path) if metadata_path else None
        except (OSError, pl.exceptions.PolarsError) as error:
            raise ModelLoadError(f"{metadata_path}: unreadable item metadata ({first_line(error)}); "
                                 "restore the file or log the model again") from None
        cold_start = None
        if cold_start_dir is not None:
            from recsys.coldstart import ColdStart

            cold_start = ColdStart.load(cold_start_dir)
        ranking = None if ranking_dir is None else Ranking.load(ranking_dir)
        search = SearchStore(vectors_dir) if store else None
        return cls(vectors, metadata, index=index, sequences=sequences, cold_start=cold_start, store=search,
                   ranking=ranking)

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
        from recsys.tracking import local_model_dir
        from recsys.pyfunc import COLD_START_ARTIFACT, METADATA_ARTIFACT, RANKING_ARTIFACT, VECTORS_ARTIFACT

        root = local_model_dir(str(uri))
        for base in (root / "artifacts", root):
            vectors_dir = base / VECTORS_ARTIFACT
            if (vectors_dir / "config.json").exists():
                metadata = base / f"{METADATA_ARTIFACT}.parquet"
                cold_start = base / COLD_START_ARTIFACT
                ranking = base / RANKING_ARTIFACT
                return cls.from_directory(
                    vectors_dir,
                    metadata_path=metadata if metadata.exists() else None,
                    index=index,
                    sequences=sequences,
                    cold_start_dir=cold_start if cold_start.is_dir() else None,
                    ranking_dir=ranking if ranking.is_dir() else None,
                    store=store,
                )
        if (root / "config.json").exists():
            return cls.from_directory(root, index=index, sequences=sequences, store=store)
        raise ModelLoadError(f"{uri}: no item vectors found in {root}; pass a trained model")

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
        digest), so a ranked query costs a lookup too.

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
        spaces = list(self._spaces.values()) if relations is None else [self._space(r) for r in relations]
        for part, space in enumerate(spaces):
            if self.index != "hnsw" and len(self) <= TABLE_MAX_ITEMS:
                progress = None if on_progress is None else _offset_progress(on_progress, part, len(spaces))
                with self._build_lock:
                    if self._default_ranked(space, "item"):
                        if space.ranked_table is None:
                            space.ranked_table = self._table(space, progress, ranked=True)
                    elif space.table is None:
                        space.table = self._table(space, progress)
            elif self.index != "exact":
                self._hnsw(space)
            scorer = self._cold_next_scorer() if space.relation == "next" else None
            with self._cold_next_lock:
                if scorer is not None and self._cold_table is None:
                    self._cold_table = scorer.search(np.flatnonzero(self._cold), TABLE_DEPTH)
        return self

    def _table(self, space: _Space, on_progress: Progress | None, *, ranked: bool = False) -> NeighbourTable:
        """The space's neighbour table (``ranked``: in the ranking stage's order): the stored one if it fits
        this model, else built (and stored)."""
        started = time.perf_counter()
        ranking = self.ranking.digest if ranked and self.ranking is not None else None
        table = None if self.store is None else self.store.load_table(space.relation, depth=TABLE_DEPTH,
                                                                      ranking=ranking)
        if table is not None:
            self._prepared(space, "table", "stored", started)
            return table
        if ranked:
            table = self._ranked_table(on_progress)
        else:
            table = NeighbourTable.build(space.queries, TABLE_DEPTH, candidates=space.exact.vectors,
                                         on_progress=on_progress)
        stored = self.store is not None and self.store.save_table(space.relation, table, depth=TABLE_DEPTH,
                                                                  ranking=ranking)
        self._prepared(space, "table", "built", started, stored=stored)
        return table

    def _ranked_table(self, on_progress: Progress | None) -> NeighbourTable:
        """Every item's top :data:`TABLE_DEPTH` "next" in the ranking stage's order."""
        n_items = len(self)
        width = min(TABLE_DEPTH, n_items - 1)
        rows = np.full((n_items, width), -1, dtype=np.int32)
        scores = np.full((n_items, width), -np.inf, dtype=np.float32)
        blend = self.ranking.blends["item"]
        for start in range(0, n_items, _TABLE_BLOCK):
            block = np.arange(start, min(start + _TABLE_BLOCK, n_items))
            found, values = self._ranker.rank([np.array([r]) for r in block], blend, width)
            rows[block, : found.shape[1]], scores[block, : found.shape[1]] = found, values
            if on_progress is not None:
                on_progress(int(block[-1]) + 1, n_items)
        rows.setflags(write=False)
        scores.setflags(write=False)
        return NeighbourTable(rows, scores)

    def _prepared(self, space: _Space, kind: StructureKind, source: Literal["stored", "built"], started: float,
                  *, stored: bool = True) -> None:
        where = self.store.directory if self.store is not None and stored else None
        self.preparations[space.relation] = Preparation(
            space.relation, kind, source, time.perf_counter() - started, where
        )

    def _space(self, relation: Relation | None) -> _Space:
        """The search space of ``relation`` (None: the model's default relation)."""
        relation = self.item_vectors.default_relation if relation is None else relation
        _check_choice("relation", relation, _RELATIONS)
        space = self._spaces.get(relation)
        if space is None:
            raise ConfigError(
                f"relation={relation!r} needs output (context) vectors, and this model has none "
                "(it was saved before they were kept): ask for relation='similar', or retrain the model"
            )
        return space

    def _hnsw(self, space: _Space) -> HNSWIndex:
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
                if "mlflow" in sys.modules:  # else no MLflow run can be active
                    from recsys.tracking import log_ann_report

                    log_ann_report(space.ann_report, prefix="ann" if space.relation == "similar" else "ann.next")
                saved = self.store is not None and self.store.save_hnsw(
                    space.relation, space.ann, space.ann_report, settings=_HNSW_SETTINGS
                )
                self._prepared(space, "hnsw", "built", started, stored=saved)
        return space.ann

    def ranks_by_default(self, kind: QueryKind = "item") -> bool:
        """Whether ``kind`` queries of the default relation are ordered by the ranking stage when no ``rank`` is asked."""
        return self._default_ranked(self._space(None), kind)

    @property
    def relations(self) -> tuple[Relation, ...]:
        """Relations this model can answer (``"next"`` needs output vectors)."""
        return tuple(space.relation for space in self._spaces.values())

    @property
    def ann_reports(self) -> dict[Relation, AnnReport]:
        """Build settings and measured recall of each relation's HNSW index, once built."""
        return {space.relation: space.ann_report for space in self._spaces.values() if space.ann_report is not None}

    @property
    def ann_report(self) -> AnnReport | None:
        """The :attr:`ann_reports` entry of the default relation, if its index is built."""
        return self.ann_reports.get(self.item_vectors.default_relation)

    def search_mode_of(self, relation: Relation | None = None, rank: Rank | None = None) -> SearchMode:
        """How single-item queries of ``relation`` and ``rank`` (None: the defaults) without filters are answered now."""
        space = self._space(relation)
        if (space.ranked_table if self._uses_ranker(space, rank, "item") else space.table) is not None:
            return "table"
        return "hnsw" if self.index == "hnsw" or space.ann is not None else "exact"

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
        return self._spaces["similar"].exact.vectors

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._vocab

    def is_cold(self, item_id: str) -> bool:
        """Whether ``item_id``'s vector came from its metadata rather than training.

        Raises
        ------
        UnknownItemError
            If the item is not in the catalogue.
        """
        return bool(self._cold[self._vocab.row(item_id)])

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
        new_rows = self.cold_start.check_new_items(metadata, catalogue=self._vocab, source=source)
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
    def _mask(self, exclude: Iterable[str] | None, include_only: Iterable[str] | None) -> np.ndarray | None:
        if exclude is None and include_only is None:
            return None
        mask = np.ones(len(self._ids), dtype=bool)
        if include_only is not None:
            mask[:] = False
            rows = self._vocab.rows(include_only, missing="negative")
            mask[rows[rows >= 0]] = True
        if exclude is not None:
            rows = self._vocab.rows(exclude, missing="negative")
            mask[rows[rows >= 0]] = False
        return mask

    def _searcher(self, space: _Space) -> ExactIndex | HNSWIndex:
        return self._hnsw(space) if self.index == "hnsw" or space.ann is not None else space.exact

    def _default_ranked(self, space: _Space, kind: QueryKind) -> bool:
        """Whether ``kind`` queries of ``space`` use the ranking stage when no ``rank`` is asked for."""
        return self.ranking is not None and space.relation == "next" and self.ranking.default(kind) == "ranker"

    def _uses_ranker(self, space: _Space, rank: Rank | None, kind: QueryKind) -> bool:
        """Whether a ``kind`` query of ``space`` asking for ``rank`` is answered by the ranking stage."""
        if rank is None:
            return self._default_ranked(space, kind)
        _check_choice("rank", rank, RANKS)
        if rank == "vectors":
            return False
        if self.ranking is None:
            raise ConfigError("rank='ranker' needs a ranking stage, and this model has none (it was trained "
                              "without one, or before they existed): ask for rank='vectors', or retrain the model")
        if space.relation != "next":
            raise ConfigError("the ranking stage orders 'next'; ask for relation='next', or rank='vectors'")
        return True

    @staticmethod
    def _table_for(space: _Space, k: int, mask: np.ndarray | None, ranked: bool) -> NeighbourTable | None:
        """The space's neighbour table (``ranked``: in the ranking stage's order), if it can answer
        unfiltered queries for ``k`` items."""
        table = space.ranked_table if ranked else space.table
        return table if mask is None and table is not None and k <= table.depth else None

    def _item_neighbours(
        self, space: _Space, rows: np.ndarray, k: int, mask: np.ndarray | None, ranked: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        """Neighbour rows and scores of catalogue ``rows``, each row itself excluded.

        A cold item's "next" is ranked by its cold start's
        :class:`~recsys.coldstart.ranker.ColdNextScorer` (predicted vector,
        metadata and popularity), exactly, over the whole catalogue.
        """
        cold = self._cold[rows] if space.relation == "next" else np.zeros(len(rows), dtype=bool)
        scorer = self._cold_next_scorer() if cold.any() else None
        if scorer is None:
            return self._searched(space, rows, k, mask, ranked)
        if cold.all():
            return self._cold_neighbours(scorer, rows, k, mask)
        width = min(k, len(self))
        found = np.full((len(rows), width), -1, dtype=np.int64)
        scores = np.full((len(rows), width), -np.inf, dtype=np.float32)
        found[~cold], scores[~cold] = self._searched(space, rows[~cold], k, mask, ranked)
        found[cold], scores[cold] = self._cold_neighbours(scorer, rows[cold], k, mask)
        return found, scores

    def _cold_neighbours(
        self, scorer: "ColdNextScorer", rows: np.ndarray, k: int, mask: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """"next" of cold ``rows``: sliced from the table :meth:`prepare` made when it can answer, else scored now."""
        table = self._cold_table
        if table is not None and mask is None and k <= table[0].shape[1]:
            at = rows - len(self.trained_vectors)
            return table[0][at, :k], table[1][at, :k]
        return scorer.search(rows, k, mask)

    def _searched(
        self, space: _Space, rows: np.ndarray, k: int, mask: np.ndarray | None, ranked: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        """Neighbours from the space's table, the ranking stage or the search structure."""
        table = self._table_for(space, k, mask, ranked)
        if table is not None:
            return table.lookup(rows, k)
        if ranked:
            return self._ranker.rank([np.array([row]) for row in rows], self.ranking.blends["item"], k, mask=mask)
        return self._searcher(space).search(space.queries[rows], k, exclude_rows=rows, mask=mask)

    def _cold_next_scorer(self) -> "ColdNextScorer | None":
        """What ranks "next" for cold queries (made on first use), None when cold queries use the dot product."""
        if self._cold_next is _NOT_MADE:
            with self._cold_next_lock:
                if self._cold_next is _NOT_MADE:
                    self._cold_next = (
                        None if self.cold_start is None or not self._cold.any()
                        else self.cold_start.next_scorer(self.item_vectors, self.metadata)
                    )
        return self._cold_next  # type: ignore[return-value]

    def _popular_rows(self, k: int, mask: np.ndarray | None) -> np.ndarray:
        order = self._popular if mask is None else self._popular[mask[self._popular]]
        return order[:k]

    def _unknown(self, item_id: object, k: int, mask: np.ndarray | None, on_unknown: OnUnknown) -> Recommendations:
        if on_unknown == "error":
            raise UnknownItemError(item_id, hint=_UNKNOWN_HINT)
        rows = self._popular_rows(k, mask)
        return Recommendations(self._ids[rows], self._shares[rows], fallback=True, cold=self._cold[rows])

    def _single(self, rows: np.ndarray, scores: np.ndarray) -> Recommendations:
        keep = rows >= 0
        rows = rows[keep]
        return Recommendations(self._ids[rows], scores[keep], cold=self._cold[rows])

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
        k = _check_k(k)
        _check_choice("on_unknown", on_unknown, _ON_UNKNOWN)
        space = self._space(relation)
        ranked = self._uses_ranker(space, rank, "item")
        mask = self._mask(exclude, include_only)
        if item_id not in self._vocab:
            return self._unknown(item_id, k, mask, on_unknown)
        row = self._vocab.row(item_id)
        table = None if self._cold[row] else self._table_for(space, k, mask, ranked)
        if table is not None:  # the fast path: two slices of the table
            rows, scores = table.lookup(row, k)
            return Recommendations(self._ids[rows], scores.copy(), cold=self._cold[rows])
        rows, scores = self._item_neighbours(space, np.array([row]), k, mask, ranked)
        return self._single(rows[0], scores[0])

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
        k = _check_k(k)
        _check_choice("on_unknown", on_unknown, _ON_UNKNOWN)
        space = self._space(relation)
        ranked = self._uses_ranker(space, rank, "item")
        rows = self._vocab.rows(item_ids, missing="negative")
        unknown = rows < 0
        if unknown.any() and on_unknown == "error":
            raise UnknownItemError(item_ids[int(np.argmax(unknown))], hint=_UNKNOWN_HINT)
        mask = self._mask(exclude, include_only)
        width = min(k, len(self))
        found = np.full((len(rows), width), -1, dtype=np.int64)
        scores = np.full((len(rows), width), -np.inf, dtype=np.float32)
        if not unknown.all():
            found[~unknown], scores[~unknown] = self._item_neighbours(space, rows[~unknown], k, mask, ranked)
        if unknown.any():
            popular = self._popular_rows(width, mask)
            found[unknown, : len(popular)] = popular
            scores[unknown, : len(popular)] = self._shares[popular]
        ids = np.where(found >= 0, self._ids[np.maximum(found, 0)], None)
        return Recommendations(ids, scores, fallback=unknown, cold=(found >= 0) & self._cold[np.maximum(found, 0)])

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
        k = _check_k(k)
        _check_choice("on_unknown", on_unknown, _ON_UNKNOWN)
        items = list(items)
        if not items:
            raise ConfigError("a session needs at least one item")
        if recency_decay is not None and not 0 < recency_decay <= 1:
            raise ConfigError(f"recency_decay must be in (0, 1], got {recency_decay!r}")
        space = self._space(relation)
        if recency_decay is not None and rank == "ranker":
            raise ConfigError("recency_decay weighs the vectors of a session; the ranking stage weighs it as it "
                              "was fitted: drop recency_decay, or ask for rank='vectors'")
        ranked = recency_decay is None and self._uses_ranker(space, rank, "session")
        if recency_decay is None:
            recency_decay = NEXT_SESSION_DECAY if space.relation == "next" else 1.0
        rows = self._vocab.rows(items, missing="negative")
        known = rows >= 0
        mask = self._mask(exclude, include_only)
        if not known.all():
            first_unknown = items[int(np.argmax(~known))]
            if on_unknown == "error" or not known.any():
                return self._unknown(first_unknown, k, mask, on_unknown)
        if ranked:
            found, scores = self._ranker.rank([rows[known]], self.ranking.blends["session"], k, mask=mask)
            return self._single(found[0], scores[0])
        ages = np.arange(len(rows) - 1, -1, -1)[known]
        weights = float(recency_decay) ** ages
        query = (weights / weights.sum()).astype(np.float32) @ space.queries[rows[known]]
        mask = np.ones(len(self), dtype=bool) if mask is None else mask
        mask[rows[known]] = False
        found, scores = self._searcher(space).search(query[None, :], k, mask=mask)
        return self._single(found[0], scores[0])

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
        if self._uses_ranker(space, rank, "item"):
            elsewhere = (np.ones(len(self), dtype=bool),
                         lambda rows, width: self._item_neighbours(space, rows, width, None, True))
        else:
            scorer = self._cold_next_scorer() if space.relation == "next" else None
            elsewhere = None if scorer is None else (self._cold, scorer.search)
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
        if item_a == item_b:
            raise ConfigError(f"explain compares two different items, got {item_a!r} twice")
        row_a, row_b = self._vocab.row(item_a), self._vocab.row(item_b)
        scores = self.vectors @ self.vectors[row_a]
        scores[row_a] = -np.inf
        together = None
        if self.sequences is not None:
            both = pl.col("items").list.contains(item_a) & pl.col("items").list.contains(item_b)
            together = int(self.sequences.select(both.sum()).item())
        counts = self.item_vectors.counts
        ranked: dict[str, Any] = {}
        if self._ranker is not None and not self._cold[row_a]:
            ranked = self._ranked_explanation(row_a, row_b)
        return Explanation(
            item_a=item_a,
            item_b=item_b,
            similarity=float(scores[row_b]),
            rank=int(np.count_nonzero(scores > scores[row_b])) + 1,
            counts=(int(counts[row_a]), int(counts[row_b])),
            co_occurrences=together,
            from_metadata=(bool(self._cold[row_a]), bool(self._cold[row_b])),
            **ranked,
        )

    def _ranked_explanation(self, row_a: int, row_b: int) -> dict[str, Any]:
        """The ranking stage's view of ``row_b`` as a "next" of ``row_a``: the fields of :class:`Explanation`."""
        query = [np.array([row_a])]
        blend = self.ranking.blends["item"]
        values = self._ranker.signals(query, np.array([[row_b]]))[0, 0]
        contributions = values * blend.array
        candidates, scores = self._ranker.scored(query, blend, self.ranking.candidates)
        listed = candidates[0] == row_b
        rank = None
        if listed.any():  # its place among the candidates, by the score they were ranked with
            rank = int(np.count_nonzero(scores[0][~listed] > scores[0][listed][0])) + 1
        return {
            "signals": dict(zip(SIGNALS, values.tolist())),
            "contributions": dict(zip(SIGNALS, contributions.tolist())),
            "next_score": float(contributions.sum()),
            "next_rank": rank,
        }

    # ------------------------------------------------------------------ frames
    def _with_metadata(self, frame: pl.DataFrame) -> pl.DataFrame:
        if self.metadata is None:
            return frame
        return frame.join(self.metadata, on="item_id", how="left", maintain_order="left")

    def to_frame(self, result: Recommendations) -> pl.DataFrame:
        """A single result for people: ``rank, item_id, score, cold`` plus metadata columns."""
        ids, scores = result
        frame = pl.DataFrame(
            {"rank": np.arange(1, len(ids) + 1), "item_id": ids.tolist(), "score": scores, "cold": result.cold},
            schema={"rank": pl.Int64, "item_id": pl.String, "score": pl.Float32, "cold": pl.Boolean},
        )
        return self._with_metadata(frame)

    def recommend_frame(self, item_id: str, k: int = 10, **options: Any) -> pl.DataFrame:
        """:meth:`recommend` as a frame for people (see :meth:`to_frame`)."""
        return self.to_frame(self.recommend(item_id, k, **options))

    def recommend_frame_many(self, item_ids: Sequence[str], k: int = 10, **options: Any) -> pl.DataFrame:
        """Recommendations for several items as one frame: ``query_id, rank, item_id, score, cold`` + metadata."""
        result = self.recommend_many(item_ids, k, **options)
        ids, scores = result
        width = ids.shape[1]
        frame = pl.DataFrame(
            {
                "query_id": np.repeat(np.asarray(list(item_ids), dtype=object), width).tolist(),
                "rank": np.tile(np.arange(1, width + 1), len(item_ids)),
                "item_id": ids.ravel().tolist(),
                "score": scores.ravel(),
                "cold": result.cold.ravel(),
            },
            schema={"query_id": pl.String, "rank": pl.Int64, "item_id": pl.String, "score": pl.Float32,
                    "cold": pl.Boolean},
        ).filter(pl.col("item_id").is_not_null())
        return self._with_metadata(frame)
