"""What every config shares: strict pydantic models, the relations, the names of the baselines."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

__all__ = ["BaselineName", "NEXT_SESSION_DECAY", "Relation", "SESSION_WINDOW", "_Config"]


BaselineName = Literal["popular", "cooccurrence", "transitions", "sr", "vsknn", "cosine", "bm25", "als", "bpr"]
"""Names of the baselines (see :mod:`recsys.evaluation.baselines`)."""


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


Relation = Literal["similar", "next"]
"""The two relations item2vec can recommend with: ``similar`` (cosine of input
vectors: items that play the same role) and ``next`` (input vector of the
query against output vectors: items that come after or go with it)."""

NEXT_SESSION_DECAY = 0.5
"""Weight ratio between an item of a session and the item after it, for "next"."""

SESSION_WINDOW = 20
"""Most items of a session protocol's context: the latest ones (see :attr:`EvaluationConfig.session_window`)."""
