"""Recommendations as polars frames for people: ranks, ids, scores, cold flags, joined with item metadata.

:class:`Frames` gives :class:`~recsys.recommender.Recommender` its frame methods.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl

from recsys.recommender._results import Recommendations

__all__ = ["Frames", "batch_frame", "single_frame"]


def _with_metadata(frame: pl.DataFrame, metadata: pl.DataFrame | None) -> pl.DataFrame:
    if metadata is None:
        return frame
    return frame.join(metadata, on="item_id", how="left", maintain_order="left")


def single_frame(result: Recommendations, metadata: pl.DataFrame | None) -> pl.DataFrame:
    """One query's result: ``rank, item_id, score, cold`` plus the metadata columns."""
    ids, scores = result
    frame = pl.DataFrame(
        {"rank": np.arange(1, len(ids) + 1), "item_id": ids.tolist(), "score": scores, "cold": result.cold},
        schema={"rank": pl.Int64, "item_id": pl.String, "score": pl.Float32, "cold": pl.Boolean},
    )
    return _with_metadata(frame, metadata)


def batch_frame(item_ids: Sequence[str], result: Recommendations, metadata: pl.DataFrame | None) -> pl.DataFrame:
    """Several queries' results: ``query_id, rank, item_id, score, cold`` plus metadata, padding dropped."""
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
    return _with_metadata(frame, metadata)


class Frames:
    """The frame methods of :class:`~recsys.recommender.Recommender` (its ``recommend``,
    ``recommend_many`` and ``metadata``, as frames for people)."""

    metadata: pl.DataFrame | None

    def to_frame(self, result: Recommendations) -> pl.DataFrame:
        """A single result for people: ``rank, item_id, score, cold`` plus metadata columns."""
        return single_frame(result, self.metadata)

    def recommend_frame(self, item_id: str, k: int = 10, **options: Any) -> pl.DataFrame:
        """:meth:`recommend` as a frame for people (see :meth:`to_frame`)."""
        return self.to_frame(self.recommend(item_id, k, **options))  # type: ignore[attr-defined]

    def recommend_frame_many(self, item_ids: Sequence[str], k: int = 10, **options: Any) -> pl.DataFrame:
        """Recommendations for several items as one frame: ``query_id, rank, item_id, score, cold`` + metadata."""
        return batch_frame(item_ids, self.recommend_many(item_ids, k, **options),  # type: ignore[attr-defined]
                           self.metadata)
