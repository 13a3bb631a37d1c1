"""Recommender: known answers, the item itself never returned, filters, sessions, fallbacks, errors."""

from __future__ import annotations

import pickle

import mlflow
import numpy as np
import polars as pl
import pytest

import recsys.recommender._spaces
from recsys import Recommender, tracking, train
from recsys.config import Item2VecConfig
from recsys.data.synthetic import SynthConfig, generate_playlists, two_cluster_corpus
from recsys.errors import ConfigError, UnknownItemError
from recsys.item2vec import ItemVectors
from recsys.recommender import Recommendations

FAST = Item2VecConfig(vector_size=32, epochs=10, workers=1, relation="similar")  # "next": tests/test_relations.py


@pytest.fixture(scope="module")
def corpus() -> pl.DataFrame:
    return two_cluster_corpus()


@pytest.fixture(scope="module")
def vectors(corpus: pl.DataFrame) -> ItemVectors:
    return train(corpus, FAST)


@pytest.fixture(scope="module", params=["exact", "table", "hnsw"])
def recommender(request: pytest.FixtureRequest, vectors: ItemVectors) -> Recommender:
    """The same model answering by exact search, by table lookup and by HNSW."""
    if request.param == "exact":
        return Recommender(vectors)
    if request.param == "table":
        return Recommender(vectors).prepare()
    return Recommender(vectors, index="hnsw").prepare()


def test_search_modes(recommender: Recommender) -> None:
    assert recommender.search_mode in ("exact", "table", "hnsw")
    assert (recommender.ann_report is not None) == (recommender.search_mode == "hnsw")


def test_two_clusters_are_never_each_others_neighbours(recommender: Recommender) -> None:
    for item in recommender.item_ids:
        ids, scores = recommender.recommend(item, k=10)
        assert len(ids) == 10 and all(other[0] == item[0] for other in ids), (item, ids)
        assert (np.diff(scores) <= 1e-6).all()
    session = recommender.for_session(["a1", "a2", "a3"], k=10)
    assert all(item.startswith("a") for item in session.item_ids)


def test_answers_equal_exact_search(recommender: Recommender, vectors: ItemVectors) -> None:
    """Same scores as exact search (ids may swap only where scores tie to float32 rounding)."""
    exact = Recommender(vectors)
    unit = exact.vectors
    for row, item in enumerate(vectors.item_ids):
        got, expected = recommender.recommend(item, k=10), exact.recommend(item, k=10)
        np.testing.assert_allclose(got.scores, expected.scores, atol=1e-5)
        true_scores = unit[[vectors.item_ids.index(i) for i in got.item_ids]] @ unit[row]
        np.testing.assert_allclose(got.scores, true_scores, atol=1e-5)


def test_the_item_itself_is_never_returned(recommender: Recommender) -> None:
    everything = len(recommender) - 1
    for k in (1, 10, everything, everything + 5):
        ids, _ = recommender.recommend("a3", k=k)
        assert "a3" not in ids and len(ids) == min(k, everything)
    many, _ = recommender.recommend_many(list(recommender.item_ids), k=5)
    assert not (many == np.array(recommender.item_ids, dtype=object)[:, None]).any()


