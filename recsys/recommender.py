"""Recommender: "items like this one" from trained item vectors."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import polars as pl

from recsys.errors import ConfigError, ModelLoadError
from recsys.index import ExactIndex
from recsys.item2vec import ItemVectors

__all__ = ["Recommender", "MAX_K"]

MAX_K = 10_000
"""Largest ``k`` accepted by the recommend methods."""


def _check_k(k: int) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= MAX_K:
        raise ConfigError(f"k must be an integer between 1 and {MAX_K}, got {k!r}")
    return int(k)


class Recommender:
    """Nearest-neighbour recommendations over item vectors.

    Parameters
    ----------
    item_vectors
        Trained vectors.
    metadata
        Optional item metadata (``item_id`` plus columns such as ``title``,
        ``artist``) joined onto the frames returned for people.
    """

    def __init__(self, item_vectors: ItemVectors, metadata: pl.DataFrame | None = None) -> None:
        self.item_vectors = item_vectors
        self.metadata = metadata
        self._vocab = item_vectors.vocabulary
        self._index = ExactIndex(item_vectors.vectors)
        self._ids = np.asarray(item_vectors.item_ids, dtype=object)

    # ------------------------------------------------------------------ loading
    @classmethod
    def from_directory(
        cls, vectors_dir: str | Path, *, metadata_path: str | Path | None = None
    ) -> "Recommender":
        """Load from an item-vectors directory and an optional metadata Parquet file."""
        vectors = ItemVectors.load(vectors_dir)
        metadata = pl.read_parquet(metadata_path) if metadata_path else None
        return cls(vectors, metadata)

    @classmethod
    def load(cls, uri: str | Path) -> "Recommender":
        """Load a trained model.

        Parameters
        ----------
        uri
            A local model directory, an MLflow run id, a ``runs:/<id>/model``
            URI or a registry URI such as ``models:/item2vec@champion``.

        Raises
        ------
        ModelLoadError
            If nothing loadable is found at ``uri``.
        """
        from recsys.tracking import local_model_dir
        from recsys.pyfunc import METADATA_ARTIFACT, VECTORS_ARTIFACT

        root = local_model_dir(str(uri))
        for base in (root / "artifacts", root):
            vectors_dir = base / VECTORS_ARTIFACT
            if (vectors_dir / "config.json").exists():
                metadata = base / f"{METADATA_ARTIFACT}.parquet"
                return cls.from_directory(
                    vectors_dir, metadata_path=metadata if metadata.exists() else None
                )
        if (root / "config.json").exists():
            return cls.from_directory(root)
        raise ModelLoadError(f"{uri}: no item vectors found in {root}; pass a trained model")

    # ---------------------------------------------------------------- catalogue
    @property
    def item_ids(self) -> tuple[str, ...]:
        """Catalogue ids in row order."""
        return self.item_vectors.item_ids

    @property
    def vectors(self) -> np.ndarray:
        """Unit-normalised float32 item vectors (read-only), rows as ``item_ids``."""
        return self._index.vectors

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._vocab

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

    def recommend_many(
        self,
        item_ids: Sequence[str],
        k: int = 10,
        *,
        exclude: Iterable[str] | None = None,
        include_only: Iterable[str] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` similar items for each of several items, in one matrix product.

        Parameters
        ----------
        item_ids
            Query items.
        k
            Number of recommendations per query (1..10,000).
        exclude
            Items never to recommend.
        include_only
            If given, recommend only these items.

        Returns
        -------
        ids, scores
            Object array of ids and float32 cosine scores, shape
            ``(len(item_ids), k')``. A query is never its own recommendation.
            Where fewer than ``k`` items are eligible, ids are None and scores -inf.

        Raises
        ------
        UnknownItemError
            If a query item is not in the catalogue.
        ConfigError
            If ``k`` is out of range.
        """
        k = _check_k(k)
        rows = self._vocab.rows(item_ids)
        found, scores = self._index.search(
            self._index.vectors[rows], k, exclude_rows=rows, mask=self._mask(exclude, include_only)
        )
        ids = np.where(found >= 0, self._ids[np.maximum(found, 0)], None)
        return ids, scores

    def recommend(
        self,
        item_id: str,
        k: int = 10,
        *,
        exclude: Iterable[str] | None = None,
        include_only: Iterable[str] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` items similar to ``item_id``, best first, never the item itself.

        Returns
        -------
        ids, scores
            1-D arrays (ids as objects, scores as float32 cosines), with only
            eligible items (shorter than ``k`` if filters leave fewer).

        Raises
        ------
        UnknownItemError
            If the item is not in the catalogue.
        """
        ids, scores = self.recommend_many([item_id], k, exclude=exclude, include_only=include_only)
        keep = ids[0] != None  # noqa: E711 - element-wise comparison
        return ids[0][keep], scores[0][keep]

    def recommend_frame(self, item_id: str, k: int = 10, **filters: Iterable[str] | None) -> pl.DataFrame:
        """Recommendations for people: ``rank, item_id, score`` plus metadata columns."""
        return self.recommend_frame_many([item_id], k, **filters).drop("query_id")

    def recommend_frame_many(
        self, item_ids: Sequence[str], k: int = 10, **filters: Iterable[str] | None
    ) -> pl.DataFrame:
        """Recommendations for several items as one frame: ``query_id, rank, item_id, score`` + metadata."""
        ids, scores = self.recommend_many(item_ids, k, **filters)
        width = ids.shape[1]
        frame = pl.DataFrame(
            {
                "query_id": np.repeat(np.asarray(list(item_ids), dtype=object), width).tolist(),
                "rank": np.tile(np.arange(1, width + 1), len(item_ids)),
                "item_id": ids.ravel().tolist(),
                "score": scores.ravel(),
            },
            schema={"query_id": pl.String, "rank": pl.Int64, "item_id": pl.String, "score": pl.Float32},
        ).filter(pl.col("item_id").is_not_null())
        if self.metadata is not None:
            frame = frame.join(self.metadata, on="item_id", how="left", maintain_order="left")
        return frame
