"""The two relations: "similar" (input-input cosine) and "next" (input against output vectors)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from recsys import train
from recsys.config import Item2VecConfig
from recsys.data._schema import SEQUENCES_SCHEMA
from recsys.evaluation.methods import Item2VecMethod, recency_weights
from recsys.item2vec import ItemVectors

CONFIG = Item2VecConfig(vector_size=32, epochs=15, window=2)


def _a_then_b_corpus(n_sequences: int = 600, seed: int = 0) -> pl.DataFrame:
    """One cluster of 30 items in random order, except that c0 is always directly followed by c1."""
    rng = np.random.default_rng(seed)
    others = [f"c{i}" for i in range(2, 30)]
    sequences = []
    for _ in range(n_sequences):
        order = list(rng.permutation(others)[:6])
        at = int(rng.integers(0, len(order) + 1))
        order[at:at] = ["c0", "c1"]
        sequences.append(order)
    return pl.DataFrame(
        {"sequence_id": [str(i) for i in range(n_sequences)], "items": sequences}, schema=SEQUENCES_SCHEMA
    )


@pytest.fixture(scope="module")
def a_then_b() -> ItemVectors:
    return train(_a_then_b_corpus(), CONFIG)


def _rank_of(method: Item2VecMethod, query: str, target: str) -> int:
    rows = {item: i for i, item in enumerate(method.item_ids_)}
    scores = method.score(np.array([rows[query]]))[0]
    scores[rows[query]] = -np.inf
    return int((scores > scores[rows[target]]).sum()) + 1


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_next_ranks_the_follower_first_and_similar_does_not(seed: int) -> None:
    vectors = train(_a_then_b_corpus(seed=seed), CONFIG.model_copy(update={"seed": seed}))
    assert _rank_of(Item2VecMethod.from_vectors(vectors, relation="next"), "c0", "c1") == 1
    # as a substitute, c1 is one cluster item among 29, not a favourite
    assert _rank_of(Item2VecMethod.from_vectors(vectors, relation="similar"), "c0", "c1") > 3


def test_default_relation_comes_from_the_config(a_then_b: ItemVectors) -> None:
    assert a_then_b.config.relation == "next" and a_then_b.default_relation == "next"
    assert Item2VecMethod.from_vectors(a_then_b).name == "item2vec-next"
    similar = train(_a_then_b_corpus(n_sequences=50), CONFIG.model_copy(update={"relation": "similar", "epochs": 1}))
    assert similar.default_relation == "similar"


def test_vectors_without_output_vectors_answer_similar_only(a_then_b: ItemVectors, tmp_path) -> None:
    path = a_then_b.save(tmp_path / "model")
    (path / "context_vectors.npy").unlink()  # a model saved before output vectors were kept
    (path / "manifest.json").unlink()  # (and before manifests)
    old = ItemVectors.load(path)
    assert old.context_vectors is None and old.default_relation == "similar"
    assert Item2VecMethod.from_vectors(old).name == "item2vec-similar"
    with pytest.raises(Exception, match="needs output vectors"):
        Item2VecMethod.from_vectors(old, relation="next")


def test_output_vectors_round_trip(a_then_b: ItemVectors, tmp_path) -> None:
    loaded = ItemVectors.load(a_then_b.save(tmp_path / "model"))
    np.testing.assert_array_equal(loaded.context_vectors, a_then_b.context_vectors)
    assert loaded.config.relation == "next"


def test_recency_weights_favour_the_last_item() -> None:
    weights = recency_weights([np.array([0, 1, 2]), np.array([3])], 4, decay=0.5).toarray()
    np.testing.assert_allclose(weights[0], [1 / 7, 2 / 7, 4 / 7, 0], rtol=1e-6)
    np.testing.assert_allclose(weights[1], [0, 0, 0, 1])


def test_next_for_a_session_uses_its_last_items(a_then_b: ItemVectors) -> None:
    method = Item2VecMethod.from_vectors(a_then_b, relation="next")
    rows = {item: i for i, item in enumerate(method.item_ids_)}
    scores = method.score_sessions([np.array([rows["c5"], rows["c9"], rows["c0"]])])[0]
    scores[[rows["c5"], rows["c9"], rows["c0"]]] = -np.inf
    assert int(np.argmax(scores)) == rows["c1"]


# ------------------------------------------------------------ recommender
def _row(vectors: ItemVectors, item: str) -> int:
    return vectors.item_ids.index(item)


@pytest.mark.parametrize("index", ["exact", "table", "hnsw"])
def test_recommender_next_ranks_the_follower_first_and_similar_does_not(a_then_b: ItemVectors, index: str) -> None:
    from recsys import Recommender

    recommender = Recommender(a_then_b, index="hnsw" if index == "hnsw" else "auto")
    if index != "exact":
        recommender.prepare()
        assert recommender.search_mode_of("next") == recommender.search_mode_of("similar") == index
    following = recommender.recommend("c0", k=29, relation="next")
    similar = recommender.recommend("c0", k=29, relation="similar")
    assert following.item_ids[0] == "c1"
    assert list(similar.item_ids).index("c1") + 1 > 3
    assert "c0" not in following.item_ids and "c0" not in similar.item_ids
    assert list(recommender.recommend("c0", k=29).item_ids) == list(following.item_ids)  # the model's default
    dot = a_then_b.vectors[_row(a_then_b, "c0")] @ a_then_b.context_vectors[_row(a_then_b, "c1")]
    assert following.scores[0] == pytest.approx(dot, rel=1e-4)  # a raw dot product, not a cosine
    many = recommender.recommend_many(["c0", "c5"], k=5, relation="next")
    assert many.item_ids[0, 0] == "c1" and "c5" not in many.item_ids[1]


def test_recommender_next_for_a_session(a_then_b: ItemVectors) -> None:
    from recsys import Recommender

    session = ["c5", "c9", "c0"]
    result = Recommender(a_then_b).for_session(session, k=5, relation="next")
    assert result.item_ids[0] == "c1" and not set(session) & set(result.item_ids)


def test_recommender_relation_errors(a_then_b: ItemVectors, tmp_path) -> None:
    from recsys import Recommender
    from recsys.errors import ConfigError

    with pytest.raises(ConfigError, match="relation must be one of 'similar', 'next'"):
        Recommender(a_then_b).recommend("c0", relation="bogus")  # type: ignore[arg-type]
    path = a_then_b.save(tmp_path / "model")
    (path / "context_vectors.npy").unlink()
    (path / "manifest.json").unlink()
    old = Recommender.from_directory(path)
    assert old.relations == ("similar",) and len(old.recommend("c0", k=3)) == 2
    with pytest.raises(ConfigError, match="needs output"):
        old.for_session(["c0"], relation="next")


def test_export_next_writes_dot_products(a_then_b: ItemVectors, mlflow_store: str, tmp_path) -> None:
    import subprocess
    import sys

    model = a_then_b.save(tmp_path / "model")
    result = subprocess.run(
        [sys.executable, "-m", "recsys.cli", "export-neighbours", "--model", str(model), "--k", "3",
         "--relation", "next", "--out", str(tmp_path / "next.parquet")],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    frame = pl.read_parquet(tmp_path / "next.parquet")
    assert frame.height == 90 and frame.filter(pl.col("item_id") == pl.col("neighbour_id")).height == 0
    assert frame.filter((pl.col("item_id") == "c0") & (pl.col("rank") == 1))["neighbour_id"].item() == "c1"
    rows = [_row(a_then_b, item) for item in frame["item_id"]]
    neighbours = [_row(a_then_b, item) for item in frame["neighbour_id"]]
    dots = np.einsum("ij,ij->i", a_then_b.vectors[rows], a_then_b.context_vectors[neighbours])
    np.testing.assert_allclose(frame["score"].to_numpy(), dots, rtol=1e-4, atol=1e-5)


def test_hnsw_for_next_reaches_the_target_recall() -> None:
    """Clustered input vectors whose output vectors sit in another cluster: "next" crosses clusters."""
    from recsys import Recommender
    from recsys.index import recall_at_k

    rng = np.random.default_rng(0)
    n_items, n_clusters, dim = 3000, 30, 32
    centres = rng.normal(size=(n_clusters, dim)).astype(np.float32)
    cluster = rng.integers(0, n_clusters, size=n_items)
    inputs = centres[cluster] + 0.3 * rng.normal(size=(n_items, dim)).astype(np.float32)
    scale = rng.uniform(0.5, 2.0, size=(n_items, 1)).astype(np.float32)  # unequal norms: not a cosine search
    outputs = scale * (centres[(cluster + 1) % n_clusters] + 0.3 * rng.normal(size=(n_items, dim)).astype(np.float32))
    vectors = ItemVectors(
        item_ids=tuple(f"i{i}" for i in range(n_items)),
        vectors=inputs,
        counts=np.ones(n_items, dtype=np.int64),
        config=CONFIG,
        context_vectors=outputs,
    )
    recommender = Recommender(vectors, index="hnsw").prepare(relations=["next"])
    report = recommender.ann_reports["next"]
    assert recommender.ann_report is report and "similar" not in recommender.ann_reports
    assert report.recall_at_10 >= 0.98
    queries = rng.choice(n_items, size=200, replace=False)
    approx = recommender.recommend_many([f"i{q}" for q in queries], k=10, relation="next")
    truth = np.argsort(-(inputs[queries] @ outputs.T + np.where(np.eye(n_items, dtype=bool)[queries], -np.inf, 0)),
                       axis=1)[:, :10]
    found = np.array([[int(item[1:]) for item in row] for row in approx.item_ids])
    assert recall_at_k(found, truth) >= 0.98
