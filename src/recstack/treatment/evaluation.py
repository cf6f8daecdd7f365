"""Diagnostics of a fitted TreatmentRecommender and its evaluation on simulated cohorts.

``fit_diagnostics`` needs only the fitted model (overlap, support, propensity calibration, edge
slopes). ``evaluate_cohort`` needs every potential outcome, so it runs on simulated data only:
factual and counterfactual MAE, coverage and width split by support, and decision quality beside
the surgeons' policy and the oracle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from recstack.treatment.estimator import TreatmentRecommender
    from recstack.treatment.simulator import SimulatedCohort

SUPPORT_RULE = (
    "A (patient, option) cell is supported when its calibrated propensity e_t(x) is at least "
    "the propensity floor AND the weighted split-conformal quantile over the option's own "
    "patients (test point's mass at +inf) is finite, also when a thin option borrows pooled "
    "residuals; otherwise it gets partial-identification bounds.")


def reliability(propensity: np.ndarray, received: np.ndarray, bins: int = 10
                ) -> tuple[list[dict[str, float]], float]:
    """Binned predicted vs observed share of one option, and its expected calibration error."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(propensity, edges[1:-1]), 0, bins - 1)
    table, ece = [], 0.0
    for b in range(bins):
        rows = which == b
        if not rows.any():
            continue
        predicted, observed = float(propensity[rows].mean()), float(received[rows].mean())
        table.append({"predicted": predicted, "observed": observed, "n": int(rows.sum())})
        ece += rows.mean() * abs(predicted - observed)
    return table, float(ece)


def fit_diagnostics(model: TreatmentRecommender) -> dict[str, Any]:
    """Overlap and support per option on the training patients, out-of-fold (JSON-able)."""
    held = model.calibration_check_
    codes, propensity, supported = held["codes"], held["propensity"], held["supported"]
    options = []
    pooled = getattr(model, "calibration_pooled_", [False] * len(model.options_))
    for k, option in enumerate(model.options_):
        table, ece = reliability(propensity[:, k], codes == k)
        n_k = int((codes == k).sum())
        own_size = _own_effective_size(model, k)
        options.append({
            "option": _jsonable(option), "n_calibration": n_k,
            "calibration": "pooled" if pooled[k] else "own",
            "patients_needed_for_own_calibration": _patients_needed(
                n_k, own_size, getattr(model, "min_calibration", 50)) if pooled[k] else 0,
            "share_supported": float(supported[:, k].mean()),
            "mean_propensity": float(propensity[:, k].mean()),
            "share_below_floor": float((propensity[:, k] < model.propensity_floor).mean()),
            "propensity_ece": ece, "reliability": table,
            "effective_calibration_size": own_size})
    kappa_min, kappa_max = model.kappa_
    return {
        "support_rule": SUPPORT_RULE, "propensity_floor": model.propensity_floor,
        "alpha": model.alpha, "n_train": model.n_train_, "n_calibration": model.n_calibration_,
        "ordered": model.ordered_, "monotone": model.monotone if model.ordered_ else None,
        "kappa_min": kappa_min, "kappa_max": kappa_max if np.isfinite(kappa_max) else None,
        "outcome_range": list(model.outcome_range_),
        "share_patients_without_support": float((~supported.any(axis=1)).mean()),
        "interval": getattr(model, "interval", "constant"),
        "options": options}


def _own_effective_size(model: TreatmentRecommender, k: int) -> float:
    """Kish effective size of option k's own calibration weights (before any pooling)."""
    from recstack.treatment.conformal import WeightedCalibration

    if not getattr(model, "calibration_pooled_", [False] * (k + 1))[k]:
        return model.calibration_[k].effective_size
    held = model.calibration_check_
    treated = held["codes"] == k
    e = held["propensity"][treated, k]
    weights = np.where(e >= max(model.propensity_floor, 1e-12), 1.0 / np.maximum(e, 1e-12), 0.0)
    return WeightedCalibration.from_residuals(np.zeros(int(treated.sum())), weights
                                              ).effective_size


def _patients_needed(n_option: int, effective: float, wanted: int) -> int:
    """More patients of an option needed before its effective calibration size reaches
    ``wanted``, assuming new patients weigh like the ones it has."""
    if n_option == 0 or effective <= 0:
        return wanted
    per_patient = effective / n_option
    return max(0, int(np.ceil(wanted / per_patient)) - n_option)


def evaluate_cohort(model: TreatmentRecommender, cohort: SimulatedCohort) -> dict[str, Any]:
    """Accuracy, coverage by support and decision quality against every potential outcome."""
    preds = model.predict(cohort.factual)
    k = len(model.options_)
    n = len(cohort.factual)
    truth = cohort.potential[[_column(cohort.potential, o) for o in model.options_]].to_numpy()
    prediction = preds["prediction"].to_numpy().reshape(n, k)
    lower = preds["lower"].to_numpy().reshape(n, k)
    upper = preds["upper"].to_numpy().reshape(n, k)
    supported = preds["supported"].to_numpy().reshape(n, k)
    recommended = preds["recommended"].to_numpy().reshape(n, k)
    factual = np.isclose(cohort.factual[model.treatment].to_numpy()[:, None],
                         np.asarray(model.options_)[None, :])
    covered = (truth >= lower) & (truth <= upper)
    width = upper - lower
    low, high = model.target
    in_range = (truth >= low) & (truth <= high)
    has_rec = recommended.any(axis=1)
    rec_in_range = (in_range & recommended).any(axis=1)
    out: dict[str, Any] = {
        "n_patients": n, "policy": cohort.policy, "alpha": model.alpha,
        "factual_mae": float(np.abs(prediction - truth)[factual].mean()),
        "counterfactual_mae": float(np.abs(prediction - truth)[~factual].mean()),
        "share_supported": float(supported.mean()),
        "recommended_in_range": float(rec_in_range.mean()),
        "recommended_in_range_when_recommending": float(rec_in_range[has_rec].mean())
        if has_rec.any() else None,
        "share_without_recommendation": float((~has_rec).mean()),
        "surgeons_in_range": float(in_range[factual].mean()),
        "oracle_in_range": float(in_range.any(axis=1).mean())}
    p_in = preds["p_in_target"].to_numpy().reshape(n, k)
    table, ece = reliability(p_in[supported], in_range[supported])
    out["p_in_target_reliability"] = table
    out["p_in_target_ece"] = ece
    for name, cells in (("supported", supported), ("unsupported", ~supported)):
        out[f"coverage_{name}"] = float(covered[cells].mean()) if cells.any() else None
        out[f"median_width_{name}"] = float(np.median(width[cells])) if cells.any() else None
        out[f"n_cells_{name}"] = int(cells.sum())
    out["per_option"] = [{
        "option": _jsonable(option),
        "counterfactual_mae": float(np.abs(prediction - truth)[~factual[:, j], j].mean())
        if (~factual[:, j]).any() else None,
        "share_supported": float(supported[:, j].mean()),
        "coverage_supported": float(covered[supported[:, j], j].mean())
        if supported[:, j].any() else None,
        "median_width_supported": float(np.median(width[supported[:, j], j]))
        if supported[:, j].any() else None,
        "coverage_unsupported": float(covered[~supported[:, j], j].mean())
        if (~supported[:, j]).any() else None,
        "share_recommended": float(recommended[:, j].mean())}
        for j, option in enumerate(model.options_)]
    return out


def _column(potential: pd.DataFrame, option: Any) -> Any:
    for column in potential.columns:
        if np.isclose(float(column), float(option)):
            return column
    raise KeyError(option)


def _jsonable(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value
