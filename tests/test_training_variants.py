"""One contract for every way item2vec trains: symmetric (gensim) and forward (the numba kernel).

Both return the same :class:`ItemVectors`; both must keep two clusters that
never co-occur apart, repeat exactly with a fixed seed, survive save/load,
report their epochs and refuse what they cannot train.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from recsys import train
from recsys.config import Item2VecConfig
from recsys.data.split import next_item_pairs, random_split
from recsys.data.synthetic import two_cluster_corpus
from recsys.data.synthetic_replay import ReplayConfig, generate_replays
from recsys.errors import DataError, TrainingDivergedError
from recsys.evaluation.methods import Item2VecMethod
from recsys.evaluation.protocol import evaluate_method
from recsys.item2vec import ItemVectors, distance_weights, keep_probabilities, negative_table
from recsys.recommender import Recommender

CONTEXTS = ("symmetric", "forward")


def _config(context: str, **options: object) -> Item2VecConfig:
    return Item2VecConfig(**{"context": context, "vector_size": 32, "epochs": 10, "workers": 1, **options})


@pytest.fixture(params=CONTEXTS)
def context(request: pytest.FixtureRequest) -> str:
    return request.param


def test_two_clusters_stay_apart_in_both_relations(context: str) -> None:
    vectors = train(two_cluster_corpus(), _config(context))
    recommender = Recommender(vectors)
    for relation in ("similar", "next"):
        ids, _ = recommender.recommend_many(list(vectors.item_ids), k=10, relation=relation)
        clusters = np.vectorize(lambda item: item[0])(ids)
        own = np.array([item[0] for item in vectors.item_ids])[:, None]
        assert (clusters == own).all(), relation


def test_a_fixed_seed_repeats_and_another_seed_differs(context: str) -> None:
    corpus = two_cluster_corpus(n_sequences=100)
    first, second = train(corpus, _config(context)), train(corpus, _config(context))
    assert first.item_ids == second.item_ids
    np.testing.assert_array_equal(first.vectors, second.vectors)
    np.testing.assert_array_equal(first.context_vectors, second.context_vectors)
    assert not np.array_equal(first.vectors, train(corpus, _config(context, seed=7)).vectors)


def test_save_load_round_trip_keeps_everything(context: str, tmp_path: Path) -> None:
    vectors = train(two_cluster_corpus(n_sequences=60), _config(context))
    loaded = ItemVectors.load(vectors.save(tmp_path / "model"))
    assert loaded.item_ids == vectors.item_ids
    np.testing.assert_array_equal(loaded.vectors, vectors.vectors)
    np.testing.assert_array_equal(loaded.context_vectors, vectors.context_vectors)
    np.testing.assert_array_equal(loaded.counts, vectors.counts)
    assert loaded.config == vectors.config and loaded.config.context == context


def test_epochs_are_reported_with_a_falling_loss(context: str) -> None:
    corpus = two_cluster_corpus(n_sequences=100)
    seen = []
    vectors = train(corpus, _config(context), on_epoch=seen.append)
    assert [r.epoch for r in seen] == list(range(1, 11))
    assert seen[-1].loss < seen[0].loss
    assert all(r.words == corpus["items"].list.len().sum() for r in seen)
    assert vectors.counts.sum() == corpus["items"].list.len().sum()
    assert vectors.vectors.dtype == np.float32 and vectors.context_vectors.shape == vectors.vectors.shape


def test_several_workers_train_without_loss(context: str) -> None:
    vectors = train(two_cluster_corpus(n_sequences=100), _config(context, workers=2))
    assert len(vectors.epochs) == 10 and all(np.isnan(r.loss) for r in vectors.epochs)
    assert np.isfinite(vectors.vectors).all()


def test_min_count_drops_rare_items(context: str) -> None:
    corpus = pl.DataFrame({"sequence_id": ["a", "b", "c"],
                           "items": [["x", "y", "rare"], ["x", "y", "z"], ["y", "x", "z"]]})
    vectors = train(corpus, _config(context, min_count=2))
    assert set(vectors.item_ids) == {"x", "y", "z"}
    with pytest.raises(DataError, match="min_count=9"):
        train(corpus, _config(context, min_count=9))


def test_empty_input_is_refused(context: str) -> None:
    empty = pl.DataFrame({"sequence_id": [], "items": []}, schema={"sequence_id": pl.String, "items": pl.List(pl.String)})
    with pytest.raises(DataError):
        train(empty, _config(context))


def test_vectors_that_are_not_finite_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    import recsys.item2vec._forward

    def poisoned_epoch(tokens, offsets, syn0, *args, **kwargs):  # type: ignore[no-untyped-def]
        syn0[0, 0] = np.inf
        return 0.0, 0

    monkeypatch.setattr(recsys.item2vec._forward, "train_epoch", poisoned_epoch)
    with pytest.raises(TrainingDivergedError, match="alpha=0.5"):
        train(two_cluster_corpus(n_sequences=20), _config("forward", alpha=0.5))


def _next_is_first_share(vectors: ItemVectors, chain: list[str]) -> float:
    recommender = Recommender(vectors)
    hits = [recommender.recommend(a, k=1, relation="next")[0][0] == b for a, b in zip(chain, chain[1:])]
    return float(np.mean(hits))


def test_forward_context_tells_what_comes_after_from_what_comes_before() -> None:
    # every sequence walks the chain c0 -> c1 -> ... -> c9: the item before c5 is exactly as
    # close to it as the item after, and only the forward context can tell them apart
    chain = [f"c{i}" for i in range(10)]
    rows = [chain] * 300
    corpus = pl.DataFrame({"sequence_id": [f"s{i}" for i in range(len(rows))], "items": rows})
    forward = train(corpus, Item2VecConfig(context="forward", vector_size=16, epochs=30, alpha=0.1, workers=1))
    symmetric = train(corpus, Item2VecConfig(context="symmetric", vector_size=16, epochs=30, workers=1))
    assert _next_is_first_share(forward, chain) == 1.0
    assert _next_is_first_share(symmetric, chain) < 1.0


def test_forward_context_ranks_replayed_albums_better() -> None:
    sequences, _ = generate_replays(ReplayConfig(n_listeners=5, sessions_per_listener=60, n_albums=60, seed=2))
    fit, test = random_split(sequences, test_fraction=0.2, seed=1)
    pairs = next_item_pairs(test).select("query_id", "target_id")
    scores = {}
    for context, alpha in (("forward", 0.1), ("symmetric", 0.025)):
        vectors = train(fit, Item2VecConfig(context=context, vector_size=32, epochs=40, alpha=alpha, workers=1))
        scores[context] = evaluate_method(Item2VecMethod.from_vectors(vectors, relation="next"), pairs,
                                          ks=(10,)).metrics["ndcg_at_10"]
    assert scores["forward"] > scores["symmetric"] + 0.05, scores


def test_distance_weights_fall_with_the_square_of_the_distance() -> None:
    np.testing.assert_allclose(distance_weights(3), [1.0, 0.25, 1 / 9], rtol=1e-6)


def test_down_sampling_keeps_rare_items_and_thins_popular_ones() -> None:
    counts = np.array([10_000, 10, 1])  # shares 99.9%, 0.1% and 0.01% against sample=1e-3
    keep = keep_probabilities(counts, 1e-3)
    assert keep[2] == 1.0 and keep[1] == 1.0 and 0.0 < keep[0] < 0.05
    assert (keep_probabilities(counts, 0.0) == 1.0).all()


def test_negative_table_follows_the_smoothed_counts() -> None:
    table = negative_table(np.array([81, 16, 1]), 0.5)
    shares = np.bincount(table, minlength=3) / table.size
    np.testing.assert_allclose(shares, np.array([9, 4, 1]) / 14, atol=1e-4)
    assert (np.bincount(negative_table(np.array([10**9, 1]), 1.0)) >= 1).all()


_CACHE_CHECK = """
from recsys.config import Item2VecConfig
from recsys.data.synthetic import two_cluster_corpus
from recsys.item2vec import _kernel, train

corpus = two_cluster_corpus(n_sequences=40)
for workers in (1, 2):
    for sample in (0.0, 1e-3):
        train(corpus, Item2VecConfig(context="forward", epochs=2, workers=workers, alpha=0.025, sample=sample))
kernels = (_kernel._train_range, _kernel._train_parallel)
print(sum(sum(k.stats.cache_hits.values()) for k in kernels), sum(sum(k.stats.cache_misses.values()) for k in kernels))
"""


def test_compiled_kernels_are_what_training_loads(tmp_path: Path) -> None:
    # the install step compiles the forward kernel ahead; real training (one worker and several,
    # with and without down-sampling) must then find every signature it asks for in the cache
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    compiled = "from recsys.item2vec import compile_kernels; compile_kernels()"
    subprocess.run([sys.executable, "-c", compiled], env=env, check=True)
    assert any(tmp_path.rglob("*.nbi")), "compile_kernels wrote no cache index"
    found = subprocess.run([sys.executable, "-c", _CACHE_CHECK], env=env, check=True, capture_output=True, text=True)
    hits, misses = map(int, found.stdout.split())
    assert misses == 0 and hits >= 2
