"""Ranking metrics against hand-computed values and brute force."""

from __future__ import annotations

import math

import numpy as np
import pytest

from recsys.errors import ConfigError
from recsys.index import top_k
from recsys.evaluation.metrics import (
    bootstrap_difference,
    bootstrap_intervals,
    concentration,
    coverage,
    hit_rate,
    hits_from_topk,
    mean_popularity,
    mrr,
    ndcg,
    popularity_percentiles,
    precision,
    recall,
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
        f"{name}_at_{k}" for k in (1, 2)
        for name in ("hr", "ndcg", "mrr", "precision", "recall", "coverage", "concentration")
    ]
    assert summary["hr_at_1"] == pytest.approx(1 / 3)
    assert summary["hr_at_2"] == pytest.approx(2 / 3)
    assert summary["mrr_at_2"] == pytest.approx((1 + 0.5) / 3)
    assert summary["coverage_at_1"] == pytest.approx(3 / 5)
    assert summary["coverage_at_2"] == pytest.approx(4 / 5)
    # top-1 slots: items 0, 1, 3 once each -> the most recommended item fills 1 of 3
    assert summary["concentration_at_1"] == pytest.approx(1 / 3)
    # top-2 slots: 0 twice, 1 twice, 2 and 3 once -> the 2 most recommended fill 4 of 6
    assert summary["concentration_at_2"] == pytest.approx(4 / 6)


def test_concentration_is_one_when_every_list_is_the_same() -> None:
    same = np.tile(np.arange(10), (50, 1))
    assert concentration(same, 10) == pytest.approx(1.0)
    spread = np.arange(500).reshape(50, 10)
    assert concentration(spread, 10) == pytest.approx(10 / 500)
    assert np.isnan(concentration(np.full((3, 10), -1), 10))


def test_summarize_rejects_cutoffs_deeper_than_the_lists() -> None:
    topk = np.array([[0, 1]])
    with pytest.raises(ValueError, match="too few"):
        summarize(np.array([1]), topk, (2, 3), n_catalogue=5)
    assert summarize(np.array([1]), topk, (3,), n_catalogue=2)["hr_at_3"] == 1.0


# ------------------------------------------------------------ precision, recall, popularity, bootstrap


def test_precision_and_recall_with_one_target() -> None:
    # ranks 1, 3, 0, 11 at k=10: two hits of four queries
    assert precision(RANKS, 10) == pytest.approx(0.5 / 10)
    assert recall(RANKS, 10) == pytest.approx(0.5)
    assert precision(RANKS, 2) == pytest.approx(0.25 / 2)


def test_popularity_percentiles_by_hand() -> None:
    # counts 5, 1, 1, 3: 5 has 3 lower + itself -> (3 + 0.5) / 4; the two 1s tie -> (0 + 1) / 4
    np.testing.assert_allclose(popularity_percentiles(np.array([5, 1, 1, 3])), [87.5, 25.0, 25.0, 62.5])


def test_mean_popularity_of_recommended_items() -> None:
    percentiles = np.array([87.5, 25.0, 25.0, 62.5])
    topk = np.array([[0, 3, 1], [2, -1, -1]])
    # first k=2 columns: rows 0, 3, 2 (and padding): (87.5 + 62.5 + 25) / 3
    assert mean_popularity(topk, 2, percentiles) == pytest.approx(175 / 3)
    assert math.isnan(mean_popularity(np.full((1, 2), -1), 2, percentiles))


def test_bootstrap_of_constant_ranks_has_no_width() -> None:
    intervals = bootstrap_intervals(np.full(50, 2), (1, 5), n_resamples=200)
    assert intervals["hr_at_1_ci_low"] == intervals["hr_at_1_ci_high"] == 0.0
    assert intervals["hr_at_5_ci_low"] == intervals["hr_at_5_ci_high"] == 1.0
    assert intervals["ndcg_at_5_ci_low"] == pytest.approx(1 / math.log2(3))
    assert intervals["mrr_at_5_ci_high"] == pytest.approx(0.5)


def test_bootstrap_matches_resampling_the_queries() -> None:
    rng = np.random.default_rng(3)
    ranks = rng.choice([0, 0, 0, 1, 2, 7, 15], size=400)
    intervals = bootstrap_intervals(ranks, (10,), n_resamples=4000, seed=1)
    # the same bootstrap done the slow way: resample query indices, recompute NDCG@10
    indices = rng.integers(0, ranks.size, size=(4000, ranks.size))
    naive = np.array([ndcg(ranks[i], 10) for i in indices])
    low, high = np.quantile(naive, [0.025, 0.975])
    assert intervals["ndcg_at_10_ci_low"] == pytest.approx(low, abs=0.006)
    assert intervals["ndcg_at_10_ci_high"] == pytest.approx(high, abs=0.006)
    assert intervals["ndcg_at_10_ci_low"] < ndcg(ranks, 10) < intervals["ndcg_at_10_ci_high"]


def test_bootstrap_is_seeded_and_empty_input_is_nan() -> None:
    ranks = np.array([1, 0, 3, 0, 2, 0, 0, 9])
    assert bootstrap_intervals(ranks, (5,), seed=4) == bootstrap_intervals(ranks, (5,), seed=4)
    assert math.isnan(bootstrap_intervals(np.array([], dtype=np.int64), (5,))["hr_at_5_ci_low"])
    with pytest.raises(ConfigError, match="n_resamples"):
        bootstrap_intervals(ranks, (5,), n_resamples=0)


def test_paired_bootstrap_difference() -> None:
    always, never = np.ones(30, dtype=np.int64), np.zeros(30, dtype=np.int64)
    assert bootstrap_difference(always, never, 10, metric="hr") == (1.0, 1.0, 1.0)
    same = np.array([1, 0, 2, 0, 5] * 6)
    assert bootstrap_difference(same, same, 10) == (0.0, 0.0, 0.0)
    # A finds at rank 1 what B finds at rank 2: NDCG difference 1 - 1/log2(3) on those queries
    a, b = np.array([1, 1, 0, 0]), np.array([2, 2, 0, 0])
    diff, low, high = bootstrap_difference(a, b, 10, n_resamples=500)
    assert diff == pytest.approx((1 - 1 / math.log2(3)) / 2)
    assert 0.0 <= low <= diff <= high <= 1 - 1 / math.log2(3)
    with pytest.raises(ValueError, match="same queries"):
        bootstrap_difference(a, b[:3], 10)


def test_summarize_adds_popularity_when_given() -> None:
    topk = np.array([[0, 1], [1, 2]])
    summary = summarize(np.array([1, 0]), topk, (2,), n_catalogue=3, popularity=np.array([90.0, 50.0, 10.0]))
    assert summary["popularity_at_2"] == pytest.approx((90 + 50 + 50 + 10) / 4)
    assert summary["precision_at_2"] == pytest.approx(0.25)
