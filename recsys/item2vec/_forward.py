"""item2vec with a forward context: an item learns to predict what comes after it.

gensim's skip-gram window is symmetric, so the "next" relation (an item's
input vector against the output vectors of candidates) scores the track
before a query as high as the track after it. With ``context="forward"``,
:func:`train_forward` trains only the pairs ``(items[i], items[i + d])`` for
``d = 1 .. window``, weighting a pair at distance ``d`` by ``1 / d**2``,
with word2vec's negative sampling, down-sampling and linearly decaying
learning rate. The compiled loop is in
:mod:`recsys.item2vec._kernel`; :func:`train_forward_vectors` returns the same
:class:`ItemVectors` as gensim's path.

Measured against gensim on the same corpus (``python
benchmarks/bench_directional.py``) and on every regime of the robustness
benchmark (docs/quality.md).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import polars as pl

from recsys.config import Item2VecConfig
from recsys.errors import DataError
from recsys.item2vec._kernel import train_epoch
from recsys.item2vec._vectors import EpochReport, ItemVectors, check_finite
from recsys.vocab import item_frequencies

__all__ = [
    "compile_kernels", "train_forward", "train_forward_vectors", "distance_weights", "initial_vectors",
    "keep_probabilities", "negative_table",
]

_TABLE_SLOTS_PER_ITEM = 100
_TABLE_MIN, _TABLE_MAX = 1_000_000, 1 << 25


def distance_weights(window: int) -> np.ndarray:
    """Weight of a pair at distance ``d = 1 .. window``: ``1 / d**2``.

    Steeper than sequential rules' ``1 / d``: with ``1 / d`` the item two
    steps on scored too close to the next one (NDCG@10 on validation,
    forward context: replayed albums 0.6106 with ``1/d`` over 3 steps,
    0.6776 with ``1/d**2`` over 5; one listener 0.7327 and 0.7496; sparse
    sessions 0.1538 and 0.1514).
    """
    return (1.0 / np.arange(1, window + 1) ** 2).astype(np.float32)


def keep_probabilities(counts: np.ndarray, sample: float) -> np.ndarray:
    """word2vec's down-sampling: the probability of keeping each occurrence of an item.

    An item making up a share ``f`` of all occurrences is kept with
    probability ``(sqrt(f / sample) + 1) * sample / f`` (capped at 1);
    ``sample=0`` keeps everything.
    """
    if sample <= 0:
        return np.ones(counts.size, dtype=np.float64)
    threshold = sample * float(counts.sum())
    counts = counts.astype(np.float64)
    return np.minimum((np.sqrt(counts / threshold) + 1.0) * threshold / counts, 1.0)


def negative_table(counts: np.ndarray, ns_exponent: float) -> np.ndarray:
    """Table of item rows to draw negatives from uniformly: row ``i`` fills a share ``count_i**ns_exponent``.

    About 100 slots per item (between 1M and 32M in all); every item has at least one.
    """
    weights = counts.astype(np.float64) ** ns_exponent
    size = int(np.clip(_TABLE_SLOTS_PER_ITEM * counts.size, _TABLE_MIN, _TABLE_MAX))
    slots = np.maximum(np.round(weights / weights.sum() * size).astype(np.int64), 1)
    return np.repeat(np.arange(counts.size, dtype=np.int32), slots)


def initial_vectors(n_items: int, dim: int, seed: int) -> np.ndarray:
    """word2vec's starting input vectors: uniform in ``[-0.5 / dim, 0.5 / dim)``, float32, seeded."""
    rng = np.random.default_rng(seed)
    return ((rng.random((n_items, dim), dtype=np.float32) - 0.5) / dim).astype(np.float32)


