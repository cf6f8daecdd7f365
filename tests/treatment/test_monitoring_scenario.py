"""The ACD-device scenario: the drift alert fires first, the performance alerts when labels come."""

from __future__ import annotations

from recstack.treatment.monitoring_scenario import run_scenario


def _check(result) -> None:
    device, delay = result.device_week, result.label_delay_weeks
    drift_week = result.first_week("feature drift")
    assert drift_week == device  # the device's first week, not before
    for rule in ("vault MAE high", "interval coverage low"):
        week = result.first_week(rule)
        # labels of the device's first patients arrive `delay` weeks later; not earlier
        assert week is not None and device + delay <= week <= device + delay + 2, rule
    drift = result.final.drift_by_window
    acd = drift[drift["column"] == "acd_mm"].sort_values("window")
    assert not acd["drifted"].iloc[:device].any() and acd["drifted"].iloc[device:].all()
    perf = result.final.performance
    assert perf["mae"].iloc[device:].mean() > perf["mae"].iloc[:device].mean() + 10


def test_drift_alert_comes_first_and_performance_drops_when_labels_arrive(settings, tmp_path):
    result = run_scenario(settings, model="standin", out_dir=tmp_path / "report")
    _check(result)
    html = (tmp_path / "report" / "scenario.html").read_text()
    assert "feature drift" in html and "vault MAE high" in html
    assert (tmp_path / "report" / "index.html").is_file()


def test_the_same_with_the_treatment_recommender(settings, tmp_path):
    _check(run_scenario(settings, model="treatment", out_dir=tmp_path / "report"))
