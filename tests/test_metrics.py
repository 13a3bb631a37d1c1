"""Ranking metrics against hand-computed values and brute force."""

from __future__ import annotations

import math

import numpy as np
import pytest

from recsys.errors import ConfigError
from recsys.index import top_k
from recsys.evaluation.metrics import (
    coverage,
    hit_rate,
    hits_from_topk,
    mrr,
    ndcg,
    summarize,
)

RANKS = np.array([1, 3, 0, 11])


def test_hand_computed_metrics_at_10() -> None:
    assert hit_rate(RANKS, 10) == pytest.approx(0.5)
    assert ndcg(RANKS, 10) == pytest.approx((1 + 1 / math.log2(4)) / 4)
    assert mrr(RANKS, 10) == pytest.approx((1 + 1 / 3) / 4)


def test_cutoff_excludes_deeper_ranks() -> None:
    assert hit_rate(RANKS, 2) == pytest.approx(0.25)
    assert hit_rate(RANKS, 11) == pytest.approx(0.75)
    assert mrr(RANKS, 1) == pytest.approx(0.25)


def test_metrics_of_no_queries_are_nan() -> None:
    assert math.isnan(hit_rate(np.array([], dtype=np.int64), 10))


def test_bad_k_is_rejected() -> None:
    with pytest.raises(ConfigError, match="k must be"):
        hit_rate(RANKS, 0)


def test_hits_from_topk_ranks_and_misses() -> None:
    topk = np.array([[4, 2, 7], [4, 2, 7], [4, 2, 7], [-1, -1, -1]])
    targets = np.array([7, 4, 5, -1])
    np.testing.assert_array_equal(hits_from_topk(topk, targets), [3, 1, 0, 0])


def test_unknown_target_is_a_miss() -> None:
    ranks = hits_from_topk(np.array([[0, 1], [1, 0]]), np.array([-1, 0]))
    np.testing.assert_array_equal(ranks, [0, 2])
    assert hit_rate(ranks, 2) == pytest.approx(0.5)


def _brute_force(scores: np.ndarray, k: int) -> np.ndarray:
    return np.argsort(-scores, axis=1, kind="stable")[:, :k]


@pytest.mark.parametrize("k", [1, 3, 7, 8, 50])
def test_topk_matches_stable_argsort_with_ties(k: int) -> None:
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 4, size=(30, 8)).astype(np.float32)
    scores[:5, :] = 1.0
    scores[5:10, ::2] = -np.inf
    np.testing.assert_array_equal(top_k(scores, k), _brute_force(scores, k))


def test_topk_matches_argsort_on_continuous_scores() -> None:
    scores = np.random.default_rng(1).standard_normal((200, 500))
    np.testing.assert_array_equal(top_k(scores, 20), _brute_force(scores, 20))


def test_topk_puts_masked_items_last() -> None:
    scores = np.array([[0.5, -np.inf, 0.1, -np.inf]])
    np.testing.assert_array_equal(top_k(scores, 10), [[0, 2, 1, 3]])


def test_topk_of_no_rows_has_the_right_shape() -> None:
    assert top_k(np.empty((0, 5)), 3).shape == (0, 3)


def test_coverage_counts_distinct_items_in_the_first_k() -> None:
    topk = np.array([[0, 1, 5], [1, 0, 6], [2, 0, -1]])
    assert coverage(topk, 2, 10) == pytest.approx(0.3)
    assert coverage(topk, 3, 10) == pytest.approx(0.5)


def test_summarize_names_and_values() -> None:
    topk = np.array([[0, 1], [1, 2], [3, 0]])
    ranks = hits_from_topk(topk, np.array([0, 2, -1]))
    summary = summarize(ranks, topk, (1, 2), n_catalogue=5)
    assert list(summary) == [
        "hr_at_1",
        "ndcg_at_1",
        "mrr_at_1",
        "coverage_at_1",
        "hr_at_2",
        "ndcg_at_2",
        "mrr_at_2",
        "coverage_at_2",
    ]
    assert summary["hr_at_1"] == pytest.approx(1 / 3)
    assert summary["hr_at_2"] == pytest.approx(2 / 3)
    assert summary["mrr_at_2"] == pytest.approx((1 + 0.5) / 3)
    assert summary["coverage_at_1"] == pytest.approx(3 / 5)
    assert summary["coverage_at_2"] == pytest.approx(4 / 5)


def test_summarize_rejects_cutoffs_deeper_than_the_lists() -> None:
    topk = np.array([[0, 1]])
    with pytest.raises(ValueError, match="too few"):
        summarize(np.array([1]), topk, (2, 3), n_catalogue=5)
    assert summarize(np.array([1]), topk, (3,), n_catalogue=2)["hr_at_3"] == 1.0
