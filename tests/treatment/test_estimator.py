"""TreatmentRecommender on simulated ICL patients and on a generic table; bad input."""

import numpy as np
import pandas as pd
import pytest

from recstack.errors import ConfigError, DataError
from recstack.treatment.estimator import PREDICTION_COLUMNS, TreatmentRecommender
from recstack.treatment.evaluation import evaluate_cohort
from recstack.treatment.simulator import ICL_SIZES_MM, simulate


@pytest.fixture(scope="module")
def fitted():
    # Fewer boosting rounds than the default keep the test fast; the statistics are the same.
    return TreatmentRecommender(max_iter=150, random_state=0).fit(simulate(2000, seed=11).factual)


@pytest.fixture(scope="module")
def test_cohort():
    return simulate(1500, seed=12)


def test_predict_gives_one_row_per_patient_and_option(fitted, test_cohort):
    preds = fitted.predict(test_cohort.factual.head(50))
    assert list(preds.columns) == PREDICTION_COLUMNS and len(preds) == 50 * 4
    assert preds["row_id"].iloc[0] == test_cohort.factual["patient_id"].iloc[0]
    assert sorted(preds["option"].unique()) == list(ICL_SIZES_MM)
    per_patient = preds.groupby("row_id", sort=False)
    assert (per_patient["recommended"].sum() <= 1).all()
    assert preds.loc[preds["recommended"], "supported"].all()  # never an unsupported pick
    np.testing.assert_allclose(per_patient["propensity"].sum(), 1.0, atol=1e-6)
    assert (preds["lower"] <= preds["prediction"]).all()
    assert (preds["prediction"] <= preds["upper"]).all()


def test_support_follows_the_documented_rule(fitted, test_cohort):
    preds = fitted.predict(test_cohort.factual)
    below_floor = preds["propensity"] < fitted.propensity_floor
    assert not preds.loc[below_floor, "supported"].any()
    assert 0.3 < preds["supported"].mean() < 1.0  # the nomogram leaves real gaps
    stricter = TreatmentRecommender(propensity_floor=0.2, max_iter=150).fit(
        simulate(2000, seed=11).factual)
    assert stricter.predict(test_cohort.factual)["supported"].mean() < preds["supported"].mean()


def test_intervals_cover_and_unsupported_ranges_are_wider(fitted, test_cohort):
    report = evaluate_cohort(fitted, test_cohort)
    assert report["coverage_supported"] >= 0.87
    assert report["coverage_unsupported"] >= 0.87
    assert report["median_width_unsupported"] > 1.5 * report["median_width_supported"]


def test_recommendations_beat_the_surgeons_policy(fitted, test_cohort):
    report = evaluate_cohort(fitted, test_cohort)
    assert report["recommended_in_range"] > report["surgeons_in_range"] + 0.15
    assert report["recommended_in_range"] <= report["oracle_in_range"]
    one_per_patient = fitted.recommend(test_cohort.factual.head(20))
    assert len(one_per_patient) == 20 and one_per_patient["supported"].all()


def test_unseen_option_in_options_is_always_unsupported_with_bounds():
    train = simulate(1500, seed=13).factual
    train = train[train["icl_size_mm"] != 13.7]
    model = TreatmentRecommender(options=list(ICL_SIZES_MM), max_iter=100).fit(train)
    preds = model.predict(simulate(100, seed=14).factual.drop(columns="icl_size_mm"))
    edge = preds[preds["option"] == 13.7]
    assert not edge["supported"].any() and np.isfinite(edge["upper"]).all()
    below = preds[preds["option"] == 13.2].set_index("row_id")
    lower_edge = edge.set_index("row_id")["lower"]
    assert (lower_edge >= below["lower"] - 1e-9).all()  # monotone: never below 13.2's lower


def test_generic_table_with_categorical_treatment():
    rng = np.random.default_rng(0)
    n = 900
    x = rng.normal(size=(n, 2))
    arm = np.where(x[:, 0] > 1.0, "surgery", rng.choice(["drug", "placebo"], size=n))
    effect = {"drug": 1.0, "placebo": 0.0, "surgery": 3.0}
    y = x[:, 1] + np.array([effect[a] for a in arm]) + rng.normal(0, 0.3, n)
    frame = pd.DataFrame({"f1": x[:, 0], "f2": x[:, 1], "arm": arm, "score": y})
    model = TreatmentRecommender(treatment="arm", outcome="score", target=(0.5, 2.0),
                                 id_column="id", max_iter=100).fit(frame)
    assert not model.ordered_
    preds = model.predict(frame.drop(columns=["arm", "score"]).head(300))
    assert set(preds["option"]) == {"drug", "placebo", "surgery"}
    unsupported = preds[~preds["supported"]]
    assert len(unsupported) and (unsupported["lower"] == model.outcome_range_[0]).all()
    assert (preds["row_id"].unique() == np.arange(300)).all()


