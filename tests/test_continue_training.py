"""The parts of an incremental update: continued training (both contexts), the merged successor evidence,
and a synthetic log whose items come out over time."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from recsys.config import Item2VecConfig
from recsys.data.synthetic import two_cluster_corpus
from recsys.data.synthetic_events import EventsSynthConfig, generate_events, item_metadata
from recsys.errors import ConfigError
from recsys.item2vec import ItemVectors, continue_training, occurrences, train
from recsys.ranking import Evidence
from recsys.recommender import Recommender

CONFIGS = {
    "symmetric": Item2VecConfig(context="symmetric", epochs=10, alpha=0.025, sample=0, vector_size=16, workers=1),
    "forward": Item2VecConfig(context="forward", epochs=10, alpha=0.1, sample=0, vector_size=16, workers=1),
}


def _renamed(sequences: pl.DataFrame, prefix: str, new: str) -> pl.DataFrame:
    """Sequences with every item of group ``prefix`` numbered 10 and up renamed ``<new>N``: new items."""
    renamed = pl.element().str.replace(rf"^{prefix}(1\d)$", f"{new}$1")
    return sequences.with_columns(pl.col("items").list.eval(renamed), pl.format("new-{}", "sequence_id").alias(
        "sequence_id"))


@pytest.fixture(scope="module", params=list(CONFIGS))
def base(request: pytest.FixtureRequest) -> ItemVectors:
    """A model of two clusters of ten items each, ``a0..a9`` and ``b0..b9``, that never share a sequence."""
    return train(two_cluster_corpus(n_items_per_cluster=10, n_sequences=200, length=6), CONFIGS[request.param])


def test_new_items_learn_their_cluster_and_absent_items_keep_their_input_vectors(base: ItemVectors) -> None:
    # the new sequences hold cluster a and new items "n10".."n19" that only ever play with it
    new = _renamed(two_cluster_corpus(n_items_per_cluster=20, n_sequences=200, length=8, seed=1), "a", "n")
    new = new.filter(pl.col("items").list.first().str.contains("^[an]"))
    added = [f"n{i}" for i in range(10, 20)]
    updated = continue_training(base, new, epochs=10, alpha=base.config.alpha, new_items=added)

    assert updated.item_ids == base.item_ids + tuple(added)  # the model's rows keep their place
    assert updated.config == base.config
    b_rows = [i for i, item in enumerate(base.item_ids) if item.startswith("b")]
    # cluster b is absent from the new sequences: only the rows of played items learn input vectors
    np.testing.assert_array_equal(updated.vectors[b_rows], base.vectors[b_rows])
    assert not np.allclose(updated.vectors[: len(base)], base.vectors)
    expected = np.concatenate([base.counts, np.zeros(len(added), dtype=np.int64)]) + occurrences(new, updated.item_ids)
    np.testing.assert_array_equal(updated.counts, expected)
    recommender = Recommender(updated)
    for item in added:
        ids, _ = recommender.recommend(item, k=5, relation="similar")
        assert all(other[0] in "an" for other in ids), (item, list(ids))
    for item in [i for i in base.item_ids if i.startswith("b")]:
        ids, _ = recommender.recommend(item, k=5, relation="similar")
        assert all(other.startswith("b") for other in ids), (item, list(ids))


def test_starting_vectors_and_counts_are_used(base: ItemVectors) -> None:
    new = two_cluster_corpus(n_items_per_cluster=10, n_sequences=20, length=6, seed=2)
    start = (np.full((1, 16), 0.5, dtype=np.float32), np.full((1, 16), -0.5, dtype=np.float32))
    counts = np.arange(1, len(base) + 2)
    updated = continue_training(base, new, epochs=1, alpha=1e-6, new_items=["never-played"], new_vectors=start,
                                counts=counts)
    np.testing.assert_array_equal(updated.vectors[-1], start[0][0])  # never played: never trained as an input
    assert np.allclose(updated.context_vectors[-1], start[1][0], atol=1e-3)  # a negative now and then, at alpha ~0
    np.testing.assert_array_equal(updated.counts, counts)
    assert np.allclose(updated.vectors[: len(base)], base.vectors, atol=1e-3)  # a tiny rate barely moves anything


def test_continuing_refuses_what_it_cannot_do(base: ItemVectors) -> None:
    new = two_cluster_corpus(n_items_per_cluster=10, n_sequences=10, length=4)
    without = ItemVectors(base.item_ids, base.vectors, base.counts, base.config)
    with pytest.raises(ConfigError, match="without output vectors"):
        continue_training(without, new, epochs=1, alpha=0.01)
    with pytest.raises(ConfigError, match="new and distinct"):
        continue_training(base, new, epochs=1, alpha=0.01, new_items=["a0"])
    with pytest.raises(ConfigError, match="epochs >= 1 and alpha > 0"):
        continue_training(base, new, epochs=0, alpha=0.01)


def test_merged_evidence_is_the_evidence_of_all_sequences() -> None:
    old = two_cluster_corpus(n_items_per_cluster=10, n_sequences=60, length=6)
    new = _renamed(two_cluster_corpus(n_items_per_cluster=20, n_sequences=60, length=8, seed=3), "b", "m")
    old_ids = sorted(set(old["items"].explode().to_list()))
    catalogue = old_ids[::-1] + sorted(set(new["items"].explode().to_list()) - set(old_ids))  # another order
    both = pl.concat([old, new])
    for depth in (1000, 3):
        merged = Evidence.from_sequences(old, old_ids, depth=depth).updated(new, item_ids=old_ids, catalogue=catalogue)
        full = Evidence.from_sequences(both, catalogue, depth=depth)
        np.testing.assert_allclose(merged.totals, full.totals, rtol=1e-6)
        np.testing.assert_allclose(merged.plays, full.plays)
        assert np.diff(merged.successors.indptr).max() <= depth
        if depth == 1000:  # nothing was cut: exactly the counts of all the sequences
            assert abs(merged.successors - full.successors).max() < 1e-5


def test_synthetic_items_come_out_over_time() -> None:
    config = EventsSynthConfig(n_events=20_000, n_items=600, n_topics=20, span_days=20)
    released = config.model_copy(update={"new_items": 0.3})
    plain, events = generate_events(config), generate_events(released)
    # the same users at the same times: only the items drawn before their release changed
    assert plain.select("user_id", "timestamp").equals(events.select("user_id", "timestamp"))
    metadata = item_metadata(released)
    assert metadata.height == 600 and metadata.columns == ["item_id", "genre", "released"]
    late = metadata.filter(pl.col("released") > "2024-01-01T00:00:00")
    assert 0.2 < late.height / 600 < 0.4
    plays = events.join(metadata, on="item_id").with_columns(pl.col("timestamp").dt.to_string("%Y-%m-%dT%H:%M:%S"))
    assert plays.filter(pl.col("timestamp") < pl.col("released")).height == 0
    first_day = events.filter(pl.col("timestamp") < pl.datetime(2024, 1, 2))["item_id"].unique()
    assert not set(first_day.to_list()) & set(late.filter(pl.col("released") > "2024-01-02")["item_id"].to_list())
    # each session sticks to a topic: the genre is what its items share
    genre = dict(zip(metadata["item_id"].to_list(), metadata["genre"].to_list()))
    pairs = events.with_columns(pl.col("item_id").shift(-1).over("user_id").alias("next")).drop_nulls("next")
    same = np.mean([genre[a] == genre[b] for a, b in zip(pairs["item_id"].to_list(), pairs["next"].to_list())])
    assert same > 0.6


def test_walks_on_the_evidence_follow_what_followed_what() -> None:
    sequences = two_cluster_corpus(n_items_per_cluster=10, n_sequences=100, length=6)
    ids = sorted(set(sequences["items"].explode().to_list()))
    evidence = Evidence.from_sequences(sequences, ids)
    walks = evidence.walks(np.array([8] * 300 + [1] * 10), seed=1)
    assert len(walks) == 300 and all(walk.size == 8 for walk in walks)  # length 1 is no sequence
    names = [[ids[row] for row in walk] for walk in walks]
    assert all(len({name[0] for name in walk}) == 1 for walk in names)  # a walk never crosses clusters
    successors = evidence.successors
    for walk in walks:
        for first, then in zip(walk, walk[1:]):
            assert successors[first, then] > 0  # every step was observed
    plays = np.zeros(len(ids), dtype=np.float32)
    plays[ids.index("b3")] = 1.0  # every play on one item: every walk starts there
    skewed = Evidence(evidence.successors, evidence.totals, plays, evidence.steps, evidence.depth)
    assert {ids[walk[0]] for walk in skewed.walks(np.full(20, 3), seed=2)} == {"b3"}
    # an item nothing followed ends a walk
    dead_end = Evidence.from_sequences(pl.DataFrame({"sequence_id": ["s"], "items": [["x", "y"]]}), ["x", "y"])
    assert [walk.tolist() for walk in dead_end.walks(np.array([5, 5]), seed=0)] in ([[0, 1]] * 2, [[0, 1]])
