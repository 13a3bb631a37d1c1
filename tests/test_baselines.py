"""Every baseline against an answer checked by hand on a tiny corpus."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from recsys.data._schema import SEQUENCES_SCHEMA
from recsys.data.synthetic import two_cluster_corpus
from recsys.errors import ConfigError
from recsys.evaluation.baselines import (
    BASELINES,
    ALSBaseline,
    BM25Baseline,
    BPRBaseline,
    CosineBaseline,
    PopularBaseline,
    SequentialRulesBaseline,
    TransitionsBaseline,
    make_baseline,
)
from recsys.evaluation.methods import EmbeddingMethod, Method, session_matrix


def _sequences(*rows: list[str]) -> pl.DataFrame:
    return pl.DataFrame(
        {"sequence_id": [str(i) for i in range(len(rows))], "items": list(rows)}, schema=SEQUENCES_SCHEMA
    )


# a is followed by b three times and by d once; b by c and e once each
TRAIN = _sequences(["a", "b", "c"], ["a", "b"], ["a", "d"], ["c", "d"], ["a", "b", "e"])


def _scores(method: Method, item: str) -> dict[str, float]:
    row = method.item_ids_.index(item)
    return dict(zip(method.item_ids_, method.score(np.array([row]))[0].tolist()))


def test_transitions_pick_the_item_that_most_often_follows() -> None:
    transitions = TransitionsBaseline().fit(TRAIN)
    assert _scores(transitions, "a") == {"a": 0, "b": 3, "c": 0, "d": 1, "e": 0}
    assert _scores(transitions, "b") == {"a": 0, "b": 0, "c": 1, "d": 0, "e": 1}
    # a session is answered from its last item alone
    rows = [np.array([transitions.item_ids_.index(i) for i in ("c", "a")])]
    np.testing.assert_array_equal(transitions.score_sessions(rows), transitions.score(rows[0][-1:]))


def test_sequential_rules_weigh_farther_followers_by_one_over_distance() -> None:
    corpus = _sequences(["x", "y", "z"], ["x", "z"], ["x", "x", "y"])
    sr = SequentialRulesBaseline(steps=2).fit(corpus)
    # x->y: 1 (seq 0) + 1 (seq 2, from the second x) + 1/2 (seq 2, from the first x); x->z: 1/2 + 1
    # repeats make no rule (x->x); y->z: 1
    assert _scores(sr, "x") == pytest.approx({"x": 0.0, "y": 2.5, "z": 1.5})
    assert _scores(sr, "y") == pytest.approx({"x": 0.0, "y": 0.0, "z": 1.0})
    assert _scores(TransitionsBaseline().fit(corpus), "x") == {"x": 0.0, "y": 2.0, "z": 1.0}


def test_popular_answers_sessions_like_items() -> None:
    popular = PopularBaseline().fit(TRAIN)
    assert _scores(popular, "e") == {"a": 4, "b": 3, "c": 2, "d": 2, "e": 1}
    np.testing.assert_array_equal(popular.score_sessions([np.array([0, 1])])[0], [4, 3, 2, 2, 1])


def test_implicit_cosine_is_cosine_of_incidence_columns() -> None:
    cosine = CosineBaseline().fit(TRAIN)
    scores = _scores(cosine, "a")
    # a is in 4 sequences, b in 3, both in 3: 3 / sqrt(12); a and d share 1 of 4 and 2
    assert scores["b"] == pytest.approx(3 / math.sqrt(12), rel=1e-6)
    assert scores["d"] == pytest.approx(1 / math.sqrt(8), rel=1e-6)
    assert scores["e"] == pytest.approx(1 / math.sqrt(4), rel=1e-6)
    # only the `neighbours` most similar items are kept per item (itself included)
    truncated = CosineBaseline(neighbours=2).fit(TRAIN)
    assert {i for i, s in _scores(truncated, "a").items() if s > 0} == {"a", "b"}


def test_implicit_bm25_is_the_dot_product_of_bm25_weighted_columns() -> None:
    bm25 = BM25Baseline(k1=1.2, b=0.75).fit(TRAIN)
    # implicit weighs the item-by-sequence matrix: idf per sequence, length per item
    counts = np.zeros((5, 5))
    for s, items in enumerate(TRAIN["items"].to_list()):
        for item in items:
            counts["abcde".index(item), s] = 1.0
    idf = math.log(5) - np.log1p(counts.sum(axis=0))
    length = counts.sum(axis=1)
    norm = 0.25 + 0.75 * length / length.mean()
    weighted = counts * 2.2 / (1.2 * norm[:, None] + counts) * idf[None, :]
    expected = weighted @ weighted.T
    np.testing.assert_allclose(bm25.score(np.arange(5)), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("method", [ALSBaseline(factors=8, iterations=10), BPRBaseline(factors=8, iterations=50)])
def test_factor_models_answer_like_implicit_similar_items_and_keep_clusters_apart(method: Method) -> None:
    corpus = two_cluster_corpus(n_sequences=200, seed=2)
    method.fit(corpus)
    rows = np.arange(len(method.item_ids_))
    scores = method.score(rows)
    scores[rows, rows] = -np.inf
    best = np.argsort(-scores, axis=1, kind="stable")[:, :5]
    ids, _ = method.model_.similar_items(rows, N=6)  # type: ignore[attr-defined]
    expected = [[i for i in row if i != r][:5] for r, row in zip(rows, ids.tolist())]
    # implicit computes in float32 too; allow order swaps of near-ties only
    agree = np.mean([len(set(b) & set(e)) / 5 for b, e in zip(best.tolist(), expected)])
    assert agree > 0.95
    cluster = np.array([i[0] for i in method.item_ids_])
    if isinstance(method, ALSBaseline):  # BPR's bias column mixes the clusters a little
        assert (cluster[best] == cluster[:, None]).all()


def test_default_session_score_is_the_mean_of_item_scores() -> None:
    class Fixed(Method):
        name = "fixed"
        item_ids_ = ("p", "q", "r")
        table = np.array([[0.0, 1.0, 2.0], [3.0, 0.0, 6.0], [9.0, 9.0, 0.0]], dtype=np.float32)

        def fit(self, train_sequences: pl.DataFrame) -> "Fixed":
            return self

        def score(self, query_rows: np.ndarray) -> np.ndarray:
            return self.table[query_rows]

    scores = Fixed().score_sessions([np.array([0, 1]), np.array([2]), np.array([0, 0, 2])])
    np.testing.assert_allclose(scores, [[1.5, 0.5, 4.0], [9.0, 9.0, 0.0], [3.0, 3.6666667, 1.3333333]])


def test_embedding_session_score_is_cosine_to_the_mean_unit_vector() -> None:
    class Fixed(EmbeddingMethod):
        name = "fixed"

        def fit(self, train_sequences: pl.DataFrame) -> "Fixed":
            self._set_embeddings(["p", "q", "r"], np.array([[2.0, 0.0], [0.0, 3.0], [1.0, 1.0]]))
            return self

    method = Fixed().fit(TRAIN)
    # unit p = (1, 0), unit q = (0, 1): their mean points along (1, 1), where r is
    scores = method.score_sessions([np.array([0, 1])])[0]
    np.testing.assert_allclose(scores, [math.sqrt(0.5), math.sqrt(0.5), 1.0], rtol=1e-6)


def test_session_matrix_averages_and_counts_repeats() -> None:
    matrix = session_matrix([np.array([0, 2, 0]), np.array([1])], 3).toarray()
    np.testing.assert_allclose(matrix, [[2 / 3, 0, 1 / 3], [0, 1, 0]], rtol=1e-6)


def test_every_baseline_is_made_by_name() -> None:
    for name in BASELINES:
        method = make_baseline(name, seed=1)
        assert method.name == name
        method.fit(TRAIN)
        assert method.score(np.array([0, 1])).shape == (2, len(method.item_ids_))
    with pytest.raises(ConfigError, match="unknown baseline 'nope'"):
        make_baseline("nope")
