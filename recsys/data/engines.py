"""``recsys prepare``: events in, the sequences contract out as Parquet, with polars or Spark.

Both engines read the same events with the same options (``[data]``),
sessionize them the same way (``[sessions]``) and write the same sequences,
in the same order, as a directory of Parquet parts that ``recsys train
--format sequences`` (:func:`recsys.data.readers.read_sequences`) reads:

* ``polars``: one streaming query on this machine (``part-00000.parquet``);
* ``spark``: a Spark job, in local mode or on a cluster
  (``part-NNNNN-*.parquet`` and ``_SUCCESS``), for logs too large for one
  machine (extra ``recsys[spark]`` and a Java runtime).

A local output directory is written beside its final place and renamed into
it, so a failed run never leaves half a directory; an existing one is only
replaced with ``overwrite``. Remote outputs (``s3a://``, ``hdfs://``...)
are committed by Spark itself (``_SUCCESS`` marks a complete one).
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import polars as pl

from recsys._atomic import staged_directory
from recsys.config import DataConfig, SessionConfig
from recsys.data.load import read_configured_events
from recsys.data.sessions import sessionize_lazy
from recsys.errors import ConfigError, RecsysError, first_line

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = ["Engine", "SequencesReport", "is_local_path", "prepare_sequences"]

Engine = Literal["polars", "spark"]
"""Which engine sessionizes: ``polars`` on this machine, ``spark`` locally or on a cluster."""


@dataclass(frozen=True)
class SequencesReport:
    """What :func:`prepare_sequences` wrote."""

    path: str
    """The sequences directory (or URI)."""
    engine: Engine
    """The engine that wrote it."""
    n_events: int
    """Events read."""
    n_sequences: int
    """Sequences written."""
    seconds: float
    """Wall time, reading to the last file written."""
    master: str | None = None
    """The Spark master the job ran on (None for polars)."""


def is_local_path(location: str | Path) -> bool:
    """Whether ``location`` is a path on this machine (no ``scheme://``, or ``file://``)."""
    match = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*)://", str(location))
    return match is None or match.group(1).lower() == "file"


def _local(location: str | Path) -> Path:
    return Path(re.sub(r"^file://", "", str(location)))


def _staged_directory(target: Path, *, overwrite: bool) -> AbstractContextManager[Path]:
    """A fresh directory beside ``target``, renamed into it when the block succeeds (removed if it fails)."""
    if target.exists() and not overwrite:
        raise ConfigError(f"{target} already exists; pass --overwrite to replace it, or choose another --out")
    # not hidden: Spark skips names starting with "."; not created: the engines create their output themselves
    return staged_directory(target, hidden=False, create=False)


def _prepare_polars(events: Path, staging: Path, data: DataConfig, sessions: SessionConfig) -> tuple[int, int]:
    """Sessionize with one streaming polars query into ``staging/part-00000.parquet``; (events, sequences)."""
    frame = read_configured_events(data, events)
    n_events = int(frame.select(pl.len()).collect().item())
    staging.mkdir(parents=True)
    part = staging / "part-00000.parquet"
    sessionize_lazy(frame, **sessions.model_dump()).sink_parquet(part)  # type: ignore[arg-type]
    return n_events, int(pl.scan_parquet(part).select(pl.len()).collect().item())


def _start_spark(master: str | None, conf: Mapping[str, str] | None) -> tuple["SparkSession", bool]:
    """A Spark session, and whether it was started here (and should be stopped here)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise ConfigError(
            "--engine spark needs PySpark: pip install 'recsys[spark]' (and a Java runtime)"
        ) from None
    from recsys.data.spark_sessions import spark_session

    started = SparkSession.getActiveSession() is None
    try:
        return spark_session(master=master, conf=conf), started
    except Exception as error:  # PySpark raises its own runtime errors when Java is missing or the master is wrong
        raise RecsysError(
            f"Spark did not start ({first_line(error)}); it needs a Java runtime (Debian: apt-get install "
            "default-jre-headless, or set JAVA_HOME) and a reachable --master"
        ) from None


def _prepare_spark(
    spark: "SparkSession", events: str, target: str, data: DataConfig, sessions: SessionConfig, *, overwrite: bool
) -> tuple[int, int]:
    """Sessionize with Spark into the Parquet directory ``target``; (events, sequences)."""
    from recsys.data.spark_sessions import read_events_spark, sessionize_spark

    frame, n_events = read_events_spark(spark, events, data)
    sequences = sessionize_spark(frame, **sessions.model_dump())  # type: ignore[arg-type]
    sequences.write.mode("overwrite" if overwrite else "errorifexists").parquet(target)
    return n_events, spark.read.parquet(target).count()


def prepare_sequences(
    events: str | Path,
    out: str | Path,
    *,
    data: DataConfig,
    sessions: SessionConfig = SessionConfig(),
    engine: Engine = "polars",
    master: str | None = None,
    spark_conf: Mapping[str, str] | None = None,
    overwrite: bool = False,
) -> SequencesReport:
    """Sessionize an events log into a directory of sequences Parquet.

    Parameters
    ----------
    events
        The events: a CSV or Parquet file (Spark: also a directory of
        Parquet parts, or a URI such as ``s3a://bucket/events/``).
    out
        The directory to write (Spark: also a URI).
    data
        Reader options (column names, ``time_unit``, separator...); its
        ``path`` is not used.
    sessions
        How events become sequences.
    engine
        ``polars`` or ``spark``.
    master, spark_conf
        Spark only: the master (default: spark-submit's or
        ``spark-defaults.conf``'s, else ``local[*]``) and more settings.
    overwrite
        Replace ``out`` if it exists.

    Returns
    -------
    SequencesReport

    Raises
    ------
    DataError
        If the events break their contract (missing column, missing or
        unparseable values), as the events reader reports it.
    ConfigError
        If ``out`` exists without ``overwrite``, an option does not fit the
        engine, or PySpark is missing.
    RecsysError
        If Spark cannot start.
    """
    started = time.perf_counter()
    if engine == "polars":
        if master is not None or spark_conf:
            raise ConfigError("--master and --conf are Spark settings; use them with --engine spark")
        if not (is_local_path(events) and is_local_path(out)):
            raise ConfigError("--engine polars reads and writes local files; use --engine spark for URIs")
        with _staged_directory(_local(out), overwrite=overwrite) as staging:
            n_events, n_sequences = _prepare_polars(_local(events), staging, data, sessions)
        return SequencesReport(str(out), "polars", n_events, n_sequences, time.perf_counter() - started)
    if engine != "spark":
        raise ConfigError(f"engine must be 'polars' or 'spark', got {engine!r}")
    spark, owned = _start_spark(master, spark_conf)
    try:
        used_master = spark.sparkContext.master
        if is_local_path(out) and used_master.startswith("local"):
            with _staged_directory(_local(out), overwrite=overwrite) as staging:
                counts = _prepare_spark(spark, str(events), str(staging), data, sessions, overwrite=False)
        else:
            counts = _prepare_spark(spark, str(events), str(out), data, sessions, overwrite=overwrite)
    finally:
        if owned:
            spark.stop()
    return SequencesReport(str(out), "spark", *counts, time.perf_counter() - started, master=used_master)
