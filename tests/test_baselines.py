"""Every baseline against an answer checked by hand on a tiny corpus."""

from __future__ import annotations

import math
from collections import defaultdict

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
    VSKNNBaseline,
    incidence_matrix,
    make_baseline,
)
from recsys.evaluation.cases import build_cases
from recsys.evaluation.methods import EmbeddingMethod, Method, session_matrix
from recsys.evaluation.protocol import evaluate_method


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


def _session_scores(method: Method, *items: str) -> dict[str, float]:
    rows = np.array([method.item_ids_.index(i) for i in items])
    return dict(zip(method.item_ids_, method.score_sessions([rows])[0].tolist()))


def _vsknn_by_hand(corpus: pl.DataFrame, session: list[str], *, neighbours: int, sample_size: int | None,
                   cosine: bool, idf_weighting: float) -> dict[str, float]:
    """V-SKNN as session-rec's VMContextKNN computes it, one neighbour at a time."""
    sets = [set(items) for items in corpus["items"].to_list()]
    weight = {item: p / len(session) for p, item in enumerate(session, start=1)}  # the latest position stays
    candidates = [i for i, items in enumerate(sets) if items & weight.keys()]
    candidates = candidates[-sample_size:] if sample_size else candidates
    norm = math.sqrt(sum(w * w for w in weight.values()))
    similar = []
    for i in candidates:
        dot = sum(weight[item] for item in sets[i] & weight.keys())
        similar.append((dot / (norm * math.sqrt(len(sets[i]))) if cosine else dot, i))
    similar.sort(key=lambda pair: (-pair[0], -pair[1]))
    scores: dict[str, float] = defaultdict(float)
    for similarity, i in similar[:neighbours]:
        step = next(s for s, item in enumerate(reversed(session), start=1) if item in sets[i])
        for item in sets[i]:
            idf = math.log(len(sets) / sum(item in other for other in sets))
            scores[item] += similarity / step * (1 + idf_weighting * idf)
    return scores


def test_vsknn_weighs_neighbours_by_the_latest_item_they_share() -> None:
    # the session is [a, b, c]: a weighs 1/3, b 2/3, c 1; each neighbour shares one item and adds one of its own
    vsknn = VSKNNBaseline().fit(_sequences(["a", "x"], ["b", "y"], ["c", "z"]))
    scores = _session_scores(vsknn, "a", "b", "c")
    norm = math.sqrt(1 / 9 + 4 / 9 + 1) * math.sqrt(2)
    # similarity (weight of the shared item / norms) over the shared item's step back from the current one
    assert scores["z"] == pytest.approx(1 / norm / 1)
    assert scores["y"] == pytest.approx(2 / 3 / norm / 2)
    assert scores["x"] == pytest.approx(1 / 3 / norm / 3)
    # a neighbour's shared item scores with it: c, z tie
    assert scores["c"] == scores["z"] and scores["a"] == scores["x"]
    # the dot product alone: no norms
    dot = _session_scores(VSKNNBaseline(similarity="dot").fit(_sequences(["a", "x"], ["b", "y"], ["c", "z"])),
                          "a", "b", "c")
    assert dot == pytest.approx({"a": 1 / 9, "b": 1 / 3, "c": 1.0, "x": 1 / 9, "y": 1 / 3, "z": 1.0})


def test_vsknn_scores_every_item_of_a_neighbour_alike() -> None:
    # V-SKNN keeps no order within a neighbour: the item right after the shared one gains what the last one gains
    vsknn = VSKNNBaseline().fit(_sequences(["q", "next", "later", "last"], ["other", "q"]))
    scores = _session_scores(vsknn, "q")
    assert scores["next"] == scores["later"] == scores["last"] == pytest.approx(1 / 2)
    # the short neighbour is more similar (cosine): its item outranks the long one's
    assert scores["other"] == pytest.approx(1 / math.sqrt(2))


def test_vsknn_keeps_the_most_similar_neighbours_and_samples_the_latest_candidates() -> None:
    corpus = _sequences(["q", "u1"], ["q", "u2"], ["q", "u3", "w3"], ["q", "u4"], ["v", "u5"])
    scored = lambda method: {i for i, s in _scores(method.fit(corpus), "q").items() if s > 0}  # noqa: E731
    assert scored(VSKNNBaseline()) == {"q", "u1", "u2", "u3", "w3", "u4"}
    # sessions 0, 1, 3 tie at 1/sqrt(2) above session 2 (1/sqrt(3)): the two latest of them are kept
    assert scored(VSKNNBaseline(neighbours=2)) == {"q", "u2", "u4"}
    # the dot product ties all four: the latest two
    assert scored(VSKNNBaseline(neighbours=2, similarity="dot")) == {"q", "u3", "w3", "u4"}
    # candidates are the latest sessions holding q, whatever their similarity
    assert scored(VSKNNBaseline(sample_size=2)) == {"q", "u3", "w3", "u4"}


