"""The fast prediction path gives scikit-learn's numbers bit for bit, for one patient (the
flattened forest) and for a batch (scikit-learn with stacked designs)."""

import numpy as np
import pandas as pd
import pytest

from recstack.treatment import fast
from recstack.treatment.forest import Forest


@pytest.fixture(scope="module")
def fitted(treatment_home):
    _, root, result = treatment_home
    frame = pd.concat([pd.read_csv(root / "test.csv")] * 2, ignore_index=True)
    return result.model, result.model._features_matrix(frame)


@pytest.mark.parametrize("n", [1, 7, fast.SMALL_ROWS, fast.SMALL_ROWS + 1, 120])
def test_outcome_propensity_and_scale_equal_scikit_learn_exactly(fitted, n):
    model, X = fitted
    rows = X[:n]
    # Passing the models explicitly takes the original per-option, per-model loop.
    assert np.array_equal(model._mu(rows), model._mu(rows, model.outcome_models_))
    assert np.array_equal(model._propensity(rows),
                          model._propensity(rows, model.propensity_models_))
    assert model.scale_models_  # the adaptive intervals' σ(x, t) takes the same path
    for fast_path, loop in zip(model._centre_scale(rows),
                               model._centre_scale(rows, model.scale_models_), strict=True):
        assert np.array_equal(fast_path, loop)


@pytest.fixture(scope="module")
def fitted_cqr():
    from recstack.treatment.estimator import TreatmentRecommender
    from recstack.treatment.simulator import simulate

    model = TreatmentRecommender(interval="cqr", max_iter=60).fit(simulate(600, seed=23).factual)
    return model, model._features_matrix(simulate(80, seed=24).factual)


@pytest.mark.parametrize("n", [1, fast.SMALL_ROWS, 80])
def test_cqr_centre_and_half_width_take_the_fast_path_exactly(fitted_cqr, n):
    model, X = fitted_cqr
    rows = X[:n]
    centre, scale = model._centre_scale(rows)
    loop_centre, loop_scale = model._centre_scale(rows, model.scale_models_)
    assert np.array_equal(centre, loop_centre) and np.array_equal(scale, loop_scale)
    assert np.abs(centre).max() > 0  # CQR shifts the interval where the error is skewed


def test_the_flattened_forest_is_every_tree_of_every_model(fitted):
    model, X = fitted
    classifiers = [c.estimator for m in model.propensity_models_
                   for c in m.calibrated_classifiers_]
    forest = Forest(classifiers)
    assert len(forest.roots) == sum(len(c._predictors) * c.n_trees_per_iteration_
                                    for c in classifiers)
    with_nan = X[:5].copy()
    with_nan[1, 2] = np.nan  # a missing value follows the side each tree learned
    for raw, clf in zip(forest.raw(with_nan), classifiers, strict=True):
        assert np.array_equal(raw, clf._raw_predict(with_nan))


def test_a_fitted_model_pickles_without_its_compiled_forest(fitted):
    import pickle

    model, X = fitted
    model._mu(X[:1])  # compiles
    assert fast._compiled.get(model) is not None
    assert b"Forest" not in pickle.dumps(model)
