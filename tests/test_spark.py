"""The Spark engine writes exactly the polars engine's sequences, from the CLI and from spark-submit.

CI installs a Java runtime and the ``spark`` extra, so nothing here is
skipped there; a developer machine without them skips the module.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import mlflow
import polars as pl
import pytest
from click.testing import CliRunner
from polars.testing import assert_frame_equal

from recsys.cli import main
from recsys.config import DataConfig, SessionConfig
from recsys.data.readers import _events
from recsys.data.engines import prepare_sequences
from recsys.data.readers import read_sequences
from recsys.data.synthetic_events import EventsSynthConfig, generate_events
from recsys.errors import DataError

from recsys.data import spark_sessions

from conftest import require

PROJECT_ROOT = Path(__file__).resolve().parents[1]
ISO_TIMES = [
    "2024-01-31T12:00:00", "2024-01-31 12:00:00", "2024-01-31", "2024-01-31T12:00", "2024-01-31T12:00:00.123456",
    "2024-01-31T12:00:00.1234567", "2024-01-31T12:00:00Z", "2024-01-31T12:00:00+02:00", "2024-01-31T12:00:00+0200",
    "2024-01-31T12:00:00+02", "2024-01-31T12:00+02:00", "2024-01-31T12:00:00.5-05:30", "2024-1-31", "2024-01-31T1:00:00",
    "2024-01", "2024", "20240131", "2024-01-31T12:00:00 +02:00", "2024-01-31T12", "2024-02-30", "2024-01-31T25:00:00",
    "2024-01-31t12:00:00", "1706702400", "1706702400.25", " 1706702400 ", "-5", "1e9", "nan", "inf", "", "x",
]


@pytest.fixture(scope="module", autouse=True)
def _spark_installed() -> None:
    """PySpark and a Java runtime, or a skip (a failure in CI, where .ci/run installs them)."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        require("PySpark is not installed (extra recsys[spark])")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        require("no Java runtime")


@pytest.fixture(scope="module")
def spark() -> Iterator[object]:
    """One Spark session for the module, started as `recsys prepare --engine spark` starts one (local[*])."""
    session = spark_sessions.spark_session()
    yield session
    session.stop()