def test_vsknn_keeps_clusters_that_never_meet_apart_and_answers_a_query_as_a_one_item_session() -> None:
    corpus = two_cluster_corpus(n_sequences=200, seed=3)
    vsknn = VSKNNBaseline(neighbours=20, sample_size=50).fit(corpus)
    rows = np.arange(len(vsknn.item_ids_))
    cluster = np.array([i[0] for i in vsknn.item_ids_])
    scores = vsknn.score(rows)
    assert (scores[cluster[:, None] != cluster[None, :]] == 0).all()
    assert (scores[cluster[:, None] == cluster[None, :]] > 0).mean() > 0.9
    np.testing.assert_array_equal(vsknn.score_sessions([np.array([r]) for r in rows]), scores)
    sessions = [rows[cluster == "a"][[3, 0, 5]], rows[cluster == "b"][[1, 1, 7, 2]]]
    answers = vsknn.score_sessions(sessions)
    assert (answers[0, cluster == "b"] == 0).all() and (answers[1, cluster == "a"] == 0).all()


@pytest.mark.parametrize(("cosine", "sample_size", "idf_weighting"), [(True, None, 0.0), (False, 7, 0.0),
                                                                      (True, 12, 2.0)])
def test_vsknn_equals_session_rec_s_loop_over_neighbours(cosine: bool, sample_size: int | None,
                                                         idf_weighting: float) -> None:
    rng = np.random.default_rng(8)
    corpus = _sequences(*[[f"i{j}" for j in rng.integers(0, 15, size=rng.integers(1, 7))] for _ in range(40)])
    vsknn = VSKNNBaseline(neighbours=1000, sample_size=sample_size, similarity="cosine" if cosine else "dot",
                          idf_weighting=idf_weighting).fit(corpus)
    sessions = [[f"i{j}" for j in rng.integers(0, 15, size=rng.integers(1, 9))] for _ in range(30)]
    sessions = [[i for i in s if i in vsknn.item_ids_] or [vsknn.item_ids_[0]] for s in sessions]
    answers = vsknn.score_sessions([np.array([vsknn.item_ids_.index(i) for i in s]) for s in sessions])
    for session, answer in zip(sessions, answers):
        expected = _vsknn_by_hand(corpus, session, neighbours=1000, sample_size=sample_size, cosine=cosine,
                                  idf_weighting=idf_weighting)
        assert dict(zip(vsknn.item_ids_, answer.tolist())) == pytest.approx(
            {i: expected.get(i, 0.0) for i in vsknn.item_ids_}, rel=1e-5, abs=1e-7)


def test_vsknn_in_the_harness_skips_unknown_items() -> None:
    vsknn = VSKNNBaseline().fit(_sequences(["a", "x"], ["b", "y"]))
    test = _sequences(["b", "zz", "a", "y", "qq"])
    result = evaluate_method(vsknn, build_cases(test, "session"), ks=(1, 5))
    # cases: [b] -> zz (unknown), [b, zz] -> a, [b, zz, a] -> y, [b, zz, a, y] -> qq (unknown)
    assert result.n_unknown == 2
    # [b, zz] is answered as [b]: y, then the unscored items by id (a first);
    # [b, zz, a] as [b, a]: x (a is the current item) above y (b is a step back)
    np.testing.assert_array_equal(result.ranks, [0, 2, 2, 0])


def test_vsknn_refuses_bad_options_by_name() -> None:
    for options, name in [({"neighbours": 0}, "neighbours"), ({"sample_size": 0}, "sample_size"),
                          ({"similarity": "jaccard"}, "similarity"), ({"idf_weighting": -1.0}, "idf_weighting")]:
        with pytest.raises(ConfigError, match=f"vsknn: {name} must be"):
            VSKNNBaseline(**options).fit(TRAIN)  # type: ignore[arg-type]
    assert isinstance(make_baseline("vsknn"), VSKNNBaseline)


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


def test_incidence_matrix_columns_follow_the_sorted_ids_whatever_their_script() -> None:
    sequences = pl.DataFrame({"items": [["日本", "é", "a b"], ["Z", "é", "é"], ["z"], ["ä", "Z"]]})
    matrix, item_ids = incidence_matrix(sequences)
    assert item_ids == tuple(sorted({"日本", "é", "a b", "Z", "z", "ä"}))  # code point order, as Python sorts
    expected = np.zeros((4, len(item_ids)), dtype=np.float32)
    for row, items in enumerate(sequences["items"].to_list()):
        expected[row, [item_ids.index(item) for item in items]] = 1.0  # binary: a repeat counts once
    np.testing.assert_array_equal(matrix.toarray(), expected)
