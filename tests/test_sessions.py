"""Tests of recsys.data.sessions: sessionizing edge cases and pruning."""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from recsys.data._schema import SEQUENCES_SCHEMA
from recsys.data.sessions import drop_short, prune_rare_items, sessionize
from recsys.errors import ConfigError

T0 = datetime(2024, 1, 31, 12)


def events(rows: list[tuple[str, str, float]]) -> pl.DataFrame:
    """Events in file order from ``(user, item, seconds after T0)`` rows, no event_index."""
    return pl.DataFrame(
        {
            "user_id": [r[0] for r in rows],
            "item_id": [r[1] for r in rows],
            "timestamp": [T0 + timedelta(seconds=r[2]) for r in rows],
        },
        schema={"user_id": pl.String, "item_id": pl.String, "timestamp": pl.Datetime("us")},
    )


def sequences(rows: dict[str, list[str]]) -> pl.DataFrame:
    return pl.DataFrame(
        {"sequence_id": list(rows), "items": list(rows.values())}, schema=SEQUENCES_SCHEMA
    )


def as_dict(frame: pl.DataFrame) -> dict[str, list[str]]:
    return dict(zip(frame["sequence_id"].to_list(), frame["items"].to_list(), strict=True))


class TestSessionize:
    def test_interleaved_users_sorted_by_time(self) -> None:
        frame = events(
            [("b", "x", 10), ("a", "p", 5), ("b", "y", 0), ("a", "q", 6), ("b", "z", 20)]
        )
        assert_frame_equal(
            sessionize(frame), sequences({"a:1": ["p", "q"], "b:1": ["y", "x", "z"]})
        )

    def test_ties_keep_file_order(self) -> None:
        frame = events([("u", "c", 0), ("u", "a", 0), ("u", "b", 0)])
        assert as_dict(sessionize(frame)) == {"u:1": ["c", "a", "b"]}

    def test_ties_follow_event_index(self) -> None:
        frame = events([("u", "c", 0), ("u", "a", 0)]).with_columns(
            event_index=pl.Series([1, 0], dtype=pl.UInt64)
        )
        assert as_dict(sessionize(frame)) == {"u:1": ["a", "c"]}

    def test_gap_exactly_threshold_stays_one_session(self) -> None:
        frame = events([("u", "a", 0), ("u", "b", 1800), ("u", "c", 3600)])
        assert as_dict(sessionize(frame)) == {"u:1": ["a", "b", "c"]}

    def test_gap_over_threshold_splits(self) -> None:
        frame = events([("u", "a", 0), ("u", "b", 1), ("u", "c", 1802), ("u", "d", 1803)])
        assert as_dict(sessionize(frame)) == {"u:1": ["a", "b"], "u:2": ["c", "d"]}

    def test_custom_gap(self) -> None:
        frame = events([("u", "a", 0), ("u", "b", 61), ("u", "c", 62)])
        assert as_dict(sessionize(frame, gap_minutes=1, min_length=1)) == {
            "u:1": ["a"],
            "u:2": ["b", "c"],
        }

    def test_short_sessions_dropped_but_numbering_kept(self) -> None:
        frame = events([("u", "a", 0), ("u", "b", 4000), ("u", "c", 4001), ("v", "only", 0)])
        assert as_dict(sessionize(frame)) == {"u:2": ["b", "c"]}

    def test_consecutive_repeats(self) -> None:
        frame = events([("u", "a", 0), ("u", "a", 1), ("u", "b", 2), ("u", "a", 3), ("u", "a", 4)])
        assert as_dict(sessionize(frame)) == {"u:1": ["a", "b", "a"]}
        assert as_dict(sessionize(frame, drop_repeats=False)) == {"u:1": ["a", "a", "b", "a", "a"]}

    def test_repeats_collapsing_below_min_length(self) -> None:
        frame = events([("u", "a", 0), ("u", "a", 1)])
        assert sessionize(frame).height == 0
        assert as_dict(sessionize(frame, drop_repeats=False)) == {"u:1": ["a", "a"]}

    def test_repeat_across_sessions_kept(self) -> None:
        frame = events([("u", "a", 0), ("u", "b", 1), ("u", "b", 4000), ("u", "c", 4001)])
        assert as_dict(sessionize(frame)) == {"u:1": ["a", "b"], "u:2": ["b", "c"]}

    def test_max_length_keeps_last_items(self) -> None:
        frame = events([("u", item, i) for i, item in enumerate("abcde")])
        assert as_dict(sessionize(frame, max_length=3)) == {"u:1": ["c", "d", "e"]}

    def test_lazy_input_and_empty_result(self) -> None:
        result = sessionize(events([("u", "a", 0), ("v", "b", 0)]).lazy())
        assert_frame_equal(result, sequences({}))

    def test_bad_arguments(self) -> None:
        frame = events([("u", "a", 0)])
        with pytest.raises(ConfigError, match="gap_minutes"):
            sessionize(frame, gap_minutes=0)
        with pytest.raises(ConfigError, match="max_length"):
            sessionize(frame, max_length=0)


class TestPruneRareItems:
    def test_prunes_items_then_short_sequences(self) -> None:
        data = sequences({"1": ["a", "b", "rare", "c"], "2": ["a", "once"], "3": ["b", "c", "a"]})
        expected = sequences({"1": ["a", "b", "c"], "3": ["b", "c", "a"]})
        assert_frame_equal(prune_rare_items(data, min_item_count=2), expected)

    def test_repeats_count_as_occurrences(self) -> None:
        data = sequences({"1": ["a", "x", "a"], "2": ["a", "b"]})
        assert as_dict(prune_rare_items(data, min_item_count=3)) == {"1": ["a", "a"]}

    def test_min_count_one_is_identity(self) -> None:
        data = sequences({"1": ["a", "b"]})
        assert prune_rare_items(data, min_item_count=1) is data

    def test_bad_count(self) -> None:
        with pytest.raises(ConfigError):
            prune_rare_items(sequences({"1": ["a", "b"]}), min_item_count=0)


def test_drop_short() -> None:
    data = sequences({"1": ["a"], "2": ["a", "b"], "3": ["a", "b", "c"]})
    assert drop_short(data)["sequence_id"].to_list() == ["2", "3"]
    assert drop_short(data, min_length=3)["sequence_id"].to_list() == ["3"]


class TestSessionizeLazy:
    """The lazy query streams (``sink_parquet``) to exactly what :func:`sessionize` returns."""

    def test_sink_equals_collect(self, tmp_path) -> None:
        from recsys.data.sessions import sessionize_lazy

        frame = events(
            [("b", "x", 10), ("a", "p", 5), ("b", "y", 0), ("a", "p", 6), ("a", "q", 4000),
             ("a", "r", 4001), ("c", "only", 0), ("b", "z", 20), ("b", "z", 20)]
        )
        sessionize_lazy(frame, max_length=2).sink_parquet(tmp_path / "s.parquet")
        assert_frame_equal(pl.read_parquet(tmp_path / "s.parquet"), sessionize(frame, max_length=2))
        assert as_dict(sessionize(frame, max_length=2)) == {"a:2": ["q", "r"], "b:1": ["x", "z"]}

    def test_bad_arguments_raise_before_running(self) -> None:
        from recsys.data.sessions import sessionize_lazy

        with pytest.raises(ConfigError, match="gap_minutes"):
            sessionize_lazy(events([("u", "a", 0)]), gap_minutes=-1)
