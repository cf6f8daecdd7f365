"""One monitoring pass: drift, performance, label-free estimates and alerts for one model.

``run_monitoring`` reads the prediction log up to ``now`` (labels that had arrived by then),
compares each time window with the reference, evaluates the alert rules on the latest window,
sends alerts, stores the summary for the API, and writes the HTML report.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from recstack.errors import DataError, NotFoundError
from recstack.monitoring.alerts import Alert, AlertManager, AlertRule, evaluate_rules
from recstack.monitoring.drift import DriftDetector, DriftReport, domain_classifier_auc
from recstack.monitoring.estimate import DirectLossEstimator
from recstack.monitoring.labels import prediction_frame
from recstack.monitoring.log import open_store
from recstack.monitoring.performance import performance_by_window, task_frame
from recstack.tables import read_table

if TYPE_CHECKING:
    from recstack.settings import Settings

logger = logging.getLogger(__name__)

DEFAULT_RULES = [
    AlertRule(name="feature drift", metric="drift.*.drifted", op=">=", threshold=1),
    AlertRule(name="dataset drift", metric="drift.dataset_drift", op=">=", threshold=1,
              severity="critical"),
    AlertRule(name="prediction drift", metric="prediction_drift.drifted", op=">=", threshold=1),
]


class MonitorJob(BaseModel):
    """What one pass looks at. Stored as JSON beside the report so it can be re-run."""

    model_config = ConfigDict(extra="forbid")

    model_name: str
    task: str = Field("regression", description="regression, classification or ranking")
    reference_path: Path | None = Field(
        None, description="training frame (CSV/Parquet) with the feature columns, optionally "
                          "'prediction' and 'label' (enables prediction drift and estimates)")
    features: list[str] | None = Field(None, description="columns to check; default: shared")
    window: str = Field("1D", description="pandas frequency of the time windows, e.g. 1D, 7D")
    since: float | None = Field(None, description="epoch s; default: the whole log")
    now: float | None = Field(None, description="epoch s the pass pretends it is (replays)")
    methods: dict[str, str] = Field(default_factory=dict)
    thresholds: dict[str, float] = Field(default_factory=dict)
    rules: list[AlertRule] = Field(default_factory=lambda: list(DEFAULT_RULES))
    domain_classifier: bool = Field(True, description="multivariate drift on the last window")
    estimate: bool = Field(True, description="label-free performance estimate per window")
    min_labels: int = Field(
        20, ge=1, description="alert rules read the latest window with at least this many labels")
    out_dir: Path | None = Field(None, description="report folder; default <home>/monitoring/…")


@dataclass
class MonitoringResult:
    """Everything a pass found."""

    job: MonitorJob
    now: float
    n_predictions: int
    n_labelled: int
    drift: DriftReport | None
    drift_by_window: pd.DataFrame
    performance: pd.DataFrame
    estimated: pd.DataFrame
    prediction_drift: dict[str, Any]
    metrics: dict[str, float]
    alerts: dict[str, list[Alert]] = field(default_factory=dict)
    report_path: Path | None = None

    def summary(self) -> dict[str, Any]:
        """JSON-able digest (what the API serves and ``monitor summary`` prints)."""
        drift_rows = ([] if self.drift is None else
                      json.loads(self.drift.columns.to_json(orient="records")))
        return {
            "model_name": self.job.model_name, "task": self.job.task, "now": self.now,
            "n_predictions": self.n_predictions, "n_labelled": self.n_labelled,
            "drift": drift_rows,
            "skipped_columns": {} if self.drift is None else self.drift.skipped,
            "dataset_drift": bool(self.drift and self.drift.dataset_drift),
            "performance": json.loads(self.performance.to_json(orient="records",
                                                               date_format="iso")),
            "estimated": json.loads(self.estimated.to_json(orient="records", date_format="iso")),
            "prediction_drift": self.prediction_drift,
            "metrics": {k: (None if v != v else v) for k, v in self.metrics.items()},
            "alerts": {k: [a.text() for a in v] for k, v in self.alerts.items()},
            "report": str(self.report_path) if self.report_path else None,
        }




def run_monitoring(job: MonitorJob, settings: Settings, *,
                   reference: pd.DataFrame | None = None, send_alerts: bool = True,
                   write_report: bool = True) -> MonitoringResult:
    """One monitoring pass (see the module docstring)."""
    now = job.now if job.now is not None else time.time()
    if reference is None:
        if job.reference_path is None:
            raise DataError("no reference data", field="reference_path",
                            fix="pass --reference with the training frame (CSV or Parquet)")
        reference = read_table(job.reference_path, field="reference")
    log = prediction_frame(open_store(settings), job.model_name, start=job.since, end=now,
                           with_labels=True)
    if log.empty:
        raise NotFoundError(f"no predictions logged for model {job.model_name!r} in the window",
                            field="model_name",
                            fix="check the model name and --since; the service logs every "
                                "prediction it serves")
    late = log["label_time"].astype(float) > now
    log.loc[late, "label"] = None  # labels that had not arrived at `now`
    features = _feature_columns(job, reference, log)
    detector = DriftDetector(methods=job.methods or None,
                             thresholds={**settings.monitoring.drift_thresholds, **job.thresholds},
                             drift_share=settings.monitoring.drift_share).fit(reference[features])
    windows = log["time"].dt.floor(job.window)
    last = log[windows == windows.max()]
    drift = detector.detect(last[features])
    frame = task_frame(log, job.task)
    result = MonitoringResult(
        job=job, now=now, n_predictions=len(log), n_labelled=int(frame["label"].notna().sum()),
        drift=drift, drift_by_window=_drift_by_window(detector, log, windows, features),
        performance=performance_by_window(frame, job.task, freq=job.window),
        estimated=_estimated(job, reference, features, log, frame),
        prediction_drift=_prediction_drift(job, reference, frame, windows, detector.thresholds),
        metrics={})
    if job.domain_classifier and len(last) >= 20:
        drift.multivariate["domain_auc"] = domain_classifier_auc(reference[features],
                                                                 last[features])
    result.metrics = _latest_metrics(result)
    if send_alerts:
        result.alerts = AlertManager(settings).process(
            evaluate_rules(job.rules, result.metrics, job.model_name, now=now))
    save_summary(settings, result)
    if write_report:
        from recstack.monitoring.report import write_report as write_html

        out = job.out_dir or settings.monitoring.resolved_store_path(settings.home).parent / (
            f"report-{job.model_name}")
        result.report_path = write_html(result, out)
        save_summary(settings, result)
    return result


def _feature_columns(job: MonitorJob, reference: pd.DataFrame, log: pd.DataFrame) -> list[str]:
    reserved = {"prediction", "label", "lower", "upper", "score"}
    wanted = job.features or [c for c in reference.columns if c not in reserved]
    missing_ref = [c for c in wanted if c not in reference.columns]
    if missing_ref:
        raise DataError(f"columns {missing_ref} are not in the reference", field="features",
                        fix=f"choose from: {', '.join(map(str, reference.columns))}")
    shared = [c for c in wanted if c in log.columns]
    if not shared:
        raise DataError("no logged feature matches a reference column", field="features",
                        fix=f"the log has {', '.join(c for c in log.columns if c != 'output')}; "
                            "log the feature vector under the training column names")
    lost = sorted(set(wanted) - set(shared))
    if lost:
        logger.warning("monitoring: reference columns not in the log are skipped: %s", lost)
    return shared


def _drift_by_window(detector: DriftDetector, log: pd.DataFrame, windows: pd.Series,
                     features: list[str]) -> pd.DataFrame:
    parts = []
    for window, group in log.groupby(windows):
        cols = detector.detect(group[features]).columns
        parts.append(cols.assign(window=window))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def _prediction_drift(job: MonitorJob, reference: pd.DataFrame, frame: pd.DataFrame,
                      windows: pd.Series, thresholds: dict[str, float] | None
                      ) -> dict[str, Any]:
    if "prediction" not in reference or "prediction" not in frame or job.task == "ranking":
        return {}
    current = frame.loc[windows == windows.max(), "prediction"]
    kind = {"prediction": "categorical"} if job.task == "classification" else {}
    detector = DriftDetector(categorical=list(kind), thresholds=thresholds).fit(
        reference[["prediction"]])
    row = detector.detect(current.to_frame()).columns
    return {str(k): (v.item() if isinstance(v, np.generic) else v)
            for k, v in row.iloc[0].to_dict().items()} if len(row) else {}


def _estimated(job: MonitorJob, reference: pd.DataFrame, features: list[str],
               log: pd.DataFrame, frame: pd.DataFrame) -> pd.DataFrame:
    """Direct-loss MAE per window for regression when the reference has predictions+labels."""
    if (not job.estimate or job.task != "regression"
            or not {"prediction", "label"} <= set(reference.columns)):
        return pd.DataFrame()
    numeric = [c for c in features if pd.api.types.is_numeric_dtype(reference[c])]
    estimator = DirectLossEstimator(max_iter=100).fit(
        reference[numeric], reference["prediction"].to_numpy(), reference["label"].to_numpy())
    rows = []
    for window, group in log.groupby(log["time"].dt.floor(job.window)):
        est = estimator.estimate(group[numeric].astype(float),
                                 frame.loc[group.index, "prediction"].astype(float).to_numpy())
        rows.append({"window": window, **est})
    return pd.DataFrame(rows)


def _latest_metrics(result: MonitoringResult) -> dict[str, float]:
    metrics: dict[str, float] = result.drift.metrics() if result.drift else {}
    enough = result.performance[result.performance["n_labelled"] >= result.job.min_labels] \
        if len(result.performance) else result.performance
    if len(enough):  # a window with a handful of labels would alert on noise
        last = enough.iloc[-1]
        metrics.update({f"performance.{k}": float(last[k]) for k in enough.columns
                        if k != "window"})
    if len(result.estimated):
        last = result.estimated.iloc[-1]
        metrics.update({f"estimated.{k}": float(last[k]) for k in result.estimated.columns
                        if k != "window"})
    if result.prediction_drift:
        metrics["prediction_drift.score"] = float(result.prediction_drift["score"])
        metrics["prediction_drift.drifted"] = float(result.prediction_drift["drifted"])
    return metrics


def _connect(settings: Settings) -> sqlite3.Connection:
    path = settings.monitoring.resolved_store_path(settings.home)
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=30)
    conn.execute("CREATE TABLE IF NOT EXISTS monitor_runs (model_name TEXT NOT NULL, "
                 "created REAL NOT NULL, summary TEXT NOT NULL)")
    return conn


def save_summary(settings: Settings, result: MonitoringResult) -> None:
    """Keep the pass's summary (the API's ``/v1/monitoring/summary`` reads the latest)."""
    with _connect(settings) as conn:
        conn.execute("DELETE FROM monitor_runs WHERE model_name = ? AND created = ?",
                     (result.job.model_name, result.now))
        conn.execute("INSERT INTO monitor_runs VALUES (?, ?, ?)",
                     (result.job.model_name, result.now, json.dumps(result.summary())))


def latest_summary(settings: Settings, model_name: str | None = None) -> dict[str, Any]:
    """The most recent pass (of ``model_name`` if given)."""
    with _connect(settings) as conn:
        row = conn.execute(
            "SELECT summary FROM monitor_runs WHERE (? IS NULL OR model_name = ?) "
            "ORDER BY rowid DESC LIMIT 1", (model_name, model_name)).fetchone()
    if row is None:
        raise NotFoundError("no monitoring pass has run yet" +
                            (f" for {model_name!r}" if model_name else ""), field="model_name",
                            fix="run `recstack monitor run --model NAME --reference FILE`")
    summary: dict[str, Any] = json.loads(row[0])
    return summary
