"""A simulated deployment of the ICL vault model in which a new device reads ACD 0.3 mm deeper.

The treatment system's showcase of the monitoring spine (``recstack treatment scenario``).

Patients are simulated week by week with ``recstack.treatment.simulator.simulate``; from
``device_week`` on, recorded ACD carries the device's bias. Every prediction is logged; the
vault (the label) arrives ``label_delay_weeks`` later (three months). A monitoring pass runs at
the end of every week. Expected, and checked by the tests: the ACD drift alert fires in the
device's first week, while the performance alerts (MAE, interval coverage) fire only once the
labels of the device's patients have arrived.

The model sees the measurements a clinic records without CLR (the nomogram inputs), so a
biased ACD reading biases its vault prediction. ``model="treatment"`` uses
:class:`recstack.treatment.estimator.TreatmentRecommender`; ``model="standin"`` a small
gradient-boosted regressor with split-conformal intervals that fits in about a second (tests).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingRegressor

from recstack.monitoring.alerts import AlertRule
from recstack.monitoring.labels import ingest_labels
from recstack.monitoring.log import PredictionLog, PredictionRecord
from recstack.monitoring.performance import interval_coverage, mae
from recstack.monitoring.runner import MonitoringResult, MonitorJob, run_monitoring

if TYPE_CHECKING:
    from recstack.settings import Settings

FEATURES = ["age", "sphere_d", "ata_mm", "wtw_mm", "acd_mm", "lens_thickness_mm"]
WEEK = 7 * 86400.0
# Weekly windows are floored from the epoch (a Thursday): start on one so a window is a week.
T0 = (1_750_000_000 // WEEK) * WEEK
MODEL_NAME = "icl-vault"


class StandInVaultModel:
    """Vault per (patient, size): gradient boosting + split-conformal interval (1 − alpha)."""

    def __init__(self, *, alpha: float = 0.1, random_state: int = 0):
        self.alpha = alpha
        self.random_state = random_state

    def fit(self, frame: pd.DataFrame) -> StandInVaultModel:
        x, y = frame[[*FEATURES, "icl_size_mm"]].to_numpy(), frame["vault_um"].to_numpy()
        cut = int(0.75 * len(frame))
        self.model_ = HistGradientBoostingRegressor(max_iter=150, random_state=self.random_state)
        self.model_.fit(x[:cut], y[:cut])
        residuals = np.abs(y[cut:] - self.model_.predict(x[cut:]))
        self.radius_ = float(np.quantile(residuals, 1 - self.alpha))
        return self

    def predict_factual(self, frame: pd.DataFrame) -> pd.DataFrame:
        mu = self.model_.predict(frame[[*FEATURES, "icl_size_mm"]].to_numpy())
        return pd.DataFrame({"prediction": mu, "lower": mu - self.radius_,
                             "upper": mu + self.radius_})


class _TreatmentFactual:
    """The treatment recommender's prediction for the size the surgeon chose."""

    def __init__(self) -> None:
        from recstack.treatment.estimator import TreatmentRecommender

        # Fewer boosting rounds and folds than the defaults: a simulation, not a clinic model.
        self.model = TreatmentRecommender(features=FEATURES, max_iter=100, n_folds=3)

    def fit(self, frame: pd.DataFrame) -> _TreatmentFactual:
        self.model.fit(frame)
        return self

    def predict_factual(self, frame: pd.DataFrame) -> pd.DataFrame:
        long = self.model.predict(frame)
        options = np.asarray(self.model.options_, dtype=float)
        chosen = np.abs(frame["icl_size_mm"].to_numpy()[:, None] - options[None, :]).argmin(1)
        rows = np.arange(len(frame)) * len(options) + chosen
        return long.iloc[rows][["prediction", "lower", "upper"]].reset_index(drop=True)


@dataclass
class ScenarioResult:
    """Alerts per weekly pass and the final pass (with its report)."""

    device_week: int
    label_delay_weeks: int
    alerts_by_week: dict[int, list[str]]
    final: MonitoringResult
    reference_mae: float
    notes: dict[str, Any] = field(default_factory=dict)

    def first_week(self, rule: str) -> int | None:
        weeks = [w for w, rules in sorted(self.alerts_by_week.items()) if rule in rules]
        return weeks[0] if weeks else None


