"""Performance without labels: confidence-based for classifiers, direct loss for regression.

Both are fitted on a labelled reference that the model did not train on (a validation or
early-production window) and then estimate performance on unlabelled windows. They assume the
relation between inputs and outcome stays put (covariate shift only); concept drift needs labels.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.isotonic import IsotonicRegression
from sklearn.utils.validation import check_is_fitted

from recstack.errors import DataError


def _check_rows(n: int, what: str) -> None:
    if n == 0:
        raise DataError(f"{what} has no rows", field=what,
                        fix="give a non-empty window (or a larger reference)")


class ConfidenceBasedEstimator(BaseEstimator):
    """Expected accuracy and F1 of a binary classifier from its calibrated scores (CBPE).

    Args:
        threshold: the decision threshold the served model applies to its score.
    """

    def __init__(self, *, threshold: float = 0.5):
        self.threshold = threshold

    def fit(self, scores: np.ndarray, labels: np.ndarray) -> ConfidenceBasedEstimator:
        """Calibrate ``scores`` (positive-class scores) on reference ``labels`` (0/1)."""
        scores, labels = np.asarray(scores, float), np.asarray(labels, float)
        _check_rows(len(scores), "reference")
        if not set(np.unique(labels)) <= {0.0, 1.0}:
            raise DataError("labels must be 0 or 1", field="labels",
                            fix="encode the positive class as 1")
        self.calibrator_ = IsotonicRegression(out_of_bounds="clip", y_min=0, y_max=1).fit(
            scores, labels)
        return self

    def estimate(self, scores: np.ndarray) -> dict[str, float]:
        """Expected ``accuracy`` and ``f1`` on a window of unlabelled ``scores``."""
        check_is_fitted(self, "calibrator_")
        scores = np.asarray(scores, float)
        _check_rows(len(scores), "current")
        p = self.calibrator_.predict(scores)
        predicted = scores >= self.threshold
        tp = float(np.sum(p * predicted))
        fp = float(np.sum((1 - p) * predicted))
        fn = float(np.sum(p * ~predicted))
        accuracy = float(np.mean(np.where(predicted, p, 1 - p)))
        f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn > 0 else float("nan")
        return {"accuracy": accuracy, "f1": f1}


class DirectLossEstimator(BaseEstimator):
    """Expected MAE and RMSE of a regressor from a model of its loss (DLE).

    A gradient-boosted model learns the absolute and the squared error from the inputs and the
    prediction on the labelled reference, and averages its predictions over a new window.

    Args:
        max_iter: boosting iterations of each loss model.
        random_state: seed of the loss models.
    """

    def __init__(self, *, max_iter: int = 200, random_state: int = 0):
        self.max_iter = max_iter
        self.random_state = random_state

    def _design(self, features: pd.DataFrame, predictions: np.ndarray) -> np.ndarray:
        missing = [c for c in getattr(self, "columns_", []) if c not in features.columns]
        if missing:
            raise DataError(f"columns {missing} are missing", field=missing[0],
                            fix="give the same feature columns as the reference")
        cols = getattr(self, "columns_", list(features.columns))
        x = features[cols].to_numpy(dtype=float)
        return np.column_stack([x, np.asarray(predictions, float)])

    def fit(self, features: pd.DataFrame, predictions: np.ndarray, labels: np.ndarray
            ) -> DirectLossEstimator:
        """Learn the loss on a labelled reference the model did not train on."""
        _check_rows(len(features), "reference")
        design = self._design(features, predictions)
        error = np.asarray(labels, float) - np.asarray(predictions, float)
        if np.isnan(error).any():
            raise DataError("labels or predictions contain NaN", field="labels",
                            fix="drop rows without an outcome")
        self.columns_ = list(features.columns)

        def model() -> HistGradientBoostingRegressor:
            return HistGradientBoostingRegressor(max_iter=self.max_iter,
                                                 random_state=self.random_state)

        self.abs_model_ = model().fit(design, np.abs(error))
        self.sq_model_ = model().fit(design, error**2)
        return self

    def estimate(self, features: pd.DataFrame, predictions: np.ndarray) -> dict[str, float]:
        """Expected ``mae`` and ``rmse`` on an unlabelled window."""
        check_is_fitted(self, "abs_model_")
        _check_rows(len(features), "current")
        design = self._design(features, predictions)
        mae = float(np.clip(self.abs_model_.predict(design), 0, None).mean())
        rmse = float(np.sqrt(np.clip(self.sq_model_.predict(design), 0, None).mean()))
        return {"mae": mae, "rmse": rmse}
