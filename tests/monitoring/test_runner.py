"""One monitoring pass end to end on a small simulated regression deployment."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recstack.errors import DataError, NotFoundError
from recstack.monitoring import MonitorJob, PredictionLog, PredictionRecord, run_monitoring
from recstack.monitoring.runner import latest_summary

DAY = 86400.0
T0 = 1.75e9


def _simulate(settings, n_days: int = 6, shift_from: int = 4):
    """x drifts from ``shift_from`` on; the model (y = 2x) is wrong there because y bends."""
    rng = np.random.default_rng(0)
    x_ref = rng.normal(0, 1, 3000)
    reference = pd.DataFrame({"x": x_ref, "site": rng.choice(["a", "b"], 3000)})
    reference["prediction"] = 2 * reference["x"]
    reference["label"] = 2 * x_ref + 0.3 * rng.normal(size=3000)
    log = PredictionLog(settings)
    labels = []
    for day in range(n_days):
        shift = 1.5 if day >= shift_from else 0.0
        for i in range(150):
            x = float(rng.normal(shift, 1))
            y = 2 * x + (3 * shift) + 0.3 * float(rng.normal())
            site = str(rng.choice(["a", "b"]))
            rid = log.log(PredictionRecord("toy", "1", {"x": x, "site": site},
                                           {"prediction": 2 * x}, request_id=f"{day}-{i}",
                                           timestamp=T0 + day * DAY + i))
            labels.append((rid, y, T0 + day * DAY + i + 2 * DAY))  # labels 2 days late
    log.close()
    from recstack.monitoring import ingest_labels
    ingest_labels(log.store, pd.DataFrame(labels, columns=["request_id", "label", "label_time"]))
    return reference


def test_a_pass_finds_drift_first_and_the_performance_drop_later(settings, tmp_path):
    reference = _simulate(settings)
    rules_job = {"model_name": "toy", "window": "1D", "out_dir": tmp_path / "report"}
    early = run_monitoring(MonitorJob(**rules_job, now=T0 + 4.9 * DAY), settings,
                           reference=reference, send_alerts=True)
    assert early.drift is not None and early.drift.drifted_columns == ["x"]
    assert early.prediction_drift["drifted"]
    assert early.performance["window"].max() < pd.Timestamp(T0 + 4 * DAY, unit="s", tz="UTC")
    assert early.performance["mae"].max() < 0.5  # the labels seen so far are fine
    assert [a.rule for a in early.alerts["sent"]] == ["feature drift", "dataset drift",
                                                  "prediction drift"]
    # the label-free estimate cannot see this concept shift; it stays near the reference error
    assert len(early.estimated) == 5

    late = run_monitoring(MonitorJob(**rules_job, now=T0 + 8 * DAY, rules=[
        {"name": "mae high", "metric": "performance.mae", "op": ">", "threshold": 1.0}]),
        settings, reference=reference)
    assert late.performance["mae"].iloc[-1] > 3
    assert [a.rule for a in late.alerts["sent"]] == ["mae high"]
    html = (tmp_path / "report" / "index.html").read_text()
    assert "mae high" in html and (tmp_path / "report" / "performance.png").stat().st_size > 0
    assert latest_summary(settings, "toy")["alerts"]["sent"][0].startswith("[WARNING] toy")


def test_bad_jobs_are_clear_errors(settings):
    reference = _simulate(settings, n_days=1)
    with pytest.raises(NotFoundError, match="no predictions"):
        run_monitoring(MonitorJob(model_name="nope"), settings, reference=reference)
    with pytest.raises(DataError, match="not in the reference"):
        run_monitoring(MonitorJob(model_name="toy", features=["x", "acd"]), settings,
                       reference=reference)
    with pytest.raises(DataError, match="no logged feature"):
        run_monitoring(MonitorJob(model_name="toy"), settings,
                       reference=pd.DataFrame({"other": [1.0, 2.0]}))
    with pytest.raises(DataError, match="does not exist"):
        run_monitoring(MonitorJob(model_name="toy", reference_path="missing.parquet"), settings)
