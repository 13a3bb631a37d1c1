"""recsys: item2vec recommendations, trained and tracked with MLflow.

:func:`train` trains item2vec with the data-adaptive defaults (the options
an :class:`Item2VecConfig` leaves unset are set from the sequences; see
:func:`recsys.selection.train_adaptive`); :func:`recsys.item2vec.train`
trains exactly a configuration with every option set.
"""

from recsys.config import Item2VecConfig, PipelineConfig, load_pipeline_config
from recsys.errors import ConfigError, DataError, ModelLoadError, RecsysError, UnknownItemError
from recsys.item2vec import ItemVectors
from recsys.recommender import Explanation, Recommendations, Recommender
from recsys.selection import train_adaptive as train

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
