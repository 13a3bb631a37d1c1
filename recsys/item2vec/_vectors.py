"""The product of training: :class:`ItemVectors`, a plain vector store saved without pickle.

Ids, float32 input and output vectors, counts and the configuration they
were trained with; :meth:`ItemVectors.save` writes Parquet, ``.npy`` and JSON
with a manifest, so that loading a model file cannot run code.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from recsys._atomic import staged_directory
from recsys.config import Item2VecConfig, Relation
from recsys.errors import ModelLoadError, TrainingDivergedError, first_line
from recsys.manifest import verify_manifest, write_manifest
from recsys.vocab import Vocabulary

__all__ = ["EpochReport", "ItemVectors", "check_finite"]

_FORMAT_VERSION = 1
_MODEL_FILES = ("items.parquet", "vectors.npy", "context_vectors.npy", "config.json")


@dataclass(frozen=True)
class EpochReport:
    """Loss, time and throughput of one training epoch."""

    epoch: int
    """1-based epoch number."""
    loss: float
    """Sum of the skip-gram negative-sampling loss over the epoch, or NaN when
    training with several workers: gensim's loss counter is then shared by
    threads without a lock and loses updates (gensim issue 2743), so it is
    not computed at all."""
    seconds: float
    """Wall time of the epoch."""
    words: int = 0
    """Items in the training sequences, all read once per epoch."""

    @property
    def words_per_second(self) -> float:
        """Training throughput: items of the corpus per second of wall time."""
        return self.words / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True, eq=False)
class ItemVectors:
    """Learned item vectors: the product of :func:`train`.

    Attributes
    ----------
    item_ids
        Catalogue ids in row order.
    vectors
        Input ("word") vectors, float32, shape ``(n_items, vector_size)``.
    counts
        Occurrences of each item in the training sequences (popularity).
    config
        The configuration the vectors were trained with.
    context_vectors
        Output ("context", ``syn1neg``) vectors, same shape as ``vectors``, or
        None when the model has none.
    epochs
        Per-epoch loss and time reports from training (not saved).
    """

    item_ids: tuple[str, ...]
    vectors: np.ndarray
    counts: np.ndarray
    config: Item2VecConfig
    context_vectors: np.ndarray | None = None
    epochs: tuple[EpochReport, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        n = len(self.item_ids)
        if self.vectors.shape[0] != n or self.counts.shape != (n,):
            raise ValueError(
                f"{n} ids but vectors of shape {self.vectors.shape} and counts of shape {self.counts.shape}"
            )
        if self.context_vectors is not None and self.context_vectors.shape != self.vectors.shape:
            raise ValueError("context_vectors must have the shape of vectors")

    @property
    def vocabulary(self) -> Vocabulary:
        """The id <-> row mapping of these vectors (built on first use)."""
        vocab = self.__dict__.get("_vocabulary")
        if vocab is None:
            vocab = Vocabulary(self.item_ids)
            object.__setattr__(self, "_vocabulary", vocab)
        return vocab

    def __len__(self) -> int:
        return len(self.item_ids)

    @property
    def digest(self) -> str:
        """SHA-256 (hex) of the model's content: ids, counts, both vector matrices and the config.

        One string for the whole model, the same before :meth:`save` and after
        :meth:`load` (it hashes the arrays, not the files), recorded in the
        saved model's ``manifest.json``. Key anything derived from these
        vectors by it (a prepared search structure, a cache). Computed on
        first use (about 0.1 s per 25 MB of vectors) and then cached: arrays
        changed in place afterwards are not seen.
        """
        value = self.__dict__.get("_digest")
        if value is None:
            value = _content_digest(self)
            object.__setattr__(self, "_digest", value)
        return value

    @property
    def default_relation(self) -> Relation:
        """The relation to recommend with by default: the config's, or "similar"
        for vectors without output vectors (which cannot answer "next")."""
        return (self.config.relation or "next") if self.context_vectors is not None else "similar"

    def save(self, directory: str | Path) -> Path:
        """Write the vectors to ``directory`` without pickle.

        Files: ``items.parquet`` (item_id, count), ``vectors.npy``,
        ``context_vectors.npy`` (if any), ``config.json``, and last
        ``manifest.json`` with the SHA-256 of each file and the model's
        :attr:`digest` (checked by :meth:`load`). The directory is
        written next to its final place and renamed into it, so a crash never
        leaves a half-written model; an existing directory is replaced.

        Returns
        -------
        pathlib.Path
            The directory written.
        """
        target = Path(directory)
        with staged_directory(target) as staging:
            pl.DataFrame(
                {"item_id": list(self.item_ids), "count": self.counts.astype(np.int64)}
            ).write_parquet(staging / "items.parquet")
            np.save(staging / "vectors.npy", np.ascontiguousarray(self.vectors, dtype=np.float32))
            if self.context_vectors is not None:
                np.save(staging / "context_vectors.npy", np.ascontiguousarray(self.context_vectors, dtype=np.float32))
            meta = {"format_version": _FORMAT_VERSION, "config": self.config.model_dump(mode="json")}
            (staging / "config.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
            write_manifest(staging, [p.name for p in staging.iterdir() if p.name in _MODEL_FILES], digest=self.digest)
        return target

    @classmethod
    def load(cls, directory: str | Path) -> "ItemVectors":
        """Load vectors written by :meth:`save`, checking each file against ``manifest.json``.

        Models saved before manifests existed (no ``manifest.json``) still
        load, without that check.

        Raises
        ------
        ModelLoadError
            If the directory or one of its files is missing, truncated, edited
            or inconsistent (the message names the file).
        """
        source = Path(directory)
        if not source.is_dir():
            raise ModelLoadError(f"{source}: no such model directory; pass a directory written by ItemVectors.save")
        verify_manifest(source, guarded=_MODEL_FILES)
        try:
            meta = json.loads((source / "config.json").read_text(encoding="utf-8"))
            items = pl.read_parquet(source / "items.parquet")
            # memory-mapped, read-only: a server starts without copying the matrices (1M x 64: 2 x 256 MB)
            vectors = np.load(source / "vectors.npy", allow_pickle=False, mmap_mode="r")
            context_path = source / "context_vectors.npy"
            context = np.load(context_path, allow_pickle=False, mmap_mode="r") if context_path.exists() else None
            return cls(
                item_ids=tuple(items["item_id"].to_list()),
                vectors=vectors,
                counts=items["count"].to_numpy(),
                config=Item2VecConfig.model_validate(meta["config"]),
                context_vectors=context,
            )
        except FileNotFoundError as error:
            raise ModelLoadError(
                f"{source}: not an item-vectors directory ({Path(error.filename).name} is missing); "
                "pass a directory written by ItemVectors.save or a trained model"
            ) from None
        except (ValueError, KeyError, TypeError, OSError, EOFError, pl.exceptions.PolarsError) as error:
            raise ModelLoadError(f"{source}: corrupt item-vectors directory: {first_line(error)}") from None


def _content_digest(vectors: ItemVectors) -> str:
    """SHA-256 of ids, counts, vectors, context vectors and config, each part length-prefixed."""
    digest = hashlib.sha256(f"recsys.ItemVectors/{_FORMAT_VERSION}".encode())

    def part(name: str, data: bytes | memoryview) -> None:
        digest.update(f"\0{name}\0{len(data)}\0".encode())
        digest.update(data)

    part("item_ids", json.dumps(list(vectors.item_ids), ensure_ascii=False).encode())
    part("counts", np.ascontiguousarray(vectors.counts, dtype="<i8").data.cast("B"))
    for name, matrix in (("vectors", vectors.vectors), ("context_vectors", vectors.context_vectors)):
        if matrix is not None:
            part(f"{name}{list(matrix.shape)}", np.ascontiguousarray(matrix, dtype="<f4").data.cast("B"))
    part("config", json.dumps(vectors.config.model_dump(mode="json"), sort_keys=True).encode())
    return digest.hexdigest()


def check_finite(vectors: np.ndarray, config: Item2VecConfig) -> None:
    """Refuse vectors that are not finite numbers: training diverged (:class:`TrainingDivergedError`)."""
    if not np.isfinite(vectors).all():
        raise TrainingDivergedError(
            f"training diverged: the item vectors are not finite numbers at learning rate alpha={config.alpha}; "
            "lower item2vec.alpha (or leave it unset to have it set from the data)"
        )
