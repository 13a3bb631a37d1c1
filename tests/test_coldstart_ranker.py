"""The ranking of "next" for cold queries: transitions, the fitted weights, and what the recommender answers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import scipy.sparse as sp
from sklearn.preprocessing import normalize

from recsys import Recommender, train
from recsys.coldstart import ColdStart, MapperReport, MetadataMapper, SpaceFit
from recsys.coldstart.ranker import ColdQueryRanker, log_plays, transitions_from
from recsys.config import ColdStartConfig, Item2VecConfig
from recsys.data.synthetic import two_cluster_corpus
from recsys.item2vec import ItemVectors

FAST = Item2VecConfig(vector_size=16, epochs=10, workers=1)


def test_transitions_are_consecutive_pairs_within_a_sequence() -> None:
    sequences = pl.DataFrame({"items": [["a", "b", "b", "c"], ["c", "x", "a"], ["b", "a"]]})
    pairs = transitions_from(sequences, ("a", "b", "c"), starting_at=np.array([0, 1]))
    # a->b, b->b (a repeat: left out), b->c; c->x (x unknown), x->a; b->a;
    # never c->... (not asked) nor c->b (across sequences)
    assert pairs.tolist() == [[0, 1], [1, 2], [1, 0]]
    assert transitions_from(sequences, ("a", "b", "c"), starting_at=np.array([], dtype=np.int64)).shape == (0, 2)


def _planted(n_items: int = 200, n_pairs: int = 600, *, truth: str, seed: int = 0):
    """Queries whose next item is decided by one signal only; the vectors are noise.

    ``truth="metadata"``: the next item is the query's metadata twin (items
    ``2i`` and ``2i+1`` share a category). ``truth="popularity"``: the next
    item is drawn by plays, whatever the query.
    """
    rng = np.random.default_rng(seed)
    outputs = rng.normal(size=(n_items, 8)).astype(np.float32)
    features = normalize(sp.csr_matrix(np.kron(np.eye(n_items // 2), np.ones((2, 1))).astype(np.float32)))
    counts = rng.zipf(1.5, size=n_items).clip(max=10_000)
    queries = rng.integers(0, n_items, size=n_pairs)
    if truth == "metadata":
        targets = queries ^ 1
    else:
        targets = rng.choice(n_items, size=n_pairs, p=counts / counts.sum())
    keep = targets != queries
    pairs = np.stack([queries[keep], targets[keep]], axis=1)
    predicted = rng.normal(size=(len(pairs), 8)).astype(np.float32)
    return predicted, pairs, outputs, features, log_plays(counts)


def test_a_query_whose_next_item_shares_its_metadata_weighs_metadata() -> None:
    ranker = ColdQueryRanker.fit(*_planted(truth="metadata"))
    assert ranker.metadata > 1.0 and abs(ranker.popularity) < ranker.metadata / 10
    assert ranker.log_likelihood > ranker.log_likelihood_vector_only + 1.0
    assert ranker.n_pairs == 600


def test_a_next_item_drawn_by_plays_weighs_popularity() -> None:
    ranker = ColdQueryRanker.fit(*_planted(truth="popularity"))
    assert ranker.popularity > 0.5 and abs(ranker.vector) < 0.1  # the vectors are noise here
    assert ranker.log_likelihood > ranker.log_likelihood_vector_only


def test_a_large_catalogue_samples_its_candidates() -> None:
    """More items than the softmax takes whole: the target and a uniform sample, same answer in kind."""
    ranker = ColdQueryRanker.fit(*_planted(n_items=3000, n_pairs=800, truth="metadata"))
    assert ranker.metadata > 1.0 and ranker.n_pairs == 800


def test_too_few_pairs_keep_the_dot_product() -> None:
    predicted, pairs, outputs, features, plays = _planted(truth="metadata")
    ranker = ColdQueryRanker.fit(predicted[:5], pairs[:5], outputs, features, plays)
    assert (ranker.vector, ranker.metadata, ranker.popularity, ranker.n_pairs) == (1.0, 0.0, 0.0, 0)
    assert ranker.cold_log_plays == pytest.approx(float(np.median(plays)))
    report = MapperReport(n_items=5, n_validation=1, n_features=2, input=SpaceFit(1.0, 0.5, 0.5), output=None,
                          seconds=0.0, query=ranker)
    assert report.metrics()["cold_start/query.n_pairs"] == 0
    assert all(np.isfinite(v) for v in report.metrics().values())  # no NaN likelihoods for MLflow


# --------------------------------------------------------- through the model
def _metadata(ids: list[str]) -> pl.DataFrame:
    rows = []
    for item in ids:
        genre = "jazz" if item[0] == "a" else "rock"
        number = int(item.split("-")[0][1:]) if item[1:].split("-")[0].isdigit() else 0
        rows.append({"item_id": item, "title": f"{genre} tune", "artist": f"{genre} band {number % 3}"})
    return pl.DataFrame(rows)


NEW = pl.DataFrame({"item_id": ["a-new", "b-new"], "title": ["jazz tune", "rock tune"],
                    "artist": ["jazz band 1", "rock band 2"]})


@pytest.fixture(scope="module")
def trained() -> tuple[ItemVectors, pl.DataFrame, pl.DataFrame]:
    sequences = two_cluster_corpus()
    vectors = train(sequences, FAST)
    return vectors, sequences, _metadata(list(vectors.item_ids))


@pytest.fixture(scope="module")
def recommender(trained: tuple[ItemVectors, pl.DataFrame, pl.DataFrame]) -> Recommender:
    vectors, sequences, metadata = trained
    mapper = MetadataMapper(ColdStartConfig(min_df=1)).fit(vectors, metadata, sequences)
    return Recommender(vectors, metadata, cold_start=ColdStart(mapper)).add_items(NEW)


def test_the_mapper_fits_and_reports_the_ranker(recommender: Recommender) -> None:
    assert recommender.cold_start is not None
    ranker = recommender.cold_start.mapper.query_ranker_
    assert ranker is not None and ranker.n_pairs >= 20
    assert np.isfinite([ranker.vector, ranker.metadata, ranker.popularity]).all()
    metrics = recommender.cold_start.mapper.report_.metrics()
    assert metrics["cold_start/query.metadata_weight"] == ranker.metadata
    assert "cold queries rank" in recommender.cold_start.mapper.report_.summary()


def test_a_cold_query_is_ranked_by_the_scorer_in_every_path(recommender: Recommender) -> None:
    """recommend, recommend_many and a prepared table all answer a cold query's "next" the scorer's way."""
    assert recommender.cold_start is not None
    scorer = recommender.cold_start.next_scorer(recommender.item_vectors, recommender.metadata)
    assert scorer is not None and scorer.cold.sum() == 2
    row = recommender.item_ids.index("a-new")
    expected_rows, expected_scores = scorer.search(np.array([row]), 10)
    expected = [recommender.item_ids[r] for r in expected_rows[0]]
    single = recommender.recommend("a-new", k=10, relation="next")
    assert list(single.item_ids) == expected and np.allclose(single.scores, expected_scores[0])
    batch = recommender.recommend_many(["a1", "a-new"], k=10, relation="next")
    assert list(batch.item_ids[1]) == expected
    assert list(batch.item_ids[0]) == list(recommender.recommend("a1", k=10, relation="next").item_ids)
    recommender.prepare(relations=["next"])
    assert list(recommender.recommend("a-new", k=10, relation="next").item_ids) == expected
    assert all(i[0] == "a" for i in expected)  # two clusters that never co-occur: the new jazz item stays in jazz
    filtered = recommender.recommend("a-new", k=5, relation="next", exclude=expected[:2])
    assert list(filtered.item_ids) == expected[2:7]


def test_exported_neighbours_of_a_new_item_are_what_recommend_answers(recommender: Recommender, tmp_path: Path) -> None:
    report = recommender.export_neighbours(tmp_path / "next.parquet", k=8, relation="next")
    exported = pl.read_parquet(report.path)
    for item in ("a-new", "a1"):
        answer = recommender.recommend(item, k=8, relation="next")
        rows = exported.filter(pl.col("item_id") == item).sort("rank")
        assert rows["neighbour_id"].to_list() == list(answer.item_ids)
        assert np.allclose(rows["score"].to_numpy(), answer.scores, atol=1e-5)


def test_the_ranker_is_saved_and_an_older_mapper_still_loads(recommender: Recommender, tmp_path: Path) -> None:
    assert recommender.cold_start is not None
    directory = recommender.cold_start.save(tmp_path / "cold_start")
    loaded = ColdStart.load(directory)
    assert loaded.mapper.query_ranker_ == recommender.cold_start.mapper.query_ranker_
    assert loaded.mapper.report_.query == loaded.mapper.query_ranker_
    payload = json.loads((directory / "mapper.json").read_text())
    payload.pop("query_ranker")  # as a mapper saved before rankers existed
    (directory / "mapper.json").write_text(json.dumps(payload))
    older = ColdStart.load(directory)
    assert older.mapper.query_ranker_ is None
    vectors = recommender.trained_vectors
    plain = Recommender(vectors, recommender.metadata, cold_start=older)
    assert older.next_scorer(plain.item_vectors, plain.metadata) is None
    ids, scores = plain.recommend("a-new", k=5, relation="next")
    row = plain.item_ids.index("a-new")
    dots = plain.item_vectors.context_vectors @ plain.item_vectors.vectors[row]
    dots[row] = -np.inf
    assert np.allclose(scores, np.sort(dots)[::-1][:5])  # the plain dot product
