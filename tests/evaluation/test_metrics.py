"""Tests for recstack.evaluation.metrics: hand-computed values and independent implementations."""

from __future__ import annotations

import math

import numpy as np
import pytest

from recstack.errors import DataError
from recstack.evaluation import (
    average_recommendation_popularity,
    catalogue_coverage,
    count_items,
    hit_rate,
    mrr,
    ndcg,
    popularity_percentile,
    popularity_percentiles,
    target_ranks,
)

RANKS = np.array([0, 1, 4, 12])


def test_hit_rate_hand_computed():
    # k=5: ranks 0, 1, 4 are < 5, rank 12 is not -> 3/4.
    assert hit_rate(RANKS, 5) == pytest.approx(0.75)
    # k=1: only rank 0 -> 1/4.
    assert hit_rate(RANKS, 1) == pytest.approx(0.25)


def test_ndcg_hand_computed():
    # k=5: gains 1/log2(2)=1, 1/log2(3)=0.63093, 1/log2(6)=0.38685, 0 (rank 12 >= 5).
    # Mean = (1 + 0.63093 + 0.38685 + 0) / 4 = 0.50444.
    expected = (1 + 1 / math.log2(3) + 1 / math.log2(6)) / 4
    assert ndcg(RANKS, 5) == pytest.approx(expected)
    assert ndcg(RANKS, 5) == pytest.approx(0.504445, abs=1e-6)


def test_mrr_hand_computed_has_no_cutoff():
    # 1/1 + 1/2 + 1/5 + 1/13 = 1.776923; / 4 = 0.444231.
    assert mrr(RANKS) == pytest.approx((1 + 1 / 2 + 1 / 5 + 1 / 13) / 4)


def test_perfect_and_worst_ranks():
    assert ndcg(np.zeros(7, dtype=int), 10) == 1.0
    assert hit_rate(np.zeros(7, dtype=int), 1) == 1.0
    assert ndcg(np.full(7, 99), 10) == 0.0
    assert hit_rate(np.full(7, 99), 10) == 0.0


def test_ndcg_and_hr_agree_with_sklearn_on_random_scores():
    sk = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(42)
    n_rows, n_cols, k = 200, 30, 10
    scores = rng.normal(size=(n_rows, n_cols))  # continuous: no ties
    targets = rng.integers(0, n_cols, size=n_rows)
    relevance = np.zeros_like(scores)
    relevance[np.arange(n_rows), targets] = 1.0  # one-hot: a single relevant item per row
    ranks = target_ranks(scores, targets)
    assert ndcg(ranks, k) == pytest.approx(sk.ndcg_score(relevance, scores, k=k))
    assert hit_rate(ranks, k) == pytest.approx(
        sk.top_k_accuracy_score(targets, scores, k=k, labels=np.arange(n_cols)))


def test_catalogue_coverage_ignores_padding():
    topk = np.array([[1, 2, 0],
                     [2, 3, 0]])
    # Distinct real items {1, 2, 3} out of a 6-item catalogue -> 0.5.
    assert catalogue_coverage(topk, 6) == pytest.approx(0.5)


def test_popularity_percentiles_average_ties():
    counts = np.array([0, 5, 1, 5, 9, 0])  # index 0 is padding
    # Item counts 5, 1, 5, 9, 0 -> average ranks 3.5, 2, 3.5, 5, 1 among 5 items;
    # percentile = (rank - 1) / (5 - 1) -> 0.625, 0.25, 0.625, 1.0, 0.0.
    pct = popularity_percentiles(counts)
    assert math.isnan(pct[0])
    np.testing.assert_allclose(pct[1:], [0.625, 0.25, 0.625, 1.0, 0.0])


def test_popularity_percentile_and_arp_hand_computed():
    counts = np.array([0, 5, 1, 5, 9, 0])
    topk = np.array([[4, 1],    # percentiles 1.0, 0.625 -> 0.8125; counts 9, 5 -> 7
                     [5, 0]])   # 0 is a dropped slot: percentile 0.0 -> 0.0; count 0 -> 0
    # Per-row means first, then across rows: (0.8125 + 0.0) / 2 and (7 + 0) / 2.
    assert popularity_percentile(topk, counts) == pytest.approx(0.40625)
    assert average_recommendation_popularity(topk, counts) == pytest.approx(3.5)


def test_popularity_metrics_nan_when_nothing_recommended():
    counts = np.array([0, 1, 2])
    assert math.isnan(popularity_percentile(np.zeros((2, 3), dtype=int), counts))
    assert math.isnan(average_recommendation_popularity(np.zeros((2, 3), dtype=int), counts))


def test_popularity_percentile_single_item_and_all_ties_sit_in_the_middle():
    assert popularity_percentiles(np.array([0, 3]))[1] == 0.5
    np.testing.assert_allclose(popularity_percentiles(np.array([0, 2, 2, 2]))[1:], 0.5)


def test_count_items():
    counts = count_items([np.array([1, 2, 2]), np.array([], dtype=int), np.array([0, 4])], 5)
    assert counts.tolist() == [0, 1, 2, 0, 1, 0]
    with pytest.raises(DataError):
        count_items([np.array([6])], 5)
