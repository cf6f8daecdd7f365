"""TreatmentRecommender: per-option predictions with honest intervals, and a recommendation.

For every (patient, option) it predicts the outcome with a gradient-boosting outcome model, a
calibrated propensity e_t(x) = P(T = t | X = x) and a support decision. Supported cells get a
weighted split-conformal interval valid under the shift from treated to all patients
(``conformal.py``), calibrated per option (Mondrian) on residuals normalised by a learned scale
σ(x, t), so that intervals are narrow where the outcome is predictable and wide where it is
not; unsupported cells get partial-identification bounds (``bounds.py``). The recommendation is
the supported option most likely to land in the target range under that option's calibrated
predictive distribution. The statistics
and every assumption are in docs/treatment.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.utils.validation import check_is_fitted

from recstack.errors import ConfigError, DataError
from recstack.treatment import _validation as check
from recstack.treatment import fast
from recstack.treatment._outcome import (
    LinearPlusBoosting,
    ResidualQuantiles,
    ResidualScale,
    centre_and_half_width,
)
from recstack.treatment.bounds import monotone_bounds, range_bounds
from recstack.treatment.conformal import WeightedCalibration
from recstack.treatment.simulator import PHYSIOLOGICAL_RANGES

PREDICTION_COLUMNS = ["row_id", "option", "prediction", "lower", "upper", "supported",
                      "propensity", "p_in_target", "recommended"]


class TreatmentRecommender(BaseEstimator):
    """Outcome per option with calibrated intervals where data support it, bounds elsewhere.

    Args:
        features: feature columns; default every numeric column except treatment, outcome, id.
        treatment: the treatment column (ordered numbers, or categories).
        outcome: the outcome column (numeric).
        target: (low, high) range the outcome should land in.
        alpha: miscoverage; intervals aim at 1 − α coverage.
        options: the options to score; default those seen in training. An option never seen is
            always unsupported.
        ordered: whether options are ordered; "auto": numeric treatment ⇒ ordered.
        monotone: "increasing", "decreasing" or None: the assumed response to an ordered option
            (a larger lens never vaults less). Used for the outcome model's constraint and bounds.
        propensity_floor: cells with e_t(x) below it are unsupported (trimming, Crump et al. 2009).
        n_folds: cross-fitting folds; every row is calibrated by models that never saw it.
        slope_margin: factor that widens the learned slope range for edge bounds (conservative).
        outcome_range: the stated range of the outcome for cells nothing else bounds; default
            the observed range widened by 10% of its span on each side.
        value_ranges: possible values per column; default built-in eye-measurement ranges for
            the column names it knows; ``{}`` disables the check.
        id_column: column whose values become ``row_id`` (row number when absent).
        max_iter: boosting iterations for the outcome and propensity models.
        interval: "adaptive" (scores |y − μ| / σ(x, t), radius q·σ), "cqr" (conformalised
            quantile regression of the error: centre and half-width from its α/2 and 1 − α/2
            quantiles, so intervals may be asymmetric) or "constant" (one radius per option for
            every patient, as before 2026-11).
        min_calibration: an option whose treated patients are worth fewer than this many
            equally weighted calibration points is calibrated on every option's pooled
            normalised residuals instead of its own (said in ``diagnostics()``).
        random_state: seed for the split and the models.
    """

    def __init__(self, *, features: Sequence[str] | None = None, treatment: str = "icl_size_mm",
                 outcome: str = "vault_um", target: tuple[float, float] = (250.0, 750.0),
                 alpha: float = 0.1, options: Sequence[Any] | None = None,
                 ordered: bool | Literal["auto"] = "auto",
                 monotone: Literal["increasing", "decreasing"] | None = "increasing",
                 propensity_floor: float = 0.01, n_folds: int = 5,
                 slope_margin: float = 1.5, outcome_range: tuple[float, float] | None = None,
                 value_ranges: dict[str, tuple[float, float]] | None = None,
                 id_column: str = "patient_id", max_iter: int = 300,
                 interval: Literal["adaptive", "cqr", "constant"] = "adaptive",
                 min_calibration: int = 50, random_state: int = 0):
        self.features = features
        self.treatment = treatment
        self.outcome = outcome
        self.target = target
        self.alpha = alpha
        self.options = options
        self.ordered = ordered
        self.monotone = monotone
        self.propensity_floor = propensity_floor
        self.n_folds = n_folds
        self.slope_margin = slope_margin
        self.outcome_range = outcome_range
        self.value_ranges = value_ranges
        self.id_column = id_column
        self.max_iter = max_iter
        self.interval = interval
        self.min_calibration = min_calibration
        self.random_state = random_state

    # ------------------------------------------------------------------ fit
    def fit(self, frame: pd.DataFrame) -> TreatmentRecommender:
        """Fit outcome and propensity models, calibrate per option, learn the edge slopes."""
        self._check_params()
        frame = check.require_frame(frame)
        check.require_columns(frame, [self.treatment], "treatment")
        check.require_columns(frame, [self.outcome], "outcome")
        self.feature_names_ = self._feature_names(frame)
        X = self._features_matrix(frame)
        y = check.numeric_matrix(frame, [self.outcome])[:, 0]
        self._check_ranges(y[:, None], [self.outcome])
        check.require_no_nan(frame[self.treatment], self.treatment)
        self._learn_options(frame[self.treatment])
        codes = self._option_codes(frame[self.treatment], allow_unknown=False)
        if len(np.unique(codes)) < 2:
            raise DataError("every row has the same option; nothing to compare",
                            field=self.treatment, fix="train on data with at least two options")
        mu_oof, propensity_oof = self._cross_fit(X, codes, y)
        lo, hi = float(y.min()), float(y.max())
        span = hi - lo
        # Physically possible outcomes (vault ≥ 0 µm): every interval is projected onto them,
        # which can only raise coverage, since the outcome lies there for sure.
        ranges = PHYSIOLOGICAL_RANGES if self.value_ranges is None else self.value_ranges
        limits = ranges.get(self.outcome, (-np.inf, np.inf))
        self.outcome_limits_ = (float(limits[0]), float(limits[1]))
        stated = ((float(self.outcome_range[0]), float(self.outcome_range[1]))
                  if self.outcome_range else (lo - 0.1 * span, hi + 0.1 * span))
        self.outcome_range_: tuple[float, float] = (
            max(stated[0], self.outcome_limits_[0]), min(stated[1], self.outcome_limits_[1]))
        self._calibrate(X, mu_oof, propensity_oof, codes, y)
        self.n_train_ = self.n_calibration_ = len(y)
        return self

    def _check_params(self) -> None:
        low, high = self.target
        if not low < high:
            raise ConfigError(f"target {self.target} is empty", field="target",
                              fix="give low:high with low < high, e.g. 250:750")
        if not 0.0 < self.alpha < 0.5:
            raise ConfigError(f"alpha {self.alpha} is not in (0, 0.5)", field="alpha",
                              fix="use e.g. 0.1 for 90% intervals")
        if not 0.0 <= self.propensity_floor < 0.5:
            raise ConfigError("propensity_floor must be in [0, 0.5)", field="propensity_floor",
                              fix="use e.g. 0.01")
        if not 2 <= self.n_folds <= 20:
            raise ConfigError("n_folds must be in [2, 20]", field="n_folds", fix="use e.g. 5")
        if self.interval not in ("adaptive", "cqr", "constant"):
            raise ConfigError(f"unknown interval {self.interval!r}", field="interval",
                              fix="use 'adaptive', 'cqr' or 'constant'")
        if self.monotone not in ("increasing", "decreasing", None):
            raise ConfigError(f"unknown monotone {self.monotone!r}", field="monotone",
                              fix="use 'increasing', 'decreasing' or None")

    def _feature_names(self, frame: pd.DataFrame) -> list[str]:
        if self.features is not None:
            names = [str(f) for f in self.features]
            check.require_columns(frame, names, "feature")
        else:
            skip = {self.treatment, self.outcome, self.id_column}
            names = [str(c) for c in frame.columns
                     if c not in skip and pd.api.types.is_numeric_dtype(frame[c])]
        if not names:
            raise DataError("no feature columns", field="features",
                            fix="pass --features col1,col2 (numeric columns)")
        for name in (self.treatment, self.outcome):
            if name in names:
                raise ConfigError(f"{name!r} cannot be a feature", field="features",
                                  fix="remove the treatment and outcome from the features")
        return names

    def _features_matrix(self, frame: pd.DataFrame) -> np.ndarray:
        X = check.numeric_matrix(frame, self.feature_names_)
        self._check_ranges(X, self.feature_names_)
        return X

    def _check_ranges(self, matrix: np.ndarray, columns: list[str]) -> None:
        ranges = PHYSIOLOGICAL_RANGES if self.value_ranges is None else self.value_ranges
        check.require_in_ranges(matrix, columns, ranges)

    def _learn_options(self, values: pd.Series) -> None:
        numeric = pd.api.types.is_numeric_dtype(values)
        self.ordered_ = bool(numeric) if self.ordered == "auto" else bool(self.ordered)
        if self.ordered_ and not numeric:
            raise ConfigError("ordered options must be numbers", field=self.treatment,
                              fix="use numeric option values or ordered=False")
        seen = sorted(pd.unique(values).tolist())
        options = list(self.options) if self.options is not None else seen
        self.options_ = sorted(options) if self.ordered_ else options
        if self.ordered_:
            self.options_ = [float(o) for o in self.options_]
        sign = -1.0 if self.monotone == "decreasing" else 1.0
        self.positions_ = (sign * np.asarray(self.options_, dtype=float) if self.ordered_
                           else np.arange(len(self.options_), dtype=float))

    def _option_codes(self, values: pd.Series, *, allow_unknown: bool) -> np.ndarray:
        """Index of each row's option in ``options_``; an unknown option is an error."""
        codes = np.full(len(values), -1)
        raw = values.to_numpy()
        for k, option in enumerate(self.options_):
            if self.ordered_:
                match = np.isclose(pd.to_numeric(values, errors="coerce").to_numpy(), option)
            else:
                match = raw == option
            codes[match] = k
        if (codes < 0).any() and not allow_unknown:
            bad = raw[codes < 0][0]
            raise DataError(f"option {bad!r} was never seen in training", field=self.treatment,
                            fix=f"use one of {self.options_}, or refit with that option")
        return codes

    def _cross_fit(self, X: np.ndarray, codes: np.ndarray, y: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
        """Fit one outcome and one propensity model per fold; out-of-fold (N, K) μ and e."""
        if len(codes) < 10 * self.n_folds:
            raise DataError(f"only {len(codes)} rows", field="data",
                            fix=f"fit on at least {10 * self.n_folds} rows (hundreds for useful "
                            "intervals)")
        counts = np.bincount(codes, minlength=len(self.options_))
        splitter: KFold | StratifiedKFold = (
            StratifiedKFold(self.n_folds, shuffle=True, random_state=self.random_state)
            if counts[counts > 0].min() >= self.n_folds
            else KFold(self.n_folds, shuffle=True, random_state=self.random_state))
        self.outcome_models_: list[LinearPlusBoosting] = []
        self.propensity_models_: list[CalibratedClassifierCV] = []
        mu = np.zeros((len(y), len(self.options_)))
        propensity = np.zeros_like(mu)
        self.fold_of_row_ = np.zeros(len(y), dtype=int)
        for fold, (train, held) in enumerate(splitter.split(X, codes)):
            self.fold_of_row_[held] = fold
            outcome = self._outcome_model().fit(self._design(X[train], codes[train]), y[train])
            classifier = self._propensity_model(codes[train]).fit(X[train], codes[train])
            self.outcome_models_.append(outcome)
            self.propensity_models_.append(classifier)
            mu[held] = self._mu(X[held], [outcome])
            propensity[held] = self._propensity(X[held], [classifier])
        return mu, propensity

    def _design(self, X: np.ndarray, codes: np.ndarray) -> np.ndarray:
        column = self.positions_[codes] if self.ordered_ else codes.astype(float)
        return np.column_stack([X, column])

    def _outcome_model(self) -> LinearPlusBoosting:
        # The positions already point the assumed response upwards (decreasing: negated).
        return LinearPlusBoosting(ordered=self.ordered_,
                                  monotone=1 if self.ordered_ and self.monotone else 0,
                                  max_iter=self.max_iter, random_state=self.random_state)

    def _propensity_model(self, codes: np.ndarray) -> CalibratedClassifierCV:
        base = HistGradientBoostingClassifier(
            max_iter=max(50, self.max_iter // 3), learning_rate=0.05, max_leaf_nodes=15,
            min_samples_leaf=20, l2_regularization=1.0, early_stopping=False,
            random_state=self.random_state)
        folds = int(min(3, np.bincount(codes)[np.bincount(codes) > 0].min()))
        # Temperature scaling keeps the multi-class probabilities a distribution; never clipped.
        return CalibratedClassifierCV(base, method="temperature", cv=max(2, folds))

    # ------------------------------------------------------------ calibrate
    def _calibrate(self, X: np.ndarray, mu: np.ndarray, propensity: np.ndarray,
                   codes: np.ndarray, y: np.ndarray) -> None:
        """Weighted (normalised) residuals per option from out-of-fold predictions; then the
        edge slopes."""
        residual = y - mu[np.arange(len(y)), codes]
        centre, scale = self._fit_scale(X, codes, residual)
        normalised = (residual - centre) / scale
        floor = max(self.propensity_floor, 1e-12)
        e = propensity[np.arange(len(y)), codes]
        # Target population: patients in the overlap region (e ≥ floor); weight ∝ 1 / e.
        weights = np.where(e >= floor, 1.0 / np.maximum(e, 1e-12), 0.0)
        pooled = WeightedCalibration.from_residuals(normalised, weights)
        self.calibration_: list[WeightedCalibration] = []
        self.own_calibration_: list[WeightedCalibration] = []
        self.calibration_pooled_: list[bool] = []
        for k in range(len(self.options_)):
            own = WeightedCalibration.from_residuals(normalised[codes == k], weights[codes == k])
            # Too few patients for this option's own guarantee: borrow every option's
            # normalised residuals (the scale model has already absorbed the option's level).
            thin = own.effective_size < self.min_calibration
            self.calibration_.append(pooled if thin and (codes == k).any() else own)
            self.own_calibration_.append(own)
            self.calibration_pooled_.append(bool(thin and (codes == k).any()))
        cells = self._cells(mu, propensity, X)
        self.kappa_ = self._edge_slopes(cells["mu"], cells["supported"])
        self.calibration_check_ = {"codes": codes, "propensity": propensity,
                                   "supported": cells["supported"], "y": y, "mu": mu}

    def _fit_scale(self, X: np.ndarray, codes: np.ndarray, residual: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
        """Out-of-fold centre c(x_i, t_i) and scale σ(x_i, t_i) of the error for every training
        row (0 and 1 when intervals are constant; c = 0 for "adaptive").

        Cross-fitted on the outcome model's folds: a row's σ comes from a scale model that never
        saw its residual, or the scores of the calibration points would be too small.
        """
        self.scale_models_: list[ResidualScale | ResidualQuantiles] = []
        centre, scale = np.zeros(len(residual)), np.ones(len(residual))
        if self.interval == "constant":
            self.scale_floor_ = 1.0
            return centre, scale
        absolute = np.abs(residual)
        # 5% of the typical error: keeps a score finite without flattening real differences.
        self.scale_floor_ = max(0.05 * float(np.median(absolute)), 1e-9)
        design = self._design(X, codes)
        for fold in range(int(self.fold_of_row_.max()) + 1):
            held = self.fold_of_row_ == fold
            if self.interval == "cqr":
                quantiles = ResidualQuantiles(alpha=self.alpha, floor=self.scale_floor_,
                                              random_state=self.random_state)
                quantiles.fit(design[~held], residual[~held])
                self.scale_models_.append(quantiles)
                centre[held], scale[held] = quantiles.centre_scale(design[held])
            else:
                model = ResidualScale(floor=self.scale_floor_, random_state=self.random_state)
                self.scale_models_.append(model.fit(design[~held], absolute[~held]))
                scale[held] = model.predict(design[held])
        return centre, scale

    def _centre_scale(self, X: np.ndarray,
                      models: list[ResidualScale | ResidualQuantiles] | None = None
                      ) -> tuple[np.ndarray, np.ndarray]:
        """(N, K) centre c(x, t) and scale σ(x, t) of the error for every option, from the fold
        models' mean (for CQR: the mean of each quantile, then centre and half-width)."""
        shape = (len(X), len(self.options_))
        if not getattr(self, "scale_models_", None):
            return np.zeros(shape), np.ones(shape)
        if models is None:  # predicting with the fitted models: the fast path (fast.py)
            return fast.centre_scale(self, X)
        centre, scale = np.zeros(shape), np.ones(shape)
        for k in range(len(self.options_)):
            design = self._design(X, np.full(len(X), k))
            if isinstance(models[0], ResidualQuantiles):
                lower = np.mean([m.lower_.predict(design) for m in models], axis=0)
                upper = np.mean([m.upper_.predict(design) for m in models], axis=0)
                centre[:, k], scale[:, k] = centre_and_half_width(lower, upper,
                                                                  models[0].floor)
            else:
                scale[:, k] = np.mean([m.predict(design) for m in models], axis=0)
        return centre, scale

    def _edge_slopes(self, mu: np.ndarray, supported: np.ndarray) -> tuple[float, float]:
        """(0, κ_max): κ_max from model slopes where neighbouring options are both supported."""
        if not (self.ordered_ and self.monotone):
            return (0.0, float("inf"))
        slopes = []
        for k in range(len(self.options_) - 1):
            both = supported[:, k] & supported[:, k + 1]
            step = self.positions_[k + 1] - self.positions_[k]
            slopes.append((mu[both, k + 1] - mu[both, k]) / step)
        pooled = np.concatenate(slopes) if slopes else np.empty(0)
        if len(pooled) < 20:
            return (0.0, float("inf"))
        # κ_min stays 0 (monotonicity alone): slopes learned where options overlap need not hold
        # at the edges (a vault cannot fall below 0 µm, so there the slope flattens).
        return (0.0, float(np.quantile(pooled, 0.95)) * self.slope_margin)

    # -------------------------------------------------------------- predict
    def _mu(self, X: np.ndarray, models: list[LinearPlusBoosting] | None = None
            ) -> np.ndarray:
        """(N, K) outcome predictions for every option, averaged over the fold models."""
        if models is None:  # predicting with the fitted models: the fast path (fast.py)
            return fast.outcome(self, X)
        columns = []
        for k in range(len(self.options_)):
            design = self._design(X, np.full(len(X), k))
            columns.append(np.mean([m.predict(design) for m in models], axis=0))
        return np.column_stack(columns)

    def _propensity(self, X: np.ndarray, models: list[CalibratedClassifierCV] | None = None
                    ) -> np.ndarray:
        """(N, K) propensities averaged over fold models; an option never seen has 0."""
        if models is None:
            return fast.propensity(self, X)
        out = np.zeros((len(X), len(self.options_)))
        for model in models:
            out[:, model.classes_] += model.predict_proba(X) / len(models)
        return out

    def _cells(self, mu: np.ndarray, propensity: np.ndarray, X: np.ndarray
               ) -> dict[str, np.ndarray]:
        """Conformal intervals, support and P(in target) for every (row, option) cell."""
        n, k_opts = mu.shape
        centre, scale = self._centre_scale(X)
        lower, upper = np.full((n, k_opts), -np.inf), np.full((n, k_opts), np.inf)
        p_in = np.zeros((n, k_opts))
        with np.errstate(divide="ignore"):
            test_w = np.where(propensity >= max(self.propensity_floor, 1e-12), 1.0 / propensity,
                              np.inf)
        low, high = self.target
        own = getattr(self, "own_calibration_", self.calibration_)
        for k, calibration in enumerate(self.calibration_):
            sigma = scale[:, k]
            radius = calibration.radius(test_w[:, k], self.alpha) * sigma
            middle = mu[:, k] + centre[:, k]  # μ for "adaptive"; CQR may shift it
            if calibration is not own[k]:
                # Borrowed residuals describe the error's shape, not who got this option: the
                # cell is supported only where the option's own patients would bound it (the
                # pooled mass of every option would make any propensity above the floor look
                # supported, whatever the data say about this option).
                radius[~np.isfinite(own[k].radius(test_w[:, k], self.alpha))] = np.inf
            lower[:, k], upper[:, k] = middle - radius, middle + radius
            # The option's predictive distribution is μ + c + σ·(weighted normalised residual).
            p_in[:, k] = calibration.probability_between(
                np.zeros(n), (low - middle) / sigma, (high - middle) / sigma, test_w[:, k])
        supported = np.isfinite(upper) & np.isfinite(lower)
        return {"mu": mu, "lower": lower, "upper": upper, "supported": supported, "p_in": p_in}

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        """One row per (input row, option): prediction, interval or bounds, support, decision."""
        return self._long(frame, **self.predict_cells(frame))

    def predict_cells(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        """What :meth:`predict` returns, as (rows, options) arrays (``prediction``, ``lower``,
        ``upper``, ``supported``, ``propensity``, ``p_in``, ``recommended``), the options in
        ``options_`` order: the service reads these directly (building and reading back the
        long table costs a served patient more than its intervals do)."""
        check_is_fitted(self, "calibration_")
        frame = check.require_frame(frame)
        check.require_columns(frame, self.feature_names_, "feature")
        X = self._features_matrix(frame)
        if self.treatment in frame.columns:  # a factual option, when given, must be known
            check.require_no_nan(frame[self.treatment], self.treatment)
            self._option_codes(frame[self.treatment], allow_unknown=False)
        propensity = self._propensity(X)
        cells = self._cells(self._mu(X), propensity, X)
        lower, upper, supported = cells["lower"], cells["upper"], cells["supported"]
        if self.ordered_ and self.monotone:
            order = np.argsort(self.positions_)  # bounds walk options by increasing response
            back = np.argsort(order)
            lower, upper = monotone_bounds(self.positions_[order], lower[:, order],
                                           upper[:, order], supported[:, order], self.kappa_,
                                           self.outcome_range_)
            lower, upper = lower[:, back], upper[:, back]
        else:
            lo, hi = range_bounds(len(X), len(self.options_), self.outcome_range_)
            lower, upper = np.where(supported, lower, lo), np.where(supported, upper, hi)
        floor, ceiling = self.outcome_limits_
        lower, upper = np.clip(lower, floor, ceiling), np.clip(upper, floor, ceiling)
        prediction = np.clip(cells["mu"], lower, upper)  # moves only where a limit applies
        low, high = self.target
        inside = (lower >= low) & (upper <= high)  # worst case over the bounds
        p_in = np.where(supported, cells["p_in"], np.where(inside, 1.0 - self.alpha, 0.0))
        recommended = self._decide(p_in, cells["mu"], supported)
        return {"prediction": prediction, "lower": lower, "upper": upper,
                "supported": supported, "propensity": propensity, "p_in": p_in,
                "recommended": recommended}

    def _decide(self, p_in: np.ndarray, mu: np.ndarray, supported: np.ndarray) -> np.ndarray:
        """Best supported option per row (ties: prediction nearest the target's centre)."""
        centre = 0.5 * (self.target[0] + self.target[1])
        span = self.target[1] - self.target[0]
        score = np.where(supported, p_in - 1e-6 * np.abs(mu - centre) / span, -np.inf)
        best = score.argmax(axis=1)
        out = np.zeros_like(supported)
        has_any = supported.any(axis=1)
        out[np.arange(len(best))[has_any], best[has_any]] = True
        return out

    def _long(self, frame: pd.DataFrame, prediction: np.ndarray, lower: np.ndarray,
              upper: np.ndarray, supported: np.ndarray, propensity: np.ndarray,
              p_in: np.ndarray, recommended: np.ndarray) -> pd.DataFrame:
        n, k = prediction.shape
        ids = (frame[self.id_column].to_numpy() if self.id_column in frame.columns
               else np.arange(n))
        return pd.DataFrame({
            "row_id": np.repeat(ids, k), "option": np.tile(np.asarray(self.options_), n),
            "prediction": prediction.ravel(), "lower": lower.ravel(), "upper": upper.ravel(),
            "supported": supported.ravel(), "propensity": propensity.ravel(),
            "p_in_target": p_in.ravel(), "recommended": recommended.ravel()},
            columns=PREDICTION_COLUMNS)

    def recommend(self, frame: pd.DataFrame) -> pd.DataFrame:
        """One row per input row: the recommended option (NaN when no option is supported)."""
        long = self.predict(frame)
        k = len(self.options_)
        recommended = long["recommended"].to_numpy().reshape(-1, k)
        chosen = np.arange(len(recommended)) * k + recommended.argmax(axis=1)
        out = long.iloc[chosen].drop(columns=["recommended"]).reset_index(drop=True)
        none = ~recommended.any(axis=1)
        out["option"] = out["option"].astype(object)
        out.loc[none, ["option", "prediction", "lower", "upper", "propensity",
                       "p_in_target"]] = np.nan
        out.loc[none, "supported"] = False
        out["n_supported"] = long["supported"].to_numpy().reshape(-1, k).sum(axis=1)
        return out

    def diagnostics(self) -> dict[str, Any]:
        """Overlap, support, calibration and slope facts for the report (JSON-able)."""
        from recstack.treatment.evaluation import fit_diagnostics

        check_is_fitted(self, "calibration_")
        return fit_diagnostics(self)
