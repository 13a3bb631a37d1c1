"""How a hyperparameter sweep searches (the ``[sweep]`` section of a sweep TOML)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["SweepConfig", "TUNABLE"]

TUNABLE = ("window", "vector_size", "ns_exponent", "negative", "epochs", "sample", "sg", "whole_sequence", "relation",
           "alpha", "min_count", "shrink_windows")
"""Item2VecConfig fields a search space may name."""


class SweepConfig(BaseModel):
    """How a sweep searches (the ``[sweep]`` section of a sweep TOML)."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    strategy: Literal["grid", "random"] = "random"
    """``grid``: every combination of the space (capped by ``trials``, in a
    seeded random order); ``random``: ``trials`` distinct random combinations."""

    trials: int = Field(16, ge=1, le=10_000)
    """Configurations to try."""

    budget_minutes: float = Field(10.0, gt=0)
    """Wall-time budget for the trials; no new trial starts after it. The
    final retraining of the best configuration comes on top."""

    metric: str = "hr_at_10"
    """Validation metric to maximise (``hr_at_10``, ``ndcg_at_10``, ``mrr_at_20``...)."""

    validation_fraction: float = Field(0.1, gt=0, lt=1)
    """Share of the training sequences held out for validation."""

    sample_fraction: float = Field(1.0, gt=0, le=1)
    """Tune on this share of the remaining training sequences (Chamberlain et
    al. 2020 tuned on 10% and kept most of the gain); the winner is retrained
    on all training data."""

    eta: int = Field(2, ge=2, le=10)
    """Successive halving: keep the best 1/eta of each rung, multiply epochs by eta."""

    min_epochs: int = Field(2, ge=1)
    """Epochs of the first rung at least."""

    parallel: int = Field(0, ge=0, le=64)
    """Trials trained at the same time (0: one per core). Each trial uses one worker thread."""

    seed: int = Field(0, ge=0)
    """Seed for sampling configurations, the validation split and the sample."""

    space: dict[str, list[Any]] = Field(default_factory=dict)
    """Candidate values per Item2VecConfig field, e.g. ``window = [3, 5, 10]``."""

    @field_validator("space")
    @classmethod
    def _check_space(cls, space: dict[str, list[Any]]) -> dict[str, list[Any]]:
        for key, values in space.items():
            if key not in TUNABLE:
                raise ValueError(f"unknown search-space key {key!r}; tunable keys are {', '.join(TUNABLE)}")
            if not values:
                raise ValueError(f"search-space key {key!r} has no values")
        return space

    @field_validator("metric")
    @classmethod
    def _check_metric(cls, metric: str) -> str:
        family, _, k = metric.rpartition("_at_")
        if family not in ("hr", "ndcg", "mrr", "coverage") or not k.isdigit() or int(k) < 1:
            raise ValueError(f"metric must look like hr_at_10, ndcg_at_20, mrr_at_10; got {metric!r}")
        return metric
