"""The fitted treatment model's outcome and propensity predictions, fast, with the same numbers.

``TreatmentRecommender.predict`` spends its time in 35 boosting models (5 folds × one outcome
model, and 5 folds × 3 calibrated propensity classifiers). scikit-learn evaluates them one tree
at a time (about 12,000 Python calls, each an OpenMP region), which for one patient is almost all
overhead: 70 ms of CPU with one thread, and far more when every request of a threaded server
starts its own OpenMP threads on a busy machine (issue 17 measured 0.6 s over HTTP).

Two paths, both exactly scikit-learn's numbers (tests/treatment/test_fast.py compares them bit
for bit):

- up to :data:`SMALL_ROWS` patients, every tree of the outcome models and every tree of the
  propensity classifiers walked at once (:class:`recstack.treatment.forest.Forest`): ~3 ms of CPU
  for one patient;
- more patients (a batch), scikit-learn's own tree code with the per-option designs stacked into
  one matrix, so each model is called once instead of once per option; always one OpenMP thread
  (``n_threads=1``), since a server already runs one request per thread and worker.

Only the prediction path changes; fitting, calibration and intervals are untouched.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from recstack.treatment.forest import Forest, compile_models

if TYPE_CHECKING:
    from recstack.treatment.estimator import TreatmentRecommender

# Patients per call up to which the flattened forest is faster than scikit-learn's per-tree loop
# (measured: ~2 ms per patient flattened against ~0.5 ms plus ~70 ms of fixed cost).
SMALL_ROWS = 32
# One OpenMP thread per call: the server's parallelism is its requests and workers.
THREADS = 1


@dataclass
class _Compiled:
    outcome: Forest | None
    propensity: Forest | None
    scale: Forest | None = None


_compiled: weakref.WeakKeyDictionary[Any, _Compiled] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def compiled(model: TreatmentRecommender) -> _Compiled:
    """The model's flattened forests, built on first use and kept while the model lives (not in
    its pickle: a saved bundle stays what ``fit`` wrote)."""
    with _lock:
        found = _compiled.get(model)
        if found is None:
            classifiers = [c.estimator for m in model.propensity_models_
                           for c in m.calibrated_classifiers_]
            temperature = all(getattr(c, "method", None) == "temperature"
                              for m in model.propensity_models_
                              for c in m.calibrated_classifiers_)
            scales = _error_boosters(model)
            found = _Compiled(
                outcome=compile_models([m.boosting_ for m in model.outcome_models_]),
                propensity=compile_models(classifiers) if temperature else None,
                scale=compile_models(scales) if scales else None)
            _compiled[model] = found
        return found


def outcome(model: TreatmentRecommender, X: np.ndarray) -> np.ndarray:
    """(N, K) outcome predictions per option averaged over the fold models: what
    ``np.mean([m.predict(design_k) for m in models])`` gives for each option k."""
    n, k_options = len(X), len(model.options_)
    designs = np.concatenate([model._design(X, np.full(n, k)) for k in range(k_options)])
    forest = compiled(model).outcome if n <= SMALL_ROWS else None
    if forest is not None:
        boosted = [raw[:, 0] for raw in forest.raw(designs)]
    else:
        boosted = [m.boosting_._raw_predict(designs, n_threads=THREADS).ravel()
                   for m in model.outcome_models_]
    columns = []
    for k in range(k_options):
        rows = slice(k * n, (k + 1) * n)
        per_model = []
        for m, raw in zip(model.outcome_models_, boosted, strict=True):
            out = np.asarray(m.boosting_._loss.link.inverse(raw[rows]), dtype=float)
            if m.linear_ is not None:  # LinearPlusBoosting.predict: boosting + ridge
                out = out + _linear(m, designs[rows])
            per_model.append(out)
        columns.append(np.mean(per_model, axis=0))
    return np.column_stack(columns)


def _error_boosters(model: TreatmentRecommender) -> list[Any]:
    """The boosting models of the error model, fold by fold: one scale model each
    (``ResidualScale``), or the lower then the upper quantile (``ResidualQuantiles``, CQR)."""
    boosters: list[Any] = []
    for m in getattr(model, "scale_models_", None) or []:
        boosters.extend([m.lower_, m.upper_] if hasattr(m, "lower_") else [m.boosting_])
    return boosters


def centre_scale(model: TreatmentRecommender, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, K) centre and scale of the error per option, as ``model._centre_scale(X, models)``
    computes them: the mean over folds of each floored scale, or for CQR the mean over folds of
    each quantile, then its centre and half-width."""
    from recstack.treatment._outcome import centre_and_half_width

    n, k_options = len(X), len(model.options_)
    designs = np.concatenate([model._design(X, np.full(n, k)) for k in range(k_options)])
    boosters = _error_boosters(model)
    forest = compiled(model).scale if n <= SMALL_ROWS else None
    raws = (forest.raw(designs) if forest is not None
            else [b._raw_predict(designs, n_threads=THREADS) for b in boosters])
    values = [np.asarray(b._loss.link.inverse(raw[:, 0]), dtype=float)
              for b, raw in zip(boosters, raws, strict=True)]
    models = model.scale_models_
    if hasattr(models[0], "lower_"):
        lower = np.mean(values[0::2], axis=0)
        upper = np.mean(values[1::2], axis=0)
        centre, scale_ = centre_and_half_width(lower, upper, models[0].floor)
    else:
        scale_ = np.mean([np.maximum(v, m.floor) for v, m in zip(values, models, strict=True)],
                         axis=0)
        centre = np.zeros_like(scale_)

    def per_option(flat: np.ndarray) -> np.ndarray:
        return np.column_stack([flat[k * n:(k + 1) * n] for k in range(k_options)])

    return per_option(centre), per_option(scale_)


