"""Sessionizing with PySpark, for event logs too large for one machine (extra ``recsys[spark]``).

The Spark engine of ``recsys prepare`` (:mod:`recsys.data.engines`) is made
of three parts that mirror the polars path one for one:

* :func:`spark_session`: local mode by default, a cluster with ``master``,
  or whatever ``spark-submit`` configured;
* :func:`read_events_spark`: :func:`recsys.data.readers.read_events` in
  Spark: the same file types, column options, time parsing and checks;
* :func:`sessionize_spark`: :func:`recsys.data.sessions.sessionize` written
  with window functions: the same sessions, numbered the same way, with the
  same repeats dropped and the same items kept, in the same row order.

So on the same events both engines write the same sequences (tested in
``tests/test_spark.py``).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from recsys.config import DataConfig
from recsys.data.readers import CSV_SEPARATORS, PARQUET_SUFFIXES
from recsys.errors import ConfigError, DataError, first_line

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

__all__ = ["LOCAL_MASTER", "read_events_spark", "sessionize_spark", "spark_session"]

LOCAL_MASTER = "local[*]"
"""The master used when neither ``--master``, ``spark-submit`` nor ``spark-defaults.conf`` names one."""

_SESSION_CONF = {
    "spark.sql.session.timeZone": "UTC",  # naive times are UTC, as in the polars reader
    "spark.sql.ansi.enabled": "false",  # unparseable values become null (then reported), as in polars
}
_TIME_FIX = "use unix seconds or ISO 8601 (2024-01-31T12:00:00), or set data.time_unit"
_MAX_MICROS = 253_402_300_799_999_999
"""9999-12-31T23:59:59.999999, the latest time Spark holds."""
_ISO = r"^(\d{4}-\d{1,2}-\d{1,2})(?:[T ](\d{1,2}:\d{2})(?:(:\d{2})(?:(\.\d{1,6})\d*)?\s?(Z|[+-]\d{2}(?::?\d{2})?)?)?)?$"
"""ISO 8601 as the polars reader accepts it: a date, optionally ``T`` (or a
space) and hours and minutes, optionally seconds, a fraction (digits beyond
microseconds are dropped) and a UTC offset (``Z``, ``+02``, ``+0200``,
``+02:00``, only after seconds)."""


def _quiet_pyspark() -> None:
    """PySpark warns about the pandas version on import; recsys never hands it pandas frames."""
    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)


def spark_session(
    *, master: str | None = None, conf: Mapping[str, str] | None = None, app_name: str = "recsys prepare"
) -> "SparkSession":
    """The Spark session to prepare with.

    Parameters
    ----------
    master
        ``local[4]``, ``spark://host:7077``, ``yarn``...; None uses the
        master ``spark-submit`` or ``spark-defaults.conf`` set, else
        :data:`LOCAL_MASTER`.
    conf
        More Spark settings (``spark.driver.memory``...).
    app_name
        Application name shown by the cluster.

    Returns
    -------
    pyspark.sql.SparkSession
        An active session with UTC session time and non-ANSI casts (what
        :func:`read_events_spark` relies on). An already active session is
        reused with those two settings applied.
    """
    _quiet_pyspark()
    from pyspark import SparkConf, SparkContext
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is None:
        builder = SparkSession.builder.appName(app_name)
        if master is None:
            # Start (or, under spark-submit, join) the JVM first, so that SparkConf
            # sees the master spark-submit or spark-defaults.conf set.
            SparkContext._ensure_initialized()
            master = None if SparkConf().contains("spark.master") else LOCAL_MASTER
        settings = {"spark.ui.showConsoleProgress": "false"}
        if master is not None:
            builder = builder.master(master)
        if (master or "").startswith("local"):  # Spark's 200 shuffle partitions are tiny tasks on one machine
            settings["spark.sql.shuffle.partitions"] = str(4 * (os.cpu_count() or 1))
        for key, value in {**settings, **(conf or {})}.items():
            builder = builder.config(key, value)
        active = builder.getOrCreate()
    for key, value in _SESSION_CONF.items():
        active.conf.set(key, value)
    return active


def _strip(column: "Column") -> "Column":
    """Leading and trailing whitespace removed, as polars' ``str.strip_chars()`` does."""
    from pyspark.sql import functions as F

    return F.regexp_replace(column, r"^\s+|\s+$", "")


