"""Tests for recstack.evaluation.ranking: masking, top-k and pessimistic target ranks."""

from __future__ import annotations

import numpy as np
import pytest

from recstack.errors import DataError
from recstack.evaluation import mask_items, target_ranks, top_k

NEG_INF = -np.inf


def test_mask_items_masks_padding_and_history():
    scores = np.arange(12, dtype=np.float32).reshape(2, 6)  # (B=2, I+1=6)
    mask_items(scores, [np.array([2, 4]), np.array([], dtype=np.int64)])
    assert scores.tolist() == [
        [NEG_INF, 1, NEG_INF, 3, NEG_INF, 5],
        [NEG_INF, 7, 8, 9, 10, 11],
    ]


def test_mask_items_keeps_target_even_if_seen():
    scores = np.ones((2, 5))
    # Row 0 re-consumes item 3 (its target); row 1's target 1 is not in its history.
    mask_items(scores, [np.array([3, 1, 3]), np.array([0, 2])], keep=np.array([3, 1]))
    assert scores.tolist() == [
        [NEG_INF, NEG_INF, 1, 1, 1],
        [NEG_INF, 1, NEG_INF, 1, 1],
    ]


def test_mask_items_all_empty_histories_masks_only_padding():
    scores = np.zeros((3, 4))
    mask_items(scores, [np.array([], dtype=np.int64)] * 3)
    assert np.isneginf(scores[:, 0]).all()
    assert (scores[:, 1:] == 0).all()


@pytest.mark.parametrize("bad", [np.array([5]), np.array([-1])])
def test_mask_items_rejects_out_of_range_ids(bad):
    with pytest.raises(DataError) as info:
        mask_items(np.zeros((1, 5)), [bad])
    assert info.value.field == "histories"


def test_mask_items_rejects_row_count_mismatch():
    with pytest.raises(DataError):
        mask_items(np.zeros((2, 5)), [np.array([1])])


def test_top_k_sorted_descending():
    scores = np.array([[0.0, 0.3, 0.9, 0.1, 0.5],
                       [0.0, 0.8, 0.2, 0.7, 0.6]])
    items, vals = top_k(scores, 3)
    assert items.dtype == np.int64
    assert items.tolist() == [[2, 4, 1], [1, 3, 4]]
    np.testing.assert_allclose(vals, [[0.9, 0.5, 0.3], [0.8, 0.7, 0.6]])


def test_top_k_puts_neg_inf_last_and_ties_by_item_id():
    # Two finite scores only; k=4 so the tail must be -inf. Items 1 and 3 tie at 0.5.
    scores = np.array([[NEG_INF, 0.5, NEG_INF, 0.5, NEG_INF]])
    items, vals = top_k(scores, 4)
    assert items[0, :2].tolist() == [1, 3]
    assert vals[0, :2].tolist() == [0.5, 0.5]
    assert np.isneginf(vals[0, 2:]).all()


def test_top_k_never_returns_masked_ahead_of_finite():
    rng = np.random.default_rng(1)
    scores = rng.normal(size=(50, 30))
    scores[rng.random(scores.shape) < 0.7] = NEG_INF
    items, vals = top_k(scores, 10)
    n_finite = np.isfinite(scores).sum(axis=1)
    np.testing.assert_array_equal(np.take_along_axis(scores, items, axis=1), vals)
    for r in range(len(scores)):
        m = min(10, n_finite[r])
        assert np.isfinite(vals[r, :m]).all() and np.isneginf(vals[r, m:]).all()
        assert np.all(np.diff(vals[r, :m]) <= 0)
        expected = np.sort(scores[r][np.isfinite(scores[r])])[::-1][:m]
        np.testing.assert_array_equal(vals[r, :m], expected)


def test_top_k_clips_k_and_rejects_zero():
    items, _ = top_k(np.array([[0.1, 0.3, 0.2]]), 10)
    assert items.tolist() == [[1, 2, 0]]
    with pytest.raises(ValueError):
        top_k(np.zeros((1, 3)), 0)


def test_target_ranks_hand_computed():
    scores = np.array([[NEG_INF, 0.9, 0.5, 0.7, 0.1],
                       [NEG_INF, 0.9, 0.5, 0.7, 0.1],
                       [NEG_INF, 0.9, 0.5, 0.7, 0.1]])
    # Row 0: target 1 has the best score -> 0 items above -> rank 0.
    # Row 1: target 2 (0.5) is beaten by 0.9 and 0.7 -> rank 2.
    # Row 2: target 4 (0.1) is beaten by 0.9, 0.7, 0.5 -> rank 3.
    assert target_ranks(scores, np.array([1, 2, 4])).tolist() == [0, 2, 3]


def test_target_ranks_ties_count_against_the_model():
    # A constant scorer over 4 real items: all 4 tie, so #(score >= target) - 1 = 3: ranked last
    # among the real items (padding at -inf stays below).
    scores = np.array([[NEG_INF, 1.0, 1.0, 1.0, 1.0]])
    assert target_ranks(scores, np.array([2])).tolist() == [3]
    # One tie: target 3 (0.5) ties with item 1 and is beaten by item 2 -> #(>= 0.5) - 1 = 2.
    scores = np.array([[NEG_INF, 0.5, 0.8, 0.5, 0.1]])
    assert target_ranks(scores, np.array([3])).tolist() == [2]


def test_target_ranks_masked_or_nan_target_ranks_last():
    scores = np.array([[NEG_INF, NEG_INF, 0.2, 0.3],
                       [NEG_INF, np.nan, 0.2, 0.3]])
    # Every one of the 4 columns is >= -inf (or not below NaN): rank 4 - 1 = 3.
    assert target_ranks(scores, np.array([1, 1])).tolist() == [3, 3]


def test_target_ranks_match_argsort_without_ties():
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(40, 25))
    targets = rng.integers(0, 25, size=40)
    order = np.argsort(-scores, axis=1)
    expected = [int(np.flatnonzero(order[r] == targets[r])[0]) for r in range(40)]
    assert target_ranks(scores, targets).tolist() == expected
