"""The two relations: "similar" (input-input cosine) and "next" (input against output vectors)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from recsys.config import Item2VecConfig
from recsys.data._schema import SEQUENCES_SCHEMA
from recsys.evaluation.methods import Item2VecMethod, recency_weights
from recsys.item2vec import ItemVectors, train

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
