"""The ranking stage between the vectors' search and the answer."""

from __future__ import annotations

from pydantic import Field

from recsys.config._base import _Config

__all__ = ["RankingConfig"]


class RankingConfig(_Config):
    """The ranking stage between the vectors' search and the answer (:mod:`recsys.ranking`).

    For a query item or session, the candidates are the vectors' best items
    together with the items observed after it in training; their order is a
    blend of the vector score and the observed evidence (distance-decayed
    successor counts, their share, co-occurrence, popularity), its weights
    fitted on the validation split by the likelihood of what came next.
    """

    enabled: bool = True
    """Fit the stage at training time and save it with the model; false: the
    model ranks by its vectors alone."""

    candidates: int = Field(100, ge=10, le=1000)
    """The vectors' best items each query ranks, besides the items observed after it."""

    steps: int = Field(10, ge=1, le=50)
    """Farthest distance between an item and a successor the evidence counts (weight ``1/distance``)."""

    depth: int = Field(100, ge=1)
    """Observed successors kept per item (the heaviest): the evidence saved with the model is at
    most this many entries per item, no larger than the neighbour table."""

    max_cases: int = Field(3000, ge=100)
    """Validation cases each blend is fitted on, at most (a seeded sample)."""

    choose: bool = True
    """Let the validation split choose, per kind of query, between the blend and the vectors alone
    (the vectors win where the blend scores lower); false always uses the blend."""
