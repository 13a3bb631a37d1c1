"""recsys: item2vec recommendations, trained and tracked with MLflow.

:func:`train` trains item2vec with the data-adaptive defaults (the options
an :class:`Item2VecConfig` leaves unset are set from the sequences; see
:func:`recsys.selection.train_adaptive`); :func:`recsys.item2vec.train`
trains exactly a configuration with every option set; :func:`update`
continues a registered model on new sequences (``recsys update``).

The names below are imported on first use (PEP 562), so that ``import
recsys`` and commands that need little of it (``recsys --help``) do not
load gensim, MLflow and scikit-learn first.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from recsys.config import Item2VecConfig, PipelineConfig, UpdateConfig, load_pipeline_config
    from recsys.errors import ConfigError, DataError, ModelLoadError, RecsysError, UnknownItemError
    from recsys.item2vec import ItemVectors
    from recsys.recommender import Explanation, Recommendations, Recommender
    from recsys.selection import train_adaptive as train
    from recsys.updating import UpdateResult, update

_EXPORTS = {
    "ConfigError": ("recsys.errors", "ConfigError"),
    "DataError": ("recsys.errors", "DataError"),
    "Explanation": ("recsys.recommender", "Explanation"),
    "Item2VecConfig": ("recsys.config", "Item2VecConfig"),
    "ItemVectors": ("recsys.item2vec", "ItemVectors"),
    "ModelLoadError": ("recsys.errors", "ModelLoadError"),
    "PipelineConfig": ("recsys.config", "PipelineConfig"),
    "Recommendations": ("recsys.recommender", "Recommendations"),
    "Recommender": ("recsys.recommender", "Recommender"),
    "RecsysError": ("recsys.errors", "RecsysError"),
    "UnknownItemError": ("recsys.errors", "UnknownItemError"),
    "UpdateConfig": ("recsys.config", "UpdateConfig"),
    "UpdateResult": ("recsys.updating", "UpdateResult"),
    "load_pipeline_config": ("recsys.config", "load_pipeline_config"),
    "train": ("recsys.selection", "train_adaptive"),
    "update": ("recsys.updating", "update"),
}
"""Public name: (module, name there)."""

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    """Import a public name on first use (and keep it, so later uses are plain lookups)."""
    try:
        module, attribute = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'recsys' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The module's names, the public ones not yet imported included."""
    return sorted({*globals(), *_EXPORTS})
