"""How far an update moved a model's vectors, and where it stands in a chain of updates."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from recsys.item2vec import ItemVectors

__all__ = ["Drift", "Lineage", "vector_drift"]

_DRIFT_SAMPLE = 2000
"""Kept items whose top-10 lists are compared, at most (a seeded sample)."""
_TOP = 10


@dataclass(frozen=True)
class Drift:
    """How far an update moved the vectors of the items both models know (the kept items)."""

    mean_cosine: float
    """Mean cosine of each kept item's input vector before and after."""
    output_mean_cosine: float
    """The same for the output vectors."""
    top10_overlap: float
    """Mean share of a kept item's top-10 "next" items (among the kept items) still in it after."""
    top10_changed: float
    """Share of kept items whose top-10 "next" set changed at all."""
    n_items: int
    """Kept items (the mean cosines are over all of them; the top-10 lists over a sample of at most 2,000)."""

    def metrics(self, prefix: str) -> dict[str, float]:
        """``{prefix}mean_cosine``... for MLflow."""
        return {f"{prefix}{name}": float(value) for name, value in dataclasses.asdict(self).items()}


def _mean_cosine(before: np.ndarray, after: np.ndarray) -> float:
    norms = np.linalg.norm(before, axis=1) * np.linalg.norm(after, axis=1)
    cosines = np.einsum("ij,ij->i", before, after) / np.maximum(norms, 1e-12)
    return float(cosines.mean())


def _top(inputs: np.ndarray, outputs: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Each query row's top-10 rows by input . output, itself left out (sets, as sorted rows)."""
    scores = inputs[queries] @ outputs.T
    scores[np.arange(queries.size), queries] = -np.inf
    k = min(_TOP, outputs.shape[0] - 1)
    return np.sort(np.argpartition(-scores, k - 1, axis=1)[:, :k], axis=1)


def vector_drift(before: ItemVectors, after: ItemVectors, *, seed: int = 0) -> Drift:
    """How far ``after`` moved the items it shares with ``before`` (both with output vectors).

    Parameters
    ----------
    before, after
        Two models of the same configuration (a model and its update, or the
        last full training and the end of a chain of updates).
    seed
        Seed of the sample of kept items whose top-10 lists are compared.
    """
    assert before.context_vectors is not None and after.context_vectors is not None
    rows = after.vocabulary.rows(before.item_ids, missing="negative")
    kept = np.flatnonzero(rows >= 0)
    old_in, old_out = np.asarray(before.vectors)[kept], np.asarray(before.context_vectors)[kept]
    new_in, new_out = np.asarray(after.vectors)[rows[kept]], np.asarray(after.context_vectors)[rows[kept]]
    if kept.size < 2:
        return Drift(float("nan"), float("nan"), float("nan"), float("nan"), int(kept.size))
    queries = np.arange(kept.size)
    if queries.size > _DRIFT_SAMPLE:
        queries = np.sort(np.random.default_rng(seed).choice(queries, size=_DRIFT_SAMPLE, replace=False))
    old_top, new_top = _top(old_in, old_out, queries), _top(new_in, new_out, queries)
    shared = np.array([np.intersect1d(a, b, assume_unique=True).size for a, b in zip(old_top, new_top)])
    return Drift(
        mean_cosine=_mean_cosine(old_in, new_in), output_mean_cosine=_mean_cosine(old_out, new_out),
        top10_overlap=float(shared.mean() / old_top.shape[1]), top10_changed=float((shared < old_top.shape[1]).mean()),
        n_items=int(kept.size),
    )


@dataclass(frozen=True)
class Lineage:
    """Where a model stands in a chain of updates."""

    parent_run_id: str | None
    """The run that logged the model this one updates."""
    parent_version: str | None
    """Its registered version."""
    chain: int
    """Updates since the last full training, this one included (1: the first update of a trained model)."""
    base_run_id: str | None
    """The last full training the chain started from."""

    @classmethod
    def after(cls, parent: Any | None, version: str | None) -> "Lineage":
        """The lineage of an update of the model logged by run ``parent`` (an MLflow ``Run``, or None)."""
        if parent is None:
            return cls(None, version, 1, None)
        tags = parent.data.tags
        chain = int(tags.get("update.chain", "0")) + 1
        base = tags.get("update.base_run_id") or tags.get("training_run_id") or parent.info.run_id
        return cls(parent.info.run_id, version, chain, base)

    def tags(self) -> dict[str, str]:
        """The run tags that link an update to its parent and to the chain's full training."""
        tags = {"update.chain": str(self.chain)}
        if self.parent_run_id:
            tags.update({"update.parent_run_id": self.parent_run_id, "mlflow.parentRunId": self.parent_run_id})
        if self.parent_version:
            tags["update.parent_version"] = self.parent_version
        if self.base_run_id:
            tags["update.base_run_id"] = self.base_run_id
        return tags
