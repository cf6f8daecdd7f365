"""Held-out next-view evaluation of item-to-item models, overall and on cold items.

Each row asks: given the item just viewed, where does the next view rank among all items
(full ranking, the query item excluded, ties against the model)? Cold rows are those whose
target had at most ``cold_max_count`` views in training.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from recstack.data.splits import EvalSet
from recstack.embeddings.sessions import CoViewSplit, cold_rows
from recstack.evaluation import evaluate_scores
from recstack.evaluation.evaluate import ScoreFn


class ItemToItemModel(Protocol):
    def similarity(self, items: np.ndarray) -> np.ndarray: ...


def item_to_item_scorer(model: ItemToItemModel) -> ScoreFn:
    """Adapt ``similarity(items)`` to the ``histories -> scores`` form of the evaluator."""
    def score(histories: list[np.ndarray]) -> np.ndarray:
        return model.similarity(np.array([h[-1] for h in histories], dtype=np.int64))
    return score


def evaluate_next_view(model: ItemToItemModel, split: CoViewSplit, part: str = "test", *,
                       cold_max_count: int = 5, ks: tuple[int, ...] = (10,),
                       progress: bool = False) -> dict[str, float]:
    """HR@k, NDCG@k and MRR overall and on cold targets, plus the row counts.

    Keys: ``hr_at_10``, ``ndcg_at_10``, ``mrr``, ``coverage_at_10``, ``n_rows``, and the same
    with a ``cold_`` prefix (``cold_n_rows`` is 0 and the cold metrics NaN when no row is cold).
    """
    rows: EvalSet = split.valid if part == "valid" else split.test
    score = item_to_item_scorer(model)
    out: dict[str, float] = {}
    for prefix, subset in (("", rows), ("cold_", cold_rows(rows, split.item_counts,
                                                          cold_max_count))):
        out[f"{prefix}n_rows"] = float(len(subset))
        if len(subset) == 0:
            for k in ks:
                out[f"{prefix}hr_at_{k}"] = out[f"{prefix}ndcg_at_{k}"] = float("nan")
            continue
        result = evaluate_scores(score, subset, split.n_items, item_counts=split.item_counts,
                                 ks=ks, sampled_negatives=None, progress=progress)
        for k in ks:
            for name in ("hr", "ndcg", "coverage"):
                out[f"{prefix}{name}_at_{k}"] = result.metrics[f"{name}_at_{k}"]
        out[f"{prefix}mrr"] = result.metrics["mrr"]
    return out
