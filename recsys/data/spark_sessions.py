"""Sessionizing with PySpark, for event logs too large for one machine (extra ``recsys[spark]``).

:func:`sessionize_spark` is :func:`recsys.data.sessions.sessionize` written
with Spark window functions: the same sessions, numbered the same way, with
the same repeats dropped and the same items kept. A cluster job reads the
events contract from Parquet, sessionizes billions of events and writes the
sequences contract back to Parquet (:func:`sessionize_parquet`); training
then reads that file on one large machine (see docs/scaling.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from recsys.errors import ConfigError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["sessionize_spark", "sessionize_parquet", "local_session"]


def local_session(threads: int = 1) -> "SparkSession":
    """A local Spark session in UTC with a small shuffle, for tests and single machines."""
    from pyspark.sql import SparkSession

    return (
        SparkSession.builder.master(f"local[{threads}]")
        .appName("recsys")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", str(max(threads, 1) * 2))
        .config("spark.ui.enabled", "false")
        .getOrCreate()
    )


def sessionize_spark(
    events: "DataFrame",
    *,
    gap_minutes: float = 30.0,
    drop_repeats: bool = True,
    max_length: int | None = None,
    min_length: int = 2,
) -> "DataFrame":
    """Cut each user's events into sessions, as :func:`recsys.data.sessions.sessionize` does.

    Parameters
    ----------
    events
        Spark frame with the events contract: ``user_id``, ``item_id``,
        ``timestamp`` and ``event_index`` (which breaks timestamp ties).
    gap_minutes, drop_repeats, max_length, min_length
        As for :func:`recsys.data.sessions.sessionize`.

    Returns
    -------
    pyspark.sql.DataFrame
        The sequences contract (``sequence_id``, ``items``) ordered by user
        then session, ``sequence_id`` = ``"{user_id}:{n}"``.

    Raises
    ------
    ConfigError
        If ``gap_minutes`` is not positive or ``max_length`` is below 1.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    if gap_minutes <= 0:
        raise ConfigError(f"gap_minutes must be positive, got {gap_minutes}")
    if max_length is not None and max_length < 1:
        raise ConfigError(f"max_length must be at least 1, got {max_length}")
    gap_micros = round(gap_minutes * 60 * 1_000_000)
    order = Window.partitionBy("user_id").orderBy("timestamp", "event_index")
    micros = F.unix_micros(F.col("timestamp").cast("timestamp"))
    marked = events.withColumn("_micros", micros).withColumn(
        "_start", F.coalesce(F.col("_micros") - F.lag("_micros").over(order) > gap_micros, F.lit(True))
    )
    marked = marked.withColumn(
        "_n", F.sum(F.col("_start").cast("long")).over(order.rowsBetween(Window.unboundedPreceding, 0))
    )
    if drop_repeats:
        repeat = F.coalesce(F.col("item_id") == F.lag("item_id").over(order), F.lit(False))
        marked = marked.withColumn("_repeat", repeat).filter(F.col("_start") | ~F.col("_repeat"))
    ordered = F.sort_array(F.collect_list(F.struct("timestamp", "event_index", "item_id")))
    items = F.transform(ordered, lambda event: event["item_id"])
    if max_length is not None:
        items = F.when(F.size(items) > max_length, F.slice(items, -max_length, max_length)).otherwise(items)
    return (
        marked.groupBy("user_id", "_n")
        .agg(items.alias("items"))
        .filter(F.size("items") >= min_length)
        .orderBy("user_id", "_n")
        .select(F.concat_ws(":", "user_id", F.col("_n").cast("string")).alias("sequence_id"), "items")
    )


def sessionize_parquet(
    spark: "SparkSession",
    events_path: str | Path,
    output_path: str | Path,
    *,
    gap_minutes: float = 30.0,
    drop_repeats: bool = True,
    max_length: int | None = None,
) -> Path:
    """Read events Parquet, sessionize with Spark and write sequences Parquet (a directory of parts).

    The events file must follow the events contract (as written by
    ``recsys data synth --events`` or a reader); without an ``event_index``
    column ties are broken by the file's row order within each part.

    Returns
    -------
    pathlib.Path
        ``output_path``; read it with ``polars.read_parquet(f"{output_path}/*.parquet")``.
    """
    from pyspark.sql import functions as F

    events = spark.read.parquet(str(events_path))
    if "event_index" not in events.columns:
        events = events.withColumn("event_index", F.monotonically_increasing_id())
    sequences = sessionize_spark(events, gap_minutes=gap_minutes, drop_repeats=drop_repeats, max_length=max_length)
    sequences.write.mode("overwrite").parquet(str(output_path))
    return Path(output_path)
