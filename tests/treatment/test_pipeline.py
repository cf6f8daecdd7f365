"""fit → MLflow run + registered version → predict by alias → report; MLflow pyfunc loading."""

import json

import mlflow
import pandas as pd
import pytest

from recstack.errors import ConfigError, DataError, NotFoundError
from recstack.registry.models import ModelRegistry
from recstack.treatment.estimator import PREDICTION_COLUMNS
from recstack.treatment.pipeline import (
    MODEL_TYPE,
    FitConfig,
    fit,
    load_model,
    parse_target,
    predict,
)
from recstack.treatment.report import write_report


def test_fit_registers_a_champion_with_diagnostics(treatment_home):
    settings, _, result = treatment_home
    assert result.version is not None and result.version.name == "icl-size"
    assert "champion" in result.version.aliases
    assert result.version.model_type == MODEL_TYPE
    assert result.version.tags["kind"] == "treatment"
    run = ModelRegistry(settings).client.get_run(result.run_id)
    assert any(k.startswith("share_supported_") for k in run.data.metrics)
    assert {o["option"] for o in result.diagnostics["options"]} == {12.1, 12.6, 13.2, 13.7}


def test_predict_by_alias_writes_one_row_per_patient_and_option(treatment_home, tmp_path):
    settings, root, result = treatment_home
    preds = predict("icl-size@champion", root / "test.csv", tmp_path / "preds.csv", settings)
    written = pd.read_csv(tmp_path / "preds.csv")
    assert list(written.columns) == PREDICTION_COLUMNS and len(written) == 60 * 4
    direct = result.model.predict(pd.read_csv(root / "test.csv"))
    pd.testing.assert_frame_equal(preds, direct)


def test_mlflow_pyfunc_loads_the_registered_model(treatment_home):
    settings, root, result = treatment_home
    ModelRegistry(settings)  # points mlflow at the test store
    model = mlflow.pyfunc.load_model(f"models:/icl-size/{result.version.version}")
    frame = pd.read_csv(root / "test.csv")[result.model.feature_names_].head(3)
    out = model.predict(frame)
    assert len(out) == 12 and out["recommended"].sum() <= 3


def test_report_writes_html_and_figures(treatment_home, tmp_path):
    settings, root, _ = treatment_home
    model, _ = load_model("icl-size", settings)
    path = write_report(model, pd.read_csv(root / "test.csv"), tmp_path / "report",
                        potential=pd.read_csv(root / "potential.csv"), n_patients=2)
    html = path.read_text()
    assert "Overlap" in html and "Coverage" in html and html.count("<img") == 6
    assert "Is P(in target) calibrated?" in html and "Intervals: adaptive" in html
    evaluation = json.loads((tmp_path / "report" / "evaluation.json").read_text())
    assert 0 <= evaluation["coverage_supported"] <= 1
    assert 0 <= evaluation["p_in_target_ece"] < 0.1
    assert sum(b["n"] for b in evaluation["p_in_target_reliability"]) > 0
    assert {p.name for p in (tmp_path / "report").glob("*.png")} >= {
        "overlap.png", "calibration.png", "coverage.png", "patient_0.png", "patient_1.png",
        "decision_calibration.png"}


def test_errors_name_the_field(treatment_home, tmp_path):
    settings, root, _ = treatment_home
    with pytest.raises(DataError) as info:
        fit(FitConfig(data=tmp_path / "nope.csv"), settings)
    assert info.value.field == "data"
    with pytest.raises(ConfigError) as info:
        parse_target("250-750")
    assert info.value.field == "--target"
    with pytest.raises(NotFoundError) as info:
        load_model("no-such-model@champion", settings)
    assert info.value.field == "model"
    pd.read_csv(root / "test.csv").drop(columns="acd_mm").to_csv(tmp_path / "bad.csv",
                                                                 index=False)
    with pytest.raises(DataError) as info:
        predict("icl-size", tmp_path / "bad.csv", tmp_path / "out.csv", settings)
    assert info.value.field == "acd_mm"
