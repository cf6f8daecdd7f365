"""The outcome model μ(x, t): a linear trend in the option plus gradient boosting on the rest.

Trees alone predict a flat outcome beyond the options a patient's neighbours received, which is
exactly where counterfactual predictions are needed. A ridge regression on the features, the
option's position and their products carries the trend in the option across that gap; boosting
(monotone in the option when the response is assumed monotone) fits what is left.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import Ridge
from sklearn.preprocessing import StandardScaler


class LinearPlusBoosting(RegressorMixin, BaseEstimator):
    """μ(x, t) = ridge([x, t, x·t]) + boosting(x, t); the last design column is the option.

    Args:
        ordered: whether the option column is an ordered position (else a category code).
        monotone: +1 / −1 for a response assumed increasing / decreasing in the position, 0 none.
        max_iter: boosting iterations.
        random_state: boosting seed.
    """

    def __init__(self, *, ordered: bool = True, monotone: int = 1, max_iter: int = 300,
                 random_state: int = 0):
        self.ordered = ordered
        self.monotone = monotone
        self.max_iter = max_iter
        self.random_state = random_state

    def _linear_design(self, design: np.ndarray) -> np.ndarray:
        z = self.scaler_.transform(design)
        x, t = z[:, :-1], z[:, -1:]
        return np.column_stack([x, t, x * t])

    def fit(self, design: np.ndarray, y: np.ndarray) -> LinearPlusBoosting:
        n_features = design.shape[1] - 1
        self.scaler_ = StandardScaler().fit(design)
        if self.ordered:
            self.linear_: Ridge | None = Ridge(alpha=1.0).fit(self._linear_design(design), y)
            residual = y - self.linear_.predict(self._linear_design(design))
        else:
            self.linear_, residual = None, y
        self.boosting_ = HistGradientBoostingRegressor(
            max_iter=self.max_iter, learning_rate=0.05, max_leaf_nodes=15, min_samples_leaf=20,
            l2_regularization=1.0, early_stopping=False, random_state=self.random_state,
            monotonic_cst=[0] * n_features + [self.monotone if self.ordered else 0],
            categorical_features=None if self.ordered else [n_features],
        ).fit(design, residual)
        return self

    def predict(self, design: np.ndarray) -> np.ndarray:
        out = np.asarray(self.boosting_.predict(design), dtype=float)
        if self.linear_ is not None:
            out = out + self.linear_.predict(self._linear_design(design))
        return out


class ResidualScale(RegressorMixin, BaseEstimator):
    """σ(x, t): how large the outcome model's error is expected to be for a patient and option.

    Gradient boosting on the same design as the outcome model, fitted to absolute out-of-fold
    residuals (their conditional mean is proportional to the noise's standard deviation).
    Conformal scores |y − μ| / σ then give intervals μ ± q·σ that are narrow where the outcome
    is predictable and wide where it is not (Lei et al. 2018, "locally weighted" conformal).
    The floor keeps σ away from 0, where a score would explode.

    Args:
        floor: the smallest σ returned.
        max_iter: boosting iterations.
        random_state: boosting seed.
    """

    def __init__(self, *, floor: float = 1.0, max_iter: int = 300, random_state: int = 0):
        self.floor = floor
        self.max_iter = max_iter
        self.random_state = random_state

    def fit(self, design: np.ndarray, absolute_residual: np.ndarray) -> ResidualScale:
        # Shallow trees on large leaves: a scale is a smooth, low-signal target, and small
        # leaves chase single errors (chosen on one simulated heteroscedastic clinic, seed 1).
        self.boosting_ = HistGradientBoostingRegressor(
            max_iter=self.max_iter, learning_rate=0.05, max_leaf_nodes=4, min_samples_leaf=100,
            l2_regularization=1.0, early_stopping=False, random_state=self.random_state,
        ).fit(design, absolute_residual)
        return self

    def predict(self, design: np.ndarray) -> np.ndarray:
        return np.maximum(np.asarray(self.boosting_.predict(design), dtype=float), self.floor)


class ResidualQuantiles(RegressorMixin, BaseEstimator):
    """Conformalised quantile regression (CQR) of the outcome model's error: its α/2 and
    1 − α/2 quantiles given the patient and option.

    Romano, Patterson and Candès (2019), on the residual y − μ(x, t) rather than on y, so the
    outcome model's trend in the option still carries counterfactual cells (quantile trees alone
    are flat beyond the options a patient's neighbours received). The interval before
    calibration is μ + [q_lo, q_hi]; it is expressed as a centre c = (q_lo + q_hi) / 2 and a
    half-width h = (q_hi − q_lo) / 2, and the conformal score is |y − μ − c| / h (the scaled CQR
    score of Kivaranovic et al. 2020 for a symmetric band), so the same weighted, per-option
    calibration applies and the interval may be asymmetric around μ.

    Args:
        alpha: the miscoverage the quantiles bracket.
        floor: the smallest half-width returned.
        max_iter: boosting iterations per quantile.
        random_state: boosting seed.
    """

    def __init__(self, *, alpha: float = 0.1, floor: float = 1.0, max_iter: int = 300,
                 random_state: int = 0):
        self.alpha = alpha
        self.floor = floor
        self.max_iter = max_iter
        self.random_state = random_state

    def _quantile_model(self, quantile: float) -> HistGradientBoostingRegressor:
        # As shallow as the scale model: a tail quantile has even less signal than a mean error.
        return HistGradientBoostingRegressor(
            loss="quantile", quantile=quantile, max_iter=self.max_iter, learning_rate=0.05,
            max_leaf_nodes=4, min_samples_leaf=100, l2_regularization=1.0,
            early_stopping=False, random_state=self.random_state)

    def fit(self, design: np.ndarray, residual: np.ndarray) -> ResidualQuantiles:
        self.lower_ = self._quantile_model(self.alpha / 2).fit(design, residual)
        self.upper_ = self._quantile_model(1 - self.alpha / 2).fit(design, residual)
        return self

    def predict(self, design: np.ndarray) -> np.ndarray:
        """The half-width h (the error's scale)."""
        return self.centre_scale(design)[1]

    def centre_scale(self, design: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return centre_and_half_width(np.asarray(self.lower_.predict(design), dtype=float),
                                     np.asarray(self.upper_.predict(design), dtype=float),
                                     self.floor)


def centre_and_half_width(lower: np.ndarray, upper: np.ndarray, floor: float
                          ) -> tuple[np.ndarray, np.ndarray]:
    """Centre and floored half-width of [lower, upper]; crossed quantiles are swapped."""
    low, high = np.minimum(lower, upper), np.maximum(lower, upper)
    return 0.5 * (low + high), np.maximum(0.5 * (high - low), floor)
