"""Clinic families in the simulator, and intervals that adapt to them (issue 20)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from recstack.errors import ConfigError
from recstack.treatment.estimator import TreatmentRecommender
from recstack.treatment.evaluation import evaluate_cohort
from recstack.treatment.simulator import (
    FAMILIES,
    ICL_SIZES_MM,
    REFERENCE,
    _anatomy,
    potential_vaults,
    simulate,
)


def _noise_by_distance(family, n=4000):
    """Spread of two independent noise draws on the same eyes, near vs far from the ideal size."""
    anatomy = _anatomy(n, np.random.default_rng(0), family.age_mean)
    first = potential_vaults(anatomy, np.random.default_rng(1), family).to_numpy()
    second = potential_vaults(anatomy, np.random.default_rng(2), family).to_numpy()
    over = np.asarray(ICL_SIZES_MM)[None, :] - (anatomy["ata_mm"].to_numpy()[:, None]
                                                + family.ideal_oversize_mm)
    # Away from 0 µm, where clipping would shrink the spread.
    usable = (first > 100) & (second > 100)
    spread = np.abs(first - second)
    return (np.median(spread[usable & (np.abs(over) < 0.2)]),
            np.median(spread[usable & (np.abs(over) > 0.8)]))


def test_heteroscedastic_noise_grows_away_from_the_ideal_size_and_only_there():
    near, far = _noise_by_distance(FAMILIES["heteroscedastic"])
    assert far > 2.5 * near
    near, far = _noise_by_distance(REFERENCE)
    assert far < 1.3 * near


def test_asymmetric_response_is_steeper_when_oversized():
    anatomy = _anatomy(3000, np.random.default_rng(0))

    def slopes(family):
        vault = potential_vaults(anatomy, np.random.default_rng(1), family).to_numpy()
        ideal = anatomy["ata_mm"].to_numpy() + family.ideal_oversize_mm
        sizes = np.asarray(ICL_SIZES_MM)
        step = np.diff(vault, axis=1) / np.diff(sizes)
        mid = 0.5 * (sizes[1:] + sizes[:-1])[None, :] - ideal[:, None]
        return np.median(step[mid > 0.3]), np.median(step[(mid < -0.3) & (vault[:, 1:] > 100)])
    over, under = slopes(FAMILIES["asymmetric"])
    reference_over, reference_under = slopes(REFERENCE)  # already a little convex
    assert over / under > 1.4 * reference_over / reference_under


def test_families_are_reproducible_and_named():
    a = simulate(200, seed=5, family="distant")
    b = simulate(200, seed=5, family=FAMILIES["distant"])
    assert a.factual.equals(b.factual) and a.family == "distant"
    assert not a.factual.equals(simulate(200, seed=5).factual)
    assert len(FAMILIES) >= 6
    with pytest.raises(ConfigError, match="heteroscedastic"):
        simulate(10, family="nowhere")


def test_another_device_reads_biased_measurements_of_the_same_eyes():
    family = FAMILIES["other_device"]
    plain = simulate(500, seed=7, family=replace(family, measurement_bias={}))
    biased = simulate(500, seed=7, family=family)
    shift = (biased.factual["acd_mm"] - plain.factual["acd_mm"]).median()
    assert shift == pytest.approx(family.measurement_bias["acd_mm"], abs=0.011)
    assert biased.potential.equals(plain.potential)


@pytest.fixture(scope="module")
def heteroscedastic_fits():
    family = FAMILIES["heteroscedastic"]
    train = simulate(2000, seed=31, family=family)
    adaptive = TreatmentRecommender(max_iter=150).fit(train.factual)
    constant = TreatmentRecommender(max_iter=150, interval="constant").fit(train.factual)
    return family, adaptive, constant, simulate(1000, seed=32, family=family)


def test_adaptive_intervals_follow_the_noise(heteroscedastic_fits):
    family, adaptive, constant, test = heteroscedastic_fits
    anatomy = _anatomy(1000, np.random.default_rng(32), family.age_mean)
    over = np.asarray(ICL_SIZES_MM)[None, :] - (anatomy["ata_mm"].to_numpy()[:, None]
                                                + family.ideal_oversize_mm)
    noise_sd = np.hypot(np.hypot(family.noise_um, 20.0),
                        family.noise_growth_um_per_mm * np.abs(over)).ravel()
    correlation = {}
    for model in (adaptive, constant):
        preds = model.predict(test.factual)
        width = (preds["upper"] - preds["lower"]).to_numpy()
        # An option most eyes tolerate, and cells whose interval is not cut at 0 µm (where a
        # vault cannot go, however noisy the eye).
        cells = (preds["supported"].to_numpy() & (preds["option"].to_numpy() == ICL_SIZES_MM[1])
                 & (preds["lower"].to_numpy() > 0))
        correlation[model.interval] = np.corrcoef(width[cells], noise_sd[cells])[0, 1]
    # The constant radius still varies a little with each cell's conformal weight.
    assert correlation["adaptive"] > 0.55 > correlation["constant"]
    assert correlation["adaptive"] > correlation["constant"] + 0.1, correlation


def test_adaptive_intervals_cover_and_their_probabilities_are_calibrated(heteroscedastic_fits):
    _, adaptive, constant, test = heteroscedastic_fits
    ours, before = evaluate_cohort(adaptive, test), evaluate_cohort(constant, test)
    assert ours["coverage_supported"] >= 0.85 and ours["coverage_unsupported"] >= 0.85
    assert ours["median_width_supported"] < before["median_width_supported"]
    assert ours["p_in_target_ece"] < 0.06
    assert ours["p_in_target_ece"] <= before["p_in_target_ece"] + 0.01
    assert ours["recommended_in_range"] > ours["surgeons_in_range"] + 0.15


def test_an_option_with_too_few_patients_borrows_the_pooled_calibration_and_says_so():
    frame = simulate(2000, seed=41).factual
    rare = frame["icl_size_mm"] == ICL_SIZES_MM[-1]
    keep = ~rare | (rare.cumsum() <= 25)
    model = TreatmentRecommender(max_iter=100, min_calibration=50).fit(frame[keep])
    diagnostics = {o["option"]: o for o in model.diagnostics()["options"]}
    thin = diagnostics[ICL_SIZES_MM[-1]]
    assert thin["calibration"] == "pooled" and thin["n_calibration"] == 25
    assert thin["patients_needed_for_own_calibration"] > 0
    assert diagnostics[ICL_SIZES_MM[1]]["calibration"] == "own"
    preds = model.predict(simulate(300, seed=42).factual)
    cells = preds[preds["option"] == ICL_SIZES_MM[-1]]
    assert np.isfinite(cells.loc[cells["supported"], "upper"]).all()
