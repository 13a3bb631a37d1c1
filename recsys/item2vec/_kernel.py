"""Skip-gram with negative sampling over forward windows: the compiled inner loop.

gensim's windows are symmetric: an item learns to predict the items before
it as much as those after it, so "next" cannot tell a track's successor
from its predecessor. This kernel trains only pairs ``(items[i], items[i + d])``
for ``d = 1 .. window`` (forward), each trained with probability
``weights[d - 1]`` (so that its expected update is weighted by it, at the cost
of the pairs actually trained), with word2vec's update rule, negative sampling from a unigram table and a
learning rate decaying linearly over the whole run.

Everything here is compiled with numba; :mod:`recsys.item2vec._forward` holds the
Python side (vocabulary, tables, epochs, reports).
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["train_epoch"]

_MAX_EXP = 6.0
_TABLE_SIZE = 1000

SIGMOID = (1.0 / (1.0 + np.exp(-np.linspace(-_MAX_EXP, _MAX_EXP, _TABLE_SIZE + 1)))).astype(np.float32)
"""sigmoid on [-6, 6] in 1,000 steps, as word2vec and gensim tabulate it."""
LOG_SIGMOID = np.log(SIGMOID).astype(np.float32)
LOG_ONE_MINUS = np.log(np.maximum(1.0 - SIGMOID, 1e-7)).astype(np.float32)


@numba.njit(cache=True, inline="always")
def _next_random(state: np.uint64) -> np.uint64:
    """word2vec's linear congruential generator (one per worker, so runs repeat)."""
    return state * np.uint64(25214903917) + np.uint64(11)


@numba.njit(cache=True, fastmath=True, nogil=True)  # other threads run meanwhile (a candidate beside it)
def _train_range(
    tokens: np.ndarray,
    offsets: np.ndarray,
    first: int,
    last: int,
    syn0: np.ndarray,
    syn1: np.ndarray,
    table: np.ndarray,
    keep: np.ndarray,
    weights: np.ndarray,
    negative: int,
    alpha: float,
    min_alpha: float,
    done_before: float,
    total: float,
    seed: np.uint64,
    work: np.ndarray,
    buffer: np.ndarray,
    with_loss: bool,
) -> tuple[float, int, int]:
    """Train sequences ``first .. last - 1``; returns (loss, pairs trained, items read)."""
    dim = syn0.shape[1]
    window = weights.shape[0]
    table_size = table.shape[0]
    state = seed
    loss = 0.0
    pairs = 0
    read = 0
    for s in range(first, last):
        start = offsets[s]
        end = offsets[s + 1]
        # down-sample frequent items, as word2vec does before windowing
        n = 0
        for p in range(start, end):
            token = tokens[p]
            state = _next_random(state)
            if keep[token] < 1.0 and keep[token] < (state >> np.uint64(16) & np.uint64(0xFFFF)) / 65536.0:
                continue
            buffer[n] = token
            n += 1
        progress = (done_before + read) / total
        lr = alpha - (alpha - min_alpha) * progress
        if lr < min_alpha:
            lr = min_alpha
        read += end - start
        for i in range(n - 1):
            source = buffer[i]
            for d in range(1, window + 1):
                if i + d >= n:
                    break
                target = buffer[i + d]
                if target == source:
                    continue
                if weights[d - 1] < 1.0:
                    # train the pair with probability equal to its weight, at the full rate: the same
                    # expected update as scaling the rate, at a fraction of the cost (as word2vec
                    # shrinks its windows at random)
                    state = _next_random(state)
                    if (state >> np.uint64(16) & np.uint64(0xFFFF)) / 65536.0 >= weights[d - 1]:
                        continue
                step = np.float32(lr)
                for j in range(dim):
                    work[j] = np.float32(0.0)
                for k in range(negative + 1):
                    if k == 0:
                        out = target
                        label = np.float32(1.0)
                    else:
                        state = _next_random(state)
                        out = table[(state >> np.uint64(16)) % np.uint64(table_size)]
                        if out == target:
                            continue
                        label = np.float32(0.0)
                    f = np.float32(0.0)
                    for j in range(dim):
                        f += syn0[source, j] * syn1[out, j]
                    if f >= _MAX_EXP:
                        cell = _TABLE_SIZE
                    elif f <= -_MAX_EXP:
                        cell = 0
                    else:
                        cell = int((f + _MAX_EXP) * (_TABLE_SIZE / (2 * _MAX_EXP)))
                    g = (label - SIGMOID[cell]) * step
                    if with_loss:
                        loss -= LOG_SIGMOID[cell] if label > 0.0 else LOG_ONE_MINUS[cell]
                    for j in range(dim):
                        work[j] += g * syn1[out, j]
                        syn1[out, j] += g * syn0[source, j]
                for j in range(dim):
                    syn0[source, j] += work[j]
                pairs += 1
    return loss, pairs, read