def test_k_beyond_the_table_depth_falls_back_to_search(vectors: ItemVectors, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(recsys.recommender._spaces, "TABLE_DEPTH", 3)
    prepared = Recommender(vectors).prepare()
    assert prepared.search_mode == "table"
    assert list(prepared.recommend("b2", k=8)[0]) == list(Recommender(vectors).recommend("b2", k=8)[0])


def test_filters(recommender: Recommender) -> None:
    plain, _ = recommender.recommend("a0", k=5)
    without, _ = recommender.recommend("a0", k=5, exclude=list(plain[:2]) + ["not-an-item"])
    assert list(without[:3]) == list(plain[2:]) and not set(plain[:2]) & set(without)
    only, _ = recommender.recommend("a0", k=5, include_only=["b1", "b2", "a0", "unknown"])
    assert sorted(only) == ["b1", "b2"]
    both, _ = recommender.recommend("a0", k=5, include_only=["b1", "b2", "b3"], exclude=["b2"])
    assert sorted(both) == ["b1", "b3"]
    batch, _ = recommender.recommend_many(["a0", "b0"], k=3, include_only=["a5", "b5"])
    assert list(batch[0]) == ["a5", "b5", None] or list(batch[0]) == ["b5", "a5", None]
    session, _ = recommender.for_session(["a0", "a1"], k=3, exclude=list(plain))
    assert not set(session) & set(plain)


def test_recommend_many_equals_recommend(recommender: Recommender) -> None:
    items = ["a0", "b7", "a19"]
    ids, scores = recommender.recommend_many(items, k=4)
    assert ids.shape == scores.shape == (3, 4)
    for row, item in enumerate(items):
        assert list(ids[row]) == list(recommender.recommend(item, k=4)[0])


def test_unknown_items(recommender: Recommender, vectors: ItemVectors) -> None:
    with pytest.raises(UnknownItemError, match="unknown item 'nope'.*on_unknown"):
        recommender.recommend("nope")
    with pytest.raises(UnknownItemError, match="'nope'"):
        recommender.recommend_many(["a1", "nope"])
    with pytest.raises(UnknownItemError, match="'nope'"):
        recommender.for_session(["a1", "nope"])
    popular = np.array(vectors.item_ids)[np.argsort(-vectors.counts, kind="stable")]
    fallback = recommender.recommend("nope", k=3, on_unknown="popular")
    assert fallback.fallback is True and list(fallback.item_ids) == list(popular[:3])
    assert recommender.recommend("a1", k=3, on_unknown="popular").fallback is False
    filtered = recommender.recommend("nope", k=2, on_unknown="popular", exclude=[popular[0]])
    assert list(filtered.item_ids) == list(popular[1:3])
    batch = recommender.recommend_many(["a1", "nope"], k=3, on_unknown="popular")
    assert batch.fallback.tolist() == [False, True] and list(batch.item_ids[1]) == list(popular[:3])
    assert recommender.for_session(["nope", "gone"], k=3, on_unknown="popular").fallback is True
    partly = recommender.for_session(["nope", "a4"], k=3, on_unknown="popular")
    assert partly.fallback is False and list(partly.item_ids) == list(recommender.for_session(["a4"], k=3)[0])


@pytest.mark.parametrize("k", [0, -1, 10_001, 2.5, True, "10", None])
def test_bad_k_is_refused(recommender: Recommender, k: object) -> None:
    for call in (
        lambda: recommender.recommend("a1", k=k),
        lambda: recommender.recommend_many(["a1"], k=k),
        lambda: recommender.for_session(["a1"], k=k),
    ):
        with pytest.raises(ConfigError, match="k must be an integer between 1 and 10000"):
            call()


def test_bad_options_are_refused(vectors: ItemVectors) -> None:
    recommender = Recommender(vectors)
    with pytest.raises(ConfigError, match="on_unknown"):
        recommender.recommend("a1", on_unknown="popluar")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="index"):
        Recommender(vectors, index="fast")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="recency_decay"):
        recommender.for_session(["a1"], recency_decay=0)
    with pytest.raises(ConfigError, match="at least one item"):
        recommender.for_session([])


def test_for_session_is_the_normalised_weighted_mean(vectors: ItemVectors) -> None:
    recommender = Recommender(vectors)
    unit = recommender.vectors
    session = ["a1", "a5", "b3"]
    rows = [recommender.item_ids.index(item) for item in session]
    for decay, weights in ((None, [1.0, 1.0, 1.0]), (0.5, [0.25, 0.5, 1.0])):
        query = np.asarray(weights, dtype=np.float32) @ unit[rows]
        scores = unit @ (query / np.linalg.norm(query))
        scores[rows] = -np.inf
        expected = [recommender.item_ids[r] for r in np.argsort(-scores, kind="stable")[:5]]
        got = recommender.for_session(session, k=5, recency_decay=decay)
        assert list(got.item_ids) == expected
        np.testing.assert_allclose(got.scores, np.sort(scores)[::-1][:5], atol=1e-5)
    # one item: its own neighbours; a strong decay: the last item's neighbours, session items excluded
    assert list(recommender.for_session(["a2"], k=5)[0]) == list(recommender.recommend("a2", k=5)[0])
    recent = recommender.for_session(["b1", "a2"], k=5, recency_decay=1e-6)
    assert list(recent.item_ids) == [i for i in recommender.recommend("a2", k=6)[0] if i != "b1"][:5]


