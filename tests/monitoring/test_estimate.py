"""Label-free performance estimates checked against true performance under simulated drift."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression

from recstack.errors import DataError
from recstack.monitoring import ConfidenceBasedEstimator, DirectLossEstimator


def _regression_data(rng, n, shift=0.0):
    x = pd.DataFrame({"x1": rng.normal(shift, 1, n), "x2": rng.normal(0, 1, n)})
    # Noise grows with |x1| and the truth bends: a linear model is worse away from the centre.
    y = 2 * x["x1"] + 0.5 * x["x1"] ** 2 + x["x2"] + rng.normal(0, 0.3 + 0.4 * x["x1"].abs())
    return x, y.to_numpy()


def test_direct_loss_estimate_tracks_true_mae_under_covariate_shift():
    rng = np.random.default_rng(0)
    x_train, y_train = _regression_data(rng, 3000)
    model = LinearRegression().fit(x_train, y_train)
    x_ref, y_ref = _regression_data(rng, 4000, shift=0.0)
    estimator = DirectLossEstimator().fit(x_ref, model.predict(x_ref), y_ref)
    ref_mae = float(np.mean(np.abs(y_ref - model.predict(x_ref))))
    for shift in (0.0, 1.0, 1.5):
        x_cur, y_cur = _regression_data(rng, 3000, shift=shift)
        true_mae = float(np.mean(np.abs(y_cur - model.predict(x_cur))))
        estimated = estimator.estimate(x_cur, model.predict(x_cur))
        assert estimated["mae"] == pytest.approx(true_mae, rel=0.15), shift
        if shift > 0:  # the estimate sees the drop the reference figure cannot
            assert abs(estimated["mae"] - true_mae) < abs(ref_mae - true_mae)


def test_confidence_based_estimate_tracks_true_accuracy_under_covariate_shift():
    rng = np.random.default_rng(1)

    def data(n, shift):
        x = rng.normal(shift, 1, (n, 2))
        p = 1 / (1 + np.exp(-(1.5 * x[:, 0] - x[:, 1])))
        return x, (rng.random(n) < p).astype(int)

    x_train, y_train = data(3000, 0.0)
    model = LogisticRegression().fit(x_train, y_train)
    x_ref, y_ref = data(4000, 0.0)
    estimator = ConfidenceBasedEstimator().fit(model.predict_proba(x_ref)[:, 1], y_ref)
    for shift in (0.0, 1.5):
        x_cur, y_cur = data(4000, shift)
        scores = model.predict_proba(x_cur)[:, 1]
        true_acc = float(np.mean((scores >= 0.5) == y_cur))
        estimated = estimator.estimate(scores)
        assert estimated["accuracy"] == pytest.approx(true_acc, abs=0.03), shift
        tp = np.sum((scores >= 0.5) & (y_cur == 1))
        true_f1 = 2 * tp / (2 * tp + np.sum((scores >= 0.5) != y_cur))
        assert estimated["f1"] == pytest.approx(true_f1, abs=0.04)


def test_bad_input():
    with pytest.raises(DataError, match="0 or 1"):
        ConfidenceBasedEstimator().fit(np.array([0.2, 0.8]), np.array([0, 2]))
    x = pd.DataFrame({"a": [1.0, 2.0, 3.0]})
    estimator = DirectLossEstimator(max_iter=5).fit(x, np.zeros(3), np.ones(3))
    with pytest.raises(DataError) as err:
        estimator.estimate(pd.DataFrame({"b": [1.0]}), np.zeros(1))
    assert err.value.field == "a"
    with pytest.raises(DataError):
        estimator.estimate(x.iloc[:0], np.zeros(0))
