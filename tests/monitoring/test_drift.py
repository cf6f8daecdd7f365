"""Drift per column (scores equal Evidently's stattests), defaults, multivariate, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recstack.errors import ConfigError, DataError
from recstack.monitoring import (
    DriftDetector,
    domain_classifier_auc,
    get_drift_method,
    pca_reconstruction_error,
    prediction_drift,
)
from recstack.monitoring.drift_methods import ColumnSample


def _frame(n: int, rng: np.random.Generator, shift: float = 0.0, p=(0.5, 0.3, 0.2)):
    return pd.DataFrame({
        "acd_mm": rng.normal(3.2 + shift, 0.3, n),
        "age": rng.integers(20, 50, n),
        "eye": rng.choice(["left", "right"], n),
        "device": rng.choice(["a", "b", "c"], n, p=p),
        "grade": rng.integers(0, 3, n),
    })


@pytest.mark.parametrize(("method", "evidently_name", "kind"), [
    ("ks", "ks", "num"), ("wasserstein", "wasserstein", "num"), ("psi", "psi", "num"),
    ("jensenshannon", "jensenshannon", "num"), ("psi", "psi", "cat"),
    ("jensenshannon", "jensenshannon", "cat"), ("chisquare", "chisquare", "cat"),
    ("z", "z", "bin"),
])
def test_scores_equal_evidently_stattests(method, evidently_name, kind):
    pytest.importorskip("evidently")
    from evidently.legacy.calculations.stattests.registry import get_registered_stattest
    from evidently.legacy.core import ColumnType

    rng = np.random.default_rng(3)
    if kind == "num":
        ref, cur = pd.Series(rng.normal(0, 1, 3000)), pd.Series(rng.normal(0.1, 1.1, 2000))
        ctype, our_kind = ColumnType.Numerical, "numerical"
    else:
        values = ["a", "b"] if kind == "bin" else ["a", "b", "c", "d"]
        ref = pd.Series(rng.choice(values, 3000))
        cur = pd.Series(rng.choice(values, 2000, p=[0.6, 0.4] if kind == "bin" else None))
        ctype, our_kind = ColumnType.Categorical, "categorical"
    test = get_registered_stattest(evidently_name, ctype)
    expected = test.func(ref, cur, ctype, 0.1)[0]
    ours = get_drift_method(method).func(ColumnSample.from_values(ref, our_kind),
                                         ColumnSample.from_values(cur, our_kind))
    assert ours == pytest.approx(float(expected), rel=1e-6, abs=1e-9)


def test_no_drift_on_the_same_distribution_and_drift_on_a_shift():
    rng = np.random.default_rng(0)
    detector = DriftDetector().fit(_frame(5000, rng))
    calm = detector.detect(_frame(3000, rng))
    assert calm.drifted_columns == [] and not calm.dataset_drift
    shifted = detector.detect(_frame(3000, rng, shift=0.3, p=(0.2, 0.3, 0.5)))
    assert set(shifted.drifted_columns) == {"acd_mm", "device"}
    methods = dict(zip(shifted.columns["column"], shifted.columns["method"], strict=True))
    assert methods == {"acd_mm": "wasserstein", "age": "wasserstein", "eye": "jensenshannon",
                       "device": "jensenshannon", "grade": "jensenshannon"}


def test_small_reference_uses_tests_with_p_values():
    rng = np.random.default_rng(1)
    report = DriftDetector().fit(_frame(500, rng)).detect(_frame(400, rng, shift=0.3))
    methods = dict(zip(report.columns["column"], report.columns["method"], strict=True))
    assert methods == {"acd_mm": "ks", "age": "ks", "eye": "z", "device": "chisquare",
                       "grade": "chisquare"}
    assert "acd_mm" in report.drifted_columns


def test_methods_and_thresholds_are_configurable():
    rng = np.random.default_rng(2)
    ref, cur = _frame(4000, rng), _frame(4000, rng, shift=0.015)
    default = DriftDetector().fit(ref).detect(cur)
    assert "acd_mm" not in default.drifted_columns
    strict = DriftDetector(methods={"acd_mm": "psi"}, thresholds={"psi": 0.001}).fit(ref)
    row = strict.detect(cur).columns.set_index("column").loc["acd_mm"]
    assert row["method"] == "psi" and row["threshold"] == 0.001 and row["drifted"]


def test_missing_and_extra_columns_are_reported_not_fatal():
    rng = np.random.default_rng(4)
    detector = DriftDetector().fit(_frame(2000, rng))
    current = _frame(500, rng).drop(columns=["eye"]).assign(new_sensor=1.0)
    report = detector.detect(current)
    assert report.skipped == {"new_sensor": "not in the reference",
                              "eye": "missing from the current data"}
    assert "eye" not in report.columns["column"].tolist()


@pytest.mark.parametrize("current", [pd.DataFrame(), pd.DataFrame({"other": [1.0]})])
def test_empty_window_or_nothing_shared_is_a_data_error(current):
    detector = DriftDetector().fit(_frame(100, np.random.default_rng(5)))
    with pytest.raises(DataError) as err:
        detector.detect(current)
    assert err.value.fix


def test_unknown_method_lists_the_known_ones():
    with pytest.raises(ConfigError, match="wasserstein"):
        DriftDetector(methods={"acd_mm": "magic"}).fit(_frame(10, np.random.default_rng(0)))


def test_all_missing_current_column_is_skipped():
    rng = np.random.default_rng(6)
    detector = DriftDetector().fit(_frame(300, rng))
    current = _frame(300, rng).assign(acd_mm=np.nan)
    report = detector.detect(current)
    assert report.skipped["acd_mm"] == "no non-missing values"


def test_multivariate_drift_sees_a_broken_correlation_that_marginals_miss():
    rng = np.random.default_rng(7)
    x = rng.normal(size=4000)
    ref = pd.DataFrame({"a": x, "b": x + rng.normal(0, 0.2, 4000)})
    y = rng.normal(size=4000)
    cur = pd.DataFrame({"a": y, "b": -y + rng.normal(0, 0.2, 4000)})
    assert DriftDetector().fit(ref).detect(cur).drifted_columns == []
    assert domain_classifier_auc(ref, cur) > 0.8
    assert domain_classifier_auc(ref, ref.sample(frac=1, random_state=1)) < 0.6
    pca = pca_reconstruction_error(ref, cur)
    assert pca["pca_drift"] == 1.0
    assert pca_reconstruction_error(ref, ref)["pca_drift"] == 0.0


def test_prediction_drift():
    rng = np.random.default_rng(8)
    ref = pd.Series(rng.normal(0, 1, 2000), name="prediction")
    assert not prediction_drift(ref, pd.Series(rng.normal(0, 1, 2000)))["drifted"]
    assert prediction_drift(ref, pd.Series(rng.normal(0.5, 1, 2000)))["drifted"]
