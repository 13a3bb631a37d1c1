"""From events to sequences, and cleaning of sequences.

:func:`sessionize` cuts each user's events into sessions where the gap between
two events exceeds a threshold (30 minutes, the Airbnb default);
:func:`prune_rare_items` and :func:`drop_short` clean sequences. All work is
done with polars expressions, never a Python loop per user.
"""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from recsys.data._schema import SEQUENCES_SCHEMA
from recsys.errors import ConfigError

__all__ = ["sessionize", "prune_rare_items", "drop_short"]


def drop_short(sequences: pl.DataFrame, min_length: int = 2) -> pl.DataFrame:
    """Drop sequences with fewer than ``min_length`` items.

    Parameters
    ----------
    sequences
        Frame with an ``items`` list column.
    min_length
        Shortest sequence kept.

    Returns
    -------
    polars.DataFrame
        The kept rows, in their original order.
    """
    return sequences.filter(pl.col("items").list.len() >= min_length)


def _mark_sessions(events: pl.LazyFrame, gap: timedelta) -> pl.LazyFrame:
    """Sort events per user in time order and number each user's sessions from 1.

    Adds ``_start`` (the event opens a session) and ``_session``.
    """
    user, time = pl.col("user_id"), pl.col("timestamp")
    starts = user.ne_missing(user.shift()) | ((time - time.shift()) > gap).fill_null(True)
    return (
        events.sort("user_id", "timestamp", "event_index")
        .with_columns(_start=starts)
        .with_columns(_session=pl.col("_start").cum_sum().over("user_id"))
    )


def _drop_repeats(events: pl.LazyFrame) -> pl.LazyFrame:
    """Drop events that repeat the previous item of the same session."""
    item = pl.col("item_id")
    return events.filter(pl.col("_start") | item.ne_missing(item.shift()))


def sessionize(
    events: pl.LazyFrame | pl.DataFrame,
    *,
    gap_minutes: float = 30.0,
    drop_repeats: bool = True,
    max_length: int | None = None,
    min_length: int = 2,
) -> pl.DataFrame:
    """Cut each user's events into sessions and return them as sequences.

    Parameters
    ----------
    events
        The events contract: ``user_id``, ``item_id``, ``timestamp`` and
        optionally ``event_index``, which breaks timestamp ties (row order is
        used when it is absent).
    gap_minutes
        A new session starts where the gap to the user's previous event is
        strictly greater than this; a gap of exactly this length stays in the
        session.
    drop_repeats
        Remove consecutive repeats of the same item within a session.
    max_length
        Keep only the last ``max_length`` items of a session (None: all).
    min_length
        Drop sessions with fewer items than this (after removing repeats).

    Returns
    -------
    polars.DataFrame
        The sequences contract, ``sequence_id`` = ``"{user_id}:{n}"`` with
        ``n`` the 1-based session number of the user in time order; rows
        sorted by user then session. May be empty: the caller decides
        whether that is an error.

    Raises
    ------
    ConfigError
        If ``gap_minutes`` is not positive or ``max_length`` is below 1.
    """
    if gap_minutes <= 0:
        raise ConfigError(f"gap_minutes must be positive, got {gap_minutes}")
    if max_length is not None and max_length < 1:
        raise ConfigError(f"max_length must be at least 1, got {max_length}")
    lazy = events.lazy()
    if "event_index" not in lazy.collect_schema():
        lazy = lazy.with_row_index("event_index")
    marked = _mark_sessions(lazy, timedelta(minutes=gap_minutes))
    if drop_repeats:
        marked = _drop_repeats(marked)
    items = pl.col("item_id").sort_by("_position")
    if max_length is not None:
        items = items.tail(max_length)
    sequences = (
        marked.with_row_index("_position")
        .group_by("user_id", "_session")
        .agg(items.alias("items"))
        .sort("user_id", "_session")
        .select(
            pl.format("{}:{}", "user_id", "_session").alias("sequence_id"),
            pl.col("items"),
        )
        .collect()
    )
    return drop_short(sequences, min_length)


def prune_rare_items(sequences: pl.DataFrame, *, min_item_count: int) -> pl.DataFrame:
    """Drop items seen fewer than ``min_item_count`` times, then sequences left shorter than 2.

    Parameters
    ----------
    sequences
        The sequences contract.
    min_item_count
        Fewest occurrences (counted over all sequences, repeats included) an
        item needs to be kept. 1 returns ``sequences`` unchanged.

    Returns
    -------
    polars.DataFrame
        The sequences contract, in the input's order; may be empty.

    Raises
    ------
    ConfigError
        If ``min_item_count`` is below 1.
    """
    if min_item_count < 1:
        raise ConfigError(f"min_item_count must be at least 1, got {min_item_count}")
    if min_item_count == 1:
        return sequences
    kept = (
        sequences.lazy()
        .with_row_index("_row")
        .explode("items")
        .with_row_index("_position")
        .filter(pl.col("items").is_not_null() & (pl.len().over("items") >= min_item_count))
        .group_by("_row")
        .agg(pl.col("sequence_id").first(), pl.col("items").sort_by("_position"))
        .sort("_row")
        .select(list(SEQUENCES_SCHEMA))
        .collect()
    )
    return drop_short(kept)