def _from_unix(numbers: "Column", micros_per_unit: int) -> "Column":
    """Timestamp from unix time in units of ``micros_per_unit`` microseconds (half-even, as polars rounds)."""
    from pyspark.sql import functions as F

    micros = F.bround(numbers * F.lit(float(micros_per_unit)))
    valid = ~F.isnan(micros) & (F.abs(micros) <= F.lit(float(_MAX_MICROS)))
    return F.when(valid, F.timestamp_micros(micros.cast("long")))


def _parse_iso(text: "Column") -> "Column":
    """Timestamp from ISO 8601 text in the forms the polars reader accepts (others: null)."""
    from pyspark.sql import functions as F

    date, minutes = F.regexp_extract(text, _ISO, 1), F.regexp_extract(text, _ISO, 2)
    seconds, fraction = F.regexp_extract(text, _ISO, 3), F.regexp_extract(text, _ISO, 4)
    offset = F.regexp_extract(text, _ISO, 5)
    offset = F.when(offset == "Z", "+00:00").otherwise(
        F.regexp_replace(F.regexp_replace(offset, r"^([+-]\d{2})$", "$1:00"), r"^([+-]\d{2})(\d{2})$", "$1:$2")
    )
    clock = F.when(minutes == "", "00:00:00").otherwise(
        F.concat(minutes, F.when(seconds == "", ":00").otherwise(seconds), fraction)
    )
    normalised = F.concat(date, F.lit("T"), clock, offset)
    return F.when(text.rlike(_ISO), F.to_timestamp(normalised))


