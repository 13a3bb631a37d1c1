"""recsys: item2vec recommendations, trained and tracked with MLflow.

:func:`train` trains item2vec with the data-adaptive defaults (the options
an :class:`Item2VecConfig` leaves unset are set from the sequences; see
:func:`recsys.selection.train_adaptive`); :func:`recsys.item2vec.train`
trains exactly a configuration with every option set; :func:`update`
continues a registered model on new sequences (``recsys update``).
"""

from recsys.config import Item2VecConfig, PipelineConfig, UpdateConfig, load_pipeline_config
from recsys.errors import ConfigError, DataError, ModelLoadError, RecsysError, UnknownItemError
from recsys.item2vec import ItemVectors
from recsys.recommender import Explanation, Recommendations, Recommender
from recsys.selection import train_adaptive as train
from recsys.updating import UpdateResult, update

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
    "UpdateConfig",
    "UpdateResult",
    "load_pipeline_config",
    "train",
    "update",
]