def _encode(sequences: pl.DataFrame, frequencies: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Sequences as one int32 array of item rows and the int64 offsets where each sequence starts.

    Items missing from ``frequencies`` (below ``min_count``) are left out, as gensim does.
    """
    rows = pl.element().replace_strict(
        frequencies["item_id"], frequencies["token"], default=None, return_dtype=pl.Int32
    )
    coded = sequences.select(pl.col("items").list.eval(rows).list.drop_nulls())["items"]
    lengths = coded.list.len().to_numpy().astype(np.int64)
    offsets = np.zeros(lengths.size + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return coded.explode().to_numpy().astype(np.int32), offsets


def train_forward(
    sequences: pl.DataFrame,
    frequencies: pl.DataFrame,
    config: Item2VecConfig,
    *,
    workers: int,
    on_epoch: Callable[[EpochReport], None] | None = None,
    start: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray, list[EpochReport]]:
    """Train input and output vectors on forward pairs.

    Parameters
    ----------
    sequences
        Sequences contract frame (checked by the caller).
    frequencies
        :func:`recsys.vocab.item_frequencies` of ``sequences``: row order of the vectors.
    config
        Hyperparameters; ``window`` is the farthest successor paired with an item.
    workers
        Threads; 1 is deterministic for a given seed and computes the loss.
    on_epoch
        Called after every epoch with its report.
    start
        Input and output vectors to start from, rows as ``frequencies``
        (copied; continuing a trained model, :func:`recsys.item2vec.continue_training`).
        None starts as word2vec does: small random input vectors, zero output vectors.

    Returns
    -------
    vectors, context_vectors : numpy.ndarray
        float32 ``(n_items, vector_size)`` input and output vectors.
    reports : list of EpochReport
        One per epoch.
    """
    counts = frequencies["count"].to_numpy().astype(np.int64)
    tokens, offsets = _encode(sequences, frequencies)
    n_items, dim = counts.size, config.vector_size
    if start is None:
        vectors, context = initial_vectors(n_items, dim, config.seed), np.zeros((n_items, dim), dtype=np.float32)
    else:
        vectors, context = (np.array(matrix, dtype=np.float32, order="C") for matrix in start)
        if vectors.shape != (n_items, dim) or context.shape != (n_items, dim):
            raise ValueError(f"start vectors of shape {vectors.shape} and {context.shape} for {n_items} items "
                             f"of dimension {dim}")
    keep = keep_probabilities(counts, config.sample)
    table = negative_table(counts, config.ns_exponent)
    weights = distance_weights(config.window)
    n_words = int(offsets[-1])
    reports: list[EpochReport] = []
    for epoch in range(config.epochs):
        started = time.perf_counter()
        loss, _pairs = train_epoch(
            tokens, offsets, vectors, context, table, keep, weights,
            negative=config.negative, alpha=config.alpha, min_alpha=config.min_alpha,
            done_before=epoch * n_words, total=config.epochs * n_words,
            seed=config.seed * 7919 + epoch, workers=workers, with_loss=workers == 1,
        )
        report = EpochReport(
            epoch=epoch + 1,
            loss=float(loss) if workers == 1 else float("nan"),
            seconds=time.perf_counter() - started,
            words=n_words,
        )
        reports.append(report)
        if on_epoch is not None:
            on_epoch(report)
    return vectors, context, reports


def train_forward_vectors(
    sequences: pl.DataFrame, config: Item2VecConfig, *, workers: int,
    on_epoch: Callable[[EpochReport], None] | None = None,
) -> ItemVectors:
    """Train ``config`` (forward context, every option set) on checked sequences: :func:`train_forward`
    over the items that reach ``min_count``, as :class:`ItemVectors`."""
    frequencies = item_frequencies(sequences).filter(pl.col("count") >= config.min_count)
    if frequencies.height == 0:
        raise DataError(
            f"no item occurs at least min_count={config.min_count} times",
            fix="lower min_count or provide more sequences",
        )
    vectors, context, reports = train_forward(sequences, frequencies, config, workers=workers, on_epoch=on_epoch)
    check_finite(vectors, config)
    return ItemVectors(
        item_ids=tuple(frequencies["item_id"].to_list()),
        vectors=vectors,
        counts=frequencies["count"].to_numpy().astype(np.int64),
        config=config,
        context_vectors=context,
        epochs=tuple(reports),
    )


def compile_kernels() -> None:
    """Compile the forward kernel into numba's on-disk cache, for one worker and for several.

    The first forward training of a fresh checkout otherwise compiles it
    on the spot: about 1.5 s with one worker and 5 s with several, on a
    machine of two cores. The install step (``make install``) calls this,
    so that training, the automatic selection and the tests load it from
    the cache instead. It trains one epoch on two tiny sequences through
    :func:`train_forward` itself, so the cached signatures are those real
    training asks for.
    """
    sequences = pl.DataFrame({"items": [["a", "b", "c"], ["c", "b", "a"]]})
    frequencies = item_frequencies(sequences)
    config = Item2VecConfig(context="forward", vector_size=4, window=2, epochs=1, alpha=0.025, sample=0.0)
    for workers in (1, 2):
        train_forward(sequences, frequencies, config, workers=workers)