@pytest.fixture(scope="module")
def frame():
    return simulate(300, seed=15).factual


@pytest.mark.parametrize(("mutate", "field"), [
    (lambda f: f.drop(columns="acd_mm"), "acd_mm"),
    (lambda f: f.rename(columns={"vault_um": "vault"}), "vault_um"),
    (lambda f: f.assign(wtw_mm=f["wtw_mm"].where(f.index != 5)), "wtw_mm"),
    (lambda f: f.assign(acd_mm=f["acd_mm"] * 10), "acd_mm"),
    (lambda f: f.assign(age="old"), "age"),
    (lambda f: f.assign(icl_size_mm=f["icl_size_mm"].where(f.index != 3)), "icl_size_mm"),
])
def test_bad_training_data_names_the_field(frame, mutate, field):
    features = ["age", "ata_mm", "wtw_mm", "acd_mm", "lens_thickness_mm", "clr_um"]
    with pytest.raises(DataError) as info:
        TreatmentRecommender(features=features).fit(mutate(frame.copy()))
    assert info.value.field == field and info.value.fix


def test_misspelled_column_suggests_the_right_one(frame):
    with pytest.raises(DataError) as info:
        TreatmentRecommender(features=["acd_m"]).fit(frame)
    assert "acd_mm" in info.value.fix


def test_bad_prediction_input_names_the_field(fitted, frame):
    with pytest.raises(DataError) as info:
        fitted.predict(frame.assign(icl_size_mm=14.2))
    assert info.value.field == "icl_size_mm" and "never seen" in info.value.message
    with pytest.raises(DataError) as info:
        fitted.predict(frame.assign(ata_mm=np.nan))
    assert info.value.field == "ata_mm"


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"target": (750.0, 250.0)}, "target"), ({"alpha": 0.7}, "alpha"),
    ({"monotone": "up"}, "monotone"), ({"features": ["vault_um"]}, "features"),
])
def test_bad_settings_name_the_field(frame, kwargs, field):
    with pytest.raises(ConfigError) as info:
        TreatmentRecommender(**kwargs).fit(frame)
    assert info.value.field == field


def test_bounds_respect_limits_and_kappa_min_is_monotonicity_alone(fitted, test_cohort):
    preds = fitted.predict(test_cohort.factual)
    assert fitted.kappa_[0] == 0.0 and fitted.kappa_[1] > 0
    assert (preds["lower"] >= 0).all()  # a vault is never negative
    assert (preds["lower"] <= preds["upper"]).all()


def test_decreasing_response_gets_bounds_in_the_right_direction():
    rng = np.random.default_rng(3)
    n = 1500
    x = rng.normal(size=n)
    doses = np.array([1.0, 2.0, 3.0, 4.0])
    # Low x gets low doses, high x high doses: the far doses are never seen for a patient.
    dose_index = np.clip(np.round(1.5 + 1.2 * x + rng.normal(0, 0.4, n)), 0, 3).astype(int)
    truth = 10.0 + 2.0 * x[:, None] - 1.5 * doses[None, :] + rng.normal(0, 0.5, (n, 1))
    frame = pd.DataFrame({"x": x, "dose": doses[dose_index],
                          "y": truth[np.arange(n), dose_index]})
    model = TreatmentRecommender(treatment="dose", outcome="y", target=(4.0, 8.0),
                                 monotone="decreasing", id_column="id", max_iter=100).fit(frame)
    preds = model.predict(frame[["x"]])
    lower = preds["lower"].to_numpy().reshape(n, 4)
    upper = preds["upper"].to_numpy().reshape(n, 4)
    supported = preds["supported"].to_numpy().reshape(n, 4)
    covered = (truth >= lower) & (truth <= upper)
    assert (~supported).any() and covered[~supported].mean() >= 0.9
    assert covered[supported].mean() >= 0.85
