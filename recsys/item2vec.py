"""item2vec: gensim skip-gram with negative sampling on item sequences.

:func:`train` turns a sequences frame into :class:`ItemVectors`, a plain
vector store (ids, float32 matrix, counts, config) that is saved without
pickle, so that loading a model file cannot run code.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import polars as pl
from gensim.models import Word2Vec
from gensim.models.callbacks import CallbackAny2Vec

from recsys._atomic import staged_directory
from recsys.config import Item2VecConfig, Relation
from recsys.data._schema import check_sequences
from recsys.errors import DataError, ModelLoadError, TrainingDivergedError, first_line
from recsys.manifest import verify_manifest, write_manifest
from recsys.vocab import Vocabulary, item_frequencies

__all__ = [
    "ItemVectors", "EpochReport", "train", "effective_workers", "corpus_mode", "ADAPTIVE_OPTIONS",
    "CORPUS_FILE_MIN_WORDS",
]

_FORMAT_VERSION = 1
_MODEL_FILES = ("items.parquet", "vectors.npy", "context_vectors.npy", "config.json")

ADAPTIVE_OPTIONS = ("context", "epochs", "alpha", "sample", "relation")
"""Options of :class:`Item2VecConfig` that default to None: set from the training
sequences by :mod:`recsys.selection` when left unset."""

CORPUS_FILE_MIN_WORDS = 1_000_000
"""Training words (items in the training sequences) from which ``corpus="auto"``
trains from a line file (gensim's ``corpus_file`` mode) rather than from
Python lists, when there are several workers. Below it, or with one worker,
the in-memory mode was as fast or faster in ``benchmarks/bench_train.py``
(see docs/scaling.md)."""


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


class _EpochCallback(CallbackAny2Vec):
    """Collect per-epoch loss and time; the loss counter is reset every epoch.

    gensim keeps the loss in a float32 running total, which stops adding
    small terms once it is large; restarting it each epoch keeps it exact
    enough for the corpus sizes this package targets.
    """

    def __init__(self, on_epoch: Callable[[EpochReport], None] | None, *, words: int, with_loss: bool) -> None:
        self.reports: list[EpochReport] = []
        self._on_epoch = on_epoch
        self._words = words
        self._with_loss = with_loss
        self._started = 0.0

    def on_epoch_begin(self, model: Word2Vec) -> None:
        model.running_training_loss = 0.0
        self._started = time.perf_counter()

    def on_epoch_end(self, model: Word2Vec) -> None:
        report = EpochReport(
            epoch=len(self.reports) + 1,
            loss=float(model.get_latest_training_loss()) if self._with_loss else float("nan"),
            seconds=time.perf_counter() - self._started,
            words=self._words,
        )
        self.reports.append(report)
        if self._on_epoch is not None:
            self._on_epoch(report)


def effective_workers(config: Item2VecConfig) -> int:
    """Training threads: ``config.workers``, or the number of usable cores when it is None."""
    if config.workers is not None:
        return config.workers
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(cores or 1, 1)


def corpus_mode(config: Item2VecConfig, n_words: int) -> Literal["memory", "file"]:
    """How :func:`train` feeds gensim: ``config.corpus``; ``auto`` is ``file`` with several
    workers and at least :data:`CORPUS_FILE_MIN_WORDS` training words, else ``memory``."""
    if config.corpus != "auto":
        return config.corpus
    several = effective_workers(config) > 1
    return "file" if several and n_words >= CORPUS_FILE_MIN_WORDS else "memory"


def _write_corpus_file(sequences: pl.DataFrame, vocabulary: pl.DataFrame, path: Path) -> None:
    """Write sequences as gensim's LineSentence text: one line each, item tokens separated by spaces.

    Tokens are row numbers of ``vocabulary``, so item ids with spaces are safe.
    """
    tokens = pl.element().replace_strict(vocabulary["item_id"], vocabulary["token"])
    sequences.select(pl.col("items").list.eval(tokens).list.join(" ")).write_csv(
        path, include_header=False, quote_style="never"
    )


def train(
    sequences: pl.DataFrame,
    config: Item2VecConfig | None = None,
    *,
    on_epoch: Callable[[EpochReport], None] | None = None,
) -> ItemVectors:
    """Train item vectors on sequences with gensim Word2Vec.

    gensim reads the sequences either as Python lists (``memory``) or from a
    line file written once (``file``, gensim's ``corpus_file`` mode, where
    each worker reads its own part of the file and no Python thread feeds
    them); ``config.corpus`` chooses, ``auto`` by workers and corpus size
    (:func:`corpus_mode`). The vocabulary is counted with polars
    in both modes, so both start from the same vectors.

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
        frequent first; their ``config`` has every option set (options left
        unset are filled from the sequences, see :data:`ADAPTIVE_OPTIONS`).

    Raises
    ------
    DataError
        If there are no sequences or no item reaches ``min_count``.

    Notes
    -----
    Training is deterministic with one worker and a fixed seed, in both
    modes (gensim 4 seeds the initial vectors from ``seed`` alone). With
    several workers the thread schedule changes results slightly from run
    to run, and the per-epoch loss is not computed (see
    :attr:`EpochReport.loss`).
    """
    sequences = check_sequences(sequences)
    config = _resolved(config or Item2VecConfig(), sequences)
    lengths = sequences["items"].list.len()
    n_words = int(lengths.sum())
    window = max(int(lengths.max()), 1) if config.whole_sequence else config.window
    workers = effective_workers(config)
    if config.context == "forward":
        return _train_forward(sequences, config.model_copy(update={"window": window}), workers, on_epoch)
    mode = corpus_mode(config, n_words)
    vocabulary = item_frequencies(sequences).with_columns(pl.col("token").cast(pl.String))
    callback = _EpochCallback(on_epoch, words=n_words, with_loss=workers == 1)
    model = Word2Vec(
        vector_size=config.vector_size,
        window=window,
        min_count=config.min_count,
        sample=config.sample,
        seed=config.seed,
        workers=workers,
        alpha=config.alpha,
        min_alpha=config.min_alpha,
        sg=config.sg,
        hs=0,
        negative=config.negative,
        ns_exponent=config.ns_exponent,
        epochs=config.epochs,
        compute_loss=workers == 1,
        shrink_windows=config.shrink_windows and not config.whole_sequence,
    )
    keys = vocabulary["token" if mode == "file" else "item_id"].to_list()
    model.build_vocab_from_freq(dict(zip(keys, vocabulary["count"].to_list())), corpus_count=sequences.height)
    if len(model.wv) == 0:
        raise DataError(
            f"no item occurs at least min_count={config.min_count} times",
            fix="lower min_count or provide more sequences",
        )
    common = {"epochs": config.epochs, "compute_loss": workers == 1, "callbacks": [callback]}
    if mode == "file":
        with tempfile.TemporaryDirectory(prefix="recsys-corpus-") as directory:
            path = Path(directory) / "corpus.txt"
            _write_corpus_file(sequences, vocabulary, path)
            model.train(corpus_file=str(path), total_words=n_words, total_examples=sequences.height, **common)
        item_of_token = vocabulary["item_id"].to_list()
        item_ids = tuple(item_of_token[int(token)] for token in model.wv.index_to_key)
    else:
        model.train(sequences["items"].to_list(), total_examples=sequences.height, **common)
        item_ids = tuple(model.wv.index_to_key)
    wv = model.wv
    _check_finite(model.wv.vectors, config)
    return ItemVectors(
        item_ids=item_ids,
        vectors=np.asarray(wv.vectors, dtype=np.float32).copy(),
        counts=np.asarray(wv.expandos["count"], dtype=np.int64).copy(),
        config=config,
        context_vectors=np.asarray(model.syn1neg, dtype=np.float32).copy(),
        epochs=tuple(callback.reports),
    )


def _check_finite(vectors: np.ndarray, config: Item2VecConfig) -> None:
    if not np.isfinite(vectors).all():
        raise TrainingDivergedError(
            f"training diverged: the item vectors are not finite numbers at learning rate alpha={config.alpha}; "
            "lower item2vec.alpha (or leave it unset to have it set from the data)"
        )


def _resolved(config: Item2VecConfig, sequences: pl.DataFrame) -> Item2VecConfig:
    """``config`` with the options left unset filled from the corpus (:func:`recsys.selection.resolve_defaults`)."""
    if all(getattr(config, name) is not None for name in ADAPTIVE_OPTIONS):
        return config
    from recsys.selection import corpus_stats, resolve_defaults

    return resolve_defaults(config, corpus_stats(sequences))


def _train_forward(
    sequences: pl.DataFrame, config: Item2VecConfig, workers: int, on_epoch: Callable[[EpochReport], None] | None
) -> ItemVectors:
    """``context="forward"``: the compiled forward-window trainer of :mod:`recsys.directional`."""
    from recsys.directional import train_forward

    frequencies = item_frequencies(sequences).filter(pl.col("count") >= config.min_count)
    if frequencies.height == 0:
        raise DataError(
            f"no item occurs at least min_count={config.min_count} times",
            fix="lower min_count or provide more sequences",
        )
    vectors, context, reports = train_forward(sequences, frequencies, config, workers=workers, on_epoch=on_epoch)
    _check_finite(vectors, config)
    return ItemVectors(
        item_ids=tuple(frequencies["item_id"].to_list()),
        vectors=vectors,
        counts=frequencies["count"].to_numpy().astype(np.int64),
        config=config,
        context_vectors=context,
        epochs=tuple(reports),
    )
