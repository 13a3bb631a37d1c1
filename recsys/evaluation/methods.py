"""The one small interface every evaluated method implements.

A method learns from training sequences (:meth:`Method.fit`) and scores its
whole catalogue for a batch of query items (:meth:`Method.score`). The
evaluation protocol does the rest (masking the query, top-k, metrics), so a
new method is one class in one file.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np
import polars as pl

from recsys.config import Item2VecConfig
from recsys.index import normalize_rows
from recsys.item2vec import ItemVectors, train

__all__ = ["Method", "Item2VecMethod"]


class Method(ABC):
    """Base class of item-to-item methods in the evaluation harness.

    Subclasses set ``name``, learn in :meth:`fit` (which returns ``self``) and
    expose the learned catalogue as ``item_ids_`` (row order of the scores).
    """

    name: str = "method"

    item_ids_: tuple[str, ...]

    @abstractmethod
    def fit(self, train_sequences: pl.DataFrame) -> "Method":
        """Learn from training sequences (sequences contract) and return self."""

    @abstractmethod
    def score(self, query_rows: np.ndarray) -> np.ndarray:
        """Score every catalogue item for each query row.

        Parameters
        ----------
        query_rows
            Rows (in ``item_ids_``) of the query items, shape ``(n,)``.

        Returns
        -------
        numpy.ndarray
            float32 scores of shape ``(n, len(item_ids_))``; higher is better.
        """


class Item2VecMethod(Method):
    """item2vec scored by cosine similarity of item vectors.

    Parameters
    ----------
    config
        Training configuration used by :meth:`fit`.
    """

    name = "item2vec"

    def __init__(self, config: Item2VecConfig | None = None) -> None:
        self.config = config

    @classmethod
    def from_vectors(cls, vectors: ItemVectors) -> "Item2VecMethod":
        """Wrap already trained vectors without training again."""
        method = cls(vectors.config)
        method._set_vectors(vectors)
        return method

    def _set_vectors(self, vectors: ItemVectors) -> None:
        self.vectors_ = vectors
        self.item_ids_ = vectors.item_ids
        self._unit = normalize_rows(vectors.vectors)

    def fit(self, train_sequences: pl.DataFrame) -> "Item2VecMethod":
        self._set_vectors(train(train_sequences, self.config))
        return self

    def score(self, query_rows: np.ndarray) -> np.ndarray:
        return self._unit[query_rows] @ self._unit.T
