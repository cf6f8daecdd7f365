"""Partial-identification bounds: monotone between supported options, bounded slope at edges."""

import numpy as np

from recstack.treatment.bounds import monotone_bounds, range_bounds

POSITIONS = np.array([12.1, 12.6, 13.2, 13.7])
RANGE = (-100.0, 2000.0)


def _cells(supported_row):
    supported = np.array([supported_row])
    lower = np.array([[100.0, 400.0, 700.0, 1000.0]])
    upper = lower + 200.0
    return np.where(supported, lower, -np.inf), np.where(supported, upper, np.inf), supported


def test_between_two_supported_options_the_bound_spans_their_intervals():
    lower, upper, supported = _cells([True, False, True, False])
    lo, hi = monotone_bounds(POSITIONS, lower, upper, supported, (200.0, 1000.0), RANGE)
    assert (lo[0, 1], hi[0, 1]) == (100.0, 900.0)  # [L(12.1), U(13.2)]
    assert (lo[0, 0], hi[0, 0]) == (100.0, 300.0)  # supported cells are unchanged


def test_beyond_the_last_supported_option_the_slope_bounds_apply():
    lower, upper, supported = _cells([True, True, False, False])
    lo, hi = monotone_bounds(POSITIONS, lower, upper, supported, (200.0, 1000.0), RANGE)
    np.testing.assert_allclose([lo[0, 3], hi[0, 3]],
                               [400 + 200 * 1.1, 600 + 1000 * 1.1])
    lower, upper, supported = _cells([False, False, True, True])
    lo, hi = monotone_bounds(POSITIONS, lower, upper, supported, (200.0, 1000.0), RANGE)
    np.testing.assert_allclose([lo[0, 0], hi[0, 0]], [700 - 1000 * 1.1, 900 - 200 * 1.1])


def test_without_support_or_slope_the_stated_range_is_used():
    lower, upper, supported = _cells([False, False, False, False])
    lo, hi = monotone_bounds(POSITIONS, lower, upper, supported, (0.0, 1000.0), RANGE)
    assert (lo == RANGE[0]).all() and (hi == RANGE[1]).all()
    lower, upper, supported = _cells([True, False, False, False])
    lo, hi = monotone_bounds(POSITIONS, lower, upper, supported, (0.0, np.inf), RANGE)
    assert hi[0, 3] == RANGE[1] and lo[0, 3] == 100.0
    lo, hi = range_bounds(2, 3, RANGE)
    assert lo.shape == (2, 3) and (hi == RANGE[1]).all()
