"""The optional PySpark sessionizer gives exactly the polars sequences (skipped without pyspark)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from recsys.data.sessions import sessionize
from recsys.data.synthetic_events import EventsSynthConfig, generate_events

pytest.importorskip("pyspark")

from recsys.data.spark_sessions import local_session, sessionize_parquet  # noqa: E402


def test_spark_and_polars_sessionize_identically(tmp_path: Path) -> None:
    generated = generate_events(EventsSynthConfig(n_events=3_000, n_items=200, n_topics=10))
    t0 = datetime(2024, 1, 1)
    tricky = pl.DataFrame(  # timestamp ties, repeats, an exact-threshold gap, a lone event
        {
            "user_id": ["z", "z", "z", "z", "z", "y", "y"],
            "item_id": ["b", "a", "a", "c", "d", "q", "r"],
            "timestamp": [t0, t0, t0 + timedelta(seconds=1), t0 + timedelta(minutes=31),
                          t0 + timedelta(minutes=61), t0, t0 + timedelta(minutes=30)],
        },
        schema=generated.schema,
    )
    events = pl.concat([generated, tricky]).with_row_index("event_index").select(
        "user_id", "item_id", "timestamp", pl.col("event_index").cast(pl.UInt64)
    )
    events.write_parquet(tmp_path / "events.parquet")
    spark = local_session()
    try:
        for options in ({}, {"gap_minutes": 10.0, "max_length": 3}, {"drop_repeats": False}):
            out = sessionize_parquet(spark, tmp_path / "events.parquet", tmp_path / "out", **options)
            result = pl.read_parquet(f"{out}/*.parquet")
            assert_frame_equal(result, sessionize(events, **options), check_dtypes=False)
            assert result.schema["items"] == pl.List(pl.String)
    finally:
        spark.stop()
