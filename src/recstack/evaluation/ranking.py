"""Ranking primitives over a batch of full-catalogue score rows.

Scores are ``(B, n_items + 1)`` arrays indexed by internal item id; column 0 is padding and never a
real item. The same functions serve offline evaluation and online recommendation, so they are
batched and free of per-item Python loops.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from recstack.errors import DataError


def mask_items(scores: np.ndarray, histories: Sequence[np.ndarray], *,
               keep: np.ndarray | None = None) -> None:
    """Set padding and already-seen items to ``-inf``, in place.

    Args:
        scores: ``(B, n_items + 1)`` float scores; modified in place.
        histories: ``B`` integer arrays of internal item ids (0 = padding, ignored).
        keep: optional ``(B,)`` item per row that stays unmasked even if it was seen, e.g. the
            evaluation target when a user re-consumes an item.

    Raises:
        DataError: if the number of histories differs from the number of rows, or a history
            holds an id outside ``[0, n_items]``.
    """
    n_rows, n_cols = scores.shape
    if len(histories) != n_rows:
        raise DataError(f"{len(histories)} histories for {n_rows} score rows", field="histories",
                        fix="pass one history per score row")
    lengths = np.fromiter((len(h) for h in histories), dtype=np.int64, count=n_rows)  # (B,)
    if lengths.sum() > 0:
        rows = np.repeat(np.arange(n_rows), lengths)  # (L,)
        cols = np.concatenate([np.asarray(h, dtype=np.int64) for h in histories])  # (L,)
        # Negative ids would silently wrap around to the end of the catalogue.
        if cols.min() < 0 or cols.max() >= n_cols:
            raise DataError(f"history item ids must lie in [0, {n_cols - 1}]", field="histories",
                            fix="map raw item ids to internal ids with the dataset's vocabulary")
        if keep is not None:
            kept = np.asarray(keep, dtype=np.int64)[rows] == cols  # (L,)
            rows, cols = rows[~kept], cols[~kept]
        scores[rows, cols] = -np.inf
    scores[:, 0] = -np.inf


def top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best items of each row, best first.

    Uses ``argpartition`` (linear time) and sorts only the ``k`` selected columns. Items scored
    ``-inf`` (masked) sort after every finite score, so when a row has fewer than ``k`` finite
    scores its tail holds ``-inf`` entries that callers may drop. NaN sorts last. Equal scores are
    ordered by item id; which of several tied items enters at the cut-off is unspecified.

    Args:
        scores: ``(B, N)`` scores.
        k: number of items to return; clipped to ``N``.

    Returns:
        ``(items, item_scores)``: ``(B, k)`` int64 item ids and their ``(B, k)`` scores.

    Raises:
        ValueError: if ``k < 1``.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    n_rows, n_cols = scores.shape
    k = min(int(k), n_cols)
    neg = -scores  # argpartition / lexsort put the smallest first and NaN last.
    if k < n_cols:
        part = np.argpartition(neg, k - 1, axis=1)[:, :k]  # (B, k)
    else:
        part = np.broadcast_to(np.arange(n_cols), (n_rows, n_cols))  # (B, N)
    part_neg = np.take_along_axis(neg, part, axis=1)  # (B, k)
    # lexsort's last key is the primary one: score descending, then item id for stable ties.
    order = np.lexsort((part, part_neg), axis=1)  # (B, k)
    items = np.take_along_axis(part, order, axis=1).astype(np.int64, copy=False)  # (B, k)
    return items, np.take_along_axis(scores, items, axis=1)


def target_ranks(scores: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Pessimistic 0-based rank of each row's target.

    The rank is the number of items whose score is at least the target's, minus one (the target
    itself). Ties therefore count against the model: a constant scorer ranks every target last
    instead of first, and a model cannot gain from scores collapsing to equal values (common with
    float32, saturated activations or masking). NaN scores count as ties, so a NaN target ranks
    last and a NaN elsewhere ranks ahead of the target.

    Args:
        scores: ``(B, N)`` scores, already masked as the protocol requires.
        targets: ``(B,)`` column index of each row's target.

    Returns:
        ``(B,)`` int64 ranks in ``[0, N - 1]``; 0 is the top.
    """
    targets = np.asarray(targets, dtype=np.int64)
    target_scores = scores[np.arange(len(targets)), targets]  # (B,)
    # Counting "not strictly below" rather than ">=" is what makes NaN count against the model.
    below = (scores < target_scores[:, None]).sum(axis=1)  # (B,)
    return (scores.shape[1] - 1 - below).astype(np.int64)
