"""Streaming preparation and its cache: same sequences as in memory, reused only when nothing changed."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from recsys.config import SessionConfig
from recsys.data.prepare import cache_key, prepare_events
from recsys.data.readers import read_events
from recsys.data.sessions import sessionize
from recsys.data.synthetic_events import EventsSynthConfig, write_events
from recsys.resources import StageTimer

SMALL = EventsSynthConfig(n_events=20_000, n_items=2_000, n_topics=20)


@pytest.fixture(scope="module")
def events_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_events(tmp_path_factory.mktemp("events") / "events.parquet", SMALL)


def _prepare(path: Path, cache: Path, sessions: SessionConfig = SessionConfig(), **settings: object):
    stages = StageTimer()
    prepared = prepare_events(
        path, read=read_events, sessions=sessions, settings=settings, cache_dir=cache, stages=stages
    )
    return prepared, [record.name for record in stages.records]


def test_streaming_preparation_equals_in_memory_sessionize(events_file: Path, tmp_path: Path) -> None:
    prepared, stages = _prepare(events_file, tmp_path)
    assert stages == ["read", "sessionize"] and not prepared.cache_hit
    expected = sessionize(read_events(events_file).collect())
    assert_frame_equal(prepared.read(), expected)
    assert prepared.n_events == SMALL.n_events and prepared.n_sequences == expected.height


def test_ties_and_repeats_stream_like_in_memory(tmp_path: Path) -> None:
    csv = tmp_path / "ties.csv"
    csv.write_text(
        "user_id,item_id,timestamp\n"
        "b,x,10\nb,y,10\na,p,5\nb,y,10\na,q,5\nb,z,3000\nb,w,3001\na,p,7\n",
        encoding="utf-8",
    )
    prepared, _ = _prepare(csv, tmp_path / "cache")
    assert_frame_equal(prepared.read(), sessionize(read_events(csv)))
    assert prepared.read().rows() == [("a:1", ["p", "q", "p"]), ("b:1", ["x", "y"]), ("b:2", ["z", "w"])]


def test_cache_hit_reuses_the_parquet_file(events_file: Path, tmp_path: Path) -> None:
    first, _ = _prepare(events_file, tmp_path)
    written = first.path.stat().st_mtime_ns
    second, stages = _prepare(events_file, tmp_path)
    assert second.cache_hit and stages == ["read"]
    assert second.path == first.path and second.path.stat().st_mtime_ns == written
    assert (second.n_events, second.n_sequences) == (first.n_events, first.n_sequences)
    assert sorted(p.suffix for p in tmp_path.iterdir()) == [".json", ".parquet"]


def test_changed_setting_or_input_misses(events_file: Path, tmp_path: Path) -> None:
    first, _ = _prepare(events_file, tmp_path)
    other_gap, _ = _prepare(events_file, tmp_path, SessionConfig(gap_minutes=10))
    other_reader, _ = _prepare(events_file, tmp_path, user_column="user_id")
    assert not other_gap.cache_hit and not other_reader.cache_hit
    assert len({first.key, other_gap.key, other_reader.key}) == 3
    changed = tmp_path / "changed.parquet"
    pl.read_parquet(events_file).head(10_000).write_parquet(changed)
    moved, _ = _prepare(changed, tmp_path)
    assert not moved.cache_hit and moved.input_digest != first.input_digest
    assert cache_key("abc", {"a": 1, "b": 2}) == cache_key("abc", {"b": 2, "a": 1})
