"""The symmetric context: gensim's Word2Vec (skip-gram with negative sampling) on item sequences.

gensim reads the sequences either as Python lists (``memory``) or from a
line file written once (``file``, gensim's ``corpus_file`` mode, where each
worker reads its own part of the file and no Python thread feeds them);
``config.corpus`` chooses, ``auto`` by workers and corpus size
(:func:`corpus_mode`). The vocabulary is counted with polars in both modes,
so both start from the same vectors.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import polars as pl
from gensim.models import Word2Vec
from gensim.models.callbacks import CallbackAny2Vec

from recsys.config import Item2VecConfig
from recsys.errors import DataError
from recsys.item2vec._vectors import EpochReport, ItemVectors, check_finite
from recsys.vocab import item_frequencies

__all__ = ["CORPUS_FILE_MIN_WORDS", "Start", "corpus_mode", "effective_workers", "train_symmetric",
           "usable_cores"]

CORPUS_FILE_MIN_WORDS = 1_000_000
"""Training words (items in the training sequences) from which ``corpus="auto"``
trains from a line file (gensim's ``corpus_file`` mode) rather than from
Python lists, when there are several workers. Below it, or with one worker,
the in-memory mode was as fast or faster in ``benchmarks/bench_train.py``
(see docs/scaling.md)."""


@dataclass(frozen=True, eq=False)
class Start:
    """Where continued training starts: a vocabulary with counts and both matrices in its row order."""

    frequencies: pl.DataFrame
    """``token`` (the row), ``item_id`` and ``count`` (the counts negatives are drawn by), one row per item."""
    vectors: np.ndarray
    """Input vectors, ``(len(frequencies), vector_size)`` float32."""
    context_vectors: np.ndarray
    """Output vectors, the same shape."""


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


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity, where the system tells it)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(cores or 1, 1)


def effective_workers(config: Item2VecConfig) -> int:
    """Training threads: ``config.workers``, or the number of usable cores when it is None."""
    return config.workers if config.workers is not None else usable_cores()


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


def train_symmetric(
    sequences: pl.DataFrame,
    config: Item2VecConfig,
    *,
    on_epoch: Callable[[EpochReport], None] | None = None,
    start: Start | None = None,
) -> ItemVectors:
    """Train ``config`` (symmetric context, every option set) with gensim on checked sequences.

    With ``start`` (continuing a trained model,
    :func:`recsys.item2vec.continue_training`), the vocabulary, counts and
    both matrices are its own instead of counted and drawn afresh; items of
    ``sequences`` outside it are skipped, as items under ``min_count`` are.
    The result's rows are in gensim's order (most frequent first).
    """
    lengths = sequences["items"].list.len()
    n_words = int(lengths.sum())
    window = max(int(lengths.max()), 1) if config.whole_sequence else config.window
    workers = effective_workers(config)
    mode = corpus_mode(config, n_words)
    vocabulary = item_frequencies(sequences) if start is None else start.frequencies
    vocabulary = vocabulary.with_columns(pl.col("token").cast(pl.String))
    callback = _EpochCallback(on_epoch, words=n_words, with_loss=workers == 1)
    model = Word2Vec(
        vector_size=config.vector_size,
        window=window,
        min_count=config.min_count if start is None else 1,  # a start's items are all kept
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
    if start is not None:  # gensim drew its own starting vectors: put the start's in their rows
        rows = np.asarray([model.wv.key_to_index[key] for key in keys], dtype=np.int64)
        model.wv.vectors[rows] = start.vectors
        model.syn1neg[rows] = start.context_vectors
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
    check_finite(model.wv.vectors, config)
    return ItemVectors(
        item_ids=item_ids,
        vectors=np.asarray(wv.vectors, dtype=np.float32).copy(),
        counts=np.asarray(wv.expandos["count"], dtype=np.int64).copy(),
        config=config,
        context_vectors=np.asarray(model.syn1neg, dtype=np.float32).copy(),
        epochs=tuple(callback.reports),
    )
