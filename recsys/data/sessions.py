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

__all__ = ["sessionize", "sessionize_lazy", "prune_rare_items", "drop_short"]


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


def _session_numbers(events: pl.LazyFrame, gap: timedelta) -> pl.LazyFrame:
    """Sort events per user in time order and number the sessions.

    Adds ``_start`` (the event opens a session), ``_sid`` (a session number
    that increases in user then time order, unique over all users) and
    ``_n`` (the 1-based session number within the user). Only running sums
    and fills over the sorted frame: no per-user window, so it streams.
    """
    user, time, sid = pl.col("user_id"), pl.col("timestamp"), pl.col("_sid")
    new_user = user.ne_missing(user.shift()).fill_null(True)
    starts = new_user | ((time - time.shift()) > gap).fill_null(True)
    # Sorting 10^7 strings is slow: sort by time, then (stably) by a dense
    # integer code of the user that follows the users' string order.
    codes = events.select(user.unique()).sort("user_id").with_row_index("_user")
    return (
        events.sort("timestamp", "event_index")
        .join(codes, on="user_id", maintain_order="left")
        .sort("_user", maintain_order=True)
        .with_columns(_new_user=new_user, _start=starts)
        .with_columns(_sid=pl.col("_start").cum_sum())
        .with_columns(_n=sid - pl.when(pl.col("_new_user")).then(sid).forward_fill() + 1)
    )


def _drop_repeats(events: pl.LazyFrame) -> pl.LazyFrame:
    """Drop events that repeat the previous item of the same session."""
    item = pl.col("item_id")
    return events.filter(pl.col("_start") | item.ne_missing(item.shift()))


def _check_session_options(gap_minutes: float, max_length: int | None) -> None:
    if gap_minutes <= 0:
        raise ConfigError(f"gap_minutes must be positive, got {gap_minutes}")
    if max_length is not None and max_length < 1:
        raise ConfigError(f"max_length must be at least 1, got {max_length}")


def sessionize_lazy(
    events: pl.LazyFrame | pl.DataFrame,
    *,
    gap_minutes: float = 30.0,
    drop_repeats: bool = True,
    max_length: int | None = None,
    min_length: int = 2,
) -> pl.LazyFrame:
    """The query of :func:`sessionize`, not yet run.

    Sink it (``sink_parquet``) to sessionize more events than fit in memory
    twice over; collecting it gives exactly :func:`sessionize`'s frame.
    Parameters, result and errors are those of :func:`sessionize`.
    """
    _check_session_options(gap_minutes, max_length)
    lazy = events.lazy()
    if "event_index" not in lazy.collect_schema():
        lazy = lazy.with_row_index("event_index")
    marked = _session_numbers(lazy, timedelta(minutes=gap_minutes))
    if drop_repeats:
        marked = _drop_repeats(marked)
    # the streaming engine does not promise the order within a group: sort explicitly
    items = pl.col("item_id").sort_by("_position")
    if max_length is not None:
        items = items.tail(max_length)
    return (
        marked.with_row_index("_position")
        .group_by("_sid")
        .agg(pl.col("user_id").first(), pl.col("_n").first(), items.alias("items"))
        .filter(pl.col("items").list.len() >= min_length)
        .sort("_sid")
        .select(
            pl.format("{}:{}", "user_id", "_n").alias("sequence_id"),
            pl.col("items"),
        )
    )


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

    See Also
    --------
    sessionize_lazy : the same as a lazy query, to stream to Parquet.
    """
    return sessionize_lazy(
        events, gap_minutes=gap_minutes, drop_repeats=drop_repeats, max_length=max_length, min_length=min_length
    ).collect()


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