def test_recommendations_unpack_as_two_arrays(vectors: ItemVectors) -> None:
    result = Recommender(vectors).recommend("a1", k=3)
    ids, scores = result
    assert isinstance(result, tuple) and len(result) == 2 and result.fallback is False
    assert ids is result.item_ids and scores is result.scores and scores.dtype == np.float32
    copy = pickle.loads(pickle.dumps(result))
    assert isinstance(copy, Recommendations) and list(copy.item_ids) == list(ids) and copy.fallback is False
    assert "fallback=False" in repr(result)


def test_catalogue_is_public_and_read_only(vectors: ItemVectors) -> None:
    recommender = Recommender(vectors)
    assert recommender.item_ids == vectors.item_ids and len(recommender) == len(vectors)
    assert recommender.vectors.dtype == np.float32 and recommender.vectors.shape == vectors.vectors.shape
    np.testing.assert_allclose(np.linalg.norm(recommender.vectors, axis=1), 1.0, rtol=1e-5)
    with pytest.raises(ValueError):
        recommender.vectors[0, 0] = 0.0
    with pytest.raises(AttributeError):
        recommender.item_ids = ()  # type: ignore[misc]
    assert "a1" in recommender and "nope" not in recommender


def test_explain(vectors: ItemVectors, corpus: pl.DataFrame) -> None:
    with_data = Recommender(vectors, sequences=corpus)
    best = with_data.recommend("a1", k=1)
    explained = with_data.explain("a1", best.item_ids[0])
    assert explained.rank == 1 and explained.similarity == pytest.approx(float(best.scores[0]), abs=1e-5)
    rows = [with_data.item_ids.index(i) for i in ("a1", "a2")]
    expected = sum(1 for items in corpus["items"].to_list() if "a1" in items and "a2" in items)
    same = with_data.explain("a1", "a2")
    assert same.co_occurrences == expected > 0
    assert same.similarity == pytest.approx(float(with_data.vectors[rows[0]] @ with_data.vectors[rows[1]]), abs=1e-6)
    assert same.counts == (int(vectors.counts[rows[0]]), int(vectors.counts[rows[1]]))
    assert with_data.explain("a1", "b1").co_occurrences == 0
    assert with_data.explain("a1", "b1").rank > 19  # all 19 other a-items come first
    assert Recommender(vectors).explain("a1", "a2").co_occurrences is None
    with pytest.raises(UnknownItemError, match="'zz'"):
        with_data.explain("a1", "zz")
    with pytest.raises(ConfigError):
        with_data.explain("a1", "a1")


def test_frames_join_metadata() -> None:
    sequences, metadata = generate_playlists(
        SynthConfig(n_genres=2, artists_per_genre=3, n_playlists=200, mean_length=10, max_length=20)
    )
    recommender = Recommender(train(sequences, FAST.model_copy(update={"epochs": 3})), metadata)
    item = recommender.item_ids[0]
    frame = recommender.recommend_frame(item, k=4)
    assert frame.columns[:3] == ["rank", "item_id", "score"] and {"title", "artist", "genre"} <= set(frame.columns)
    assert frame["rank"].to_list() == [1, 2, 3, 4] and frame["title"].null_count() == 0
    session = recommender.to_frame(recommender.for_session(list(recommender.item_ids[:3]), k=2))
    assert session.height == 2 and "title" in session.columns
    many = recommender.recommend_frame_many(list(recommender.item_ids[:2]), k=3)
    assert many.height == 6 and many.columns[0] == "query_id"


def test_hnsw_recall_is_logged_to_the_active_run(vectors: ItemVectors, mlflow_store: str) -> None:
    with mlflow.start_run() as run:
        recommender = Recommender(vectors, index="hnsw").prepare()
        assert not mlflow.get_run(run.info.run_id).data.metrics  # the recommender logs nothing itself
        tracking.log_ann_reports(recommender)  # tracking asks it for its reports
    metrics = mlflow.get_run(run.info.run_id).data.metrics
    assert recommender.ann_report is not None
    assert metrics["ann.recall_at_10"] == pytest.approx(recommender.ann_report.recall_at_10)
    assert metrics["ann.ef_search"] == recommender.ann_report.ef_search
