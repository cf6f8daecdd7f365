"""Honest next-item evaluation: full-catalogue ranking first, sampled metrics only beside it."""

from recstack.evaluation.evaluate import EvaluationResult, ScoreFn, evaluate_scores
from recstack.evaluation.metrics import (
    average_recommendation_popularity,
    catalogue_coverage,
    count_items,
    hit_rate,
    mrr,
    ndcg,
    popularity_percentile,
    popularity_percentiles,
)
from recstack.evaluation.ranking import mask_items, target_ranks, top_k

__all__ = [
    "EvaluationResult",
    "ScoreFn",
    "average_recommendation_popularity",
    "catalogue_coverage",
    "count_items",
    "evaluate_scores",
    "hit_rate",
    "mask_items",
    "mrr",
    "ndcg",
    "popularity_percentile",
    "popularity_percentiles",
    "target_ranks",
    "top_k",
]
