"""A model's cold start: its metadata mapper and the items it has given vectors.

:class:`ColdStart` is saved beside the item vectors (the ``cold_start``
artifact of a model, :data:`recsys.model_store.COLD_START_ARTIFACT`) and never changes them: the trained
:class:`~recsys.item2vec.ItemVectors` stay the training product, and
:meth:`ColdStart.extend` appends the cold items' rows (with zero plays)
when a :class:`~recsys.recommender.Recommender` is made.
"""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from recsys._atomic import staged_directory
from recsys.coldstart.features import empty_rows
from recsys.coldstart.mapper import MetadataMapper
from recsys.coldstart.ranker import ColdNextScorer, log_plays
from recsys.data._schema import check_metadata
from recsys.errors import DataError, ModelLoadError
from recsys.item2vec import ItemVectors

__all__ = ["ColdStart"]

_SHOWN = 5


def _listed(ids: list[str]) -> str:
    shown = ", ".join(repr(i) for i in ids[:_SHOWN])
    return shown + (f" and {len(ids) - _SHOWN} more" if len(ids) > _SHOWN else "")


@dataclass(frozen=True, eq=False)
class ColdStart:
    """The metadata mapper of a model and the cold items it has given vectors.

    Attributes
    ----------
    mapper
        The fitted :class:`~recsys.coldstart.mapper.MetadataMapper`.
    item_ids
        Cold items, in the order they were added.
    vectors, context_vectors
        Their predicted input and output vectors (float32; ``context_vectors``
        None when the model has no output vectors).
    """

    mapper: MetadataMapper
    item_ids: tuple[str, ...] = ()
    vectors: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))
    context_vectors: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.item_ids)

    def check_new_items(
        self, metadata: pl.DataFrame, *, catalogue: Container[str], source: str | Path | None = None
    ) -> pl.DataFrame:
        """Validate the metadata of items to add and return it in the metadata contract.

        Raises
        ------
        DataError
            If the frame has no ``item_id`` column or no rows, repeats an id,
            has columns the model's metadata did not have, has a row whose
            feature columns are all empty, or names an item the catalogue has.
        """
        if "item_id" in metadata.columns and metadata["item_id"].cast(pl.String).is_duplicated().any():
            repeated = metadata.filter(pl.col("item_id").cast(pl.String).is_duplicated())["item_id"].unique().to_list()
            raise DataError(f"repeated item ids {_listed(sorted(map(str, repeated)))}", path=source,
                            column="item_id", fix="give each new item one row")
        metadata = check_metadata(metadata, source=source)
        if metadata.height == 0:
            raise DataError("no items to add: the metadata has no rows", path=source, fix="add one row per new item")
        known = self.mapper.metadata_columns_
        unknown = [c for c in metadata.columns if c != "item_id" and c not in known]
        if unknown:
            raise DataError(
                f"unknown metadata column(s) {unknown}; the model's metadata has item_id, {', '.join(known)}",
                path=source, column=unknown[0], fix="rename or drop those columns",
            )
        features = list(self.mapper.features_.roles)
        empty = empty_rows(metadata, features)
        if empty.any():
            ids = metadata.filter(pl.Series(empty))["item_id"].to_list()
            raise DataError(
                f"item(s) {_listed(ids)} have no metadata to make a vector from: {', '.join(features)} all empty",
                path=source, line=int(np.argmax(empty)) + 2 if source is not None else None,
                fix=f"fill at least one of {', '.join(features)}",
            )
        present = [i for i in metadata["item_id"].to_list() if i in catalogue]
        if present:
            raise DataError(
                f"item(s) {_listed(present)} are already in the catalogue",
                path=source, column="item_id", fix="add only new items (their vectors come from training or were added before)",
            )
        return metadata

    def add(
        self, metadata: pl.DataFrame, *, catalogue: Container[str], source: str | Path | None = None
    ) -> "ColdStart":
        """A cold start that also holds the items of ``metadata``, with vectors from their metadata.

        Parameters
        ----------
        metadata
            ``item_id`` and metadata columns of the new items.
        catalogue
            The ids the model knows already (trained and cold).
        source
            Where the metadata came from, for error messages.

        Raises
        ------
        DataError
            See :meth:`check_new_items`.
        """
        return self.with_checked_items(self.check_new_items(metadata, catalogue=catalogue, source=source))

    def with_checked_items(self, metadata: pl.DataFrame) -> "ColdStart":
        """:meth:`add` for metadata that :meth:`check_new_items` has already returned."""
        inputs, outputs = self.mapper.predict(metadata)
        vectors = inputs if not len(self) else np.vstack([self.vectors, inputs])
        context = outputs
        if outputs is not None and len(self) and self.context_vectors is not None:
            context = np.vstack([self.context_vectors, outputs])
        return ColdStart(self.mapper, self.item_ids + tuple(metadata["item_id"].to_list()), vectors, context)

    def extend(self, vectors: ItemVectors) -> ItemVectors:
        """``vectors`` with the cold items appended (zero plays); ``vectors`` itself when there are none."""
        if not len(self):
            return vectors
        context = None
        if vectors.context_vectors is not None and self.context_vectors is not None:
            context = np.vstack([vectors.context_vectors, self.context_vectors])
        return ItemVectors(
            item_ids=vectors.item_ids + self.item_ids,
            vectors=np.vstack([vectors.vectors, self.vectors]),
            counts=np.concatenate([vectors.counts, np.zeros(len(self), dtype=vectors.counts.dtype)]),
            config=vectors.config,
            context_vectors=context,
        )

    def next_scorer(self, catalogue: ItemVectors, metadata: pl.DataFrame | None) -> ColdNextScorer | None:
        """What ranks "next" for this cold start's items as queries, over ``catalogue``.

        Parameters
        ----------
        catalogue
            The trained vectors with the cold items appended (:meth:`extend`).
        metadata
            Metadata of the catalogue's items (the cold ones' at least).

        Returns
        -------
        ColdNextScorer or None
            None when the mapper has no fitted ranker (no output vectors, or
            saved before rankers existed): cold queries then rank by the dot
            product like warm ones.
        """
        ranker = self.mapper.query_ranker_
        if ranker is None or ranker.n_pairs == 0 or catalogue.context_vectors is None:
            return None
        cold = np.arange(len(catalogue)) >= len(catalogue) - len(self)
        plays = np.where(cold, np.float32(ranker.cold_log_plays), log_plays(catalogue.counts))
        return ColdNextScorer(
            ranker, catalogue.vectors, catalogue.context_vectors,
            self.mapper.unit_features(catalogue.item_ids, metadata), plays.astype(np.float32), cold,
        )

    # ------------------------------------------------------------ persistence
    def save(self, directory: str | Path) -> Path:
        """Write the mapper and the cold items to ``directory`` (replaced atomically; no pickle).

        Files: the mapper's (``mapper.json``, ``features.json``,
        ``features_idf.npz``, ``*_coef.npy``...) and, with cold items,
        ``items.parquet``, ``vectors.npy`` and ``context_vectors.npy``.
        """
        target = Path(directory)
        with staged_directory(target) as staging:
            self.mapper.save(staging)
            if len(self):
                pl.DataFrame({"item_id": list(self.item_ids)}, schema={"item_id": pl.String}).write_parquet(
                    staging / "items.parquet"
                )
                np.save(staging / "vectors.npy", np.ascontiguousarray(self.vectors, dtype=np.float32))
                if self.context_vectors is not None:
                    np.save(staging / "context_vectors.npy", np.ascontiguousarray(self.context_vectors, dtype=np.float32))
        return target

    @classmethod
    def load(cls, directory: str | Path) -> "ColdStart":
        """Read what :meth:`save` wrote.

        Raises
        ------
        ModelLoadError
            If files are missing or inconsistent.
        """
        source = Path(directory)
        mapper = MetadataMapper.load(source)
        if not (source / "items.parquet").exists():
            return cls(mapper)
        try:
            ids = tuple(pl.read_parquet(source / "items.parquet")["item_id"].to_list())
            vectors = np.load(source / "vectors.npy", allow_pickle=False)
            context_path = source / "context_vectors.npy"
            context = np.load(context_path, allow_pickle=False) if context_path.exists() else None
        except (FileNotFoundError, ValueError, pl.exceptions.PolarsError) as error:
            raise ModelLoadError(f"{source}: corrupt cold items: {error}") from None
        if vectors.shape[0] != len(ids) or (context is not None and context.shape != vectors.shape):
            raise ModelLoadError(f"{source}: corrupt cold items: {len(ids)} ids but vectors of shape {vectors.shape}")
        return cls(mapper, ids, vectors, context)