@pytest.fixture(scope="module")
def events_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Generated events (unix seconds) plus rows with ties, repeats, an exact-threshold gap and ISO times."""
    generated = generate_events(EventsSynthConfig(n_events=3_000, n_items=200, n_topics=10)).with_columns(
        pl.col("timestamp").dt.epoch("us").truediv(1e6).cast(pl.String)
    )
    t0 = datetime(2024, 1, 1)
    tricky = pl.DataFrame(
        {
            "user_id": ["z", "z", " z", "z", "z", "y", "y", "y", "x", "x"],
            "item_id": ["b", "a", "a ", "c", "d", "q", "r", "s", "m", "n"],
            "timestamp": [
                "2024-01-01T00:00:00", "2024-01-01 00:00:00", str((t0 + timedelta(seconds=1)).timestamp()),
                "2024-01-01T00:31:00.000001", "2024-01-01T03:01:00+02:00", "2024-01-01", "2024-01-01T00:30",
                "2024-01-01T00:30:00.5Z", "1704067200", "2024-01-01T01:00:00+01",
            ],
        }
    )
    path = tmp_path_factory.mktemp("events") / "events.csv"
    pl.concat([generated, tricky]).write_csv(path)
    return path


def _both_engines(events: Path, out: Path, *, data: DataConfig, sessions: SessionConfig) -> tuple[pl.DataFrame, ...]:
    polars_report = prepare_sequences(events, out / "polars", data=data, sessions=sessions, engine="polars")
    spark_report = prepare_sequences(events, out / "spark", data=data, sessions=sessions, engine="spark")
    assert (spark_report.n_events, spark_report.n_sequences) == (polars_report.n_events, polars_report.n_sequences)
    assert spark_report.master is not None and spark_report.master.startswith("local")
    return read_sequences(out / "polars"), read_sequences(out / "spark")


@pytest.mark.parametrize(
    "sessions",
    [SessionConfig(), SessionConfig(gap_minutes=10, max_length=3), SessionConfig(drop_repeats=False)],
    ids=["defaults", "gap-10-max-3", "keep-repeats"],
)
def test_both_engines_write_the_same_sequences(
    spark: object, events_csv: Path, tmp_path: Path, sessions: SessionConfig
) -> None:
    from_polars, from_spark = _both_engines(events_csv, tmp_path, data=DataConfig(path=events_csv), sessions=sessions)
    assert_frame_equal(from_spark, from_polars)
    assert from_spark.height > 300
    z_sessions = from_spark.filter(pl.col("sequence_id").str.starts_with("z:"))["items"].to_list()
    if sessions.drop_repeats and sessions.max_length is None:  # ties in file order, one repeat dropped, cut at 31 min
        assert z_sessions == [["b", "a"], ["c", "d"]]


def test_both_engines_agree_on_parquet_with_renamed_columns(spark: object, tmp_path: Path) -> None:
    events = generate_events(EventsSynthConfig(n_events=2_000, n_items=160, n_topics=8, seed=5))
    renamed = events.rename({"user_id": "user", "item_id": "track", "timestamp": "played_at"})
    path = tmp_path / "plays.parquet"
    renamed.with_columns(pl.col("played_at").dt.replace_time_zone("UTC").dt.convert_time_zone("Europe/Paris")).write_parquet(path)
    data = DataConfig(path=path, user_column="user", item_column="track", time_column="played_at")
    from_polars, from_spark = _both_engines(path, tmp_path, data=data, sessions=SessionConfig(gap_minutes=20))
    assert_frame_equal(from_spark, from_polars)


@pytest.mark.parametrize("unit", ["auto", "iso", "s", "ms"])
def test_spark_reads_times_as_the_polars_reader_does(spark: object, unit: str) -> None:
    from pyspark.sql.types import StringType

    frame = pl.DataFrame({"t": ISO_TIMES})
    expected = frame.select(_events._parse_time("t", pl.String(), unit).alias("timestamp"))["timestamp"].to_list()
    texts = spark.createDataFrame([(value,) for value in ISO_TIMES], "t string")  # type: ignore[attr-defined]
    parsed = texts.select(spark_sessions._parse_time("t", StringType(), unit).alias("timestamp"))
    found = [row["timestamp"] for row in parsed.collect()]
    assert found == expected
    assert sum(value is not None for value in found) >= 7


def test_spark_refuses_bad_events_and_writes_nothing(spark: object, tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text("user_id,item_id,timestamp\nu1,a,1700000000\nu1,b,yesterday\nu2,c,tomorrow\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"events.csv: column 'timestamp': unparseable timestamp in 2 event\(s\), "
                                        r"the first of user 'u1' \(value 'yesterday'\)"):
        prepare_sequences(path, tmp_path / "out", data=DataConfig(path=path), engine="spark")
    with pytest.raises(DataError, match=r"column 'song': missing item column; the file has columns \['user_id', "):
        prepare_sequences(path, tmp_path / "out", data=DataConfig(path=path, item_column="song"), engine="spark")
    assert not (tmp_path / "out").exists() and list(tmp_path.iterdir()) == [path]


def test_prepare_command_with_spark_then_train_on_the_sequences(
    spark: object, events_csv: Path, tmp_path: Path, mlflow_store: str
) -> None:
    runner = CliRunner()
    out = tmp_path / "sequences"
    prepared = runner.invoke(main, ["prepare", "--engine", "spark", "--data", str(events_csv), "--out", str(out),
                                    "--set", "sessions.gap_minutes=45"])
    assert prepared.exit_code == 0, prepared.output
    assert f"wrote {out}: " in prepared.output and "(spark, local[" in prepared.output
    assert f"next: recsys train --format sequences --data {out}" in prepared.output
    again = runner.invoke(main, ["prepare", "--engine", "spark", "--data", str(events_csv), "--out", str(out)])
    assert again.exit_code == 2 and "already exists; pass --overwrite" in again.output

    trained = runner.invoke(main, ["train", "--format", "sequences", "--data", str(out), "--name", "spark-sequences",
                                   "--set", "epochs=2", "--set", "workers=1", "--quiet"])
    assert trained.exit_code == 0, trained.output
    assert "run_id=" in trained.output
    n_sequences = read_sequences(out).height
    run = mlflow.get_run(trained.stdout.strip().splitlines()[-1].removeprefix("run_id="))
    assert run.data.metrics["data/n_sequences"] == n_sequences
    assert run.data.params["data.format"] == "sequences"


def test_spark_submit_runs_the_documented_job(events_csv: Path, tmp_path: Path) -> None:
    """`spark-submit pipelines/spark_prepare.py` as docs/scaling.md shows it, in a JVM of its own."""
    submit = Path(sys.executable).parent / "spark-submit"
    out = tmp_path / "submitted"
    env = {**os.environ, "PATH": f"{submit.parent}{os.pathsep}{os.environ['PATH']}", "PYSPARK_PYTHON": sys.executable}
    done = subprocess.run(
        [str(submit), "--master", "local[1]", str(PROJECT_ROOT / "pipelines" / "spark_prepare.py"),
         "--data", str(events_csv), "--out", str(out)],
        capture_output=True, text=True, env=env, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "(spark, local[1])" in done.stdout
    expected = prepare_sequences(events_csv, tmp_path / "polars", data=DataConfig(path=events_csv))
    assert_frame_equal(read_sequences(out), read_sequences(tmp_path / "polars"))
    assert read_sequences(out).height == expected.n_sequences