def _parse_time(column: str, dtype: Any, unit: str) -> "Column":
    """The time column as a timestamp, read as :func:`recsys.data.readers.read_events` reads it."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    col = F.col(column)
    if isinstance(dtype, (T.TimestampType, T.TimestampNTZType, T.DateType)):
        return col.cast("timestamp")
    micros_per_unit = 1_000 if unit == "ms" else 1_000_000
    if isinstance(dtype, T.NumericType):
        return _from_unix(col.cast("double"), micros_per_unit)
    text = _strip(col.cast("string"))
    if unit == "iso":
        return _parse_iso(text)
    epoch = _from_unix(text.cast("double"), micros_per_unit)
    return F.coalesce(epoch, _parse_iso(text)) if unit == "auto" else epoch


def _suffix(path: str) -> str:
    name = path.rstrip("/").rsplit("/", 1)[-1]
    return "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""


def _scan(spark: "SparkSession", path: str, data: DataConfig) -> "DataFrame":
    """The raw events file: CSV (every column a string) or Parquet, as the polars reader decides."""
    suffix = _suffix(path)
    if data.separator is None and suffix not in CSV_SEPARATORS:
        if suffix and suffix not in PARQUET_SUFFIXES:
            raise DataError(
                f"unknown events file type {suffix!r}",
                path=path,
                fix="use .csv, .tsv, .txt or .parquet (or a directory of Parquet parts), "
                "or set data.separator for other text files",
            )
        return spark.read.parquet(path)
    separator = data.separator if data.separator is not None else CSV_SEPARATORS[suffix]
    frame = spark.read.csv(path, sep=separator, header=data.has_header, inferSchema=False, escape='"')
    names = data.column_names or tuple(f"column_{i + 1}" for i in range(len(frame.columns)))
    if len(names) != len(frame.columns):
        raise DataError(
            f"the file has {len(frame.columns)} columns but column_names names {len(names)}: {list(names)}",
            path=path,
            fix="give one name per column (and check the separator)",
        )
    return frame.toDF(*names) if not data.has_header else frame


def _check(raw: "DataFrame", path: str, columns: dict[str, str]) -> int:
    """One pass over the events: their number, and a :class:`DataError` for the bad ones."""
    from pyspark.sql import functions as F

    problems = {
        "user_id": (F.col("user_id").isNull(), "missing user id", columns["user"]),
        "item_id": (F.col("item_id").isNull(), "missing item id", columns["item"]),
        "_no_time": (F.col("_raw_time").isNull(), "missing timestamp", columns["time"]),
        "_bad_time": (F.col("_raw_time").isNotNull() & F.col("timestamp").isNull(), "unparseable timestamp",
                      columns["time"]),
    }
    counts = raw.agg(
        F.count(F.lit(1)).alias("_rows"), *[F.sum(test.cast("long")).alias(name) for name, (test, _, _) in problems.items()]
    ).first()
    if not counts["_rows"]:
        raise DataError("empty file: no rows", path=path, fix="check the file: it should have at least one row of data")
    for name, (test, problem, column) in problems.items():
        if counts[name]:
            example = raw.filter(test).orderBy("event_index").first()
            value = example["_raw_time"] if name == "_bad_time" else None
            raise DataError(
                f"{problem} in {counts[name]:,} event(s), the first of user {example['user_id']!r}",
                path=path,
                column=column,
                value=value,
                fix=_TIME_FIX if name == "_bad_time" else "fill in or remove the rows",
            )
    return int(counts["_rows"])


def read_events_spark(spark: "SparkSession", path: str, data: DataConfig) -> tuple["DataFrame", int]:
    """Read and check an events file (or a directory or URI of Parquet parts) into the events contract.

    The Spark twin of :func:`recsys.data.readers.read_events`: the same file
    types (``.csv``, ``.tsv``/``.txt``, ``.parquet``; a directory or a URI
    without a suffix is Parquet), the same ``data`` options (column names,
    ``time_unit``, ``separator``, ``has_header``, ``column_names``) and the
    same time parsing (one exception: a leap second ``:60``, which polars
    rolls into the next minute, is unparseable here). ``event_index``, which
    breaks timestamp ties, follows the order Spark reads the input in: file
    order within one file, as in the polars reader; across the parts of a
    directory, the order Spark schedules them in.

    Parameters
    ----------
    spark
        A session from :func:`spark_session`.
    path
        Local path or URI (``s3a://``, ``hdfs://``...).
    data
        The reader options.

    Returns
    -------
    events, n_events
        The events contract (``user_id``, ``item_id``, ``timestamp``,
        ``event_index``) and the number of events.

    Raises
    ------
    DataError
        If a column is missing, the input is empty, or events have a missing
        id or a missing or unparseable timestamp (counted, with the first
        such event's user and value).
    """
    from pyspark.errors import AnalysisException
    from pyspark.sql import functions as F

    try:
        frame = _scan(spark, path, data)
    except AnalysisException as error:
        raise DataError(f"cannot read the events: {first_line(error)}", path=path,
                        fix="check the path (and that it is CSV or Parquet)") from None
    columns = {"user": data.user_column, "item": data.item_column, "time": data.time_column}
    for role, name in columns.items():
        if name not in frame.columns:
            raise DataError(f"missing {role} column; the file has columns {frame.columns}", path=path, column=name,
                            fix="set data.user_column / data.item_column / data.time_column")
    dtype = frame.schema[data.time_column].dataType
    raw = frame.select(
        _strip(F.col(data.user_column).cast("string")).alias("user_id"),
        _strip(F.col(data.item_column).cast("string")).alias("item_id"),
        _parse_time(data.time_column, dtype, data.time_unit).alias("timestamp"),
        F.monotonically_increasing_id().alias("event_index"),
        F.col(data.time_column).cast("string").alias("_raw_time"),
    )
    n_events = _check(raw, path, columns)
    return raw.drop("_raw_time"), n_events


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

