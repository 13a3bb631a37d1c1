"""item2vec training: known answers, determinism, save/load without pickle."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from recsys import train
from recsys.config import Item2VecConfig
from recsys.data.synthetic import two_cluster_corpus
from recsys.errors import ConfigError, DataError, ModelLoadError
from recsys.item2vec import ItemVectors
from recsys.item2vec import train as train_exactly
from recsys.recommender import Recommender

FAST = Item2VecConfig(vector_size=32, epochs=10, workers=1)


def test_two_clusters_never_neighbours() -> None:
    vectors = train(two_cluster_corpus(), FAST)
    recommender = Recommender(vectors)
    for item in vectors.item_ids:
        ids, _ = recommender.recommend(item, k=10)
        assert len(ids) == 10
        assert all(other[0] == item[0] for other in ids), (item, list(ids))


def test_default_synthetic_neighbours_share_genre(synthetic: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    sequences, metadata = synthetic
    vectors = train(sequences, Item2VecConfig())
    genre = dict(zip(metadata["item_id"].to_list(), metadata["genre"].to_list()))
    ids, _ = Recommender(vectors).recommend_many(list(vectors.item_ids), k=10)
    same = np.vectorize(genre.get)(ids) == np.array([genre[i] for i in vectors.item_ids])[:, None]
    share = float(same.mean())
    print(f"share of top-10 neighbours with the query's genre: {share:.3f}")
    assert share >= 0.80


def test_training_is_deterministic_with_one_worker() -> None:
    corpus = two_cluster_corpus(n_sequences=100)
    first = train(corpus, FAST)
    second = train(corpus, FAST)
    assert first.item_ids == second.item_ids
    np.testing.assert_array_equal(first.vectors, second.vectors)
    other_seed = train(corpus, FAST.model_copy(update={"seed": 7}))
    assert not np.array_equal(first.vectors, other_seed.vectors)


def test_epoch_reports_and_counts() -> None:
    corpus = two_cluster_corpus(n_sequences=100)
    seen = []
    vectors = train(corpus, FAST, on_epoch=seen.append)
    assert [r.epoch for r in seen] == list(range(1, FAST.epochs + 1))
    assert all(r.loss > 0 and r.seconds >= 0 for r in seen)
    assert seen[-1].loss < seen[0].loss
    assert vectors.counts.sum() == corpus["items"].list.len().sum()
    assert vectors.vectors.dtype == np.float32
    assert vectors.context_vectors is not None and vectors.context_vectors.shape == vectors.vectors.shape


def test_whole_sequence_mode_trains() -> None:
    config = FAST.model_copy(update={"whole_sequence": True, "window": 2})
    vectors = train(two_cluster_corpus(), config)
    ids, _ = Recommender(vectors).recommend("a0", k=10)
    assert all(i.startswith("a") for i in ids)


def test_save_load_round_trip(tmp_path) -> None:
    vectors = train(two_cluster_corpus(n_sequences=60), FAST)
    path = vectors.save(tmp_path / "model")
    assert sorted(p.name for p in path.iterdir()) == [
        "config.json", "context_vectors.npy", "items.parquet", "manifest.json", "vectors.npy"
    ]
    loaded = ItemVectors.load(path)
    assert loaded.digest == vectors.digest
    assert loaded.item_ids == vectors.item_ids
    np.testing.assert_array_equal(loaded.vectors, vectors.vectors)
    np.testing.assert_array_equal(loaded.context_vectors, vectors.context_vectors)
    np.testing.assert_array_equal(loaded.counts, vectors.counts)
    assert loaded.config == vectors.config
    # saving again replaces the directory and leaves no staging directories behind
    vectors.save(path)
    assert [p.name for p in tmp_path.iterdir()] == ["model"]


def test_load_refuses_missing_or_corrupt(tmp_path) -> None:
    with pytest.raises(ModelLoadError, match="not an item-vectors directory"):
        ItemVectors.load(tmp_path)
    vectors = train(two_cluster_corpus(n_sequences=60), FAST)
    path = vectors.save(tmp_path / "model")
    (path / "config.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ModelLoadError, match="config.json: does not match the SHA-256"):
        ItemVectors.load(path)
    (path / "manifest.json").unlink()  # a model saved before manifests: parsed without the check
    with pytest.raises(ModelLoadError, match="corrupt"):
        ItemVectors.load(path)


def test_min_count_too_high_is_a_data_error() -> None:
    with pytest.raises(DataError, match="min_count=1000"):
        train(two_cluster_corpus(n_sequences=10), FAST.model_copy(update={"min_count": 1000}))


def test_the_trainer_trains_only_a_resolved_configuration() -> None:
    """recsys.item2vec.train trains exactly what it is given; recsys.train sets the unset options from the data."""
    corpus = two_cluster_corpus(n_sequences=60)
    with pytest.raises(ConfigError, match=r"item2vec option\(s\) context, epochs, alpha, sample unset"):
        train_exactly(corpus, Item2VecConfig(vector_size=8))
    resolved = train(corpus, Item2VecConfig(vector_size=8, epochs=2, workers=1)).config
    assert all(getattr(resolved, name) is not None for name in ("context", "epochs", "alpha", "sample", "relation"))
    again = train_exactly(corpus, resolved)
    assert again.config == resolved and again.item_ids
