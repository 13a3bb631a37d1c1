"""What a training run and a sweep produce: the results the pipeline returns and the reports render.

Defined here, below :mod:`recsys.run_report`, :mod:`recsys.pipeline` and
:mod:`recsys.tuning`, so that the report reads them without importing the
stages that make them.
"""

from __future__ import annotations

from dataclasses import dataclass

from recsys.config import Item2VecConfig
from recsys.data.load import PreparedData
from recsys.evaluation.protocol import MethodResult
from recsys.item2vec import ItemVectors
from recsys.ranking import Ranking
from recsys.resources import StageRecord

__all__ = ["PreparedData", "TrainingResult", "Trial"]


@dataclass(frozen=True)
class TrainingResult:
    """What a training run produced."""

    run_id: str
    vectors: ItemVectors
    results: list[MethodResult]
    """item2vec's rankings first (the model's default first: its metrics are the run's headline), then the baselines."""
    model_uri: str | None
    promoted: bool
    """Whether the registered version became the ``champion``."""
    champion_value: float | None
    """The previous champion's headline metric on the same test split, if any."""
    train_seconds: float
    data: PreparedData
    stages: tuple[StageRecord, ...] = ()
    """Wall time and peak memory of each stage of the run."""
    ranking: Ranking | None = None
    """The model's ranking stage, if it has one."""


@dataclass(frozen=True)
class Trial:
    """One trained and validated configuration."""

    trial: int
    rung: int
    config: Item2VecConfig
    metrics: dict[str, float]
    seconds: float
