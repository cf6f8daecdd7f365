"""Next-view evaluation: an oracle scores perfectly, a constant scorer scores nothing."""

import numpy as np
import pytest

from recstack.embeddings import evaluate_next_view
from recstack.embeddings.sessions import cold_rows


class _Oracle:
    """Knows each validation row's target (one query item per target in this split)."""

    def __init__(self, split):
        self.n = split.n_items
        self.answer = {int(h[-1]): int(t) for h, t in zip(split.valid.histories,
                                                         split.valid.targets, strict=True)}

    def similarity(self, items):
        scores = np.zeros((len(items), self.n + 1))
        for row, item in enumerate(items):
            scores[row, self.answer.get(int(item), 0)] = 1.0
        return scores


class _Constant:
    def __init__(self, n):
        self.n = n

    def similarity(self, items):
        return np.zeros((len(items), self.n + 1))


def test_constant_scores_rank_every_target_last(travel_split):
    metrics = evaluate_next_view(_Constant(travel_split.n_items), travel_split, "valid")
    assert metrics["hr_at_10"] == 0.0 and metrics["ndcg_at_10"] == 0.0


def test_an_oracle_hits_every_row_it_can_answer(travel_split):
    oracle = _Oracle(travel_split)
    metrics = evaluate_next_view(oracle, travel_split, "valid")
    # Rows sharing a query item with another row get that row's answer instead.
    answered = np.mean([oracle.answer[int(h[-1])] == t for h, t in zip(
        travel_split.valid.histories, travel_split.valid.targets, strict=True)])
    assert metrics["hr_at_10"] == pytest.approx(answered)
    assert metrics["ndcg_at_10"] == pytest.approx(answered)


def test_cold_metrics_are_computed_on_the_cold_rows_only(travel_split):
    metrics = evaluate_next_view(_Constant(travel_split.n_items), travel_split, "test",
                                 cold_max_count=10)
    expected = len(cold_rows(travel_split.test, travel_split.item_counts, 10))
    assert metrics["cold_n_rows"] == expected


def test_no_cold_row_gives_nan_not_an_error(travel_split):
    metrics = evaluate_next_view(_Constant(travel_split.n_items), travel_split, "test",
                                 cold_max_count=-1)
    assert metrics["cold_n_rows"] == 0 and np.isnan(metrics["cold_hr_at_10"])
