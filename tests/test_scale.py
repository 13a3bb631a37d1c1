"""The scale features: both training modes, workers, the events generator, stage records, the CLI."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from recsys import train
from recsys.config import Item2VecConfig
from recsys.data._schema import EVENTS_SCHEMA
from recsys.data.sessions import sessionize
from recsys.data.synthetic import two_cluster_corpus
from recsys.data.synthetic_events import EventsSynthConfig, generate_events, write_events
from recsys.item2vec import CORPUS_FILE_MIN_WORDS, corpus_mode, effective_workers
from recsys.recommender import Recommender
from recsys.resources import StageTimer

SMALL = EventsSynthConfig(n_events=20_000, n_items=2_000, n_topics=20)


@pytest.mark.parametrize("corpus", ["memory", "file"])
@pytest.mark.parametrize("workers", [1, 2])
def test_both_modes_pass_the_two_cluster_check(corpus: str, workers: int) -> None:
    config = Item2VecConfig(vector_size=32, epochs=10, workers=workers, corpus=corpus)
    vectors = train(two_cluster_corpus(), config)
    assert sorted(vectors.item_ids) == sorted({f"{c}{i}" for c in "ab" for i in range(20)})
    ids, _ = Recommender(vectors).recommend_many(list(vectors.item_ids), k=10)
    for item, neighbours in zip(vectors.item_ids, ids):
        assert all(str(other)[0] == item[0] for other in neighbours), (item, list(neighbours))
    assert all(r.words == 4000 and r.words_per_second > 0 for r in vectors.epochs)
    assert all(math.isnan(r.loss) for r in vectors.epochs) == (workers > 1)


def test_file_mode_is_deterministic_with_one_worker_and_maps_ids_back() -> None:
    corpus = two_cluster_corpus(n_sequences=100)
    config = Item2VecConfig(vector_size=16, epochs=3, workers=1, corpus="file")
    first, second = train(corpus, config), train(corpus, config)
    assert first.item_ids == second.item_ids
    assert (first.vectors == second.vectors).all()
    memory = train(corpus, config.model_copy(update={"corpus": "memory"}))
    assert first.item_ids == memory.item_ids and (first.counts == memory.counts).all()


def test_item_ids_with_spaces_train_from_a_file() -> None:
    corpus = two_cluster_corpus(n_sequences=40).with_columns(
        pl.col("items").list.eval(pl.lit("song ") + pl.element())
    )
    vectors = train(corpus, Item2VecConfig(vector_size=8, epochs=1, workers=1, corpus="file"))
    assert set(vectors.item_ids) == set(corpus["items"].explode().to_list())


def test_workers_default_to_the_cores_and_auto_mode_follows_size() -> None:
    assert Item2VecConfig().workers is None
    assert effective_workers(Item2VecConfig()) == len(os.sched_getaffinity(0))
    assert effective_workers(Item2VecConfig(workers=3)) == 3
    auto = Item2VecConfig(workers=2)
    assert corpus_mode(auto, CORPUS_FILE_MIN_WORDS - 1) == "memory"
    assert corpus_mode(auto, CORPUS_FILE_MIN_WORDS) == "file"
    assert corpus_mode(Item2VecConfig(workers=1), 10**9) == "memory"
    assert corpus_mode(Item2VecConfig(corpus="memory"), 10**9) == "memory"


def test_events_generator_is_deterministic_and_sessionizing_matters() -> None:
    events = generate_events(SMALL)
    assert events.schema == pl.Schema(EVENTS_SCHEMA) and events.height == SMALL.n_events
    assert events.equals(generate_events(SMALL))
    assert not events.equals(generate_events(SMALL.model_copy(update={"seed": 12})))
    assert events["timestamp"].is_sorted()
    sequences = sessionize(events)
    users = sequences["sequence_id"].str.split(":").list.first()
    assert sequences.height > 3 * users.n_unique()  # users have many sessions
    # gaps within sessions are at most 25 minutes, pauses between them over 30: any
    # threshold in between finds exactly the generated sessions
    assert sessionize(events, gap_minutes=25.5).equals(sequences)
    assert sessionize(events, gap_minutes=120).height < sequences.height
    counts = events["item_id"].value_counts(sort=True)["count"]
    assert counts[0] > 20 * counts.median()  # Zipf popularity


def test_events_config_checks() -> None:
    with pytest.raises(ValueError, match="divide"):
        EventsSynthConfig(n_items=1000, n_topics=7)
    with pytest.raises(ValueError, match="below"):
        EventsSynthConfig(max_gap_minutes=40)


def test_stage_timer_records_time_and_memory() -> None:
    timer = StageTimer()
    with timer.stage("train"):
        sum(range(1000))
    with timer.stage("read"):
        pass
    with timer.stage("train"):
        pass
    assert list(timer.totals()) == ["read", "train"]
    metrics = timer.metrics()
    assert metrics["stages/train_peak_rss_mb"] > 10 and metrics["stages/read_seconds"] >= 0
    assert timer.summary().startswith("read 0.0 s, train 0.0 s; total 0.0 s, peak memory ")


def test_cli_writes_synthetic_events(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "recsys.cli", "data", "synth", "--events", "3000", "--format", "parquet",
         "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    events = pl.read_parquet(tmp_path / "events.parquet")
    assert events.height == 3000 and events.equals(generate_events(EventsSynthConfig(n_events=3000)))
    csv = write_events(tmp_path / "events.csv", EventsSynthConfig(n_events=50), format="csv")
    assert csv.read_text().startswith("user_id,item_id,timestamp\n")
    assert pl.read_csv(csv)["timestamp"].dtype == pl.Int64
