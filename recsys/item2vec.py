"""item2vec: gensim skip-gram with negative sampling on item sequences.

:func:`train` turns a sequences frame into :class:`ItemVectors`, a plain
vector store (ids, float32 matrix, counts, config) that is saved without
pickle, so that loading a model file cannot run code.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl
from gensim.models import Word2Vec
from gensim.models.callbacks import CallbackAny2Vec

from recsys.config import Item2VecConfig
from recsys.data._schema import check_sequences
from recsys.errors import DataError, ModelLoadError
from recsys.vocab import Vocabulary

__all__ = ["ItemVectors", "EpochReport", "train"]

_FORMAT_VERSION = 1


@dataclass(frozen=True)
class EpochReport:
    """Loss and time of one training epoch."""

    epoch: int
    """1-based epoch number."""
    loss: float
    """Sum of the skip-gram negative-sampling loss over the epoch."""
    seconds: float
    """Wall time of the epoch."""


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

    def save(self, directory: str | Path) -> Path:
        """Write the vectors to ``directory`` without pickle.

        Files: ``items.parquet`` (item_id, count), ``vectors.npy``,
        ``context_vectors.npy`` (if any) and ``config.json``. The directory is
        written next to its final place and renamed into it, so a crash never
        leaves a half-written model; an existing directory is replaced.

        Returns
        -------
        pathlib.Path
            The directory written.
        """
        target = Path(directory)
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        try:
            pl.DataFrame(
                {"item_id": list(self.item_ids), "count": self.counts.astype(np.int64)}
            ).write_parquet(staging / "items.parquet")
            np.save(staging / "vectors.npy", np.ascontiguousarray(self.vectors, dtype=np.float32))
            if self.context_vectors is not None:
                np.save(staging / "context_vectors.npy", np.ascontiguousarray(self.context_vectors, dtype=np.float32))
            meta = {"format_version": _FORMAT_VERSION, "config": self.config.model_dump(mode="json")}
            (staging / "config.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
            if target.exists():
                old = target.with_name(f".{target.name}.old")
                shutil.rmtree(old, ignore_errors=True)
                os.replace(target, old)
                os.replace(staging, target)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(staging, target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return target

    @classmethod
    def load(cls, directory: str | Path) -> "ItemVectors":
        """Load vectors written by :meth:`save`.

        Raises
        ------
        ModelLoadError
            If the directory or one of its files is missing or inconsistent.
        """
        source = Path(directory)
        try:
            meta = json.loads((source / "config.json").read_text(encoding="utf-8"))
            items = pl.read_parquet(source / "items.parquet")
            vectors = np.load(source / "vectors.npy", allow_pickle=False)
            context_path = source / "context_vectors.npy"
            context = np.load(context_path, allow_pickle=False) if context_path.exists() else None
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
        except (ValueError, KeyError, json.JSONDecodeError) as error:
            raise ModelLoadError(f"{source}: corrupt item-vectors directory: {error}") from None


def _stable_hash(text: str) -> int:
    """Hash for gensim's vector initialisation that does not depend on PYTHONHASHSEED."""
    return zlib.crc32(text.encode("utf-8"))


class _EpochCallback(CallbackAny2Vec):
    """Collect per-epoch loss (gensim reports a running total) and time."""

    def __init__(self, on_epoch: Callable[[EpochReport], None] | None) -> None:
        self.reports: list[EpochReport] = []
        self._on_epoch = on_epoch
        self._previous_total = 0.0
        self._started = 0.0

    def on_epoch_begin(self, model: Word2Vec) -> None:
        self._started = time.perf_counter()

    def on_epoch_end(self, model: Word2Vec) -> None:
        total = float(model.get_latest_training_loss())
        report = EpochReport(
            epoch=len(self.reports) + 1,
            loss=total - self._previous_total,
            seconds=time.perf_counter() - self._started,
        )
        self._previous_total = total
        self.reports.append(report)
        if self._on_epoch is not None:
            self._on_epoch(report)


def train(
    sequences: pl.DataFrame,
    config: Item2VecConfig | None = None,
    *,
    on_epoch: Callable[[EpochReport], None] | None = None,
) -> ItemVectors:
    """Train item vectors on sequences with gensim Word2Vec.

    Parameters
    ----------
    sequences
        Sequences contract frame (``sequence_id``, ``items``).
    config
        Hyperparameters; defaults to :class:`Item2VecConfig()`.
    on_epoch
        Called after every epoch with its :class:`EpochReport` (for progress
        bars and logging).

    Returns
    -------
    ItemVectors
        Vectors of every item seen at least ``config.min_count`` times, most
        frequent first.

    Raises
    ------
    DataError
        If there are no sequences or no item reaches ``min_count``.
    """
    config = config or Item2VecConfig()
    sequences = check_sequences(sequences)
    corpus: list[list[str]] = sequences["items"].to_list()
    longest = max(len(items) for items in corpus)
    window = max(longest, 1) if config.whole_sequence else config.window
    callback = _EpochCallback(on_epoch)
    model = Word2Vec(
        vector_size=config.vector_size,
        window=window,
        min_count=config.min_count,
        sample=config.sample,
        seed=config.seed,
        workers=config.workers,
        alpha=config.alpha,
        min_alpha=config.min_alpha,
        sg=config.sg,
        hs=0,
        negative=config.negative,
        ns_exponent=config.ns_exponent,
        hashfxn=_stable_hash,
        epochs=config.epochs,
        compute_loss=True,
        shrink_windows=config.shrink_windows and not config.whole_sequence,
    )
    model.build_vocab(corpus)
    if len(model.wv) == 0:
        raise DataError(
            f"no item occurs at least min_count={config.min_count} times",
            fix="lower min_count or provide more sequences",
        )
    model.train(
        corpus,
        total_examples=model.corpus_count,
        epochs=config.epochs,
        compute_loss=True,
        callbacks=[callback],
    )
    wv = model.wv
    counts = np.array([wv.get_vecattr(key, "count") for key in wv.index_to_key], dtype=np.int64)
    return ItemVectors(
        item_ids=tuple(wv.index_to_key),
        vectors=np.asarray(wv.vectors, dtype=np.float32).copy(),
        counts=counts,
        config=config,
        context_vectors=np.asarray(model.syn1neg, dtype=np.float32).copy(),
        epochs=tuple(callback.reports),
    )