def propensity(model: TreatmentRecommender, X: np.ndarray) -> np.ndarray:
    """(N, K) propensities averaged over the fold models (0 for an option a fold never saw)."""
    folds = model.propensity_models_
    forest = compiled(model).propensity if len(X) <= SMALL_ROWS else None
    raws = iter(forest.raw(X)) if forest is not None else None
    out = np.zeros((len(X), len(model.options_)))
    for fold in folds:
        if raws is None and not all(getattr(c, "method", None) == "temperature"
                                    for c in fold.calibrated_classifiers_):
            out[:, fold.classes_] += fold.predict_proba(X) / len(folds)
            continue
        mean = np.zeros((len(X), len(fold.classes_)))
        for calibrated in fold.calibrated_classifiers_:
            raw = (next(raws) if raws is not None
                   else calibrated.estimator._raw_predict(X, n_threads=THREADS))
            mean += _temperature_proba(calibrated, raw)
        mean /= len(fold.calibrated_classifiers_)
        out[:, fold.classes_] += mean / len(folds)
    return out


def _linear(model: Any, design: np.ndarray) -> np.ndarray:
    """``model.linear_.predict(model._linear_design(design))`` without scikit-learn's input
    checks (a third of the time for one patient), the same operations in the same order.

    One option's rows at a time, as ``predict`` does: BLAS sums a matrix-vector product in an
    order that depends on the number of rows.
    """
    scaler, linear = model.scaler_, model.linear_
    z = (design - scaler.mean_) / scaler.scale_
    x, t = z[:, :-1], z[:, -1:]
    features = np.column_stack([x, t, x * t])
    coef = linear.coef_
    return np.asarray(features @ (coef if coef.ndim == 1 else coef.T) + linear.intercept_)


def _temperature_proba(calibrated: Any, raw: np.ndarray) -> np.ndarray:
    """scikit-learn's ``_CalibratedClassifier.predict_proba`` (temperature method) from the
    classifier's raw scores (its ``decision_function``): ``softmax(beta * logits)``, the same
    operations in the same order, without the input checks (they cost more than the
    arithmetic for one patient)."""
    scores = np.asarray(raw, dtype=float)
    if scores.shape[1] == 1:  # two classes: one score x, the logits (-x, x)
        logits = np.concatenate([-scores, scores], axis=1)
    elif (np.all((scores >= 0) & (scores <= 1))
          and np.all(np.isclose(np.sum(scores, axis=1), 1.0))):
        # scikit-learn reads scores that look like probabilities as probabilities.
        logits = np.log(scores + 1e-12)
    else:
        logits = scores
    proba = calibrated.calibrators[0].beta_ * logits
    proba -= np.max(proba, axis=1).reshape(-1, 1)
    np.exp(proba, out=proba)
    proba /= np.sum(proba, axis=1).reshape(-1, 1)
    proba[(proba > 1.0) & (proba <= 1.0 + 1e-5)] = 1.0
    return proba
