"""Weighted split conformal prediction under covariate shift (one treatment option at a time).

Tibshirani, Foygel Barber, Candès and Ramdas (2019), "Conformal prediction under covariate
shift"; Lei and Candès (2021), "Conformal inference of counterfactuals and individual treatment
effects". Calibration points are the patients who received option t, with out-of-fold residuals
from cross-fitted models; each gets the likelihood ratio w(x_i) ∝ 1 / e_t(x_i) from the treated
population to all patients, and so does the test point. The interval's radius is the (1 − α)
quantile of the weighted calibration scores with the test point's own mass placed at +∞: when
w(x) dominates (e_t(x) tiny) that quantile is +∞, and no finite interval is supported by the data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class WeightedCalibration:
    """Calibration scores of one option, sorted, with their weights and cumulative sums."""

    residuals: np.ndarray  # signed y − μ(x, t), sorted ascending
    residual_weights: np.ndarray  # weights in the order of ``residuals``
    scores: np.ndarray  # |y − μ(x, t)|, sorted ascending
    score_weights: np.ndarray  # weights in the order of ``scores``

    @classmethod
    def from_residuals(cls, residuals: np.ndarray, weights: np.ndarray) -> WeightedCalibration:
        residuals = np.asarray(residuals, dtype=float)
        weights = np.asarray(weights, dtype=float)
        by_residual = np.argsort(residuals, kind="stable")
        scores = np.abs(residuals)
        by_score = np.argsort(scores, kind="stable")
        return cls(residuals[by_residual], weights[by_residual], scores[by_score],
                   weights[by_score])

    @property
    def total_weight(self) -> float:
        return float(self.score_weights.sum())

    @property
    def effective_size(self) -> float:
        """Kish effective sample size: how many equal-weight points the weights are worth."""
        w = self.score_weights
        return float(w.sum() ** 2 / np.square(w).sum()) if len(w) else 0.0

    def radius(self, test_weights: np.ndarray, alpha: float) -> np.ndarray:
        """Interval radius per test point; +∞ where the data cannot support a finite one.

        Args:
            test_weights: w(x) of each test point (+∞ allowed: no support at all).
            alpha: miscoverage level; the interval covers with probability ≥ 1 − α.
        """
        test_weights = np.asarray(test_weights, dtype=float)
        if len(self.scores) == 0:
            return np.full(test_weights.shape, np.inf)
        cumulative = np.cumsum(self.score_weights)
        # Smallest score whose weighted CDF (test mass sitting at +∞) reaches 1 − α.
        with np.errstate(invalid="ignore"):
            threshold = (1.0 - alpha) * (self.total_weight + test_weights)
        position = np.searchsorted(cumulative, threshold, side="left")
        finite = np.isfinite(test_weights) & (position < len(self.scores))
        out = np.full(test_weights.shape, np.inf)
        out[finite] = self.scores[position[finite]]
        return out

    def probability_between(self, centre: np.ndarray, low: float | np.ndarray,
                            high: float | np.ndarray, test_weights: np.ndarray) -> np.ndarray:
        """P(low ≤ Y ≤ high) under the weighted predictive distribution centre + residual.

        The test point's own mass (at an unknown value) counts as *outside* the range, so the
        probability is conservative and falls to 0 as the weights lose support.
        """
        test_weights = np.asarray(test_weights, dtype=float)
        if len(self.residuals) == 0:
            return np.zeros(test_weights.shape)
        cumulative = np.concatenate([[0.0], np.cumsum(self.residual_weights)])
        upper = np.searchsorted(self.residuals, high - centre, side="right")
        lower = np.searchsorted(self.residuals, low - centre, side="left")
        mass = cumulative[upper] - cumulative[lower]
        with np.errstate(invalid="ignore", divide="ignore"):
            prob = mass / (self.total_weight + test_weights)
        return np.where(np.isfinite(test_weights), prob, 0.0)
