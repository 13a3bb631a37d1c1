"""The MLflow pyfunc model: "items similar to X" for a DataFrame of item ids.

Logged as a model from code (``recsys/_pyfunc_entry.py`` calls
``mlflow.models.set_model``), with the item vectors and metadata as
artifacts and the ``recsys`` package as code, so
``mlflow models serve --env-manager local`` can serve it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow.pyfunc
import pandas as pd

from recsys.model_store import COLD_START_ARTIFACT, METADATA_ARTIFACT, RANKING_ARTIFACT, VECTORS_ARTIFACT
from recsys.recommender import Recommender

__all__ = ["Item2VecPyfunc", "VECTORS_ARTIFACT", "METADATA_ARTIFACT", "COLD_START_ARTIFACT", "RANKING_ARTIFACT"]


class Item2VecPyfunc(mlflow.pyfunc.PythonModel):
    """Answer top-k similar items for each ``item_id`` of the input frame.

    ``predict`` takes a DataFrame with an ``item_id`` column and the params
    ``k`` (default 10), ``relation`` (``"similar"`` or ``"next"``; empty or
    absent: the model's default relation) and ``rank`` (``"ranker"`` or
    ``"vectors"``; empty or absent: the model's default); it returns one row per recommendation with columns
    ``query_id, rank, item_id, score, cold`` (plus metadata columns if logged;
    ``cold`` flags items whose vector came from their metadata).
    Unknown items raise :class:`recsys.errors.UnknownItemError`.
    """

    def load_context(self, context: Any) -> None:
        metadata = context.artifacts.get(METADATA_ARTIFACT)
        cold_start = context.artifacts.get(COLD_START_ARTIFACT)
        ranking = context.artifacts.get(RANKING_ARTIFACT)
        self.recommender = Recommender.from_directory(
            Path(context.artifacts[VECTORS_ARTIFACT]),
            metadata_path=Path(metadata) if metadata else None,
            cold_start_dir=Path(cold_start) if cold_start else None,
            ranking_dir=Path(ranking) if ranking else None,
        )

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        params = params or {}
        k = int(params.get("k", 10))
        relation = params.get("relation") or None
        rank = params.get("rank") or None
        if isinstance(model_input, pd.DataFrame):
            column = "item_id" if "item_id" in model_input.columns else model_input.columns[0]
            queries = [str(v) for v in model_input[column].tolist()]
        else:
            queries = [str(v) for v in list(model_input)]
        frame = self.recommender.recommend_frame_many(queries, k=k, relation=relation, rank=rank)
        return frame.to_pandas()
