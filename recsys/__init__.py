"""recsys: item2vec recommendations, trained and tracked with MLflow."""

from recsys.config import Item2VecConfig, PipelineConfig, load_pipeline_config
from recsys.errors import ConfigError, DataError, ModelLoadError, RecsysError, UnknownItemError
from recsys.item2vec import ItemVectors, train
from recsys.recommender import Explanation, Recommendations, Recommender

__all__ = [
    "ConfigError",
    "DataError",
    "Explanation",
    "Item2VecConfig",
    "ItemVectors",
    "ModelLoadError",
    "PipelineConfig",
    "Recommendations",
    "Recommender",
    "RecsysError",
    "UnknownItemError",
    "load_pipeline_config",
    "train",
]
