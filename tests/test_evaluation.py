"""The evaluation harness and the two foundation baselines."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from recsys.config import Item2VecConfig
from recsys.data._schema import SEQUENCES_SCHEMA
from recsys.data.split import next_item_pairs, random_split
from recsys.data.synthetic import two_cluster_corpus
from recsys.evaluation.baselines import CooccurrenceBaseline, PopularBaseline
from recsys.evaluation.methods import Item2VecMethod
from recsys.evaluation.protocol import evaluate_method, evaluate_methods
from recsys.selection import resolved_config


def _sequences(*rows: list[str]) -> pl.DataFrame:
    return pl.DataFrame(
        {"sequence_id": [str(i) for i in range(len(rows))], "items": list(rows)}, schema=SEQUENCES_SCHEMA
    )


def _pairs(*pairs: tuple[str, str]) -> pl.DataFrame:
    return pl.DataFrame({"query_id": [p[0] for p in pairs], "target_id": [p[1] for p in pairs]})


TRAIN = _sequences(["a", "b", "c"], ["a", "b"], ["a", "d"], ["c", "d"], ["a", "b", "e"])


def test_popular_ranks_by_count_and_never_returns_query() -> None:
    popular = PopularBaseline().fit(TRAIN)
    # counts: a=4, b=3, c=2, d=2, e=1; for query "a" the best is "b"
    result = evaluate_method(popular, _pairs(("a", "b"), ("b", "a"), ("a", "e")), ks=(1, 5))
    assert result.metrics["hr_at_1"] == pytest.approx(2 / 3)
    assert result.metrics["hr_at_5"] == pytest.approx(1.0)
    # ranks: b for a -> 1, a for b -> 1, e for a -> 4 (b, c, d tie-broken by index, then e)
    assert result.metrics["mrr_at_5"] == pytest.approx((1 + 1 + 1 / 4) / 3)


def test_cooccurrence_is_cosine_of_incidence_columns() -> None:
    cooc = CooccurrenceBaseline().fit(TRAIN)
    rows = {item: i for i, item in enumerate(cooc.item_ids_)}
    scores = cooc.score(np.array([rows["a"]]))[0]
    # a occurs in 4 sequences, b in 3, together in 3: 3 / sqrt(12)
    assert scores[rows["b"]] == pytest.approx(3 / np.sqrt(12), rel=1e-6)
    # a and d share one sequence; d occurs in 2: 1 / sqrt(8)
    assert scores[rows["d"]] == pytest.approx(1 / np.sqrt(8), rel=1e-6)
    result = evaluate_method(cooc, _pairs(("c", "d"), ("e", "b")), ks=(1,))
    # c co-occurs with a, b, d (1 each): cos(c,d)=1/2 beats cos(c,b)=1/sqrt(6), cos(c,a)=1/sqrt(8)
    # e co-occurs with a and b: cos(e,b)=1/sqrt(3) beats cos(e,a)=1/2
    assert result.metrics["hr_at_1"] == 1.0


def test_unknown_items_are_misses_and_reported() -> None:
    popular = PopularBaseline().fit(TRAIN)
    result = evaluate_method(popular, _pairs(("a", "b"), ("zz", "a"), ("a", "zz")), ks=(5,))
    assert result.n_pairs == 3 and result.n_unknown == 2
    assert result.metrics["hr_at_5"] == pytest.approx(1 / 3)


def test_methods_see_the_same_pairs_and_structure_beats_popularity() -> None:
    corpus = two_cluster_corpus(n_sequences=300)
    train, test = random_split(corpus, test_fraction=0.2, seed=1)
    pairs = next_item_pairs(test)
    methods = [
        Item2VecMethod(resolved_config(Item2VecConfig(vector_size=16, epochs=5), train)).fit(train),
        PopularBaseline().fit(train),
        CooccurrenceBaseline().fit(train),
    ]
    results = evaluate_methods(methods, pairs, ks=(10,))
    assert {r.n_pairs for r in results} == {len(pairs)}
    by_name = {r.method: r.metrics for r in results}
    # in-cluster targets: the structure-aware methods find them, popularity half as often
    assert by_name["item2vec-next"]["hr_at_10"] > by_name["popular"]["hr_at_10"]
    assert by_name["cooccurrence"]["hr_at_10"] > by_name["popular"]["hr_at_10"]
    assert by_name["popular"]["coverage_at_10"] < by_name["item2vec-next"]["coverage_at_10"]


# ------------------------------------------------------------ the harness: same answers as the slow way


def test_evaluation_top_k_equals_index_top_k_on_large_rows() -> None:
    from recsys.evaluation._topk import evaluation_top_k
    from recsys.index import top_k

    rng = np.random.default_rng(5)
    scores = rng.standard_normal((40, 3000)).astype(np.float32)
    scores[:10] = np.round(scores[:10])  # heavy ties: these rows take the dense path
    scores[10:20, ::3] = -np.inf
    scores[20:25] = 0.0
    scores[20:25, :7] = 1.0  # fewer positive scores than k: zeros decide by column
    scores[25:30] = 0.0  # a neighbourhood method's rows: mostly zeros, some items seen (masked)
    scores[25:30, rng.choice(3000, size=60, replace=False)] = rng.random(60).astype(np.float32) + 0.5
    scores[25:30, 2:50:2] = -np.inf
    for k in (1, 20, 37):
        np.testing.assert_array_equal(evaluation_top_k(scores, k), top_k(scores, k))


def test_evaluation_top_k_keeps_the_lowest_tied_columns_whatever_the_ties() -> None:
    from recsys.evaluation._topk import evaluation_top_k
    from recsys.index import top_k

    rng = np.random.default_rng(11)
    for trial in range(30):
        n_cols = int(rng.integers(1300, 4000))
        levels = rng.choice([0.0, 1.0, 2.0, 3.0, -np.inf], size=int(rng.integers(2, 6)), replace=False)
        scores = rng.choice(levels, size=(25, n_cols)).astype(np.float32)
        shares = rng.random(25)[:, None]
        scores[rng.random(scores.shape) < shares * 0.02] = 5.0  # a few rows with many top scores
        scores[: trial % 5, : int(rng.integers(0, 200))] = -np.inf  # masked prefixes
        for k in (1, 10, 20):
            np.testing.assert_array_equal(evaluation_top_k(scores, k), top_k(scores, k), err_msg=f"{trial=} {k=}")


def test_sparse_top_k_equals_the_dense_top_k_with_excluded_items_masked() -> None:
    import scipy.sparse as sp

    from recsys.evaluation._topk import evaluation_top_k, sparse_top_k

    rng = np.random.default_rng(7)
    dense = rng.choice([0.0, 0.0, 0.0, 0.5, 1.0, 2.0], size=(60, 2500)).astype(np.float32)
    dense[:20] *= rng.random((20, 2500)) < 0.004  # a handful of positive scores: zeros fill the lists
    dense[20] = 0.0  # nothing stored at all
    excluded = [rng.choice(2500, size=rng.integers(0, 30), replace=False) for _ in range(60)]
    excluded[21] = np.arange(40)  # the lowest zero-scoring columns excluded
    masked = dense.copy()
    for row, columns in enumerate(excluded):
        masked[row, columns] = -np.inf
    for k in (1, 10, 37):
        expected = evaluation_top_k(masked, k)
        expected[np.take_along_axis(masked, expected, axis=1) == -np.inf] = -1
        np.testing.assert_array_equal(sparse_top_k(sp.csr_matrix(dense), excluded, k), expected)
    assert sparse_top_k(sp.csr_matrix(-dense), excluded, 5) is None  # negative scores: the dense path


def test_sparse_top_k_pads_with_minus_one_when_too_few_items_are_eligible() -> None:
    import scipy.sparse as sp

    from recsys.evaluation._topk import sparse_top_k

    scores = sp.csr_matrix(np.array([[0.0, 3.0, 1.0, 0.0]], dtype=np.float32))
    assert sparse_top_k(scores, [np.array([0, 3])], 4).tolist() == [[1, 2, -1, -1]]
    assert sparse_top_k(scores, [np.array([1])], 4).tolist() == [[2, 0, 3, -1]]


@pytest.mark.parametrize("name", ["sr", "transitions", "cooccurrence", "popular"])
def test_baselines_rank_as_their_dense_scores(name: str) -> None:
    """The harness takes sparse methods' lists from the stored scores (and popularity's from its one
    order): the same ranks as from dense rows."""
    from recsys.evaluation.baselines import make_baseline
    from recsys.evaluation.cases import build_cases

    corpus = two_cluster_corpus(n_sequences=300, seed=3)
    train, test = random_split(corpus, test_fraction=0.3, seed=2)
    method = make_baseline(name).fit(train)

    class Dense(type(method)):  # the same scores, without the sparse shortcut
        def top_items(self, query_rows, depth):  # type: ignore[no-untyped-def]
            return None

        def top_sessions(self, sessions, depth):  # type: ignore[no-untyped-def]
            return None

    dense = Dense.__new__(Dense)
    dense.__dict__.update(method.__dict__)
    for protocol in ("next_item", "session"):
        cases = build_cases(test, protocol)
        for exclude_seen in (True, False):
            sparse_ranks = evaluate_method(method, cases, ks=(10,), batch_size=16, exclude_seen=exclude_seen).ranks
            dense_ranks = evaluate_method(dense, cases, ks=(10,), batch_size=16, exclude_seen=exclude_seen).ranks
            np.testing.assert_array_equal(sparse_ranks, dense_ranks)
            assert sparse_ranks.any()


@pytest.mark.parametrize("relation", ["next", "similar"])
def test_item2vec_lists_from_faiss_are_the_top_of_the_dense_scores(relation: str) -> None:
    """item2vec's top lists come from faiss's blocked search: the best scores of the catalogue (up to
    float rounding, which may swap near ties), never the query or the session's own items."""
    corpus = two_cluster_corpus(n_sequences=300, seed=3)
    config = resolved_config(Item2VecConfig(vector_size=16, epochs=3, seed=1), corpus)
    method = Item2VecMethod(config, relation=relation).fit(corpus)
    rng = np.random.default_rng(0)
    rows = rng.choice(len(method.item_ids_), size=30, replace=False)
    sessions = [rng.choice(len(method.item_ids_), size=rng.integers(1, 6), replace=False) for _ in range(30)]
    for lists, scores, excluded in ((method.top_items(rows, 10), method.score(rows), [[r] for r in rows]),
                                    (method.top_sessions(sessions, 10), method.score_sessions(sessions), sessions)):
        for found, row_scores, own in zip(lists, scores, excluded):
            row_scores[list(own)] = -np.inf
            assert not set(found) & set(own) and -1 not in found
            np.testing.assert_allclose(row_scores[found], -np.sort(-row_scores)[:10], rtol=1e-5, atol=1e-6)


