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
    "the propensity floor AND the weighted split-conformal quantile (test point's mass at +inf) "
    "is finite; otherwise it gets partial-identification bounds.")


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
    for k, option in enumerate(model.options_):
        table, ece = reliability(propensity[:, k], codes == k)
        calibration = model.calibration_[k]
        options.append({
            "option": _jsonable(option), "n_calibration": int((codes == k).sum()),
            "share_supported": float(supported[:, k].mean()),
            "mean_propensity": float(propensity[:, k].mean()),
            "share_below_floor": float((propensity[:, k] < model.propensity_floor).mean()),
            "propensity_ece": ece, "reliability": table,
            "effective_calibration_size": calibration.effective_size})
    kappa_min, kappa_max = model.kappa_
    return {
        "support_rule": SUPPORT_RULE, "propensity_floor": model.propensity_floor,
        "alpha": model.alpha, "n_train": model.n_train_, "n_calibration": model.n_calibration_,
        "ordered": model.ordered_, "monotone": model.monotone if model.ordered_ else None,
        "kappa_min": kappa_min, "kappa_max": kappa_max if np.isfinite(kappa_max) else None,
        "outcome_range": list(model.outcome_range_),
        "share_patients_without_support": float((~supported.any(axis=1)).mean()),
        "options": options}


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
