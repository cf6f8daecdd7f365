"""The clinic pipeline end to end on a small simulated year, and its bad-input errors."""

from __future__ import annotations

import pandas as pd
import pytest

from recstack.errors import ConfigError, DataError
from recstack.monitoring.log import PredictionLog, PredictionRecord
from recstack.pipelines import day_interval, find_pipeline, run_pipeline
from recstack.registry.models import ModelRegistry
from recstack.systems import installed_systems
from recstack.treatment.simulator import FEATURE_COLUMNS, simulate


def _run(settings, labels, date, **params):
    pipeline = find_pipeline(installed_systems(), "treatment")
    start, end = day_interval(date, pipeline)
    return run_pipeline(settings, pipeline, params={"labels": str(labels), "quick": "true",
                                                    **params}, start=start, end=end)


@pytest.mark.slow  # two fits and three validation scorings: about 90 s of CPU
def test_two_weekly_runs_train_evaluate_promote_and_monitor(clinic):
    settings, labels = clinic
    first = _run(settings, labels, "2025-10-06")
    assert first["train"]["version"] == "1"
    # Only the measurements of that week are copied online (about 2 x 700 x 7/360 records).
    assert 5 <= sum(first["features"]["records"].values()) <= 80
    assert first["evaluate"]["n_valid"] > 20
    assert first["promote"]["champion"]["version"] == "1"
    assert "skipped" in first["monitor"]  # nothing served that week yet

    # Serve a week of patients whose ACD reads 0.3 mm deeper (a new device), then run again.
    start, _ = day_interval("2025-12-01", find_pipeline(installed_systems(), "treatment"))
    served = simulate(200, seed=9, measurement_bias={"acd_mm": 0.3}).factual
    with PredictionLog(settings) as log:
        for i, row in enumerate(served.to_dict("records")):
            log.log(PredictionRecord("icl-size", "1", {c: row[c] for c in FEATURE_COLUMNS},
                                     {"recommended": 12.6},
                                     timestamp=start.timestamp() + 3000 * i))
    second = _run(settings, labels, "2025-12-01")
    assert second["train"]["version"] == "2"
    scores = second["evaluate"]["scores"]
    assert set(scores) == {"1", "2"}  # the old champion is re-scored on the same hold-out
    best = min(scores, key=lambda v: scores[v]["mae"])
    assert second["promote"]["champion"]["version"] == best
    assert second["promote"]["challenger"]["version"] == ({"1", "2"} - {best}).pop()
    aliases = {v.version: v.aliases for v in ModelRegistry(settings).list("icl-size")}
    assert "champion" in aliases[best]
    monitor = second["monitor"]
    assert monitor["n_predictions"] == 200
    assert "acd_mm" in monitor["drifted"]
    assert any("acd_mm" in text for text in monitor["alerts"]["sent"])


def test_bad_input_names_the_setting(clinic):
    settings, labels = clinic
    with pytest.raises(ConfigError) as unknown:
        find_pipeline(installed_systems(), "nightly-everything")
    assert "treatment" in unknown.value.fix
    with pytest.raises(ConfigError) as param:
        _run(settings, labels, "2025-10-06", modle="x")
    assert param.value.field == "--param modle" and "model" in param.value.fix
    with pytest.raises(ConfigError) as typed:
        _run(settings, labels, "2025-10-06", valid_days="thirty")
    assert typed.value.field == "--param valid_days"
    with pytest.raises(DataError) as outside:
        _run(settings, labels, "2024-06-01")
    assert outside.value.field == "--date" and "2025-01-01" in outside.value.fix
    with pytest.raises(DataError) as early:  # inside the data, but too few follow-ups yet
        _run(settings, labels, "2025-03-01")
    assert "later date" in early.value.fix
    with pytest.raises(DataError) as missing:
        _run(settings, labels.with_name("nope.csv"), "2025-10-06")
    assert missing.value.field == "--param labels"


def test_a_configured_server_that_is_down_fails_before_any_task(clinic):
    _, labels = clinic
    from recstack.settings import Settings

    for switch, field in [
            ({"features": {"online": {"type": "redis", "url": "redis://127.0.0.1:9/0"}}},
             "RECSTACK_FEATURES__ONLINE__URL"),
            ({"tracking": {"uri": "http://127.0.0.1:9"}}, "RECSTACK_TRACKING__URI")]:
        with pytest.raises(ConfigError) as error:
            _run(Settings(home=labels.parent, **switch), labels, "2025-10-06")
        assert error.value.field == field and "start it" in error.value.fix
    assert not (labels.parent / "pipelines").exists()  # no task ran
    assert pd.read_csv(labels).shape[0] == 700
