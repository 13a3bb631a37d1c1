"""Leak-free train/test splits and the next-item pairs evaluated on the test part.

* :func:`random_split` holds out whole sequences, so no test sequence is
  partly seen in training;
* :func:`time_split` cuts events at one instant, so training never sees the
  future;
* :func:`next_item_pairs` turns test sequences into (query, target) pairs:
  given an item, predict the one that follows it.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import polars as pl

from recsys.data._schema import check_sequences
from recsys.errors import ConfigError, DataError

__all__ = ["random_split", "time_split", "next_item_pairs"]


def _check_fraction(test_fraction: float) -> None:
    if not 0.0 < test_fraction < 1.0:
        raise ConfigError(f"test_fraction must be in (0, 1), got {test_fraction}")


def random_split(
    sequences: pl.DataFrame, *, test_fraction: float = 0.1, seed: int = 42
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Hold out a random share of whole sequences.

    Distinct sequence ids are sorted, then permuted with ``seed``; the first
    ``round(test_fraction * n)`` of them (at least 1, at most ``n - 1``) are
    test sequences. The split therefore depends only on the set of ids and the
    seed, not on row order, and rows sharing an id always land on the same side.

    Parameters
    ----------
    sequences
        Frame following the sequences contract.
    test_fraction
        Share of sequence ids held out, in (0, 1).
    seed
        Seed of the permutation.

    Returns
    -------
    train, test : polars.DataFrame
        The two parts, each in the input's row order.

    Raises
    ------
    DataError
        If the frame breaks the contract or has fewer than 2 distinct
        sequence ids.
    ConfigError
        If ``test_fraction`` is not in (0, 1).
    """
    _check_fraction(test_fraction)
    sequences = check_sequences(sequences)
    ids = sequences["sequence_id"].unique().sort()
    if ids.len() < 2:
        raise DataError(
            "only 1 sequence: cannot split it into train and test",
            column="sequence_id",
            fix="provide at least 2 sequences (more for a meaningful evaluation), "
            "or check the session and min_item_count settings that removed the others",
        )
    n_test = min(max(round(test_fraction * ids.len()), 1), ids.len() - 1)
    order = np.random.default_rng(seed).permutation(ids.len())[:n_test]
    is_test = pl.col("sequence_id").is_in(ids.gather(order).implode())
    return sequences.filter(~is_test), sequences.filter(is_test)


def time_split(
    events: pl.LazyFrame | pl.DataFrame, *, test_fraction: float = 0.1
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Split events at a cut-off time: the latest share of the time range is test.

    The cut-off is ``min + (1 - test_fraction) * (max - min)`` of the
    ``timestamp`` column (rounded to the microsecond). Events strictly before
    it train; events at or after it test.

    Parameters
    ----------
    events
        Frame following the events contract (``user_id, item_id, timestamp``
        and optionally ``event_index``).
    test_fraction
        Share of the time range held out, in (0, 1).

    Returns
    -------
    train, test : polars.DataFrame
        The two parts, each in the input's row order.

    Raises
    ------
    DataError
        If there are no events, or no event falls before the cut-off (all
        timestamps equal).
    ConfigError
        If ``test_fraction`` is not in (0, 1).
    """
    _check_fraction(test_fraction)
    frame = events.collect() if isinstance(events, pl.LazyFrame) else events
    if frame.height == 0:
        raise DataError("no events to split", fix="check the events file and its column options")
    start: datetime = frame["timestamp"].min()  # type: ignore[assignment]
    end: datetime = frame["timestamp"].max()  # type: ignore[assignment]
    cutoff = start + (end - start) * (1.0 - test_fraction)
    is_train = pl.col("timestamp") < cutoff
    train = frame.filter(is_train)
    if train.height == 0:
        raise DataError(
            f"no event falls before the time-split cut-off {cutoff}",
            column="timestamp",
            fix="the events span no time; use the random split (split.method = 'random')",
        )
    return train, frame.filter(~is_train)


def next_item_pairs(test: pl.DataFrame) -> pl.DataFrame:
    """Every (item, next item) pair of every test sequence.

    Parameters
    ----------
    test
        Frame following the sequences contract.

    Returns
    -------
    polars.DataFrame
        ``sequence_id: str, position: u32, query_id: str, target_id: str``:
        for each sequence and each 0-based position ``i`` but the last,
        ``query_id = items[i]`` and ``target_id = items[i + 1]``; ordered by
        sequence (input order) then position. Sequences shorter than 2 give
        no pairs.
    """
    items = pl.col("items")
    return (
        test.filter(items.list.len() >= 2)
        .select(
            "sequence_id",
            pl.int_ranges(items.list.len() - 1, dtype=pl.UInt32).alias("position"),
            items.list.slice(0, items.list.len() - 1).alias("query_id"),
            items.list.slice(1).alias("target_id"),
        )
        .explode("position", "query_id", "target_id")
    )
