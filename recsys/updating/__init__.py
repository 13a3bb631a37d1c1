"""``recsys update``: a registered model continued on new sequences, instead of retrained from scratch.

:func:`update` loads a model (``models:/item2vec@champion``), keeps its
item2vec configuration (no new selection) and continues its training on
the new sequences (:func:`recsys.item2vec.continue_training`), some old
ones replayed with them (:attr:`~recsys.config.UpdateConfig.replay_fraction`).
New items get trained vectors when they occur often enough, vectors from
their metadata otherwise (the cold-start mapper, refitted on the updated
vectors); the ranking stage keeps its weights and adds the new sequences'
successor counts to its evidence. The updated model and the model it
updates answer the same held-out cases of the new data; the result is
logged as an MLflow run linked to the run it updates (tags
``update.parent_run_id``, ``update.parent_version``, ``update.chain``,
``update.base_run_id``; nested under it, so a chain of updates is a tree in
the UI), with how far the vectors moved, registered, and given the
aliases of the model it updates only if it is at least as good. Every
check on the input runs before anything is logged.
"""

from recsys.updating._drift import Drift, Lineage, vector_drift
from recsys.updating._job import update
from recsys.updating._log import UpdateResult
from recsys.updating._prepare import NewItems

__all__ = ["Drift", "Lineage", "NewItems", "UpdateResult", "update", "vector_drift"]
