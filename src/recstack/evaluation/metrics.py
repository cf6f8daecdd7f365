"""Next-item recommendation metrics as pure functions of target ranks and top-k lists.

Ranks are 0-based (0 = the target came first), as returned by
:func:`recstack.evaluation.ranking.target_ranks`. Each evaluated row has exactly one relevant
item, so recall@k equals hit rate@k and the ideal DCG is 1. Top-k lists hold internal item ids;
entries equal to 0 (padding) stand for dropped slots and are ignored by the list metrics.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from scipy.stats import rankdata

from recstack.errors import DataError


def _hits(ranks: np.ndarray, k: int) -> np.ndarray:
    """Per-row 1.0 if the target is in the top ``k``, else 0.0."""
    return (np.asarray(ranks) < k).astype(np.float64)


def _ndcg_gains(ranks: np.ndarray, k: int) -> np.ndarray:
    """Per-row NDCG@k with one relevant item: ``1 / log2(rank + 2)`` inside the cut-off, else 0."""
    ranks = np.asarray(ranks, dtype=np.float64)
    return np.where(ranks < k, 1.0 / np.log2(ranks + 2.0), 0.0)


def hit_rate(ranks: np.ndarray, k: int) -> float:
    """Share of rows whose target is among the top ``k`` (HR@k).

    Args:
        ranks: ``(R,)`` 0-based target ranks.
        k: cut-off.
    """
    return float(_hits(ranks, k).mean())


def ndcg(ranks: np.ndarray, k: int) -> float:
    """Mean NDCG@k with a single relevant item per row (the ideal DCG is 1).

    Args:
        ranks: ``(R,)`` 0-based target ranks.
        k: cut-off.
    """
    return float(_ndcg_gains(ranks, k).mean())


def mrr(ranks: np.ndarray) -> float:
    """Mean reciprocal rank over the full ranking (no cut-off): mean of ``1 / (rank + 1)``.

    Args:
        ranks: ``(R,)`` 0-based target ranks.
    """
    return float((1.0 / (np.asarray(ranks, dtype=np.float64) + 1.0)).mean())


def catalogue_coverage(topk_items: np.ndarray, n_items: int) -> float:
    """Share of the catalogue that appears in at least one top-k list.

    Args:
        topk_items: ``(R, k)`` recommended internal item ids; 0 entries are ignored.
        n_items: catalogue size (ids ``1..n_items``).
    """
    items = np.asarray(topk_items).ravel()
    return float(len(np.unique(items[items > 0])) / n_items)


def _per_row_mean(topk_items: np.ndarray, values: np.ndarray) -> float:
    """Mean over rows of the mean ``values[item]`` of each row's non-padding items.

    Averaging within a row first gives every user the same weight when lists were shortened by
    dropped slots (the usual definition of ARP). Rows with no item are skipped; NaN if none is left.
    """
    items = np.asarray(topk_items, dtype=np.int64)  # (R, k)
    valid = items > 0  # (R, k)
    counts = valid.sum(axis=1)  # (R,)
    sums = np.where(valid, values[items], 0.0).sum(axis=1)  # (R,)
    keep = counts > 0
    if not keep.any():
        return float("nan")
    return float((sums[keep] / counts[keep]).mean())


def popularity_percentiles(item_counts: np.ndarray) -> np.ndarray:
    """Popularity percentile of every item, indexed by internal id.

    Args:
        item_counts: ``(n_items + 1,)`` training interaction count per internal id (index 0 is
            padding and ignored).

    Returns:
        ``(n_items + 1,)`` values in ``[0, 1]``: 0 for the least popular item, 1 for the most
        popular; tied items share their average rank. Index 0 is NaN.
    """
    counts = np.asarray(item_counts, dtype=np.float64)[1:]  # (I,)
    out = np.full(len(counts) + 1, np.nan)
    if len(counts) == 1:
        out[1] = 0.5  # one item is tied with itself: the middle, as for an all-tied catalogue
    elif len(counts) > 1:
        out[1:] = (rankdata(counts, method="average") - 1.0) / (len(counts) - 1.0)
    return out


def popularity_percentile(topk_items: np.ndarray, item_counts: np.ndarray) -> float:
    """Mean popularity percentile of the recommended items (0..1, 1 = the most popular item).

    A scale-free popularity-bias measure: comparable across datasets, unlike ARP.

    Args:
        topk_items: ``(R, k)`` recommended internal item ids; 0 entries are ignored.
        item_counts: ``(n_items + 1,)`` training interaction count per internal id.

    Returns:
        The mean over rows of each list's mean percentile; NaN if no list holds an item.
    """
    return _per_row_mean(topk_items, popularity_percentiles(item_counts))


def average_recommendation_popularity(topk_items: np.ndarray, item_counts: np.ndarray) -> float:
    """ARP: mean training interaction count of the recommended items.

    Args:
        topk_items: ``(R, k)`` recommended internal item ids; 0 entries are ignored.
        item_counts: ``(n_items + 1,)`` training interaction count per internal id.

    Returns:
        The mean over rows of each list's mean count; NaN if no list holds an item.
    """
    return _per_row_mean(topk_items, np.asarray(item_counts, dtype=np.float64))


def count_items(sequences: Iterable[np.ndarray], n_items: int) -> np.ndarray:
    """Training interaction count per internal item id, the ``item_counts`` the metrics expect.

    Args:
        sequences: training sequences of internal item ids (0 = padding, not counted).
        n_items: catalogue size.

    Returns:
        ``(n_items + 1,)`` int64 counts; index 0 is always 0.

    Raises:
        DataError: if an id lies outside ``[0, n_items]``.
    """
    seqs = [np.asarray(s, dtype=np.int64) for s in sequences]
    flat = np.concatenate(seqs) if seqs else np.zeros(0, dtype=np.int64)
    if len(flat) and (flat.min() < 0 or flat.max() > n_items):
        raise DataError(f"item ids must lie in [0, {n_items}]", field="sequences",
                        fix="count internal item ids, not raw ones")
    counts = np.bincount(flat, minlength=n_items + 1)  # (I + 1,)
    counts[0] = 0
    return counts.astype(np.int64)
