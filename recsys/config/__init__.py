"""Configuration objects: one pydantic model per concern, every field documented.

All configs forbid unknown keys, so a misspelled option is an error rather than
a silently ignored setting. :class:`PipelineConfig` gathers them and is what
the TOML files under ``pipelines/configs/`` describe, one section per concern;
:class:`SweepConfig` is a sweep TOML's ``[sweep]`` section; :class:`UpdateConfig`
says how ``recsys update`` continues a model on new sequences.
"""

from recsys.config._base import NEXT_SESSION_DECAY, SESSION_WINDOW, BaselineName, Relation
from recsys.config._coldstart import ColdStartConfig, MetadataRole
from recsys.config._data import DataConfig, SessionConfig, SplitConfig
from recsys.config._evaluation import EvaluationConfig, SelectionConfig, SelectionMetric
from recsys.config._item2vec import Item2VecConfig
from recsys.config._pipeline import (
    PipelineConfig,
    apply_overrides,
    load_pipeline_config,
    logged_config,
    read_toml,
    validate_config,
)
from recsys.config._ranking import RankingConfig
from recsys.config._sweep import TUNABLE, SweepConfig
from recsys.config._tracking import TrackingConfig
from recsys.config._update import UpdateConfig

__all__ = [
    "BaselineName",
    "ColdStartConfig",
    "DataConfig",
    "EvaluationConfig",
    "Item2VecConfig",
    "MetadataRole",
    "NEXT_SESSION_DECAY",
    "PipelineConfig",
    "RankingConfig",
    "Relation",
    "SESSION_WINDOW",
    "SelectionConfig",
    "SelectionMetric",
    "SessionConfig",
    "SplitConfig",
    "SweepConfig",
    "TUNABLE",
    "TrackingConfig",
    "UpdateConfig",
    "apply_overrides",
    "load_pipeline_config",
    "logged_config",
    "read_toml",
    "validate_config",
]
