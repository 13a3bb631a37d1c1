"""Leak-free splits and next-item pairs."""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl
import pytest

from recsys.data._schema import SEQUENCES_SCHEMA
from recsys.data.split import next_item_pairs, random_split, time_split
from recsys.errors import DataError


def _sequences(n: int) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "sequence_id": [f"s{i:03d}" for i in range(n)],
            "items": [["a", "b", str(i)] for i in range(n)],
        },
        schema=SEQUENCES_SCHEMA,
    )


def test_random_split_holds_out_whole_sequences() -> None:
    train, test = random_split(_sequences(200), test_fraction=0.1, seed=1)
    assert (train.height, test.height) == (180, 20)
    assert set(train["sequence_id"]).isdisjoint(test["sequence_id"])
    assert train.schema == test.schema == pl.Schema(SEQUENCES_SCHEMA)


def test_random_split_is_seeded_and_ignores_row_order() -> None:
    sequences = _sequences(100)
    _, test = random_split(sequences, seed=3)
    _, again = random_split(sequences.reverse(), seed=3)
    _, other = random_split(sequences, seed=4)
    assert set(test["sequence_id"]) == set(again["sequence_id"])
    assert set(test["sequence_id"]) != set(other["sequence_id"])


def test_random_split_keeps_both_sides_non_empty() -> None:
    train, test = random_split(_sequences(2), test_fraction=0.01)
    assert (train.height, test.height) == (1, 1)


def test_random_split_needs_two_sequences() -> None:
    with pytest.raises(DataError, match="at least 2 sequences"):
        random_split(_sequences(1))


def _events(seconds: list[int]) -> pl.DataFrame:
    start = datetime(2024, 1, 1)
    return pl.DataFrame(
        {
            "user_id": ["u"] * len(seconds),
            "item_id": [f"i{s}" for s in seconds],
            "timestamp": [start + timedelta(seconds=s) for s in seconds],
            "event_index": list(range(len(seconds))),
        },
        schema_overrides={"timestamp": pl.Datetime("us"), "event_index": pl.UInt64},
    )


def test_time_split_event_at_cutoff_goes_to_test() -> None:
    train, test = time_split(_events([0, 5, 9, 8, 10]).lazy(), test_fraction=0.1)
    assert train["item_id"].to_list() == ["i0", "i5", "i8"]
    assert test["item_id"].to_list() == ["i9", "i10"]


def test_time_split_needs_a_time_range() -> None:
    with pytest.raises(DataError, match="random split"):
        time_split(_events([3, 3]))


def test_next_item_pairs_hand_example() -> None:
    test = pl.DataFrame(
        {"sequence_id": ["x", "y", "z"], "items": [["a", "b", "c"], ["d"], ["e", "e"]]},
        schema=SEQUENCES_SCHEMA,
    )
    expected = pl.DataFrame(
        {
            "sequence_id": ["x", "x", "z"],
            "position": [0, 1, 0],
            "query_id": ["a", "b", "e"],
            "target_id": ["b", "c", "e"],
        },
        schema_overrides={"position": pl.UInt32},
    )
    assert next_item_pairs(test).equals(expected)
