"""Partial-identification bounds for options the data do not support.

Assumptions (stated in docs/treatment.md and checked where data overlap):

1. Monotone treatment response: for ordered options t_a < t_b, Y(t_a) ≤ Y(t_b) (a larger lens
   never vaults less). Between two supported options, an unsupported one lies in
   [L(t_a), U(t_b)].
2. Bounded slope at the edges: beyond the last supported option t_s,
   L(t_s) + κ_min·(t − t_s) ≤ Y(t) ≤ U(t_s) + κ_max·(t − t_s) (mirrored below the first), with
   κ_min ≥ 0 and κ_max estimated conservatively where neighbouring options overlap.
3. Without any supported option (or without an order), Y(t) lies in the stated outcome range.
"""

from __future__ import annotations

import numpy as np


def monotone_bounds(positions: np.ndarray, lower: np.ndarray, upper: np.ndarray,
                    supported: np.ndarray, kappa: tuple[float, float],
                    outcome_range: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Bounds for every unsupported cell under monotone response and bounded edge slopes.

    Args:
        positions: (K,) option values in increasing order of the response (for a decreasing
            response pass the negated values).
        lower, upper: (N, K) interval ends; only supported cells are read.
        supported: (N, K) bool.
        kappa: (κ_min, κ_max) slope bounds in outcome units per unit of ``positions``.
        outcome_range: the stated range used where nothing else bounds a cell.

    Returns:
        (N, K) lower and upper bounds: supported cells unchanged, the others filled in.
    """
    kappa_min, kappa_max = kappa
    n, k = supported.shape
    lo, hi = lower.astype(float).copy(), upper.astype(float).copy()
    # Unsupported cells hold ±∞; zero them so that arithmetic on unselected cells stays quiet.
    lower, upper = np.where(supported, lower, 0.0), np.where(supported, upper, 0.0)
    rows = np.arange(n)
    for j in range(k):
        todo = ~supported[:, j]
        if not todo.any():
            continue
        below = _nearest_supported(supported, j, direction=-1)  # (N,) index or -1
        above = _nearest_supported(supported, j, direction=+1)
        new_lo = np.full(n, outcome_range[0])
        new_hi = np.full(n, outcome_range[1])
        has_below, has_above = below >= 0, above >= 0
        b, a = np.where(has_below, below, 0), np.where(has_above, above, 0)
        # Lower end: monotone from the nearest supported option below; else the slope from above.
        new_lo = np.where(has_below, lower[rows, b], new_lo)
        from_above_lo = lower[rows, a] - kappa_max * (positions[a] - positions[j])
        new_lo = np.where(~has_below & has_above, from_above_lo, new_lo)
        # Upper end: monotone from the nearest supported option above; else the slope from below.
        new_hi = np.where(has_above, upper[rows, a], new_hi)
        from_below_hi = upper[rows, b] + kappa_max * (positions[j] - positions[b])
        new_hi = np.where(has_below & ~has_above, from_below_hi, new_hi)
        # κ_min tightens the far side of an edge: beyond the last supported option, Y rises.
        tight_lo = lower[rows, b] + kappa_min * (positions[j] - positions[b])
        new_lo = np.where(has_below & ~has_above, tight_lo, new_lo)
        tight_hi = upper[rows, a] - kappa_min * (positions[a] - positions[j])
        new_hi = np.where(~has_below & has_above, tight_hi, new_hi)
        # An unbounded slope (no overlap to learn it from) falls back to the stated range.
        new_lo = np.where(np.isfinite(new_lo), new_lo, outcome_range[0])
        new_hi = np.where(np.isfinite(new_hi), new_hi, outcome_range[1])
        lo[todo, j], hi[todo, j] = new_lo[todo], new_hi[todo]
    return lo, hi


def _nearest_supported(supported: np.ndarray, j: int, direction: int) -> np.ndarray:
    """Index of the nearest supported option below (−1) or above (+1) column ``j``, or −1."""
    n, k = supported.shape
    out = np.full(n, -1)
    columns = range(j - 1, -1, -1) if direction < 0 else range(j + 1, k)
    for c in columns:
        fill = (out < 0) & supported[:, c]
        out[fill] = c
    return out


def range_bounds(n: int, k: int, outcome_range: tuple[float, float]
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Unordered options: every unsupported cell gets the stated outcome range."""
    return np.full((n, k), outcome_range[0]), np.full((n, k), outcome_range[1])