@numba.njit(cache=True, parallel=True, nogil=True)
def _train_parallel(
    tokens: np.ndarray,
    offsets: np.ndarray,
    bounds: np.ndarray,
    syn0: np.ndarray,
    syn1: np.ndarray,
    table: np.ndarray,
    keep: np.ndarray,
    weights: np.ndarray,
    negative: int,
    alpha: float,
    min_alpha: float,
    done_before: float,
    total: float,
    seeds: np.ndarray,
    max_length: int,
) -> tuple[float, int]:
    """Hogwild: each worker trains its own range of sequences on the shared matrices."""
    workers = bounds.shape[0] - 1
    losses = np.zeros(workers)
    pair_counts = np.zeros(workers, dtype=np.int64)
    share = total / workers
    for w in numba.prange(workers):
        work = np.empty(syn0.shape[1], dtype=np.float32)
        buffer = np.empty(max_length, dtype=np.int32)
        loss, pairs, _read = _train_range(
            tokens, offsets, bounds[w], bounds[w + 1], syn0, syn1, table, keep, weights, negative,
            alpha, min_alpha, done_before / workers, share, np.uint64(seeds[w]), work, buffer, False,
        )
        losses[w] = loss
        pair_counts[w] = pairs
    return losses.sum(), pair_counts.sum()


def train_epoch(
    tokens: np.ndarray,
    offsets: np.ndarray,
    syn0: np.ndarray,
    syn1: np.ndarray,
    table: np.ndarray,
    keep: np.ndarray,
    weights: np.ndarray,
    *,
    negative: int,
    alpha: float,
    min_alpha: float,
    done_before: int,
    total: int,
    seed: int,
    workers: int,
    with_loss: bool = True,
) -> tuple[float, int]:
    """Run one epoch over all sequences; returns (loss, pairs trained).

    With one worker the epoch is deterministic for a given seed; with
    several, each trains a contiguous range of sequences of about equal
    length on the shared matrices without locks (Hogwild, as word2vec).
    """
    max_length = int(np.max(np.diff(offsets))) if offsets.size > 1 else 1
    if workers <= 1:
        work = np.empty(syn0.shape[1], dtype=np.float32)
        buffer = np.empty(max_length, dtype=np.int32)
        loss, pairs, _read = _train_range(
            tokens, offsets, 0, offsets.size - 1, syn0, syn1, table, keep, weights, negative,
            alpha, min_alpha, float(done_before), float(total), np.uint64(seed), work, buffer, with_loss,
        )
        return loss, pairs
    targets = np.linspace(0, offsets[-1], workers + 1)
    bounds = np.searchsorted(offsets, targets).astype(np.int64)
    bounds[0], bounds[-1] = 0, offsets.size - 1
    seeds = np.array([seed * 1_000_003 + w + 1 for w in range(workers)], dtype=np.uint64)
    return _train_parallel(
        tokens, offsets, bounds, syn0, syn1, table, keep, weights, negative,
        alpha, min_alpha, float(done_before), float(total), seeds, max_length,
    )
