"""Cold start: vectors from metadata for items nobody has played yet.

* :class:`MetadataFeatures` turns metadata columns into features (scikit-learn
  vectorizers and encoders; optional sentence embeddings, ``recsys[text]``);
* :class:`MetadataMapper` regresses input and output vectors on them (ridge),
  fitted on the warm items at training time, saved without pickle;
* :class:`ColdStart` is a model's mapper plus the cold items it has given
  vectors; :meth:`recsys.Recommender.add_items` and ``recsys add-items`` use it.
"""

from recsys.coldstart.features import MetadataFeatures, choose_roles
from recsys.coldstart.mapper import MapperReport, MetadataMapper, SpaceFit
from recsys.coldstart.model import ColdStart

__all__ = [
    "ColdStart",
    "MapperReport",
    "MetadataFeatures",
    "MetadataMapper",
    "SpaceFit",
    "choose_roles",
]
