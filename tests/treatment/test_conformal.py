"""Weighted split conformal: the plain case, covariate shift, and no support by construction."""

import numpy as np

from recstack.treatment.conformal import WeightedCalibration


def test_equal_weights_give_the_plain_split_conformal_quantile():
    rng = np.random.default_rng(0)
    residuals = rng.normal(size=199)
    calibration = WeightedCalibration.from_residuals(residuals, np.ones(199))
    alpha = 0.1
    rank = int(np.ceil((1 - alpha) * (199 + 1)))  # the textbook finite-sample rank
    expected = np.sort(np.abs(residuals))[rank - 1]
    assert calibration.radius(np.array([1.0]), alpha)[0] == expected


def test_a_dominating_test_weight_has_no_finite_interval():
    calibration = WeightedCalibration.from_residuals(np.linspace(-1, 1, 100), np.ones(100))
    # Test mass above α of the total: the quantile sits at +∞ (unsupported by construction).
    radius = calibration.radius(np.array([1.0, 5.0, 20.0, np.inf]), alpha=0.1)
    assert np.isfinite(radius[:2]).all() and np.isinf(radius[2:]).all()


def test_weights_restore_coverage_under_covariate_shift():
    rng = np.random.default_rng(1)
    x_cal, x_test = rng.normal(0, 1, 3000), rng.normal(1, 1, 20000)
    noise = lambda x: (0.2 + np.abs(x)) * rng.normal(size=len(x))  # noqa: E731
    y_cal, y_test = noise(x_cal), noise(x_test)
    ratio = lambda x: np.exp(x - 0.5)  # density of N(1, 1) over N(0, 1)  # noqa: E731
    weighted = WeightedCalibration.from_residuals(y_cal, ratio(x_cal))
    plain = WeightedCalibration.from_residuals(y_cal, np.ones(len(y_cal)))
    r_weighted = weighted.radius(ratio(x_test), 0.1)
    r_plain = plain.radius(np.ones(len(x_test)), 0.1)
    finite = np.isfinite(r_weighted)
    assert finite.mean() > 0.95
    covered = np.abs(y_test[finite]) <= r_weighted[finite]
    assert covered.mean() >= 0.88
    assert (np.abs(y_test) <= r_plain).mean() < 0.85  # ignoring the shift under-covers


def test_probability_between_counts_the_test_mass_as_outside():
    residuals = np.array([-2.0, -1.0, 0.0, 1.0, 2.0])
    calibration = WeightedCalibration.from_residuals(residuals, np.ones(5))
    prob = calibration.probability_between(np.array([10.0, 10.0]), 9.0, 11.0,
                                           np.array([1.0, np.inf]))
    np.testing.assert_allclose(prob, [3 / 6, 0.0])
    assert calibration.effective_size == 5
