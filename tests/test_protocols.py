"""Protocols: the cases each one builds, and that no test target leaks into training."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from recsys.config import load_pipeline_config
from recsys.data._schema import SEQUENCES_SCHEMA
from recsys.data.load import load_training_data
from recsys.data.synthetic import two_cluster_corpus
from recsys.errors import ConfigError
from recsys.evaluation.baselines import PopularBaseline, TransitionsBaseline
from recsys.evaluation.cases import EvaluationCases, build_cases, train_validation_split
from recsys.evaluation.protocol import evaluate_method, evaluate_methods

TEST = pl.DataFrame(
    {"sequence_id": ["s1", "s2", "s3"], "items": [["a", "b", "c", "d"], ["e"], ["f", "g"]]}, schema=SEQUENCES_SCHEMA
)


def _cases(protocol: str) -> list[tuple[str, int, list[str], str]]:
    return [tuple(row) for row in build_cases(TEST, protocol).to_frame().iter_rows()]  # type: ignore[arg-type]


def test_next_item_cases_are_every_consecutive_pair() -> None:
    assert _cases("next_item") == [
        ("s1", 1, ["a"], "b"), ("s1", 2, ["b"], "c"), ("s1", 3, ["c"], "d"), ("s3", 1, ["f"], "g"),
    ]


def test_last_item_cases_ask_for_the_last_item_from_the_one_before() -> None:
    assert _cases("last_item") == [("s1", 3, ["c"], "d"), ("s3", 1, ["f"], "g")]


def test_session_cases_give_the_whole_session_so_far() -> None:
    assert _cases("session") == [
        ("s1", 1, ["a"], "b"), ("s1", 2, ["a", "b"], "c"), ("s1", 3, ["a", "b", "c"], "d"), ("s3", 1, ["f"], "g"),
    ]


def test_session_contexts_hold_the_latest_items_of_the_window() -> None:
    test = pl.DataFrame({"sequence_id": ["long"], "items": [[f"i{n:02d}" for n in range(30)]]},
                        schema=SEQUENCES_SCHEMA)
    cases = build_cases(test, "session").to_frame()
    assert cases.height == 29 and cases["context"].list.len().max() == 20
    # the last case: the 20 items before the target, oldest first
    assert cases.row(-1) == ("long", 29, [f"i{n:02d}" for n in range(9, 29)], "i29")
    assert build_cases(test, "session", session_window=3).to_frame()["context"][10].to_list() == ["i08", "i09", "i10"]
    # the window is the session protocol's alone
    assert build_cases(test, "next_item", session_window=3).digest() == build_cases(test, "next_item").digest()
    with pytest.raises(ConfigError, match="session_window must be at least 1, got 0"):
        build_cases(test, "session", session_window=0)


def test_session_cases_whose_target_is_in_the_context_are_dropped() -> None:
    test = pl.DataFrame({"sequence_id": ["x", "y"], "items": [["a", "b", "a", "c", "b"], ["c", "d", "e", "c"]]},
                        schema=SEQUENCES_SCHEMA)
    assert [(s, p, t) for s, p, _, t in build_cases(test, "session").to_frame().iter_rows()] == [
        ("x", 1, "b"), ("x", 3, "c"), ("y", 1, "d"), ("y", 2, "e"),
    ]
    # a repeat from before the window is a new item to the context: [e] -> c is kept with a window of 1
    windowed = build_cases(test, "session", session_window=1).to_frame()
    assert windowed.row(-1) == ("y", 3, ["e"], "c")
    # item-to-item protocols keep every position
    assert len(build_cases(test, "next_item")) == 7


def test_unknown_protocol_is_refused() -> None:
    with pytest.raises(ConfigError, match="unknown protocol 'random'"):
        build_cases(TEST, "random")  # type: ignore[arg-type]


def test_cases_from_pairs_and_digest() -> None:
    pairs = pl.DataFrame({"query_id": ["a", "c"], "target_id": ["b", "d"]})
    cases = EvaluationCases.from_pairs(pairs)
    assert cases.single_item and len(cases) == 2
    assert cases.to_frame()["context"].to_list() == [["a"], ["c"]]
    assert cases.digest() == EvaluationCases.from_pairs(pairs).digest()
    assert cases.digest() != EvaluationCases.from_pairs(pairs.reverse()).digest()
    assert build_cases(TEST, "next_item").digest() != build_cases(TEST, "session").digest()


def test_every_method_answers_the_same_cases() -> None:
    train = pl.DataFrame({"sequence_id": ["t"], "items": [["a", "b", "c"]]}, schema=SEQUENCES_SCHEMA)
    for protocol in ("next_item", "last_item", "session"):
        results = evaluate_methods([PopularBaseline().fit(train), TransitionsBaseline().fit(train)],
                                   build_cases(TEST, protocol), ks=(1,))
        assert len({(r.n_pairs, r.cases_digest, r.protocol) for r in results}) == 1
        # d and g are unknown: c -> d and f -> g are misses in every protocol
        assert [r.n_unknown for r in results] == [2, 2]


def test_session_unknown_items_are_skipped_and_seen_items_never_recommended() -> None:
    train = pl.DataFrame({"sequence_id": ["1", "2"], "items": [["a", "b", "c"], ["b", "a", "d"]]},
                         schema=SEQUENCES_SCHEMA)
    test = pl.DataFrame({"sequence_id": ["x"], "items": [["a", "zz", "b", "a", "c"]]}, schema=SEQUENCES_SCHEMA)
    popular = PopularBaseline().fit(train)  # a=2, b=2, c=1, d=1
    # targets: zz (unknown), b after [a, zz], c after [a, zz, b, a]; a after [a, zz, b] repeats and is dropped
    cases = build_cases(test, "session")
    assert len(cases) == 3
    seen = evaluate_method(popular, cases, ks=(1, 4))
    assert seen.n_unknown == 1
    # [a, zz] -> b is the best unseen item: hit at 1; [a, zz, b, a] -> c: a and b are masked, c beats d by id
    np.testing.assert_array_equal(seen.ranks, [0, 1, 1])
    only_current = evaluate_method(popular, cases, ks=(1, 4), exclude_seen=False)
    # only a (the current item) is masked: b ranks first again, c second
    np.testing.assert_array_equal(only_current.ranks, [0, 1, 2])


def test_random_split_never_puts_a_test_sequence_in_training(synthetic_files: tuple[Path, Path]) -> None:
    playlists, _ = synthetic_files
    config = load_pipeline_config(base={"data": {"path": str(playlists)}})
    prepared = load_training_data(config)
    assert not set(prepared.train["sequence_id"]) & set(prepared.test["sequence_id"])
    # every target of every case comes from a held-out sequence
    cases = build_cases(prepared.test, "session").to_frame()
    assert set(cases["sequence_id"]) <= set(prepared.test["sequence_id"])


def test_validation_split_is_carved_from_training_only() -> None:
    corpus = two_cluster_corpus(n_sequences=100)
    from recsys.data.split import random_split

    train, test = random_split(corpus, test_fraction=0.2, seed=1)
    fit, validation = train_validation_split(train, validation_fraction=0.25, seed=3)
    assert fit.height + validation.height == train.height and validation.height == 20
    ids = {name: set(frame["sequence_id"]) for name, frame in
           {"fit": fit, "validation": validation, "test": test}.items()}
    assert not ids["fit"] & ids["validation"] and not (ids["fit"] | ids["validation"]) & ids["test"]


def test_time_split_trains_strictly_before_the_test_events(tmp_path: Path) -> None:
    # each item is named by its time, so the sequences show which side of the cut-off they are
    times = [1_000_000 + u * 5_000 + s * 60 for u in range(20) for s in range(5)]
    rows = ["user_id,item_id,timestamp"] + [f"u{i // 5},{t},{t}" for i, t in enumerate(times)]
    events = tmp_path / "events.csv"
    events.write_text("\n".join(rows) + "\n", encoding="utf-8")
    config = load_pipeline_config(base={"data": {"path": str(events), "format": "events"},
                                        "split": {"method": "time", "test_fraction": 0.3}})
    prepared = load_training_data(config)
    cutoff = min(times) + 0.7 * (max(times) - min(times))
    train_times = [int(i) for items in prepared.train["items"].to_list() for i in items]
    test_times = [int(i) for items in prepared.test["items"].to_list() for i in items]
    assert train_times and test_times
    assert max(train_times) < cutoff <= min(test_times)


def test_file_split_reads_train_and_test_files(tmp_path: Path) -> None:
    header = "SessionId\tItemId\tTime\n"
    (tmp_path / "train.txt").write_text(header + "1\ta\t10\n1\tb\t20\n2\tb\t30\n2\tc\t40\n", encoding="utf-8")
    (tmp_path / "test.txt").write_text(header + "3\ta\t50\n3\tc\t60\n", encoding="utf-8")
    options = {"path": str(tmp_path / "train.txt"), "test_path": str(tmp_path / "test.txt"), "format": "events",
               "user_column": "SessionId", "item_column": "ItemId", "time_column": "Time"}
    prepared = load_training_data(load_pipeline_config(base={"data": options, "split": {"method": "file"}}))
    assert prepared.train["items"].to_list() == [["a", "b"], ["b", "c"]]
    assert prepared.test["items"].to_list() == [["a", "c"]]
    assert prepared.counts["events"] == 6
    with pytest.raises(ConfigError, match="go together"):
        load_pipeline_config(base={"data": options})