def run_scenario(settings: Settings, *, model: Literal["treatment", "standin"] = "treatment",
                 device_week: int = 6, label_delay_weeks: int = 13, extra_weeks: int = 3,
                 patients_per_week: int = 300, acd_bias_mm: float = 0.3, seed: int = 0,
                 out_dir: Path | None = None) -> ScenarioResult:
    """Simulate, log, label and monitor the deployment week by week (see module docstring)."""
    from recstack.treatment.simulator import simulate

    train = simulate(2000, seed=seed).factual
    fitted = (StandInVaultModel(random_state=seed) if model == "standin"
              else _TreatmentFactual()).fit(train)
    reference = simulate(1500, seed=seed + 1).factual
    reference = pd.concat([reference, fitted.predict_factual(reference)], axis=1).rename(
        columns={"vault_um": "label"})
    reference_mae = mae(reference)
    n_weeks = device_week + label_delay_weeks + extra_weeks
    _deploy(settings, fitted, n_weeks, device_week, label_delay_weeks, patients_per_week,
            acd_bias_mm, seed)
    rules = [
        AlertRule(name="feature drift", metric="drift.*.drifted", op=">=", threshold=1),
        AlertRule(name="vault MAE high", metric="performance.mae", op=">",
                  threshold=round(1.2 * reference_mae, 1), severity="critical"),
        AlertRule(name="interval coverage low", metric="performance.coverage", op="<",
                  # nominal 90 % minus 7 points: ~3 sampling s.d. for 300 labels a week
                  threshold=0.83, severity="critical"),
    ]
    base = {"model_name": MODEL_NAME, "window": "7D", "rules": rules,
            # Windows hold ~300 patients: Wasserstein's 0.1 (tuned on large samples) would
            # fire on noise, so 0.2 here; the device's ACD shift scores about 1.
            "thresholds": {"wasserstein": 0.2}, "features": [*FEATURES, "icl_size_mm"]}
    alerts_by_week: dict[int, list[str]] = {}
    for week in range(1, n_weeks):
        result = run_monitoring(
            MonitorJob(**base, now=T0 + (week + 1) * WEEK - 1, domain_classifier=False,
                       estimate=False), settings, reference=reference, write_report=False)
        alerts_by_week[week] = sorted({a.rule for a in result.alerts["sent"]})
    final = run_monitoring(MonitorJob(**base, now=T0 + n_weeks * WEEK - 1, out_dir=out_dir),
                           settings, reference=reference, send_alerts=False)
    scenario = ScenarioResult(device_week, label_delay_weeks, alerts_by_week, final,
                              reference_mae, {"model": model, "acd_bias_mm": acd_bias_mm,
                                              "reference_coverage": interval_coverage(reference)})
    if final.report_path is not None:
        _write_timeline(scenario, final.report_path.parent)
    return scenario


def _deploy(settings: Settings, fitted: Any, n_weeks: int, device_week: int,
            label_delay_weeks: int, per_week: int, bias: float, seed: int) -> None:
    from recstack.treatment.simulator import simulate

    labels = []
    with PredictionLog(settings) as log:
        for week in range(n_weeks):
            cohort = simulate(per_week, seed=seed + 100 + week, measurement_bias=(
                {"acd_mm": bias} if week >= device_week else None)).factual
            served = fitted.predict_factual(cohort)
            for i, (row, out) in enumerate(zip(cohort.to_dict("records"),
                                               served.to_dict("records"), strict=True)):
                served_at = T0 + week * WEEK + (i + 0.5) * WEEK / per_week
                rid = log.log(PredictionRecord(
                    MODEL_NAME, "1", {c: row[c] for c in [*FEATURES, "icl_size_mm"]}, out,
                    timestamp=served_at, entity_id=row["patient_id"]))
                labels.append((rid, row["vault_um"], served_at + label_delay_weeks * WEEK))
    ingest_labels(log.store, pd.DataFrame(labels, columns=["request_id", "label",
                                                           "label_time"]))


def _write_timeline(scenario: ScenarioResult, folder: Path) -> None:
    rows = "".join(f"<tr><td>{w}</td><td>{'yes' if w >= scenario.device_week else ''}</td>"
                   f"<td style='text-align:left'>{', '.join(r) or '-'}</td></tr>"
                   for w, r in scenario.alerts_by_week.items())
    (folder / "scenario.html").write_text(
        "<!doctype html><meta charset='utf-8'><title>ACD device scenario</title>"
        "<body style='font-family:sans-serif;max-width:900px;margin:2em auto'>"
        f"<h1>New ACD device from week {scenario.device_week}</h1><p>Labels (vault) arrive "
        f"{scenario.label_delay_weeks} weeks after surgery; reference MAE "
        f"{scenario.reference_mae:.1f} µm. <a href='index.html'>Final monitoring report</a>"
        "</p><table border=1 cellpadding=4><tr><th>weekly pass</th><th>new device</th>"
        f"<th>alerts sent</th></tr>{rows}</table></body>")
    (folder / "scenario.json").write_text(json.dumps({
        "device_week": scenario.device_week, "label_delay_weeks": scenario.label_delay_weeks,
        "reference_mae": scenario.reference_mae, "alerts_by_week": scenario.alerts_by_week,
        "performance_by_week": json.loads(scenario.final.performance.to_json(
            orient="records", date_format="iso")),
        **scenario.notes}, indent=1))
