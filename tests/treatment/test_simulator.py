"""The ICL simulator: documented facts, every potential outcome, policies and device bias."""

import numpy as np
import pytest

from recstack.errors import ConfigError
from recstack.treatment.simulator import ICL_SIZES_MM, simulate


def test_factual_and_potential_tables_follow_the_contract():
    cohort = simulate(300, seed=3)
    assert list(cohort.potential.columns) == list(ICL_SIZES_MM)
    assert cohort.potential.index.equals(cohort.factual.index)
    assert {"patient_id", "age", "sphere_d", "ata_mm", "wtw_mm", "acd_mm", "lens_thickness_mm",
            "clr_um", "icl_size_mm", "vault_um"} <= set(cohort.factual.columns)
    assert set(cohort.feature_columns) <= set(cohort.factual.columns)
    assert cohort.factual["patient_id"].is_unique
    chosen = [cohort.potential.loc[i, s] for i, s in cohort.factual["icl_size_mm"].items()]
    np.testing.assert_allclose(cohort.factual["vault_um"], chosen)


def test_same_seed_same_cohort_other_seed_other_cohort():
    a, b, c = simulate(200, seed=5), simulate(200, seed=5), simulate(200, seed=6)
    assert a.factual.equals(b.factual) and a.potential.equals(b.potential)
    assert not a.factual["vault_um"].equals(c.factual["vault_um"])


def test_documented_facts_hold():
    cohort = simulate(6000, policy="ata", seed=1)
    steps = np.diff(cohort.potential.to_numpy(), axis=1)
    assert (steps >= 0).all()  # monotone response: a larger lens never vaults less
    per_half_mm = steps / np.diff(ICL_SIZES_MM) * 0.5
    above_zero = cohort.potential.to_numpy()[:, :-1] > 0  # a vault of 0 µm is a floor
    assert 280 < per_half_mm[above_zero].mean() < 400  # ≈ 330 µm per 0.5-mm size step
    vault = cohort.factual["vault_um"]
    assert 440 < vault.mean() < 570 and 150 < vault.std() < 260
    assert abs(cohort.factual["clr_um"].mean() - 68) < 15
    assert 120 < cohort.factual["clr_um"].std() < 190


@pytest.mark.parametrize("policy", ["nomogram", "ata", "random"])
def test_every_policy_uses_the_four_sizes(policy):
    sizes = simulate(2000, policy=policy, seed=2).factual["icl_size_mm"]
    assert set(sizes.unique()) == set(ICL_SIZES_MM)


def test_surgeons_nomogram_is_imperfect_and_random_assignment_is_uniform():
    nomogram = simulate(4000, policy="nomogram", seed=4)
    in_range = nomogram.factual["vault_um"].between(250, 750).mean()
    assert 0.55 < in_range < 0.8
    oracle = ((nomogram.potential >= 250) & (nomogram.potential <= 750)).any(axis=1).mean()
    assert oracle > in_range + 0.15
    shares = simulate(4000, policy="random", seed=4).factual["icl_size_mm"].value_counts(
        normalize=True)
    assert shares.between(0.2, 0.3).all()


def test_measurement_bias_changes_records_not_anatomy():
    plain = simulate(1000, seed=7)
    biased = simulate(1000, seed=7, measurement_bias={"acd_mm": 0.3})
    np.testing.assert_allclose(biased.factual["acd_mm"] - plain.factual["acd_mm"], 0.3,
                               atol=0.011)
    assert biased.potential.equals(plain.potential)
    # Surgeons size from the recorded (biased) ACD, so some choices change.
    assert (biased.factual["icl_size_mm"] != plain.factual["icl_size_mm"]).any()


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"policy": "coin"}, "policy"),
    ({"measurement_bias": {"acd": 0.3}}, "measurement_bias"),
])
def test_bad_arguments_name_the_field(kwargs, field):
    with pytest.raises(ConfigError) as info:
        simulate(10, **kwargs)
    assert info.value.field == field and info.value.fix