def test_drop_excluded_keeps_the_order_and_pads() -> None:
    from recsys.evaluation._topk import drop_excluded

    columns = np.array([[4, 2, 7, 1, -1], [3, 5, 6, 0, 2]])
    kept = drop_excluded(columns, [np.array([2, 9]), np.array([3, 5, 6, 0])], 3)
    assert kept.tolist() == [[4, 7, 1], [2, -1, -1]]


def test_harness_ranks_equal_a_brute_force_per_pair_loop() -> None:
    corpus = two_cluster_corpus(n_sequences=200, seed=4)
    train, test = random_split(corpus, test_fraction=0.2, seed=1)
    method = CooccurrenceBaseline().fit(train)
    from recsys.evaluation.cases import build_cases

    for protocol in ("next_item", "session"):
        cases = build_cases(test, protocol)
        result = evaluate_method(method, cases, ks=(5,), batch_size=7)
        rows = {item: i for i, item in enumerate(method.item_ids_)}
        expected = []
        for context, target in cases.to_frame().select("context", "target_id").iter_rows():
            known = [rows[i] for i in context]
            scores = method.score(np.array(known)).mean(axis=0)
            scores[known] = -np.inf
            order = list(np.argsort(-scores, kind="stable")[:5])
            expected.append(order.index(rows[target]) + 1 if rows[target] in order else 0)
        np.testing.assert_array_equal(result.ranks, expected)
